"""Both filters, built with their real factories, beside real tempauth.

The pipeline under test is ``cache stacksync_auth stacksync_api tempauth``
in front of a fake Swift, as in a proxy, with a real metadata database
(SQLite) behind the filters.
"""

import json

import pytest
from oauthlib.oauth1 import Client
from swift.common import swob
from swift.common.middleware import tempauth
from swift.common.registry import get_swift_info
from swift.common.wsgi import make_pre_authed_request

from stacksync_swift import localcache
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from stacksync_swift.middleware import api
from stacksync_swift.middleware import auth
from tests.unit.helpers import FakeSwift


@pytest.fixture
def swift():
    return FakeSwift()


@pytest.fixture
def database_url(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url)
    return url


@pytest.fixture
def pipeline(swift, database_url):
    conf = {'storage_account': 'AUTH_ss', 'database_url': database_url}
    app = tempauth.filter_factory({}, user_test_tester='testing .admin')(
        swift)
    app = api.filter_factory({}, **conf)(app)
    app = auth.filter_factory({}, **conf)(app)
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


@pytest.mark.parametrize('method, path, headers', [
    ('GET', '/v1/AUTH_ss/ws-1/o',
     {'Authorization': 'OAuth oauth_consumer_key="k"'}),
    ('GET', '/v1/AUTH_ss/ws-1/o?oauth_signature=abc&oauth_token=t', {}),
    ('POST', '/oauth/request_token', {}),
    ('POST', '/oauth/access_token', {}),
])
def test_oauth_requests_are_ours(pipeline, swift, method, path, headers):
    resp = swob.Request.blank(path, method=method,
                              headers=headers).get_response(pipeline)
    json_error(resp, 401)
    assert swift.calls == []


@pytest.mark.parametrize('method, path, status', [
    ('GET', '/oauth/request_token', 405),
    ('GET', '/oauth/other', 404),
])
def test_oauth_endpoints_answer_json_errors(pipeline, method, path, status):
    resp = swob.Request.blank(path, method=method).get_response(pipeline)
    json_error(resp, status)


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
                                  swift_source='SS')
    resp = sub.get_response(pipeline)
    assert resp.status_int == 204
    assert swift.calls[0]['source'] == 'SS'


def test_swift_info_is_registered(pipeline):
    info = get_swift_info()
    assert info['stacksync_api'] == {'storage_account': 'AUTH_ss',
                                     'auth_mode': 'oauth',
                                     'api_versions': ['v1', 'v2']}
    assert info['stacksync_auth'] == {'auth_mode': 'oauth'}


def test_bad_config_fails_at_load_time():
    with pytest.raises(ValueError, match='auth_mode'):
        api.filter_factory({}, auth_mode='basic')


# -- signed requests --

@pytest.fixture
def signer(database_url):
    """An oauthlib client holding a valid access token for a new user."""
    engine = db.create_engine(database_url)
    store = credentials.CredentialStore(engine)
    user = service.MetadataService(engine).create_user('alice')
    consumer = store.create_consumer('app')
    store.save_access_token(consumer.key, user['id'], 'a' * 30, 'b' * 30)
    engine.dispose()
    client = Client(consumer.key, client_secret=consumer.secret,
                    resource_owner_key='a' * 30,
                    resource_owner_secret='b' * 30)
    client.user = user
    return client


def signed_request(signer, path, method='GET', **kwargs):
    _uri, headers, _body = signer.sign('http://localhost' + path,
                                       http_method=method)
    return swob.Request.blank(path, method=method, headers=dict(
        headers, **kwargs.pop('headers', {})), **kwargs)


def test_signed_request_carries_the_user_and_our_authorize(
        pipeline, swift, signer):
    swift.register('GET', '/v1/AUTH_ss/ws-1/chk-1', 200, body=b'x')
    resp = signed_request(signer, '/v1/AUTH_ss/ws-1/chk-1').get_response(
        pipeline)
    assert resp.status_int == 200
    env = swift.calls[0]['environ']
    assert env['REMOTE_USER'] == 'alice'
    assert env['stacksync.user']['id'] == signer.user['id']
    # tempauth, further down, left our authorization in charge.
    assert env['swift.authorize_override'] is True
    assert isinstance(env['swift.authorize'].__self__, auth.StackSyncAuth)


def test_signed_api_request_reaches_the_api(pipeline, swift, signer):
    resp = signed_request(signer, '/v1/account', headers={
        'X-StackSync-API': 'v1'}).get_response(pipeline)
    assert resp.status_int == 200
    assert json.loads(resp.body)['name'] == 'alice'
    # The only subrequest: the user's private container, made on first use.
    call, = swift.calls
    assert (call['method'], call['source']) == ('PUT', 'SS')
    assert call['path'].startswith('/v1/AUTH_ss/ws-')


def test_signature_covers_the_percent_encoded_path(pipeline, swift, signer):
    path = '/v1/AUTH_ss/ws-1/caf%C3%A9%20menu.txt'
    swift.register('GET', path, 200, body=b'x')
    resp = signed_request(signer, path).get_response(pipeline)
    assert resp.status_int == 200, resp.body


def test_tampered_signature_is_refused(pipeline, swift, signer):
    req = signed_request(signer, '/v1/AUTH_ss/ws-1/chk-1')
    req.path_info = '/v1/AUTH_ss/ws-1/chk-2'
    json_error(req.get_response(pipeline), 401)
    assert swift.calls == []


def _authorize(pipeline, signer, path, method='GET', acl=None):
    seen = {}

    def app(env, start_response):
        seen['env'] = env
        start_response('204 No Content', [])
        return [b'']
    layer = pipeline
    while not isinstance(layer, auth.StackSyncAuth):
        layer = layer.app
    layer.app = app
    signed_request(signer, path, method).get_response(pipeline)
    req = swob.Request(seen['env'])
    req.acl = acl
    denied = seen['env']['swift.authorize'](req)
    return None if denied is None else denied.status_int


def test_authorize_follows_the_container_acls(pipeline, signer):
    me = 'stacksync:%d' % signer.user['id']
    obj = '/v1/AUTH_ss/ws-1/chk-1'
    assert _authorize(pipeline, signer, obj, acl=me) is None
    assert _authorize(pipeline, signer, obj, acl='stacksync:999') == 403
    assert _authorize(pipeline, signer, obj, acl=None) == 403
    assert _authorize(pipeline, signer, obj, 'PUT', acl=me) is None
    assert _authorize(pipeline, signer, '/v1/AUTH_ss/ws-1', acl=me) is None


@pytest.mark.parametrize('method, path', [
    ('GET', '/v1/AUTH_ss'),               # the installation account
    ('PUT', '/v1/AUTH_ss/ws-1'),          # its containers
    ('DELETE', '/v1/AUTH_ss/ws-1'),
    ('POST', '/v1/AUTH_ss/ws-1'),
    ('GET', '/v1/AUTH_other/c/o'),        # other accounts
])
def test_authorize_never_grants_accounts_or_containers(
        pipeline, signer, method, path):
    me = 'stacksync:%d' % signer.user['id']
    assert _authorize(pipeline, signer, path, method, acl=me) == 403
