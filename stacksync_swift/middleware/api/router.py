"""Maps API paths to controllers, like s3api's ``controller`` property.

Each route is a regular expression over the path and a controller class; a
controller has one method per HTTP verb (``GET``, ``PUT``, ...), each a thin
handler: parse, validate, one service call, one response. The resource
controllers register their routes in :data:`ROUTES`.
"""

import json
import re

from swift.common import swob

from stacksync_swift.middleware import errors

HTTP_METHODS = ('GET', 'HEAD', 'PUT', 'POST', 'DELETE')


class Controller:
    """Base of the resource controllers: one instance per request."""

    def __init__(self, api, req, **path_args):
        self.api = api
        self.req = req
        self.path_args = path_args

    @property
    def user_id(self):
        """The authenticated StackSync user making the request."""
        return self.req.environ['stacksync.user']['id']

    @classmethod
    def allowed_methods(cls):
        return [m for m in HTTP_METHODS if callable(getattr(cls, m, None))]


def json_response(value, status=200, headers=None):
    return swob.Response(status=status, headers=headers,
                         body=json.dumps(value).encode('utf-8'),
                         content_type='application/json', charset='utf-8')


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
            args = match.groupdict()

            def build(api, req, _controller=controller, _args=args):
                return _controller(api, req, **_args)
            return build, method
        raise errors.NotFound('no API resource at %s' % req.path_info)
