"""OAuth 1.0a against the real all-in-one, with a real OAuth client.

requests-oauthlib's ``OAuth1Session`` runs the three-legged dance; every
rejection case answers 401 with a JSON body; signed raw Swift requests obey
the workspace container's ACLs.
"""

import re
import time
import uuid

import pytest
import requests
from requests_oauthlib import OAuth1
from requests_oauthlib import OAuth1Session

from tests.functional.conftest import connect

API = {'X-StackSync-API': 'v1'}


@pytest.fixture(scope='module')
def consumer(stores):
    return stores.credentials.create_consumer('functional-tests')


CALLBACK = 'http://127.0.0.1:9/callback'


@pytest.fixture(scope='module')
def web_consumer(stores):
    """A consumer registered with a callback URL."""
    return stores.credentials.create_consumer('functional-tests-web',
                                              callback=CALLBACK)


@pytest.fixture(scope='module')
def user(stores):
    name = 'alice-%s' % uuid.uuid4().hex[:8]
    created = stores.metadata.create_user(name, password='correct horse')
    return dict(created, password='correct horse')


def dance(cluster, consumer, user, callback='oob'):
    """The three legs; returns the access token credentials."""
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri=callback)
    request_token = session.fetch_request_token(
        cluster.url + '/oauth/request_token')
    page = requests.get(cluster.url + '/oauth/authorize',
                        params={'oauth_token': request_token['oauth_token']},
                        timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    answer = requests.post(
        cluster.url + '/oauth/authorize', allow_redirects=False, timeout=10,
        data={'oauth_token': request_token['oauth_token'],
              'username': user['name'], 'password': user['password']})
    if callback == 'oob':
        assert answer.status_code == 200
        verifier = re.search(r'<code>([^<]+)</code>', answer.text).group(1)
    else:
        assert answer.status_code == 302
        location = answer.headers['Location']
        assert location.startswith(callback + '?')
        verifier = re.search(r'oauth_verifier=([^&]+)', location).group(1)
    session = OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=request_token['oauth_token'],
        resource_owner_secret=request_token['oauth_token_secret'],
        verifier=verifier)
    return session.fetch_access_token(cluster.url + '/oauth/access_token')


@pytest.fixture(scope='module')
def access(cluster, consumer, user):
    return dance(cluster, consumer, user)


def signed(consumer, access, **kwargs):
    return OAuth1Session(consumer.key, client_secret=consumer.secret,
                         resource_owner_key=access['oauth_token'],
                         resource_owner_secret=access['oauth_token_secret'],
                         **kwargs)


def assert_json_401(resp):
    assert resp.status_code == 401, resp.text
    assert resp.headers['Content-Type'].startswith('application/json')
    body = resp.json()
    assert body['error'] == 401 and body['description']
    assert resp.headers['WWW-Authenticate'].startswith('OAuth ')
    return body


# -- the dance --

def test_dance_with_oob_gives_a_working_access_token(
        cluster, consumer, user, access):
    resp = signed(consumer, access).get(cluster.url + '/v1/account',
                                        headers=API)
    assert resp.status_code == 200, resp.text
    assert resp.json()['name'] == user['name']


def test_dance_with_a_callback_redirects_with_the_verifier(
        cluster, web_consumer, user):
    tokens = dance(cluster, web_consumer, user, callback=CALLBACK)
    resp = signed(web_consumer, tokens).get(cluster.url + '/v1/account',
                                            headers=API)
    assert resp.status_code == 200


def test_signed_query_string_and_form_parameters(cluster, consumer, access):
    session = signed(consumer, access, signature_type='query')
    resp = session.get(cluster.url + '/v1/account', headers=API)
    assert resp.status_code == 200, resp.text


# -- rejections --

def test_unknown_consumer_is_refused(cluster):
    session = OAuth1Session('nosuchconsumer000000', client_secret='x',
                            callback_uri='oob')
    resp = session.post(cluster.url + '/oauth/request_token')
    assert_json_401(resp)


def test_bad_consumer_secret_is_refused(cluster, consumer):
    session = OAuth1Session(consumer.key, client_secret='wrong',
                            callback_uri='oob')
    assert_json_401(session.post(cluster.url + '/oauth/request_token'))


def test_bad_token_secret_is_refused(cluster, consumer, access):
    forged = dict(access, oauth_token_secret='forged')
    assert_json_401(signed(consumer, forged).get(
        cluster.url + '/v1/account', headers=API))


def test_unknown_access_token_is_refused(cluster, consumer):
    fake = {'oauth_token': 'x' * 32, 'oauth_token_secret': 'y' * 32}
    assert_json_401(signed(consumer, fake).get(
        cluster.url + '/v1/account', headers=API))


def test_replayed_nonce_is_refused(cluster, consumer, access):
    request = requests.Request(
        'GET', cluster.url + '/v1/account', headers=API,
        auth=OAuth1(consumer.key, consumer.secret, access['oauth_token'],
                    access['oauth_token_secret'])).prepare()
    with requests.Session() as http:
        assert http.send(request, timeout=10).status_code == 200
        assert_json_401(http.send(request, timeout=10))


@pytest.mark.parametrize('skew', [-3600, 3600])
def test_stale_timestamp_is_refused(cluster, consumer, access, skew):
    session = signed(consumer, access,
                     timestamp=str(int(time.time()) + skew))
    assert_json_401(session.get(cluster.url + '/v1/account', headers=API))


def test_plaintext_signature_needs_tls(cluster, consumer, access):
    session = signed(consumer, access, signature_method='PLAINTEXT')
    body = assert_json_401(session.get(cluster.url + '/v1/account',
                                       headers=API))
    assert 'TLS' in body['description']


def test_wrong_password_is_refused_and_grants_nothing(
        cluster, consumer, user):
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri='oob')
    token = session.fetch_request_token(cluster.url + '/oauth/request_token')
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=10,
                           data={'oauth_token': token['oauth_token'],
                                 'username': user['name'],
                                 'password': 'wrong'})
    assert answer.status_code == 401
    assert 'Wrong user name or password' in answer.text
    session = OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=token['oauth_token'],
        resource_owner_secret=token['oauth_token_secret'],
        verifier='guessedverifier00000')
    assert_json_401(session.post(cluster.url + '/oauth/access_token'))


def test_request_token_is_single_use(cluster, web_consumer, user):
    consumer = web_consumer
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri=CALLBACK)
    token = session.fetch_request_token(cluster.url + '/oauth/request_token')
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=10,
                           allow_redirects=False,
                           data={'oauth_token': token['oauth_token'],
                                 'username': user['name'],
                                 'password': user['password']})
    verifier = re.search(r'oauth_verifier=([^&]+)',
                         answer.headers['Location']).group(1)

    def exchange():
        return OAuth1Session(
            consumer.key, client_secret=consumer.secret,
            resource_owner_key=token['oauth_token'],
            resource_owner_secret=token['oauth_token_secret'],
            verifier=verifier).post(cluster.url + '/oauth/access_token')

    assert exchange().status_code == 200
    assert_json_401(exchange())


def test_unknown_request_token_on_the_authorize_page(cluster):
    page = requests.get(cluster.url + '/oauth/authorize',
                        params={'oauth_token': 'nosuchtoken0000000000'},
                        timeout=10)
    assert page.status_code == 401


def test_revoked_access_token_is_refused(cluster, consumer, user, stores):
    tokens = dance(cluster, consumer, user)
    session = signed(consumer, tokens)
    assert session.get(cluster.url + '/v1/account',
                       headers=API).status_code == 200
    stores.credentials.revoke_access_token(tokens['oauth_token'])
    assert_json_401(session.get(cluster.url + '/v1/account', headers=API))


@pytest.mark.parametrize('method, path, status', [
    ('GET', '/oauth/nothing', 404),
    ('PUT', '/oauth/request_token', 405),
    ('DELETE', '/oauth/authorize', 405),
])
def test_oauth_paths_that_do_not_exist(cluster, method, path, status):
    resp = requests.request(method, cluster.url + path, timeout=10)
    assert resp.status_code == status
    assert resp.json()['error'] == status


# -- raw Swift access follows the container ACLs --

@pytest.fixture
def workspace_container(cluster):
    admin = connect(cluster, cluster.admin_user)
    name = 'ws-%s' % uuid.uuid4().hex
    admin.put_container(name)
    admin.put_object(name, 'chk-1', b'chunk data')
    yield admin, name
    for obj in admin.get_container(name)[1]:
        admin.delete_object(name, obj['name'])
    admin.delete_container(name)
    admin.close()


def test_raw_swift_access_requires_the_acl_to_list_the_user(
        cluster, consumer, access, user, workspace_container):
    admin, container = workspace_container
    session = signed(consumer, access)
    account_url = '%s/v1/%s' % (cluster.url, cluster.storage_account)
    object_url = '%s/%s/chk-1' % (account_url, container)

    # Not listed: nothing.
    assert session.get(object_url).status_code == 403
    assert session.put(object_url, data=b'x').status_code == 403

    # Listed for reading: read, but not write.
    me = 'stacksync:%d' % user['id']
    admin.post_container(container, {'X-Container-Read': me})
    assert session.get(object_url).content == b'chunk data'
    assert session.get('%s/%s' % (account_url, container)).status_code \
        == 200
    assert session.put(object_url + '2', data=b'x').status_code == 403

    # Listed for writing too: write.
    admin.post_container(container, {'X-Container-Read': me,
                                      'X-Container-Write': me})
    assert session.put(object_url + '2', data=b'x').status_code == 201

    # Never the installation account itself, its containers, or others.
    assert session.get(account_url).status_code == 403
    assert session.delete('%s/%s' % (account_url, container)
                          ).status_code == 403
    assert session.post('%s/%s' % (account_url, container), headers={
        'X-Container-Read': '.r:*'}).status_code == 403
    assert session.get('%s/v1/AUTH_test' % cluster.url).status_code == 403
    assert admin.head_object(container, 'chk-12')['content-length'] == '1'


def test_another_users_token_is_not_listed(
        cluster, consumer, stores, workspace_container, user):
    admin, container = workspace_container
    admin.post_container(container, {
        'X-Container-Read': 'stacksync:%d' % user['id']})
    other = stores.metadata.create_user('bob-%s' % uuid.uuid4().hex[:8],
                                        password='pw')
    tokens = dance(cluster, consumer, dict(other, password='pw'))
    resp = signed(consumer, tokens).get('%s/v1/%s/%s/chk-1' % (
        cluster.url, cluster.storage_account, container))
    assert resp.status_code == 403
