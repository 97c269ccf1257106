"""OAuth secrets and nonces in memcache, with two proxies sharing one.

Production shape: two proxies with our filters, Swift's ``memcache`` as
their cache on one real memcached, one PostgreSQL database
(:mod:`stacksync_swift.credcache`). Revoking is the operator's command,
run as a separate process against the proxy config, as on a proxy node.
"""

import subprocess
import sys
import uuid

import pytest
import requests
from requests_oauthlib import OAuth1
from sqlalchemy import select
from swift.common.memcached import MemcacheRing

from stacksync_swift import aio
from stacksync_swift import credcache
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from tests import servers
from tests.functional import apiclient

API = apiclient.API
# Where clients reach the cluster: a load balancer in front of the two
# proxies. A request signed once is good on either, as in production.
PUBLIC_URL = 'http://stacksync.example'


@pytest.fixture(scope='module')
def memcached():
    with servers.memcached() as running:
        yield running


@pytest.fixture(scope='module')
def cached_proxies(tmp_path_factory, memcached):
    address = memcached.address
    cluster = aio.AllInOne(
        tmp_path_factory.mktemp('cached-proxies'), port=0,
        database_url=servers.side_database('_oauthcache').render_as_string(
            hide_password=False),
        filter_options={'oauth_base_url': PUBLIC_URL},
        extra_proxies=1, memcache_servers=address)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def stores(cached_proxies):
    engine = db.create_engine(cached_proxies.database_url)
    yield engine, service.MetadataService(engine), \
        credentials.CredentialStore(engine)
    engine.dispose()


@pytest.fixture(scope='module')
def memcache(cached_proxies):
    """The memcache client the operator's command finds in the proxy
    config."""
    found = credcache.memcache_of_proxy(cached_proxies.proxy_conf_path())
    assert isinstance(found, MemcacheRing)
    return found


class App:
    """A consumer and one user's access token, signing requests."""

    def __init__(self, stores):
        _engine, metadata, store = stores
        self.consumer = store.create_consumer('app-%s' % uuid.uuid4().hex)
        self.user = metadata.create_user('user-%s' % uuid.uuid4().hex[:10])
        self.token = credentials.new_secret()
        self.secret = credentials.new_secret()
        store.save_access_token(self.consumer.key, self.user['id'],
                                self.token, self.secret)

    def signed(self, proxy):
        """A signed ``GET /v1/folder/0`` bound for ``proxy`` (the
        signature is the public URL's, good on every proxy)."""
        auth = OAuth1(self.consumer.key, self.consumer.secret,
                      self.token, self.secret)
        request = requests.Request('GET', PUBLIC_URL + '/v1/folder/0',
                                   headers=API, auth=auth).prepare()
        request.url = proxy + '/v1/folder/0'
        return request

    def statuses(self, urls):
        with requests.Session() as session:
            return [session.send(self.signed(url), timeout=30).status_code
                    for url in urls]


def operator(cluster, *args):
    """``stacksync-swift --config <proxy config> ARGS``, as run on a
    proxy node."""
    return subprocess.run(
        [sys.executable, '-m', 'stacksync_swift.cli', '--config',
         cluster.proxy_conf_path()] + list(args),
        capture_output=True, text=True, timeout=120, check=False)


def test_secrets_are_cached_in_the_shared_memcache(cached_proxies, stores,
                                                   memcache):
    app = App(stores)
    assert app.statuses(cached_proxies.proxy_urls) == [200, 200]
    cached = memcache.get(credcache.access_key(app.token))
    assert cached['secret'] == app.secret
    assert cached['user_id'] == app.user['id']
    assert memcache.get(credcache.consumer_key(app.consumer.key))[
        'secret'] == app.consumer.secret


def test_a_replay_through_the_other_proxy_is_refused(cached_proxies, stores):
    app = App(stores)
    proxy_a, proxy_b = cached_proxies.proxy_urls
    request = app.signed(proxy_a)
    replay = request.copy()
    replay.url = proxy_b + '/v1/folder/0'
    with requests.Session() as session:
        first = session.send(request, timeout=30)
        again = session.send(replay, timeout=30)
        fresh = session.send(app.signed(proxy_b), timeout=30)
    assert first.status_code == 200
    assert again.status_code == 401, 'replayed through the other proxy'
    assert fresh.status_code == 200
    # The nonce is a memcache counter, not a database row.
    engine = stores[0]
    with engine.connect() as connection:
        rows = connection.execute(select(credentials.Nonce).where(
            credentials.Nonce.token == app.token)).all()
    assert rows == []


def test_a_revoked_token_stops_at_once_on_every_proxy(cached_proxies,
                                                      stores, memcache):
    app = App(stores)
    assert app.statuses(cached_proxies.proxy_urls) == [200, 200]
    assert memcache.get(credcache.access_key(app.token)) is not None
    done = operator(cached_proxies, 'token-revoke', app.token)
    assert done.returncode == 0, done.stderr
    assert 'refused from now on' in done.stdout
    assert memcache.get(credcache.access_key(app.token)) is None
    assert app.statuses(cached_proxies.proxy_urls) == [401, 401]


def test_a_deleted_consumer_stops_at_once_on_every_proxy(cached_proxies,
                                                         stores):
    app = App(stores)
    assert app.statuses(cached_proxies.proxy_urls) == [200, 200]
    done = operator(cached_proxies, 'consumer-del', app.consumer.key)
    assert done.returncode == 0, done.stderr
    assert app.statuses(cached_proxies.proxy_urls) == [401, 401]


def test_a_deleted_user_stops_at_once_on_every_proxy(cached_proxies,
                                                     stores, memcache):
    app = App(stores)
    assert app.statuses(cached_proxies.proxy_urls) == [200, 200]
    done = operator(cached_proxies, 'user-del', app.user['name'])
    assert done.returncode == 0, done.stderr
    assert memcache.get(credcache.access_key(app.token)) is None
    assert app.statuses(cached_proxies.proxy_urls) == [401, 401]


def test_with_memcached_down_requests_go_to_the_database(
        cached_proxies, stores, memcached):
    """Last in the module: it stops the memcached the others share."""
    app = App(stores)
    memcached.stop()
    proxy_a, proxy_b = cached_proxies.proxy_urls
    assert app.statuses([proxy_a, proxy_b]) == [200, 200]
    request = app.signed(proxy_a)
    replay = request.copy()
    replay.url = proxy_b + '/v1/folder/0'
    with requests.Session() as session:
        assert session.send(request, timeout=30).status_code == 200
        assert session.send(replay, timeout=30).status_code == 401
    engine = stores[0]
    with engine.connect() as connection:
        rows = connection.execute(select(credentials.Nonce).where(
            credentials.Nonce.token == app.token)).all()
    assert len(rows) == 3
