"""JSON errors, one class per error code, rendered in one place.

Handlers and helpers ``raise`` these; each filter's ``__call__`` catches
:class:`APIError` once and returns it as the response. The body follows the
original StackSync API: ``{"error": <status code>, "description": ...}``.
"""

import json

from swift.common import swob


class APIError(swob.HTTPException):
    """An error response with a JSON body; subclasses fix the status."""

    status_int = 400

    def __init__(self, description=None, headers=None, **extra):
        description = description or self.__doc__.strip()
        fields = dict(extra, error=self.status_int, description=description)
        body = json.dumps(fields).encode('utf-8')
        super().__init__(status=self.status_int, body=body,
                         headers=headers or {},
                         content_type='application/json', charset='utf-8')
        self.description = description


class BadRequest(APIError):
    """The request is malformed."""
    status_int = 400


class Unauthorized(APIError):
    """The request is not signed with a valid access token."""
    status_int = 401

    def __init__(self, description=None, realm='stacksync'):
        super().__init__(description, headers={
            'WWW-Authenticate': 'OAuth realm="%s"' % realm})


class Forbidden(APIError):
    """You may not do this."""
    status_int = 403


class NotFound(APIError):
    """No such resource."""
    status_int = 404


class MethodNotAllowed(APIError):
    """This method is not allowed on this resource."""
    status_int = 405


class Conflict(APIError):
    """The resource changed since the version you named."""
    status_int = 409


class RequestEntityTooLarge(APIError):
    """The request is too large, or the quota would be exceeded."""
    status_int = 413


class ServiceUnavailable(APIError):
    """The service is temporarily unavailable; try again."""
    status_int = 503


_BY_STATUS = {cls.status_int: cls for cls in (
    BadRequest, Forbidden, NotFound, Conflict, RequestEntityTooLarge,
    ServiceUnavailable)}


def from_metadata(error):
    """The HTTP answer for an error of the metadata service.

    A conflict carries the server's current item metadata (``item``), so
    the client can keep its data as a conflicted copy.
    """
    cls = _BY_STATUS.get(error.status, ServiceUnavailable)
    extra = {}
    if getattr(error, 'item', None) is not None:
        extra['item'] = error.item
    return cls(error.description, **extra)
