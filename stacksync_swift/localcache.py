"""An in-process stand-in for Swift's ``cache`` filter, for the all-in-one.

Swift's tempauth and the proxy's account/container info caching expect a
memcache client in ``env['swift.cache']``. A production proxy points the
``cache`` filter at memcached; the all-in-one runs one proxy process and must
need no server outside pip, so it keeps the same interface in a dict::

    [filter:cache]
    paste.filter_factory = stacksync_swift.localcache:filter_factory

It is only correct when a single proxy process serves every request (the
all-in-one runs the proxy with ``workers = 0``).
"""

import json
import threading
import time

# memcached treats expiry times above 30 days as absolute timestamps.
_MAX_RELATIVE_EXPIRY = 30 * 24 * 60 * 60


class LocalMemcache:
    """The subset of :class:`swift.common.memcached.MemcacheRing` in use."""

    def __init__(self, clock=time.time):
        self._clock = clock
        self._items = {}
        self._lock = threading.Lock()

    def _expiry(self, ttl):
        if not ttl:
            return None
        return ttl if ttl > _MAX_RELATIVE_EXPIRY else self._clock() + ttl

    def _live(self, key):
        value, expiry = self._items.get(key, (None, None))
        if expiry is not None and expiry <= self._clock():
            del self._items[key]
            return None
        return value

    def set(self, key, value, serialize=True, time=0, min_compress_len=0,
            raise_on_error=False):
        # Serialized values are stored as JSON text, so a caller mutating
        # what it got back cannot change the cache, as with memcached.
        # Like MemcacheRing, bytes are decoded before JSON (auth_token
        # caches its tokens so).
        if serialize and isinstance(value, bytes):
            value = value.decode('utf-8')
        stored = (json.dumps(value),) if serialize else value
        with self._lock:
            self._items[key] = (stored, self._expiry(time))

    def get(self, key, raise_on_error=False):
        with self._lock:
            stored = self._live(key)
        if stored is None:
            return None
        if isinstance(stored, tuple):
            return json.loads(stored[0])
        return stored

    def incr(self, key, delta=1, time=0):
        with self._lock:
            current = self._live(key)
            value = max(0, (int(json.loads(current[0])) if current else 0)
                        + delta)
            self._items[key] = ((json.dumps(value),), self._expiry(time))
        return value

    def decr(self, key, delta=1, time=0):
        return self.incr(key, -delta, time)

    def delete(self, key, server_key=None):
        with self._lock:
            self._items.pop(key, None)

    def set_multi(self, mapping, server_key, serialize=True, time=0,
                  min_compress_len=0):
        for key, value in mapping.items():
            self.set(key, value, serialize=serialize, time=time)

    def get_multi(self, keys, server_key):
        return [self.get(key) for key in keys]


class LocalCacheMiddleware:
    def __init__(self, app, cache):
        self.app = app
        self.cache = cache

    def __call__(self, env, start_response):
        env['swift.cache'] = self.cache
        return self.app(env, start_response)


def filter_factory(global_conf, **local_conf):
    cache = LocalMemcache()

    def cache_filter(app):
        return LocalCacheMiddleware(app, cache)
    return cache_filter
