"""Database access that never holds the eventlet hub, and its timeouts.

Real databases: SQLite files, and the PostgreSQL server named by
``STACKSYNC_TEST_POSTGRES_URL`` (its cases fail under ``CI=true`` without
it). Swift's own patching (``swift.common.utils.eventlet_monkey_patch``)
runs in a child process, so psycopg2's process-wide wait callback never
leaks into the test process. The proxy itself is in
``tests/functional/test_green.py``.
"""

import json
import socket
import sqlite3
import subprocess
import sys
import threading

import pytest
from sqlalchemy import event
from sqlalchemy import text

from stacksync_swift import config
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from tests import servers

# -- options --

def test_the_timeouts_have_defaults():
    settings = config.parse({})
    assert settings.connect_timeout == 5
    assert settings.statement_timeout == 30.0


def test_the_timeouts_are_parsed():
    settings = config.parse({'connect_timeout': ' 2 ',
                             'statement_timeout': '0.5'})
    assert (settings.connect_timeout, settings.statement_timeout) == (2, 0.5)
    assert config.parse({'statement_timeout': '0'}).statement_timeout == 0


@pytest.mark.parametrize('option, value', [
    ('connect_timeout', '0'), ('connect_timeout', '1.5'),
    ('connect_timeout', 'soon'), ('connect_timeout', '601'),
    ('statement_timeout', '-1'), ('statement_timeout', 'forever'),
])
def test_bad_timeouts_stop_the_proxy(option, value):
    with pytest.raises(ValueError, match=option):
        config.parse({option: value})


def test_swift_info_names_both_api_versions():
    assert config.Settings().swift_info()['api_versions'] == ['v1', 'v2']


# -- SQLite --

def sqlite_url(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'm.sqlite')
    db.upgrade(url)
    return url


def hold_write_lock(url):
    held = sqlite3.connect(url[len('sqlite:///'):], isolation_level=None,
                           check_same_thread=False)
    held.execute('BEGIN IMMEDIATE')
    return held


def test_a_green_sqlite_engine_waits_a_little_at_a_time(tmp_path):
    engine = db.create_engine(sqlite_url(tmp_path), green=True)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql(
                'PRAGMA busy_timeout').scalar() == \
                db.SQLITE_BUSY_STEP * 1000
    finally:
        engine.dispose()


def test_a_green_writer_retries_until_the_lock_is_free(tmp_path):
    url = sqlite_url(tmp_path)
    engine = db.create_engine(url, green=True)
    begins = []
    event.listen(engine, 'before_cursor_execute',
                 lambda conn, cursor, statement, *args:
                 begins.append(statement) if statement.startswith('BEGIN')
                 else None)
    held = hold_write_lock(url)
    release = threading.Timer(0.5, held.execute, ('ROLLBACK',))
    release.start()
    try:
        with db.session(engine) as session:
            # A write session: BEGIN IMMEDIATE, whatever it runs.
            session.execute(text('SELECT 1'))
    finally:
        release.join()
        held.close()
        engine.dispose()
    # Many short tries, not one long C wait.
    assert len(begins) > 3
    assert set(begins) == {'BEGIN IMMEDIATE'}


def test_a_lock_held_past_the_patience_is_unavailable(tmp_path,
                                                      monkeypatch):
    monkeypatch.setattr(db, 'SQLITE_BUSY_TIMEOUT', 0.3)
    url = sqlite_url(tmp_path)
    engine = db.create_engine(url, green=True)
    held = hold_write_lock(url)
    try:
        with pytest.raises(errors.Unavailable):
            with db.session(engine) as session:
                session.execute(text('SELECT 1'))
    finally:
        held.execute('ROLLBACK')
        held.close()
        engine.dispose()


def test_outside_eventlet_sqlite_keeps_its_own_busy_wait(tmp_path):
    engine = db.create_engine(sqlite_url(tmp_path))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql(
                'PRAGMA busy_timeout').scalar() == \
                db.SQLITE_BUSY_TIMEOUT * 1000
    finally:
        engine.dispose()


def test_off_hub_is_a_plain_call_outside_eventlet():
    assert not db.running_green()
    assert db.off_hub(threading.get_ident) == threading.get_ident()


# -- PostgreSQL --

def test_postgresql_gets_its_statement_timeout():
    engine = db.create_engine(servers.postgres_url(), connect_timeout=3,
                              statement_timeout=1.5)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql(
                'SHOW statement_timeout').scalar() == '1500ms'
        with pytest.raises(errors.Unavailable):
            with db.session(engine) as session:
                session.execute(text('SELECT pg_sleep(5)'))
    finally:
        engine.dispose()


GREEN_CHILD = '''
import json, socket, sys, time, warnings
warnings.simplefilter('ignore')
from swift.common.utils import eventlet_monkey_patch
eventlet_monkey_patch()
import eventlet
from stacksync_swift import config, services
from stacksync_swift.metadata import db, errors
from sqlalchemy import text

ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        eventlet.sleep(0.05)
eventlet.spawn(ticker)

def run(url, sql):
    settings = config.parse({'database_url': url, 'connect_timeout': '1',
                             'statement_timeout': '10'})
    engine = services.Services(settings).engine
    del ticks[:]
    started = time.monotonic()
    try:
        with db.session(engine) as session:
            session.execute(text(sql))
        outcome = 'ok'
    except errors.Unavailable as error:
        outcome = 'unavailable: %s' % error.__cause__
    finally:
        engine.dispose()
    return {'outcome': outcome, 'took': time.monotonic() - started,
            'ticks': len(ticks)}

silent = socket.socket()
silent.bind(('127.0.0.1', 0))
silent.listen(8)
print(json.dumps({
    'sleep': run(sys.argv[1], 'SELECT pg_sleep(1)'),
    'silent': run('postgresql+psycopg2://x:y@127.0.0.1:%d/z'
                  % silent.getsockname()[1], 'SELECT 1'),
}))
'''


def test_psycopg2_waits_green_under_swift_s_patching():
    url = servers.postgres_url()
    done = subprocess.run([sys.executable, '-c', GREEN_CHILD, url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    # A second of pg_sleep: the hub kept ticking (0 ticks without the
    # wait callback, measured).
    assert found['sleep']['outcome'] == 'ok'
    assert found['sleep']['ticks'] >= 5
    # A server that accepts and never answers: given up after
    # connect_timeout, and the hub ticked meanwhile.
    assert found['silent']['outcome'].startswith('unavailable')
    assert 'connect_timeout' in found['silent']['outcome']
    assert found['silent']['ticks'] >= 5


def test_a_silent_server_is_unavailable_outside_eventlet_too():
    silent = socket.socket()
    silent.bind(('127.0.0.1', 0))
    silent.listen(8)
    engine = db.create_engine('postgresql+psycopg2://x:y@127.0.0.1:%d/z'
                              % silent.getsockname()[1], connect_timeout=2)
    try:
        # libpq's own connect_timeout: without it this never returns.
        with pytest.raises(errors.Unavailable):
            with db.session(engine) as session:
                session.execute(text('SELECT 1'))
    finally:
        engine.dispose()
        silent.close()
