"""The outbox queries: what the events relay claims, marks and reads back.

Every write of :mod:`.service` adds its event to the ``outbox`` table in its
own transaction. This module is the other side (DESIGN.md section 6):

:func:`relay_batch`
    Takes the oldest unsent events, hands them to a ``publish`` callable
    and, once it returns, marks them sent and numbers them in
    ``published`` (gap-free across the database). Only one relay runs a
    batch at a time, whatever the number of proxies: PostgreSQL takes a
    session-level advisory lock on the relay's connection, SQLite a lock on
    a file next to the database. Either way the publish happens outside
    any transaction: the rows are read and the transaction ends, the
    broker is waited for, then the rows are marked in a short transaction
    of their own. A slow broker never holds a row lock, a snapshot or
    SQLite's write lock that every commit needs. One relay at a time and
    events taken in id order make every workspace's events leave in commit
    order: a workspace's writes hold its lock, so their outbox ids grow in
    commit order.
:func:`read_log` and :func:`log_position`
    The published events in ``published`` order: the embedded event
    transport, and anyone tailing events without a broker, read this.
:func:`prune`
    Deletes published events older than a retention (the ``events_keep_days``
    option), so the table does not grow forever. Events are wake-ups, not
    the record: a consumer that was away longer than that reads the changes
    from its cursor as it would after any missed event. The newest published
    event always stays, so ``published`` numbering never starts over.

If a relay dies between publishing and marking, the next relay publishes
the same events again: consumers drop an event whose ``id`` they have seen
(commit events also carry the workspace's ``cursor``, which only grows).
"""

import contextlib
import fcntl
import json
import os
import threading

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from stacksync_swift.metadata import db
from stacksync_swift.metadata import models
from stacksync_swift.metadata.models import Outbox

DEFAULT_BATCH = 500
# Rows deleted per transaction when pruning: short transactions, so
# commits waiting for SQLite's write lock wait little.
PRUNE_BATCH = 1000

# Any constant: one relay batch at a time on a PostgreSQL database.
_RELAY_LOCK_KEY = 0x5353524C

_memory_locks = {}
_memory_locks_guard = threading.Lock()


def relay_batch(engine, publish, limit=DEFAULT_BATCH):
    """Publish the oldest unsent events and mark them; see the docstring.

    ``publish(events)`` gets a list of event dicts (:func:`event_of`) and
    must return only once they are safely with the broker; if it raises,
    nothing is marked and the error propagates. Returns the events
    published (``[]`` if none waited), or None if another relay holds the
    lock.
    """
    if engine.dialect.name == 'postgresql':
        return _relay_postgresql(engine, publish, limit)
    with _relay_file_lock(engine) as held:
        if not held:
            return None
        # A read transaction: BEGIN IMMEDIATE would block every commit.
        with db.reader(engine).connect() as connection:
            events = _unsent(connection, limit)
            connection.rollback()
        if events:
            publish(events)
            with engine.begin() as connection:
                _mark(connection, events)
        return events


def _relay_postgresql(engine, publish, limit):
    """The batch under a session-level advisory lock, no transaction open
    while ``publish`` waits on the broker.

    Read the unsent rows and commit, publish, then mark them in a short
    transaction of their own. The lock (held by the connection, not by a
    transaction) keeps other relays out meanwhile, so numbering stays
    gap-free and order is kept; no row is locked, so commits, pruning and
    vacuum never wait on a slow broker. A relay that dies after
    publishing leaves its rows unsent: published again, at least once.
    """
    with engine.connect() as connection:
        held = connection.exec_driver_sql(
            'SELECT pg_try_advisory_lock(%d)' % _RELAY_LOCK_KEY).scalar()
        connection.commit()
        if not held:
            return None
        try:
            events = _unsent(connection, limit)
            connection.commit()
            if events:
                publish(events)
                with connection.begin():
                    _mark(connection, events)
            return events
        finally:
            _release_relay_lock(connection)


def _release_relay_lock(connection):
    """Unlock; a connection that cannot is thrown away (its session ends,
    and the lock with it), never handed back to the pool still holding it.
    """
    try:
        connection.rollback()
        connection.exec_driver_sql(
            'SELECT pg_advisory_unlock(%d)' % _RELAY_LOCK_KEY)
        connection.commit()
    except Exception:
        connection.invalidate()


@contextlib.contextmanager
def _relay_file_lock(engine):
    """An exclusive lock shared by every process on this SQLite file."""
    path = engine.url.database
    if not path or path == ':memory:':
        with _memory_locks_guard:
            lock = _memory_locks.setdefault(id(engine), threading.Lock())
        held = lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                lock.release()
        return
    fd = os.open(path + '.relay-lock', os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _unsent(connection, limit, lock=False):
    query = select(Outbox).where(Outbox.sent_at.is_(None)).order_by(
        Outbox.id).limit(limit)
    if lock:
        query = query.with_for_update()
    return [event_of(row) for row in connection.execute(query)]


def _mark(connection, events):
    base = log_position(connection)
    now = models.utcnow()
    for number, event in enumerate(events, base + 1):
        event['published'] = number
        connection.execute(update(Outbox).where(
            Outbox.id == event['id']).values(sent_at=now, published=number))


def event_of(row):
    """The message for an outbox row: its JSON payload plus ``id``.

    Also ``routing_key`` and, once published, ``published``.
    """
    event = json.loads(row.payload)
    event.update(id=row.id, routing_key=row.routing_key)
    if row.published is not None:
        event['published'] = row.published
    return event


def log_position(connection):
    """The newest ``published`` number, 0 before the first event."""
    return connection.scalar(
        select(func.coalesce(func.max(Outbox.published), 0)))


def read_log(connection, after, limit=DEFAULT_BATCH):
    """Published events numbered above ``after``, in publication order.

    The caller filters by routing key: continuing from the last number
    read keeps every later poll an index range scan.
    """
    query = select(Outbox).where(Outbox.published > after).order_by(
        Outbox.published).limit(limit)
    return [event_of(row) for row in connection.execute(query)]


def backlog(connection):
    """How many events wait to be published."""
    return connection.scalar(select(func.count()).select_from(Outbox).where(
        Outbox.sent_at.is_(None)))


def prune(engine, sent_before, limit=PRUNE_BATCH):
    """Delete published events sent before ``sent_before``; how many.

    Unsent events and the newest published one are never deleted. Walks
    ``published`` (indexed) from the oldest, ``limit`` rows a transaction.
    """
    deleted = 0
    while True:
        with engine.begin() as connection:
            newest = log_position(connection)
            ids = connection.scalars(
                select(Outbox.id).where(Outbox.published < newest,
                                        Outbox.sent_at < sent_before)
                .order_by(Outbox.published).limit(limit)).all()
            if ids:
                connection.execute(delete(Outbox).where(Outbox.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < limit:
            return deleted
