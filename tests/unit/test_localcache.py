from stacksync_swift.localcache import LocalMemcache


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def test_set_get_delete_round_trip_json():
    cache = LocalMemcache()
    cache.set('k', {'groups': ['a']})
    got = cache.get('k')
    got['groups'].append('mutated')
    assert cache.get('k') == {'groups': ['a']}
    cache.delete('k')
    assert cache.get('k') is None


def test_values_expire():
    clock = Clock()
    cache = LocalMemcache(clock)
    cache.set('k', 'v', time=10)
    clock.now += 9
    assert cache.get('k') == 'v'
    clock.now += 2
    assert cache.get('k') is None


def test_absolute_expiry_beyond_thirty_days():
    clock = Clock()
    cache = LocalMemcache(clock)
    cache.set('k', 'v', time=clock.now + 40 * 24 * 3600)
    clock.now += 39 * 24 * 3600
    assert cache.get('k') == 'v'


def test_incr_decr_and_multi():
    cache = LocalMemcache()
    assert cache.incr('n') == 1
    assert cache.incr('n', 4) == 5
    assert cache.decr('n', 9) == 0
    cache.set_multi({'a': 1, 'b': [2]}, 'server')
    assert cache.get_multi(['a', 'b', 'c'], 'server') == [1, [2], None]
    cache.set('raw', b'bytes', serialize=False)
    assert cache.get('raw') == b'bytes'


def test_bytes_are_decoded_before_json_like_memcachering():
    cache = LocalMemcache()
    cache.set('token', b'{"user": "erin"}')
    assert cache.get('token') == '{"user": "erin"}'
