"""OAuth secrets and nonces in the proxies' memcache.

Checking a signed request asks the metadata database for the consumer and
the access token and records the request's nonce: two reads and a write
transaction for every API call, a third of the proxy's CPU for small
requests. Where the proxy's ``cache`` filter is Swift's ``memcache``
(every proxy of the cluster pointing at the same memcached servers), the
``stacksync_auth`` filter keeps them there instead:

* A consumer's and an access token's record are cached for ``TTL`` (60)
  seconds after the database gave them. Unknown keys are never cached, so
  a token issued a moment ago works at once.
* A nonce is a memcache counter kept for as long as oauthlib accepts its
  timestamp: the proxy that increments it to 1 first takes the request,
  any other (on whatever proxy) is a replay. Should memcached not answer,
  the nonce goes to the database as without a cache.
* Revoking removes the records from memcache at once:
  ``stacksync-swift token-revoke``, ``consumer-del`` and ``user-del``
  delete the rows, then the cache entries, through the memcache servers
  named in the proxy config (``--config``, or the all-in-one's with
  ``--state``). The next request signed with a revoked token is refused
  by every proxy. The command says so when it found no memcache to clear;
  a proxy then keeps a record for at most ``TTL`` seconds.

Operators should know two things. The cached records hold the consumer
and token secrets (HMAC-SHA1 needs them), so memcached must be as private
as the database, as Swift already assumes for tempauth tokens. And a nonce
memcached evicted (memory pressure, a restart) can be replayed within its
ten-minute window; size memcached so that nonces live ten minutes.

A proxy whose cache is not shared (the all-in-one's in-process cache,
:mod:`stacksync_swift.localcache`) caches nothing: a revoking command could
not reach it, and other proxies would not see its nonces.
"""

import datetime
import hashlib

from swift.common.memcached import MemcacheConnectionError
from swift.common.memcached import MemcacheRing
from swift.common.memcached import load_memcache
from swift.common.utils import get_logger
from swift.common.utils import readconf

from stacksync_swift.metadata import credentials

# Seconds a cached consumer or access token is trusted without the database.
TTL = 60
PREFIX = 'stacksync/oauth/'


def consumer_key(key):
    return PREFIX + 'consumer/' + key


def access_key(token):
    return PREFIX + 'access/' + token


def nonce_key(consumer_key, timestamp, nonce, token):
    # Hashed: the four parts are each up to 64 characters, memcache keys
    # at most 250 (Swift hashes keys itself, but only as it sends them).
    parts = '\0'.join((consumer_key, str(timestamp), nonce, token))
    return PREFIX + 'nonce/' + hashlib.sha256(parts.encode()).hexdigest()


def shared(cache):
    """``cache`` (a ``swift.cache``) when it is memcache, else None."""
    return cache if isinstance(cache, MemcacheRing) else None


class CachedCredentials:
    """A :class:`~stacksync_swift.metadata.credentials.CredentialStore`
    that asks memcache first (module docstring).

    Everything but the consumer and access token lookups and nonces goes
    to the store as it is. Until :meth:`use` is given a shared memcache,
    everything does.
    """

    def __init__(self, store):
        self.store = store
        self.memcache = None

    def use(self, cache):
        """Cache in ``cache`` from now on, if other proxies share it."""
        if self.memcache is None:
            self.memcache = shared(cache)

    def __getattr__(self, name):
        return getattr(self.store, name)

    def get_consumer(self, key):
        return self._cached(consumer_key(key), self.store.get_consumer, key,
                            credentials.ConsumerRecord)

    def get_access_token(self, token):
        return self._cached(access_key(token), self.store.get_access_token,
                            token, credentials.AccessTokenRecord)

    def _cached(self, cache_key, load, key, record_type):
        if self.memcache is None:
            return load(key)
        found = self.memcache.get(cache_key)
        if found is not None:
            found['created_at'] = datetime.datetime.fromisoformat(
                found['created_at'])
            return record_type(**found)
        record = load(key)
        if record is not None:
            fields = dict(vars(record),
                          created_at=record.created_at.isoformat())
            self.memcache.set(cache_key, fields, time=TTL)
        return record

    def use_nonce(self, consumer_key, timestamp, nonce, token):
        if self.memcache is not None:
            try:
                return self.memcache.incr(
                    nonce_key(consumer_key, timestamp, nonce, token),
                    time=credentials.NONCE_MEMORY) == 1
            except MemcacheConnectionError:
                pass    # the database still knows how
        return self.store.use_nonce(consumer_key, timestamp, nonce, token)


def memcache_of_proxy(conf_path):
    """The memcache client of the proxy configured in ``conf_path``, or
    None when its ``cache`` filter is not Swift's ``memcache``."""
    try:
        conf = readconf(conf_path, 'filter:cache')
    except (ValueError, OSError):
        return None
    if not conf.get('use', '').endswith('#memcache'):
        return None
    # Swift's logger: the client reports timings through it.
    return load_memcache(conf, get_logger(conf, log_route='stacksync-swift',
                                          log_to_console=True))


def forget(memcache, consumers=(), tokens=()):
    """Remove consumers' and access tokens' records from ``memcache``."""
    for key in consumers:
        memcache.delete(consumer_key(key))
    for token in tokens:
        memcache.delete(access_key(token))
