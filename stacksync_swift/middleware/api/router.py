"""Maps API paths to controllers, like s3api's ``controller`` property.

Each route is a regular expression over the path and a controller class; a
controller has one method per HTTP verb (``GET``, ``PUT``, ...), each a thin
handler: parse, validate, one service call, one response. The resource
controllers register their routes in :data:`ROUTES`.

The :class:`Controller` base also holds what every handler parses the same
way: integer query parameters, the JSON body (bounded), ``If-Match`` as a
base version and the ``X-StackSync-Device`` header.
"""

import json
import re

from swift.common import swob

from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import dialects

HTTP_METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')
# The largest JSON request body (a commit of MAX_COMMIT_ITEMS items, each
# with up to a few thousand chunk names, fits).
MAX_JSON_BODY = 8 * 1024 * 1024
# Ids, versions, cursors: what a database integer holds.
MAX_INT = 2 ** 63 - 1
DEVICE_HEADER = 'X-StackSync-Device'


class Controller:
    """Base of the resource controllers: one instance per request."""

    def __init__(self, api, req, **path_args):
        self.api = api
        self.req = req
        self.path_args = path_args

    # False for the few resources anyone may read (the OpenAPI document).
    needs_user = True

    @property
    def user(self):
        """The authenticated StackSync user's dict."""
        return self.req.environ['stacksync.user']

    @property
    def user_id(self):
        """The authenticated StackSync user making the request."""
        return self.user['id']

    @property
    def v2(self):
        """True when the request speaks the original API v2."""
        return dialects.is_v2(self.req)

    @classmethod
    def allowed_methods(cls):
        return [m for m in HTTP_METHODS if callable(getattr(cls, m, None))]

    # -- parsing what every handler parses the same way

    @property
    def params(self):
        """The query parameters as text.

        swob's ``req.params`` are WSGI strings (each byte one latin-1
        character); here they are decoded as UTF-8, invalid bytes kept as
        lone surrogates, which names and numbers then refuse.
        """
        if not hasattr(self, '_params'):
            self._params = {swob.wsgi_to_str(key): swob.wsgi_to_str(value)
                            for key, value in self.req.params.items()}
        return self._params

    def path_int(self, name):
        """A path argument matched as digits, as an int within range."""
        return parse_int(self.path_args[name], 'the %s in the path' % name)

    def query_int(self, name, default=None, minimum=0, maximum=MAX_INT):
        """An integer query parameter; ``default`` when absent."""
        value = self.params.get(name)
        if value is None or value == '':
            if default is None:
                raise errors.BadRequest('the query needs %s' % name)
            return default
        return parse_int(value, name, minimum, maximum)

    def query_text(self, name, required=True):
        value = self.params.get(name)
        if required and not value:
            raise errors.BadRequest('the query needs %s' % name)
        return value

    def query_flag(self, name):
        value = self.params.get(name, '').lower()
        if value not in ('', 'true', 'false', '1', '0'):
            raise errors.BadRequest('%s must be true or false' % name)
        return value in ('true', '1')

    def json_body(self, max_size=MAX_JSON_BODY):
        """The request's JSON body, at most ``max_size`` bytes."""
        length = self.req.content_length
        if length is not None and length > max_size:
            raise errors.RequestEntityTooLarge(
                'a JSON body has at most %d bytes' % max_size)
        raw = self.req.environ['wsgi.input'].read(
            max_size + 1 if length is None else length)
        if len(raw) > max_size:
            raise errors.RequestEntityTooLarge(
                'a JSON body has at most %d bytes' % max_size)
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            # RecursionError: nesting deeper than the parser's stack.
            raise errors.BadRequest('the body must be JSON')

    def json_object(self):
        """The JSON body as an object (``{}`` for an empty body)."""
        if not self.req.content_length and \
                'chunked' not in self.req.headers.get(
                    'Transfer-Encoding', ''):
            return {}
        body = self.json_body()
        if not isinstance(body, dict):
            raise errors.BadRequest('the body must be a JSON object')
        return body

    def base_version(self):
        """``If-Match: <version>`` as an int, or None without the header."""
        value = self.req.headers.get('If-Match')
        if value is None:
            return None
        return parse_int(value.strip().strip('"'), 'If-Match', minimum=1)

    def device_id(self):
        """The id of the device the ``X-StackSync-Device`` header names."""
        name = self.req.headers.get(DEVICE_HEADER)
        if not name:
            return None
        return self.api.metadata.get_or_create_device(
            self.user_id, name)['id']


def json_response(value, status=200, headers=None):
    return swob.Response(status=status, headers=headers,
                         body=json.dumps(value).encode('utf-8'),
                         content_type='application/json', charset='utf-8')


def parse_int(value, what, minimum=0, maximum=MAX_INT):
    """``value`` (text or JSON) as an int in ``[minimum, maximum]``."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not minimum <= value <= maximum:
        raise errors.BadRequest('%s must be a whole number from %d to %d'
                                % (what, minimum, maximum))
    return value


# (compiled path pattern, controller class); filled by the resource modules.
ROUTES = []


def route(pattern):
    """Class decorator registering a controller for a path pattern."""
    def register(controller):
        ROUTES.append((re.compile('^%s$' % pattern), controller))
        return controller
    return register


class Router:
    def __init__(self, routes=None):
        self.routes = ROUTES if routes is None else routes

    def route(self, req):
        """Return ``(controller class, unbound method)`` for the request.

        The method is called with a controller built from the request's path
        arguments. Unknown paths are 404, known paths with another verb 405.
        """
        controller, method, args = self.match(req)

        def build(api, req, _controller=controller, _args=args):
            return _controller(api, req, **_args)
        build.controller = controller
        return build, method

    def match(self, req):
        """``(controller class, unbound method, path arguments)``."""
        for pattern, controller in self.routes:
            match = pattern.match(req.path_info)
            if not match:
                continue
            method = getattr(controller, req.method, None)
            if not callable(method):
                raise errors.MethodNotAllowed(
                    '%s is not allowed here; use %s' % (
                        req.method, ', '.join(controller.allowed_methods())),
                    headers={'Allow': ', '.join(
                        controller.allowed_methods())})
            return controller, method, match.groupdict()
        raise errors.NotFound('no API resource at %s' % req.path_info)
