"""The OpenAPI document ships in the package and matches the router."""

import importlib.resources
import json
import re

import pytest

from stacksync_swift.middleware.api import openapi
from stacksync_swift.middleware.api import router

METHODS = ('get', 'head', 'put', 'post', 'delete')


def openapi_path(pattern):
    """``/v1/file/(?P<item_id>\\d+)/data`` as ``/v1/file/{item_id}/data``.
    """
    text = pattern.pattern[1:-1]
    text = re.sub(r'\(\?P<(\w+)>[^)]*\)', r'{\1}', text)
    return text.replace('\\', '')


@pytest.fixture(scope='module')
def document():
    return openapi.document()


def test_the_document_is_package_data():
    raw = importlib.resources.files('stacksync_swift').joinpath(
        'openapi.json').read_text()
    assert json.loads(raw)['openapi'].startswith('3.0')


@pytest.mark.parametrize('pattern, controller', router.ROUTES,
                         ids=[openapi_path(p) for p, _c in router.ROUTES])
def test_every_route_is_documented_with_its_methods(document, pattern,
                                                    controller):
    path = openapi_path(pattern)
    assert path in document['paths'], path
    documented = {m for m in document['paths'][path] if m in METHODS}
    assert documented == {m.lower() for m in controller.allowed_methods()}


def test_every_documented_path_is_routed(document):
    routed = {openapi_path(pattern) for pattern, _c in router.ROUTES}
    assert set(document['paths']) <= routed


def test_references_resolve(document):
    text = json.dumps(document)
    for ref in set(re.findall(r'"#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in document['components'][ref[0]], ref


def test_the_document_is_served_without_a_signature(anonymous):
    resp = anonymous.get('/v1/openapi.json')
    assert resp.status_int == 200
    assert resp.json == openapi.document()
