"""A real Swift proxy behind keystonemiddleware and keystoneauth.

Keystone mode in one picture: the all-in-one cluster
(:class:`stacksync_swift.aio.AllInOne` with ``keystone=...``), whose proxy
runs keystonemiddleware's ``auth_token`` (``authtoken``) before the
StackSync filters and Swift's ``keystoneauth`` in place of tempauth,
against the session's real Keystone (``keystone_server``). Plain Swift
requests pass through the StackSync filters untouched.

The filter sections the all-in-one writes::

    [filter:authtoken]
    paste.filter_factory = keystonemiddleware.auth_token:filter_factory
    www_authenticate_uri = http://127.0.0.1:PORT/v3
    auth_url = http://127.0.0.1:PORT/v3
    auth_type = password
    username = swift
    password = ...
    project_name = service
    user_domain_id = default
    project_domain_id = default
    delay_auth_decision = true

    [filter:keystoneauth]
    use = egg:swift#keystoneauth
    operator_roles = admin, member

``auth_token`` keeps validated tokens in its own in-process cache here.

The service user ``swift`` has the ``service`` role on project
``service``: Keystone's default policy lets that role validate other
users' tokens. The tests register an ``object-store`` endpoint
``http://127.0.0.1:PROXY/v1/AUTH_$(project_id)s`` so python-swiftclient
can authenticate with Keystone v3 and find its storage URL in the catalog,
as a real client would.
"""

import pathlib
import secrets

import pytest

from stacksync_swift import aio
from tests import servers
from tests.functional.keystone import REGION
from tests.functional.keystone import keystone_server  # noqa: F401

pytestmark = pytest.mark.keystone

SERVICE_USER = 'swift'
SERVICE_PROJECT = 'service'
OWNER_PASSWORD = secrets.token_urlsafe(12)


@pytest.fixture(scope='module')
def keystone_cluster(keystone_server, tmp_path_factory):  # noqa: F811
    servers.require_module('keystonemiddleware.auth_token',
                           'the Keystone-mode proxy')
    password = secrets.token_urlsafe(12)
    keystone_server.create_user(SERVICE_USER, password,
                                project=SERVICE_PROJECT, role='service')
    # The installation account belongs to a Keystone project of its own.
    owner = keystone_server.create_user(
        'stacksync-owner', OWNER_PASSWORD, project='stacksync')
    state = tmp_path_factory.mktemp('aio-keystone')
    cluster = aio.AllInOne(
        state, port=0,
        filter_options={'storage_account': 'AUTH_%s' % owner.project_id},
        keystone={'auth_url': keystone_server.auth_url,
                  'username': SERVICE_USER, 'password': password,
                  'project_name': SERVICE_PROJECT})
    register_object_store(keystone_server, cluster.url)
    with cluster:
        yield cluster


def register_object_store(keystone, proxy_url):
    client = keystone.admin_client()
    service = client.services.create('swift', type='object-store')
    client.endpoints.create(
        service, '%s/v1/AUTH_$(project_id)s' % proxy_url,
        interface='public', region=REGION)


def keystone_user(keystone, prefix):
    """A new member user in a new project: (name, password, created)."""
    name = '%s-%s' % (prefix, secrets.token_hex(4))
    password = secrets.token_urlsafe(12)
    created = keystone.create_user(name, password, project=name)
    return name, password, created


def swift_connection(keystone, name, password):
    """python-swiftclient authenticating with Keystone v3."""
    from swiftclient import client

    return client.Connection(
        authurl=keystone.auth_url, user=name, key=password,
        auth_version='3', retries=0, os_options={
            'project_name': name, 'user_domain_id': 'default',
            'project_domain_id': 'default', 'region_name': REGION})


def test_pipeline_has_keystone_auth(keystone_cluster):
    conf = pathlib.Path(keystone_cluster.proxy_conf_path()).read_text()
    assert 'authtoken stacksync_auth stacksync_api' in conf
    assert 'keystoneauth' in conf and 'auth_mode = keystone' in conf
    assert 'tempauth' not in conf


def test_user_puts_and_gets_in_own_account(keystone_server,  # noqa: F811
                                           keystone_cluster):
    name, password, created = keystone_user(keystone_server, 'erin')
    conn = swift_connection(keystone_server, name, password)
    url, _token = conn.get_auth()
    assert url == '%s/v1/AUTH_%s' % (keystone_cluster.url,
                                     created.project_id)
    conn.put_container('docs')
    conn.put_object('docs', 'hello.txt', b'hello keystone')
    headers, body = conn.get_object('docs', 'hello.txt')
    assert body == b'hello keystone'
    assert [c['name'] for c in conn.get_account()[1]] == ['docs']


def test_preauth_token_from_keystone(keystone_server,  # noqa: F811
                                     keystone_cluster):
    from swiftclient import client

    name, password, created = keystone_user(keystone_server, 'frank')
    token = keystone_server.token(name, password, name)
    url = '%s/v1/AUTH_%s' % (keystone_cluster.url, created.project_id)
    client.put_container(url, token, 'c')
    client.put_object(url, token, 'c', 'o', b'data')
    assert client.get_object(url, token, 'c', 'o')[1] == b'data'


def test_refused_without_or_with_a_bad_token(keystone_server,  # noqa: F811
                                             keystone_cluster):
    import requests

    _name, _pw, created = keystone_user(keystone_server, 'gina')
    url = '%s/v1/AUTH_%s' % (keystone_cluster.url, created.project_id)
    for headers in ({}, {'X-Auth-Token': 'not-a-token'}):
        resp = requests.get(url, headers=headers, timeout=30)
        assert resp.status_code == 401, headers
        assert 'Keystone uri=' in resp.headers['WWW-Authenticate']


def test_other_users_account_is_forbidden(keystone_server,  # noqa: F811
                                          keystone_cluster):
    from swiftclient import client

    owner, owner_pw, owned = keystone_user(keystone_server, 'hank')
    other, other_pw, _ = keystone_user(keystone_server, 'ivy')
    url = '%s/v1/AUTH_%s' % (keystone_cluster.url, owned.project_id)
    client.put_container(url, keystone_server.token(owner, owner_pw, owner),
                         'private')
    intruder = keystone_server.token(other, other_pw, other)
    with pytest.raises(client.ClientException) as caught:
        client.get_container(url, intruder, 'private')
    assert caught.value.http_status == 403


# -- StackSync in Keystone mode --

API = {'X-StackSync-API': 'v1'}


def test_keystone_token_uses_the_api_without_oauth(keystone_server,  # noqa: F811
                                                   keystone_cluster):
    import requests

    name, password, created = keystone_user(keystone_server, 'jules')
    token = keystone_server.token(name, password, name)
    resp = requests.get(keystone_cluster.url + '/v1/account', timeout=30,
                        headers=dict(API, **{'X-Auth-Token': token}))
    assert resp.status_code == 200, resp.text
    account = resp.json()
    assert account['name'] == name
    assert account['keystone_id'] == created.user_id
    # The same StackSync user on the next request: created once.
    again = requests.get(keystone_cluster.url + '/v1/account', timeout=30,
                         headers=dict(API, **{'X-Auth-Token': token}))
    assert again.json()['id'] == account['id']


def test_api_without_a_valid_token_is_401_json(keystone_cluster):
    import requests

    for headers in (API, dict(API, **{'X-Auth-Token': 'bogus'})):
        resp = requests.get(keystone_cluster.url + '/v1/account',
                            headers=headers, timeout=30)
        assert resp.status_code == 401
        assert resp.json()['error'] == 401


def _oauth_dance(cluster, consumer, name, password):
    import re

    import requests
    from requests_oauthlib import OAuth1Session

    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri='oob')
    token = session.fetch_request_token(cluster.url + '/oauth/request_token')
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=30,
                           data={'oauth_token': token['oauth_token'],
                                 'username': name, 'password': password})
    if answer.status_code != 200:
        return answer
    verifier = re.search(r'<code>([^<]+)</code>', answer.text).group(1)
    return OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=token['oauth_token'],
        resource_owner_secret=token['oauth_token_secret'],
        verifier=verifier).fetch_access_token(
            cluster.url + '/oauth/access_token')


@pytest.fixture(scope='module')
def consumer(keystone_cluster):
    from stacksync_swift.metadata import credentials
    from stacksync_swift.metadata import db

    engine = db.create_engine(keystone_cluster.database_url)
    yield credentials.CredentialStore(engine).create_consumer('ks-app')
    engine.dispose()


def test_oauth_authorize_checks_keystone_credentials(
        keystone_server, keystone_cluster, consumer):  # noqa: F811
    from requests_oauthlib import OAuth1Session

    name, password, created = keystone_user(keystone_server, 'kim')
    refused = _oauth_dance(keystone_cluster, consumer, name, 'wrong')
    assert refused.status_code == 401
    tokens = _oauth_dance(keystone_cluster, consumer, name, password)
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            resource_owner_key=tokens['oauth_token'],
                            resource_owner_secret=tokens[
                                'oauth_token_secret'])
    resp = session.get(keystone_cluster.url + '/v1/account', headers=API)
    assert resp.status_code == 200
    assert resp.json()['keystone_id'] == created.user_id


def test_acls_name_keystone_users_for_tokens_and_signatures(
        keystone_server, keystone_cluster, consumer):  # noqa: F811
    """``*:<keystone user id>`` in an ACL admits both ways in."""
    from requests_oauthlib import OAuth1Session
    from swiftclient import client

    storage = '%s/v1/%s' % (keystone_cluster.url,
                            keystone_cluster.storage_account)
    owner_token = keystone_server.token('stacksync-owner', OWNER_PASSWORD,
                                        'stacksync')
    name, password, created = keystone_user(keystone_server, 'lou')
    container = 'ws-%s' % secrets.token_hex(8)
    client.put_container(storage, owner_token, container)
    client.put_object(storage, owner_token, container, 'chk-1', b'shared')

    token = keystone_server.token(name, password, name)
    tokens = _oauth_dance(keystone_cluster, consumer, name, password)
    signed = OAuth1Session(consumer.key, client_secret=consumer.secret,
                           resource_owner_key=tokens['oauth_token'],
                           resource_owner_secret=tokens[
                               'oauth_token_secret'])
    url = '%s/%s/chk-1' % (storage, container)
    with pytest.raises(client.ClientException) as denied:
        client.get_object(storage, token, container, 'chk-1')
    assert denied.value.http_status == 403
    assert signed.get(url).status_code == 403

    client.post_container(storage, owner_token, container, {
        'X-Container-Read': '*:%s' % created.user_id})
    assert client.get_object(storage, token, container, 'chk-1')[1] == \
        b'shared'
    assert signed.get(url).content == b'shared'


def test_keystone_email_becomes_the_users_email(keystone_server,  # noqa: F811
                                                keystone_cluster, consumer):
    import requests

    name = 'mona-%s' % secrets.token_hex(4)
    password = secrets.token_urlsafe(12)
    keystone_server.create_user(name, password, project=name,
                                email='%s@example.org' % name)
    token = keystone_server.token(name, password, name)
    resp = requests.get(keystone_cluster.url + '/v1/account', timeout=30,
                        headers=dict(API, **{'X-Auth-Token': token}))
    assert resp.json()['email'] == '%s@example.org' % name
    # The OAuth sign-in path fills it in too (a user seen first there).
    other = 'nils-%s' % secrets.token_hex(4)
    keystone_server.create_user(other, password, project=other,
                                email='%s@example.org' % other)
    tokens = _oauth_dance(keystone_cluster, consumer, other, password)
    from requests_oauthlib import OAuth1Session

    account = OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=tokens['oauth_token'],
        resource_owner_secret=tokens['oauth_token_secret']).get(
            keystone_cluster.url + '/v1/account', headers=API).json()
    assert account['email'] == '%s@example.org' % other
