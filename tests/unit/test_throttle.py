"""The password throttle on a real store (SQLite), with a recorded sleep."""

import datetime

import pytest

from stacksync_swift import throttle
from stacksync_swift.metadata import db
from stacksync_swift.metadata import web
from stacksync_swift.web import sessions

START = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)


@pytest.fixture
def clock():
    return [START]


@pytest.fixture
def slept():
    return []


@pytest.fixture
def gate(tmp_path, clock, slept):
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'meta.sqlite'))
    db.upgrade(engine)
    yield throttle.Throttle(web.WebStore(engine, clock=lambda: clock[0]),
                            sleep=slept.append)
    engine.dispose()


def test_the_web_site_uses_the_same_throttle():
    assert sessions.Throttle is throttle.Throttle
    assert sessions.FREE_ATTEMPTS == throttle.FREE_ATTEMPTS


def test_keys_are_the_user_name_and_the_address():
    assert throttle.Throttle.keys('alice', '10.0.0.1') == \
        ['user:alice', 'ip:10.0.0.1']
    assert throttle.Throttle.keys('x' * 500, '')[0] == 'user:' + 'x' * 200
    assert throttle.Throttle.keys('a', '')[1] == 'ip:?'


def test_failures_beyond_the_free_ones_wait_longer_each_time(gate, slept):
    keys = gate.keys('alice', '10.0.0.1')
    waits = []
    for _ in range(throttle.FREE_ATTEMPTS + 7):
        waits.append(gate.wait(keys))
        gate.failed(keys)
    assert waits == [0] * throttle.FREE_ATTEMPTS + \
        [1, 2, 4, 8, 16, throttle.LONGEST_WAIT, throttle.LONGEST_WAIT]
    assert slept == [wait for wait in waits if wait]


def test_either_key_is_enough_to_wait(gate):
    for name in ('a', 'b', 'c'):
        gate.failed(gate.keys(name, '10.0.0.1'))
    assert gate.delay(gate.keys('d', '10.0.0.1')) == 1
    assert gate.delay(gate.keys('d', '10.0.0.2')) == 0


def test_success_forgets_the_name_not_the_address(gate):
    keys = gate.keys('alice', '10.0.0.1')
    for _ in range(throttle.FREE_ATTEMPTS):
        gate.failed(keys)
    gate.succeeded(keys)
    assert gate.delay(gate.keys('alice', '10.0.0.2')) == 0
    assert gate.delay(gate.keys('bob', '10.0.0.1')) == 1


def test_old_failures_are_forgotten(gate, clock):
    keys = gate.keys('alice', '10.0.0.1')
    for _ in range(throttle.FREE_ATTEMPTS + 2):
        gate.failed(keys)
    assert gate.delay(keys) == 4
    clock[0] += throttle.FAILURE_WINDOW + datetime.timedelta(seconds=1)
    assert gate.delay(keys) == 0
    gate.failed(keys)  # counting starts again
    assert gate.store.failures(keys, gate.window) == 1
