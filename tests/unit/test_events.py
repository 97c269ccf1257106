"""The EventHub: relay, listener and long polls, without a real broker.

The broker path runs on Kombu's in-process ``memory://`` transport, the
embedded path on an SQLite file; ``tests/functional/test_events.py`` runs
both against RabbitMQ and across processes. The relay's locking on
PostgreSQL runs on a database of its own beside
``STACKSYNC_TEST_POSTGRES_URL``.
"""

import datetime
import threading
import time
import types

import pytest
from sqlalchemy import select
from sqlalchemy import update

from stacksync_swift import config
from stacksync_swift import events
from stacksync_swift import eventsclient
from stacksync_swift import services as services_module
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from stacksync_swift.metadata import outbox
from tests import servers

WAKE_LIMIT = 1.0


@pytest.fixture
def database_url(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url)
    return url


def make_hub(database_url, events_url=''):
    settings = config.Settings(database_url=database_url,
                               events_url=events_url)
    return events.EventHub(settings, services_module.Services(settings))


@pytest.fixture(params=['embedded', 'memory'])
def hub(request, database_url):
    events_url = 'memory://' if request.param == 'memory' else ''
    made = make_hub(database_url, events_url)
    yield made
    made.close()
    made.engine.dispose()


@pytest.fixture
def alice(hub):
    user = hub.metadata.create_user('alice')
    workspace = hub.metadata.get_workspaces(user['id'])[0]
    return types.SimpleNamespace(id=user['id'], workspace=workspace['id'])


def commit(hub, who, name):
    hub.metadata.create_folder(who.id, who.workspace, None, name)
    hub.committed()


def wait_in_thread(hub, who, cursor, timeout=10):
    result = {}

    def run():
        result['cursor'] = hub.wait(who.id, who.workspace, cursor, timeout)
        result['at'] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def test_a_commit_wakes_a_long_poll(hub, alice):
    hub.committed()
    assert hub.listening.wait(5)
    thread, result = wait_in_thread(hub, alice, 0)
    time.sleep(0.3)
    assert thread.is_alive()
    started = time.monotonic()
    commit(hub, alice, 'a')
    thread.join(5)
    assert result['cursor'] == 1
    assert result['at'] - started < WAKE_LIMIT


def test_a_write_wakes_the_relay_by_itself(hub, alice):
    """No ``committed()``: the commit hook wakes the relay."""
    hub.committed()
    assert hub.listening.wait(5)
    thread, result = wait_in_thread(hub, alice, 0)
    time.sleep(0.3)
    started = time.monotonic()
    hub.metadata.create_folder(alice.id, alice.workspace, None, 'a')
    thread.join(5)
    assert result['cursor'] == 1
    assert result['at'] - started < events.RELAY_TICK / 2


def test_wait_returns_at_once_when_already_past(hub, alice):
    commit(hub, alice, 'a')
    started = time.monotonic()
    assert hub.wait(alice.id, alice.workspace, 0, 30) == 1
    assert time.monotonic() - started < WAKE_LIMIT


def test_wait_gives_up_at_the_timeout(hub, alice):
    started = time.monotonic()
    assert hub.wait(alice.id, alice.workspace, 0, 0.3) == 0
    assert 0.3 <= time.monotonic() - started < 2
    assert hub._waiters == {}


def test_wait_refuses_a_workspace_the_user_cannot_see(hub, alice):
    bob = hub.metadata.create_user('bob')
    with pytest.raises(errors.NotFound):
        hub.wait(bob['id'], alice.workspace, 0, 1)


def test_a_commit_in_another_process_wakes_the_poll(database_url):
    """Two hubs on one database stand for two proxies (embedded)."""
    here, there = make_hub(database_url), make_hub(database_url)
    try:
        user = here.metadata.create_user('alice')
        who = types.SimpleNamespace(
            id=user['id'],
            workspace=here.metadata.get_workspaces(user['id'])[0]['id'])
        here.committed()
        assert here.listening.wait(5)
        thread, result = wait_in_thread(here, who, 0)
        time.sleep(0.3)
        started = time.monotonic()
        commit(there, who, 'a')
        thread.join(5)
        assert result['cursor'] == 1
        assert result['at'] - started < WAKE_LIMIT
    finally:
        for hub in (here, there):
            hub.close()
            hub.engine.dispose()


def test_the_broker_gets_each_event_once(database_url):
    hub = make_hub(database_url, 'memory://')
    got = []
    stopping = threading.Event()
    ready = threading.Event()
    user = hub.metadata.create_user('alice')
    workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
    listener = threading.Thread(target=eventsclient.listen, args=(
        'memory://', ['workspace.%d' % workspace], got.append, stopping),
        kwargs={'ready': ready.set})
    listener.start()
    try:
        assert ready.wait(5)
        hub.metadata.create_folder(user['id'], workspace, None, 'a')
        hub.committed()
        deadline = time.monotonic() + 5
        while not got and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert [(e['type'], e['cursor']) for e in got] == [('commit', 1)]
    finally:
        stopping.set()
        listener.join(5)
        hub.close()
        hub.engine.dispose()


def test_committed_never_blocks_when_the_broker_is_down(database_url):
    hub = make_hub(database_url, 'amqp://guest:guest@127.0.0.1:9//')
    try:
        user = hub.metadata.create_user('alice')
        workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
        started = time.monotonic()
        for n in range(20):
            hub.metadata.create_folder(user['id'], workspace, None, str(n))
            hub.committed()
        assert time.monotonic() - started < 5
        time.sleep(0.5)
        with hub.engine.connect() as connection:
            assert outbox.backlog(connection) == 20
    finally:
        hub.close()
        hub.engine.dispose()


def test_the_embedded_transport_must_use_the_metadata_database():
    settings = config.Settings(database_url='sqlite:////tmp/a.sqlite',
                               events_url='sqla+sqlite:////tmp/b.sqlite')
    with pytest.raises(ValueError, match='metadata database'):
        events.transport_for(settings, None)


def test_hub_for_is_one_hub_per_database():
    settings = config.Settings(database_url='sqlite:////tmp/x.sqlite')
    services = types.SimpleNamespace(metadata=None, engine=None)
    assert events.hub_for(settings, services) is \
        events.hub_for(settings, services)


@pytest.mark.parametrize('pattern,key,matches', [
    ('workspace.*', 'workspace.7', True),
    ('workspace.*', 'user.7', False),
    ('workspace.*', 'workspace.7.x', False),
    ('#', 'user.3', True),
    ('workspace.#', 'workspace', True),
    ('workspace.7', 'workspace.7', True),
    ('workspace.7', 'workspace.70', False),
])
def test_topic_matches(pattern, key, matches):
    assert eventsclient.topic_matches(pattern, key) is matches


def test_the_deduplicator_drops_repeats():
    dedup = eventsclient.Deduplicator(remember=2)
    first = {'id': 1, 'type': 'commit', 'workspace': 7, 'cursor': 3}
    later = {'id': 2, 'type': 'commit', 'workspace': 7, 'cursor': 5}
    other = {'id': 3, 'type': 'commit', 'workspace': 8, 'cursor': 1}
    assert [dedup.fresh(e) for e in (first, later, first, later, other)] \
        == [True, True, False, False, True]
    member = {'id': 9, 'type': 'membership', 'user': 4}
    assert dedup.fresh(member) and not dedup.fresh(member)


def age_published_events(engine, days):
    with engine.begin() as connection:
        connection.execute(update(models.Outbox).where(
            models.Outbox.sent_at.is_not(None)).values(
                sent_at=models.utcnow() - datetime.timedelta(days=days)))


def test_the_relay_prunes_published_events_once_an_interval(database_url):
    now = [1000.0]
    settings = config.Settings(database_url=database_url,
                               events_keep_days=1)
    hub = events.EventHub(settings, services_module.Services(settings),
                          clock=lambda: now[0])
    # Closed before its threads start: this test drives the hub itself.
    hub.close()
    try:
        user = hub.metadata.create_user('alice')
        workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
        for name in ('a', 'b', 'c'):
            hub.metadata.create_folder(user['id'], workspace, None, name)
        outbox.relay_batch(hub.engine, lambda events: None)
        age_published_events(hub.engine, 2)
        assert hub.prune_if_due() == 2          # all but the newest
        hub.metadata.create_folder(user['id'], workspace, None, 'd')
        outbox.relay_batch(hub.engine, lambda events: None)
        age_published_events(hub.engine, 2)
        assert hub.prune_if_due() is None       # not due yet
        now[0] += events.PRUNE_INTERVAL
        assert hub.prune_if_due() == 1          # the newest one stays
        with hub.engine.connect() as connection:
            assert len(outbox.read_log(connection, 0)) == 1
    finally:
        hub.engine.dispose()


def test_events_keep_days_zero_keeps_every_event(database_url):
    settings = config.Settings(database_url=database_url,
                               events_keep_days=0)
    hub = events.EventHub(settings, services_module.Services(settings))
    hub.close()
    try:
        user = hub.metadata.create_user('alice')
        workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
        for name in ('a', 'b'):
            hub.metadata.create_folder(user['id'], workspace, None, name)
        outbox.relay_batch(hub.engine, lambda events: None)
        age_published_events(hub.engine, 1000)
        assert hub.prune_if_due() is None
        with hub.engine.connect() as connection:
            assert len(outbox.read_log(connection, 0)) == 2
    finally:
        hub.engine.dispose()


# -- the relay and PostgreSQL's locks ---------------------------------------

@pytest.fixture(scope='module')
def postgres_relay_url():
    url = servers.side_database('_relay').render_as_string(
        hide_password=False)
    db.upgrade(url)
    return url


def test_the_relay_holds_no_transaction_while_the_broker_is_slow(
        postgres_relay_url):
    """While publish waits on the broker the rows are not locked and no
    transaction is open; a second relay still stays out (one at a time).
    """
    settings = config.Settings(database_url=postgres_relay_url)
    services = services_module.Services(settings)
    other = db.create_engine(postgres_relay_url)
    try:
        user = services.metadata.create_user('relay-%s' % time.time_ns())
        workspace = services.metadata.get_workspaces(user['id'])[0]['id']
        for name in ('a', 'b'):
            services.metadata.create_folder(user['id'], workspace, None,
                                            name)
        seen = {}

        def slow_broker(events):
            ids = [event['id'] for event in events]
            with other.connect() as connection:
                # Commits, pruning, an operator: nothing waits on us.
                seen['locked'] = connection.execute(
                    select(models.Outbox.id)
                    .where(models.Outbox.id.in_(ids))
                    .with_for_update(nowait=True)).scalars().all()
                connection.rollback()
                seen['in_transaction'] = connection.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND "
                    "state LIKE 'idle in transaction%%'").scalar()
            seen['second_relay'] = outbox.relay_batch(
                other, lambda events: None)
            seen['published'] = ids

        relayed = outbox.relay_batch(services.engine, slow_broker)
        with other.connect() as connection:
            assert outbox.backlog(connection) == 0
        # The lock is released: the next relay runs (nothing left).
        assert outbox.relay_batch(other, lambda events: None) == []
    finally:
        other.dispose()
        services.engine.dispose()
    assert [event['id'] for event in relayed] == seen['published']
    assert sorted(seen['locked']) == sorted(seen['published'])
    assert seen['in_transaction'] == 0
    assert seen['second_relay'] is None


def test_a_failed_publish_releases_the_relay_lock(postgres_relay_url):
    engine = db.create_engine(postgres_relay_url)
    services = services_module.Services(
        config.Settings(database_url=postgres_relay_url))
    try:
        user = services.metadata.create_user('relay-%s' % time.time_ns())
        workspace = services.metadata.get_workspaces(user['id'])[0]['id']
        services.metadata.create_folder(user['id'], workspace, None, 'x')

        def broker_down(events):
            raise ConnectionError('broker down')
        with pytest.raises(ConnectionError):
            outbox.relay_batch(engine, broker_down)
        with engine.connect() as connection:
            assert outbox.backlog(connection) >= 1
        sent = []
        assert outbox.relay_batch(engine, sent.extend) is not None
        assert sent
        with engine.connect() as connection:
            assert outbox.backlog(connection) == 0
    finally:
        engine.dispose()
        services.engine.dispose()
