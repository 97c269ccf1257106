"""The errors of the metadata service, in the service's own terms.

The service raises these and nothing else for bad input or refused
operations; the WSGI layer maps them to HTTP answers. Each class carries the
machine-readable ``code`` used in per-item commit results and the HTTP
status the original StackSync API gives for it (``status``), so that mapping
is one line and no caller has to know the hierarchy.
"""


class MetadataError(Exception):
    """Base of every error the metadata service raises on purpose."""

    code = 'error'
    status = 500

    def __init__(self, description=None):
        self.description = (description or
                            self.__doc__.strip().splitlines()[0])
        super().__init__(self.description)

    def as_dict(self):
        return {'error': self.code, 'description': self.description}


class BadRequest(MetadataError, ValueError):
    """The request is malformed."""

    code = 'bad_request'
    status = 400


class InvalidName(BadRequest):
    """The name is not a valid file or folder name."""

    code = 'invalid_name'


class Forbidden(MetadataError):
    """You may not do this."""

    code = 'forbidden'
    status = 403


class NotFound(MetadataError):
    """No such user, workspace, item or version."""

    code = 'not_found'
    status = 404


class Conflict(MetadataError):
    """The item changed since the version you named.

    ``item`` is the server's current metadata of the item that won (or
    that already holds the name), so the loser can keep its own data as a
    conflicted copy; it is None for conflicts that are not about an item,
    such as a user name that is taken.
    """

    code = 'conflict'
    status = 409

    def __init__(self, description=None, item=None):
        super().__init__(description)
        self.item = item

    def as_dict(self):
        result = super().as_dict()
        if self.item is not None:
            result['item'] = self.item
        return result


class MissingChunks(MetadataError):
    """Chunks the file names are not stored (garbage collection took
    them); upload them again."""

    code = 'missing_chunks'
    status = 409


class QuotaExceeded(MetadataError):
    """The workspace owner's quota would be exceeded."""

    code = 'quota_exceeded'
    status = 413


class Unavailable(MetadataError):
    """The database is busy or unreachable; try again."""

    code = 'unavailable'
    status = 503
