"""CachedCredentials with a stand-in memcache (the two-proxy test with a
real memcached is tests/functional/test_oauth_cache.py)."""

import time

import pytest
from swift.common.memcached import MemcacheConnectionError

from stacksync_swift import credcache
from stacksync_swift import localcache
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service


class CountingStore:
    """A credential store that counts the lookups reaching it."""

    def __init__(self, store):
        self.store = store
        self.lookups = 0

    def get_consumer(self, key):
        self.lookups += 1
        return self.store.get_consumer(key)

    def get_access_token(self, token):
        self.lookups += 1
        return self.store.get_access_token(token)

    def use_nonce(self, *args):
        self.lookups += 1
        return self.store.use_nonce(*args)


class DownMemcache(localcache.LocalMemcache):
    def incr(self, key, delta=1, time=0):
        raise MemcacheConnectionError('down')


@pytest.fixture
def store(tmp_path):
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'meta.sqlite'))
    db.upgrade(engine)
    user = service.MetadataService(engine).create_user('alice')
    found = credentials.CredentialStore(engine)
    consumer = found.create_consumer('app')
    found.save_access_token(consumer.key, user['id'], 'token0000', 'sec')
    yield found, consumer
    engine.dispose()


def cached(store, memcache):
    counting = CountingStore(store)
    cache = credcache.CachedCredentials(counting)
    cache.memcache = memcache
    return cache, counting


def test_a_record_is_read_once_then_served_from_memcache(store):
    found, consumer = store
    cache, counting = cached(found, localcache.LocalMemcache())
    first = [cache.get_consumer(consumer.key),
             cache.get_access_token('token0000')]
    again = [cache.get_consumer(consumer.key),
             cache.get_access_token('token0000')]
    assert counting.lookups == 2
    assert again == first == [found.get_consumer(consumer.key),
                              found.get_access_token('token0000')]


def test_unknown_keys_are_not_cached(store):
    found, _consumer = store
    memcache = localcache.LocalMemcache()
    cache, counting = cached(found, memcache)
    assert cache.get_access_token('nosuchtoken') is None
    assert memcache.get(credcache.access_key('nosuchtoken')) is None
    assert cache.get_access_token('nosuchtoken') is None
    assert counting.lookups == 2


def test_a_record_expires_after_the_ttl(store):
    found, consumer = store
    now = [1000.0]
    cache, counting = cached(found, localcache.LocalMemcache(
        clock=lambda: now[0]))
    cache.get_consumer(consumer.key)
    now[0] += credcache.TTL + 1
    cache.get_consumer(consumer.key)
    assert counting.lookups == 2


def test_forget_removes_consumers_and_tokens(store):
    found, consumer = store
    memcache = localcache.LocalMemcache()
    cache, _counting = cached(found, memcache)
    cache.get_consumer(consumer.key)
    cache.get_access_token('token0000')
    credcache.forget(memcache, consumers=[consumer.key],
                     tokens=['token0000'])
    assert memcache.get(credcache.consumer_key(consumer.key)) is None
    assert memcache.get(credcache.access_key('token0000')) is None


def test_a_nonce_is_taken_once_in_memcache_not_the_database(store):
    found, consumer = store
    cache, counting = cached(found, localcache.LocalMemcache())
    args = (consumer.key, 1700000000, 'nonce000', 'token0000')
    assert cache.use_nonce(*args) is True
    assert cache.use_nonce(*args) is False
    assert cache.use_nonce(consumer.key, 1700000000, 'nonce001',
                           'token0000') is True
    assert counting.lookups == 0


def test_nonces_go_to_the_database_when_memcache_is_down(store):
    found, consumer = store
    cache, counting = cached(found, DownMemcache())
    # Now: the database forgets nonces too old for oauthlib to accept.
    args = (consumer.key, int(time.time()), 'nonce000', 'token0000')
    assert cache.use_nonce(*args) is True
    assert cache.use_nonce(*args) is False
    assert counting.lookups == 2


def test_only_a_shared_memcache_is_used():
    cache = credcache.CachedCredentials(object())
    cache.use(localcache.LocalMemcache())
    assert cache.memcache is None
    assert credcache.shared(None) is None


def test_the_proxy_config_names_the_memcache(tmp_path):
    conf = tmp_path / 'proxy-server.conf'
    conf.write_text('[filter:cache]\nuse = egg:swift#memcache\n'
                    'memcache_servers = 127.0.0.1:1\n')
    memcache = credcache.memcache_of_proxy(str(conf))
    assert credcache.shared(memcache) is memcache
    conf.write_text('[filter:cache]\npaste.filter_factory = '
                    'stacksync_swift.localcache:filter_factory\n')
    assert credcache.memcache_of_proxy(str(conf)) is None
