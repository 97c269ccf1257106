"""A real Swift proxy behind keystonemiddleware and keystoneauth.

Keystone mode in one picture: the all-in-one cluster
(:class:`stacksync_swift.aio.AllInOne`) with its proxy's tempauth replaced
by keystonemiddleware's ``auth_token`` (``authtoken``) and Swift's
``keystoneauth``, against the session's real Keystone
(``keystone_server``). The StackSync filters stay right after
``keystoneauth``; plain Swift requests pass through them.

The working filter sections (see :func:`keystone_filters`)::

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
Swift's docs add ``cache = swift.cache`` (share the proxy's memcached);
with the all-in-one's in-process cache filter that fails (500), because
``stacksync_swift.localcache`` refuses bytes values that
``MemcacheRing.set`` accepts (it decodes them before JSON).

The service user ``swift`` has the ``service`` role on project
``service``: Keystone's default policy lets that role validate other
users' tokens. The tests register an ``object-store`` endpoint
``http://127.0.0.1:PROXY/v1/AUTH_$(project_id)s`` so python-swiftclient
can authenticate with Keystone v3 and find its storage URL in the catalog,
as a real client would.
"""

import configparser
import pathlib
import secrets

import pytest

from stacksync_swift import aio
from tests.functional.keystone import REGION
from tests.functional.keystone import keystone_server  # noqa: F401

pytestmark = pytest.mark.keystone

SERVICE_USER = 'swift'
SERVICE_PROJECT = 'service'


def keystone_filters(keystone, service_password):
    """The ``authtoken`` and ``keystoneauth`` sections for a proxy conf."""
    return {
        'filter:authtoken': {
            'paste.filter_factory':
                'keystonemiddleware.auth_token:filter_factory',
            'www_authenticate_uri': keystone.auth_url,
            'auth_url': keystone.auth_url,
            'auth_type': 'password',
            'username': SERVICE_USER,
            'password': service_password,
            'project_name': SERVICE_PROJECT,
            'user_domain_id': 'default',
            'project_domain_id': 'default',
            'delay_auth_decision': 'true',
        },
        'filter:keystoneauth': {
            'use': 'egg:swift#keystoneauth',
            'operator_roles': 'admin, member',
        },
    }


class KeystoneAllInOne(aio.AllInOne):
    """The all-in-one with Keystone auth in place of tempauth."""

    def __init__(self, state_dir, keystone, service_password, **kwargs):
        super().__init__(state_dir, **kwargs)
        self.keystone = keystone
        self.service_password = service_password

    def _proxy_conf(self, bare=False):
        sections = parse_ini(super()._proxy_conf(bare=bare))
        del sections['filter:tempauth']
        pipeline = sections['pipeline:main']['pipeline']
        assert 'tempauth' in pipeline.split(), pipeline
        # authtoken before our filters (stacksync_auth maps its identity),
        # keystoneauth where tempauth was.
        pipeline = pipeline.replace('tempauth', 'keystoneauth')
        if 'stacksync_auth' in pipeline:
            pipeline = pipeline.replace('stacksync_auth',
                                        'authtoken stacksync_auth')
        else:
            pipeline = pipeline.replace('keystoneauth',
                                        'authtoken keystoneauth')
        sections['pipeline:main']['pipeline'] = pipeline
        sections.update(keystone_filters(self.keystone,
                                         self.service_password))
        return aio._ini(sections)


def parse_ini(text):
    """``{section: {key: value}}`` of an ini file, DEFAULT included."""
    parser = configparser.RawConfigParser(default_section='(none)')
    parser.optionxform = str
    parser.read_string(text)
    return {name: dict(parser.items(name)) for name in parser.sections()}


@pytest.fixture(scope='module')
def keystone_cluster(keystone_server, tmp_path_factory):  # noqa: F811
    pytest.importorskip('keystonemiddleware.auth_token')
    password = secrets.token_urlsafe(12)
    keystone_server.create_user(SERVICE_USER, password,
                                project=SERVICE_PROJECT, role='service')
    state = tmp_path_factory.mktemp('aio-keystone')
    cluster = KeystoneAllInOne(state, keystone_server, password, port=0)
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
    assert 'keystoneauth' in conf
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
