"""Deployment shapes of the all-in-one, each a real cluster.

* Server-side encryption: with ``encryption=True`` Swift's ``keymaster``
  and ``encryption`` sit in the proxy pipeline; what the object server
  writes to disk (``*.data`` files) holds no plaintext, for raw Swift
  objects and for chunks written through the StackSync API alike, and the
  root secret kept in ``aio.json`` reads the data back after a restart.
  The session cluster (no encryption) is the control: there the same
  search finds the plaintext, so the search itself works.
* Production layout: two proxies with our filters on one PostgreSQL
  (``STACKSYNC_TEST_POSTGRES_URL``; the test makes its own database next
  to that one) and one RabbitMQ (``STACKSYNC_TEST_AMQP_URL``). An OAuth
  token obtained through one proxy works on the other, a file written
  through one is read through the other, and a long poll on one wakes on
  a commit through the other. Without the variables these tests skip,
  unless ``CI`` is ``true``: then they fail.
"""

import pathlib
import re
import threading
import uuid

import pytest
import requests
from requests_oauthlib import OAuth1Session
from swiftclient import client as swiftclient

from stacksync_swift import aio
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from tests import servers
from tests.functional import apiclient

# Our own database beside the shared test database: other tests drop and
# re-create the shared one's schema.
DEPLOY_DATABASE_SUFFIX = '_deploy'
API = apiclient.API



def marker(tag):
    """Recognizable plaintext, long enough to span a few cipher blocks."""
    return ('StackSync plaintext %s %s ' % (tag, uuid.uuid4().hex)
            ).encode() * 64


def data_files_holding(devices, needle):
    """Object ``.data`` files under ``devices`` whose bytes hold needle."""
    found = []
    for path in pathlib.Path(devices).rglob('*.data'):
        if needle in path.read_bytes():
            found.append(path)
    return found


def all_data_files(devices):
    return list(pathlib.Path(devices).rglob('*.data'))


# -- server-side encryption -------------------------------------------------

@pytest.fixture(scope='module')
def encrypted(tmp_path_factory):
    state = tmp_path_factory.mktemp('encrypted')
    cluster = aio.AllInOne(state, port=0, encryption=True)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def admin_connection(cluster):
    return swiftclient.Connection(cluster.auth_url, cluster.admin_user,
                                  cluster.admin_key, retries=0)


def test_the_pipeline_has_keymaster_and_encryption_last(encrypted):
    with open(encrypted.proxy_conf_path()) as fp:
        pipeline = re.search(r'^pipeline = (.*)$', fp.read(),
                             re.MULTILINE).group(1).split()
    assert pipeline[-4:] == ['keymaster', 'encryption', 'proxy-logging',
                             'proxy-server']
    assert 'encryption_root_secret' in encrypted.secrets


def test_plaintext_is_found_on_disk_without_encryption(cluster, swift):
    """The control: the search finds an unencrypted object's bytes."""
    body = marker('control')
    swift.put_container('deploy-control')
    try:
        swift.put_object('deploy-control', 'plain', body)
        assert data_files_holding(cluster.devices, body[:48])
    finally:
        # Leave the session cluster's accounts as they were.
        swift.delete_object('deploy-control', 'plain')
        swift.delete_container('deploy-control')


def test_raw_swift_objects_are_not_plaintext_on_disk(encrypted):
    body = marker('raw')
    conn = admin_connection(encrypted)
    try:
        conn.put_container('secret')
        conn.put_object('secret', 'object', body)
        assert conn.get_object('secret', 'object')[1] == body
    finally:
        conn.close()
    assert all_data_files(encrypted.devices)
    assert data_files_holding(encrypted.devices, body[:48]) == []


def test_api_chunks_are_not_plaintext_on_disk(encrypted):
    body = marker('api')
    stores = apiclient.Stores(encrypted)
    client = apiclient.APIClient(encrypted, stores)
    try:
        item = client.upload(body, name='secret.txt')
        assert client.get('/v1/file/%s/data' % item['id']).content == body
    finally:
        client.close()
        stores.close()
    assert data_files_holding(encrypted.devices, body[:48]) == []


def test_the_kept_root_secret_reads_the_data_after_a_restart(
        tmp_path_factory):
    body = marker('restart')
    state = tmp_path_factory.mktemp('encrypted-restart')
    with aio.AllInOne(state, port=0, encryption=True) as cluster:
        conn = admin_connection(cluster)
        conn.put_container('kept')
        conn.put_object('kept', 'object', body)
        conn.close()
        secret = cluster.secrets['encryption_root_secret']
    with aio.AllInOne(state, port=0, encryption=True) as cluster:
        assert cluster.secrets['encryption_root_secret'] == secret
        conn = admin_connection(cluster)
        assert conn.get_object('kept', 'object')[1] == body
        conn.close()


# -- two proxies, one PostgreSQL, one RabbitMQ -------------------------------

def deploy_database_url():
    """A fresh database beside the shared PostgreSQL test database."""
    return servers.side_database(DEPLOY_DATABASE_SUFFIX).render_as_string(
        hide_password=False)


@pytest.fixture(scope='module')
def two_proxies(tmp_path_factory):
    database_url = deploy_database_url()
    events_url = servers.amqp_url()
    cluster = aio.AllInOne(tmp_path_factory.mktemp('two-proxies'), port=0,
                           database_url=database_url, events_url=events_url,
                           extra_proxies=1)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def stores(two_proxies):
    # Not conftest's ``stores``, which opens ``cluster``'s database: this
    # opens the two proxies' own (and the module uses ``cluster`` too).
    engine = db.create_engine(two_proxies.database_url)
    yield service.MetadataService(engine), \
        credentials.CredentialStore(engine)
    engine.dispose()


def oauth_dance_across(proxy_a, proxy_b, consumer, name, password):
    """Request token on A, sign in on B, access token on A."""
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri='oob')
    request_token = session.fetch_request_token(
        proxy_a + '/oauth/request_token')
    answer = requests.post(
        proxy_b + '/oauth/authorize', timeout=10,
        data={'oauth_token': request_token['oauth_token'],
              'username': name, 'password': password})
    assert answer.status_code == 200, answer.text
    verifier = re.search(r'<code>([^<]+)</code>', answer.text).group(1)
    session = OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=request_token['oauth_token'],
        resource_owner_secret=request_token['oauth_token_secret'],
        verifier=verifier)
    return session.fetch_access_token(proxy_a + '/oauth/access_token')


@pytest.fixture(scope='module')
def alice(two_proxies, stores):
    """An OAuth session for a new user, made through proxy A."""
    metadata, store = stores
    consumer = store.create_consumer('two-proxies')
    name = 'alice-%s' % uuid.uuid4().hex[:8]
    metadata.create_user(name, password='correct horse')
    proxy_a, proxy_b = two_proxies.proxy_urls
    access = oauth_dance_across(proxy_a, proxy_b, consumer, name,
                                'correct horse')
    session = OAuth1Session(
        consumer.key, client_secret=consumer.secret,
        resource_owner_key=access['oauth_token'],
        resource_owner_secret=access['oauth_token_secret'])
    yield session
    session.close()


def test_the_cluster_runs_two_proxies_on_postgresql_and_rabbitmq(
        two_proxies):
    assert two_proxies.database_url.startswith('postgresql')
    assert two_proxies.filter_options['events_url'].startswith('amqp')
    proxy_a, proxy_b = two_proxies.proxy_urls
    assert proxy_a != proxy_b
    for url in (proxy_a, proxy_b):
        info = requests.get(url + '/info', timeout=10).json()
        assert info['stacksync_api']['storage_account'] == 'AUTH_stacksync'


def test_a_token_made_through_one_proxy_works_on_the_other(
        two_proxies, alice):
    answers = [alice.get(url + '/v1/account', headers=API, timeout=30)
               for url in two_proxies.proxy_urls]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].json() == answers[1].json()


def test_a_file_written_through_one_proxy_is_read_through_the_other(
        two_proxies, alice):
    proxy_a, proxy_b = two_proxies.proxy_urls
    body = b'written via A, read via B\n' * 1000
    created = alice.post(proxy_a + '/v1/file', headers=API, timeout=60,
                         params={'name': 'both.txt', 'parent': 0},
                         data=body)
    assert created.status_code == 201, created.text
    item = created.json()
    meta = alice.get(proxy_b + '/v1/file/%s' % item['id'], headers=API,
                     timeout=30)
    assert meta.status_code == 200
    assert meta.json()['version'] == item['version']
    data = alice.get(proxy_b + '/v1/file/%s/data' % item['id'],
                     headers=API, timeout=60)
    assert data.status_code == 200 and data.content == body


def test_a_long_poll_on_one_proxy_wakes_on_a_commit_through_the_other(
        two_proxies, alice):
    proxy_a, proxy_b = two_proxies.proxy_urls
    folder = alice.get(proxy_a + '/v1/folder/0', headers=API, timeout=30)
    workspace = folder.json()['workspace_id']
    changes = '/v1/workspace/%d/changes' % workspace
    cursor = alice.get(proxy_a + changes, headers=API,
                       timeout=30).json()['cursor']
    # The first long poll starts proxy B's event listener.
    alice.get(proxy_b + changes + '/wait', headers=API, timeout=30,
              params={'cursor': cursor, 'timeout': 1})
    answers = []

    def wait():
        answers.append(alice.get(
            proxy_b + changes + '/wait', headers=API, timeout=120,
            params={'cursor': cursor, 'timeout': 60}).json())
    waiter = threading.Thread(target=wait)
    waiter.start()
    created = alice.post(proxy_a + '/v1/file', headers=API, timeout=60,
                         params={'name': 'ping.txt', 'parent': 0},
                         data=b'wake up')
    assert created.status_code == 201, created.text
    waiter.join(90)
    assert answers and answers[0]['changes'] is True
    assert answers[0]['cursor'] > cursor


def test_raw_swift_through_either_proxy_sees_the_same_objects(two_proxies):
    """Tempauth tokens live in each proxy's own cache: one per proxy."""
    proxy_a, proxy_b = two_proxies.proxy_urls
    conns = [swiftclient.Connection(url + '/auth/v1.0',
                                    two_proxies.admin_user,
                                    two_proxies.admin_key, retries=0)
             for url in (proxy_a, proxy_b)]
    try:
        conns[0].put_container('shared')
        conns[0].put_object('shared', 'object', b'via A')
        assert conns[1].get_object('shared', 'object')[1] == b'via A'
    finally:
        for conn in conns:
            conn.close()

