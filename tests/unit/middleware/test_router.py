import json

import pytest
from swift.common import swob

from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import router


class Thing(router.Controller):
    def GET(self):
        return swob.Response(body=self.path_args['thing_id'].encode())

    def DELETE(self):
        raise errors.Conflict('changed meanwhile')


@pytest.fixture
def routes():
    table = []
    for pattern, controller in [(r'/v1/thing/(?P<thing_id>\d+)', Thing)]:
        table.append((router.re.compile('^%s$' % pattern), controller))
    return router.Router(table)


def dispatch(routes, method, path):
    req = swob.Request.blank(path, method=method)
    build, handler = routes.route(req)
    return handler(build(None, req))


def test_dispatch_passes_path_arguments(routes):
    assert dispatch(routes, 'GET', '/v1/thing/42').body == b'42'


def test_unknown_path_is_404(routes):
    with pytest.raises(errors.NotFound) as err:
        dispatch(routes, 'GET', '/v1/thing/abc')
    assert json.loads(err.value.body)['error'] == 404


def test_other_verb_is_405_with_allow(routes):
    with pytest.raises(errors.MethodNotAllowed) as err:
        dispatch(routes, 'PUT', '/v1/thing/1')
    assert err.value.headers['Allow'] == 'GET, DELETE'


def test_handlers_raise_json_errors(routes):
    with pytest.raises(errors.Conflict) as err:
        dispatch(routes, 'DELETE', '/v1/thing/1')
    assert json.loads(err.value.body) == {'error': 409,
                                          'description': 'changed meanwhile'}


def test_route_decorator_registers_controllers():
    before = len(router.ROUTES)

    @router.route(r'/v1/test-only')
    class Temporary(router.Controller):
        def GET(self):
            return swob.Response()
    try:
        assert router.ROUTES[-1][1] is Temporary
        assert Temporary.allowed_methods() == ['GET']
    finally:
        del router.ROUTES[before:]
