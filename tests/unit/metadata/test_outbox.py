"""The outbox relay's queries: claim in order, mark, number, read back."""

import datetime
import threading

import pytest
from sqlalchemy import update

from stacksync_swift.metadata import models
from stacksync_swift.metadata import outbox
from tests.unit.metadata.factories import person


@pytest.fixture
def alice(service):
    return person(service, 'alice')


def folder(service, who, name):
    return service.create_folder(who.id, who.workspace, None, name,
                                 device_id=who.device)


def relay(engine):
    sent = []
    assert outbox.relay_batch(engine, sent.extend) is not None
    return sent


def test_one_commit_is_one_event_with_its_cursor(service, engine, alice):
    meta = folder(service, alice, 'a')
    (event,) = relay(engine)
    assert event == {
        'id': event['id'], 'routing_key': 'workspace.%d' % alice.workspace,
        'type': 'commit', 'workspace': alice.workspace, 'cursor': 1,
        'items': [{'id': meta['id'], 'version': 1, 'status': 'NEW'}],
        'more': False, 'device': alice.device, 'user': alice.id,
        'published': 1}
    assert relay(engine) == []


def test_events_leave_in_commit_order_and_are_numbered(service, engine,
                                                       alice):
    bob = person(service, 'bob')
    for n in range(6):
        folder(service, alice if n % 2 else bob, 'f%d' % n)
    events = relay(engine)
    assert [e['published'] for e in events] == [1, 2, 3, 4, 5, 6]
    for who in (alice, bob):
        cursors = [e['cursor'] for e in events
                   if e['workspace'] == who.workspace]
        assert cursors == [1, 2, 3]
    folder(service, alice, 'later')
    assert [e['published'] for e in relay(engine)] == [7]


def test_a_failed_publish_marks_nothing(service, engine, alice):
    folder(service, alice, 'a')

    def broker_down(events):
        raise ConnectionError('broker down')

    with pytest.raises(ConnectionError):
        outbox.relay_batch(engine, broker_down)
    with engine.connect() as connection:
        assert outbox.backlog(connection) == 1
    (event,) = relay(engine)
    assert event['cursor'] == 1


def test_one_relay_at_a_time(service, engine, alice):
    folder(service, alice, 'a')
    inner = []

    def publish(events):
        # Another relay (thread) tries while this one holds the lock.
        thread = threading.Thread(target=lambda: inner.append(
            outbox.relay_batch(engine, lambda e: None)))
        thread.start()
        thread.join()

    assert len(outbox.relay_batch(engine, publish)) == 1
    assert inner == [None]


def test_batches_and_the_log(service, engine, alice):
    for n in range(5):
        folder(service, alice, 'f%d' % n)
    sent = []
    outbox.relay_batch(engine, sent.extend, limit=2)
    assert [e['cursor'] for e in sent] == [1, 2]
    outbox.relay_batch(engine, sent.extend, limit=10)
    assert [e['cursor'] for e in sent] == [1, 2, 3, 4, 5]
    with engine.connect() as connection:
        assert outbox.log_position(connection) == 5
        log = outbox.read_log(connection, 2)
        assert outbox.backlog(connection) == 0
    assert [e['cursor'] for e in log] == [3, 4, 5]
    assert [e['published'] for e in log] == [3, 4, 5]


def test_membership_events_go_to_the_user(service, engine, alice):
    bob = person(service, 'bob')
    team = service.create_workspace(alice.id, 'team')
    relay(engine)
    service.set_member(alice.id, team['id'], bob.id, 'editor')
    (event,) = relay(engine)
    assert event['routing_key'] == 'user.%d' % bob.id
    assert event['type'] == 'membership'
    assert event['workspace'] == team['id']


def age_all(engine, days):
    """Make every published event look ``days`` old."""
    sent = models.utcnow() - datetime.timedelta(days=days)
    with engine.begin() as connection:
        connection.execute(update(models.Outbox).where(
            models.Outbox.sent_at.is_not(None)).values(sent_at=sent))


def test_prune_deletes_old_published_events_but_the_newest(service, engine,
                                                           alice):
    for n in range(5):
        folder(service, alice, 'f%d' % n)
    relay(engine)
    age_all(engine, 10)
    folder(service, alice, 'unsent')
    cutoff = models.utcnow() - datetime.timedelta(days=7)
    assert outbox.prune(engine, cutoff, limit=2) == 4
    with engine.connect() as connection:
        # The newest published event keeps the log's position; the
        # unsent one is still to be published.
        assert outbox.log_position(connection) == 5
        assert outbox.backlog(connection) == 1
        assert [e['published'] for e in outbox.read_log(connection, 0)] \
            == [5]
    (event,) = relay(engine)
    assert event['published'] == 6
    # Once a newer event is published, the old newest one goes too.
    assert outbox.prune(engine, cutoff) == 1
    with engine.connect() as connection:
        assert [e['published'] for e in outbox.read_log(connection, 0)] \
            == [6]


def test_prune_keeps_events_younger_than_the_cutoff(service, engine, alice):
    for n in range(3):
        folder(service, alice, 'f%d' % n)
    relay(engine)
    assert outbox.prune(
        engine, models.utcnow() - datetime.timedelta(days=1)) == 0
    with engine.connect() as connection:
        assert len(outbox.read_log(connection, 0)) == 3
