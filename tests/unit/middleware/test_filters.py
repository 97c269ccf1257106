"""Both filters, built with their real factories, behind real tempauth.

The pipeline under test is ``cache tempauth stacksync_auth stacksync_api``
in front of a fake Swift, as in a proxy.
"""

import json

import pytest
from swift.common import swob
from swift.common.middleware import tempauth
from swift.common.registry import get_swift_info
from swift.common.wsgi import make_pre_authed_request

from stacksync_swift import localcache
from stacksync_swift.middleware import api
from stacksync_swift.middleware import auth
from tests.unit.helpers import FakeSwift


@pytest.fixture
def swift():
    return FakeSwift()


@pytest.fixture
def pipeline(swift):
    app = api.filter_factory({}, storage_account='AUTH_ss')(swift)
    app = auth.filter_factory({})(app)
    app = tempauth.filter_factory({}, user_test_tester='testing .admin')(app)
    return localcache.filter_factory({})(app)


def token(pipeline):
    resp = swob.Request.blank('/auth/v1.0', headers={
        'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'}).get_response(
            pipeline)
    assert resp.status_int == 200
    return resp.headers['X-Auth-Token']


def json_error(resp, status):
    assert resp.status_int == status
    assert resp.content_type == 'application/json'
    body = json.loads(resp.body)
    assert body['error'] == status and body['description']
    return body


def test_plain_swift_request_reaches_swift_unchanged(pipeline, swift):
    swift.register('PUT', '/v1/AUTH_test/c/o', 201, {'Etag': 'abc'})
    headers = {'X-Auth-Token': token(pipeline), 'X-Object-Meta-A': 'b',
               'Content-Type': 'text/plain', 'Authorization': 'Basic xyz'}
    resp = swob.Request.blank('/v1/AUTH_test/c/o?multipart-manifest=put',
                              method='PUT', headers=headers,
                              body=b'data').get_response(pipeline)
    assert resp.status_int == 201 and resp.headers['Etag'] == 'abc'
    assert resp.body == b''
    call, = swift.calls
    assert (call['method'], call['path'], call['query']) == (
        'PUT', '/v1/AUTH_test/c/o', 'multipart-manifest=put')
    assert call['body'] == b'data'
    for name, value in headers.items():
        assert call['headers'][name] == value
    assert 'stacksync.user' not in call['environ']
    assert call['source'] is None
    assert swift.open_bodies == 0


def test_unauthenticated_swift_request_is_left_to_tempauth(pipeline, swift):
    # The proxy app calls swift.authorize; it must still be tempauth's.
    swift.register('GET', '/v1/AUTH_test/c/o', 200, body=b'x')
    swob.Request.blank('/v1/AUTH_test/c/o').get_response(pipeline)
    call, = swift.calls
    authorize = call['environ']['swift.authorize']
    assert isinstance(authorize.__self__, tempauth.TempAuth)
    assert 'stacksync.user' not in call['environ']


@pytest.mark.parametrize('header', ['X-StackSync-API', 'StackSync-API'])
def test_unsigned_api_request_is_401_json(pipeline, swift, header):
    resp = swob.Request.blank('/v1/folder/0/contents',
                              headers={header: 'v1'}).get_response(pipeline)
    json_error(resp, 401)
    assert resp.headers['WWW-Authenticate'].startswith('OAuth realm=')
    assert swift.calls == []


def test_unknown_api_version_is_400_json(pipeline, swift):
    resp = swob.Request.blank('/v1/file/1', headers={
        'X-StackSync-API': 'v9'}).get_response(pipeline)
    assert 'v9' in json_error(resp, 400)['description']
    assert swift.calls == []


@pytest.mark.parametrize('path, headers', [
    ('/v1/AUTH_ss/ws-1/o', {'Authorization': 'OAuth oauth_consumer_key="k"'}),
    ('/v1/AUTH_ss/ws-1/o?oauth_signature=abc&oauth_token=t', {}),
    ('/oauth/request_token', {}),
])
def test_oauth_requests_are_ours(pipeline, swift, path, headers):
    resp = swob.Request.blank(path, headers=headers).get_response(pipeline)
    json_error(resp, 401)
    assert swift.calls == []


def test_query_merely_mentioning_oauth_is_plain_swift(pipeline, swift):
    swift.register('GET', '/v1/AUTH_test/c', 200, body=b'[]')
    resp = swob.Request.blank('/v1/AUTH_test/c?prefix=oauth_signature',
                              headers={'X-Auth-Token': token(pipeline)}
                              ).get_response(pipeline)
    assert resp.status_int == 200
    assert swift.call_paths == [('GET', '/v1/AUTH_test/c')]


def test_pre_authorized_subrequests_pass_through(pipeline, swift):
    swift.register('HEAD', '/v1/AUTH_ss/ws-1', 204)
    env = {'REQUEST_METHOD': 'GET', 'HTTP_X_STACKSYNC_API': 'v1'}
    sub = make_pre_authed_request(env, 'HEAD', '/v1/AUTH_ss/ws-1',
                                  headers={'X-StackSync-API': 'v1'},
                                  swift_source='SS')
    resp = sub.get_response(pipeline)
    assert resp.status_int == 204
    assert swift.calls[0]['source'] == 'SS'


def test_swift_info_is_registered(pipeline):
    info = get_swift_info()
    assert info['stacksync_api'] == {'storage_account': 'AUTH_ss',
                                     'auth_mode': 'oauth',
                                     'api_versions': ['v1']}
    assert info['stacksync_auth'] == {'auth_mode': 'oauth'}


def test_bad_config_fails_at_load_time():
    with pytest.raises(ValueError, match='auth_mode'):
        api.filter_factory({}, auth_mode='basic')
