"""Change events: the outbox relay, the Kombu publisher, long-poll waiters.

Every write of the metadata service adds an event to the ``outbox`` table
in the write's own transaction (DESIGN.md section 6). This module gets
those events to the people waiting for them:

* the **relay** publishes outbox rows after their commit and marks them
  sent (:func:`stacksync_swift.metadata.outbox.relay_batch`);
* the **listener** hears events published by any proxy and wakes the
  long polls of this process waiting on that workspace;
* :meth:`EventHub.wait` is the long poll itself (``GET
  /v1/workspace/{wid}/changes/wait``), :meth:`EventHub.committed` is how a
  request says "I just wrote".

Like ceilometermiddleware, an event never breaks or slows a request:
``committed()`` only wakes the relay, which runs beside the requests.
Unlike it, no event is ever dropped: an unsent row stays in the outbox
until a broker takes it. Published rows are deleted once they are older
than ``events_keep_days`` (7 by default, 0 keeps them; checked hourly by
each relay): an event only wakes a client, whose changes are read from
its cursor, so a listener away longer than that misses only wake-ups.

Transports
----------
``events_url`` (in either StackSync filter section of
``proxy-server.conf``) chooses how events travel between proxies:

``amqp://user:password@host:5672/vhost`` (production: RabbitMQ)
    Events go to a durable topic exchange (``events_exchange``, default
    ``stacksync``) with routing key ``workspace.<wid>`` for commits and
    ``user.<uid>`` for the rest, as persistent JSON messages, over a Kombu
    connection pool shared by the process. Publisher confirms are on: a
    row is marked sent only once the broker has confirmed it. Each proxy
    process listens on its own exclusive, auto-deleted queue bound to
    ``workspace.*``, so a commit on any proxy wakes the long polls on all
    of them within milliseconds. Any Kombu URL with a real broker works
    the same (``redis://``; ``memory://`` within one process, for tests).
empty, or ``sqla+<database_url>`` (the embedded default)
    No server at all: the outbox itself is the log. The relay numbers
    events in the order it publishes them (``outbox.published``) and each
    process's listener reads the new ones every ``LOG_POLL_INTERVAL``
    seconds (one indexed query; a commit on another proxy wakes a long
    poll here within that time). The name comes from Kombu's
    SQLAlchemy transport, which this replaces: that transport keeps its
    exchange bindings in each process's memory (a message published by
    one proxy never reaches a queue bound by another) and hands each
    message to one consumer only, so it cannot multicast across proxies.

How they run in the proxy
-------------------------
One :class:`EventHub` per process and database (:func:`hub_for`). It
starts its relay and listener on first use, in green threads when eventlet
has patched the process (the Swift proxy), else in daemon threads; a
forked worker starts its own. The relay wakes on ``committed()`` and every
``RELAY_TICK`` seconds, so rows written by other processes (the operator
command, a proxy that died) and rows left by a broker outage drain without
new writes. While the broker is down it retries with back-off, never
failing a request; one relay at a time publishes (the outbox module's
lock), in id order, so each workspace's events leave in commit order.

Writes wake the relay at once: besides ``committed()``, a hook on
SQLAlchemy's session commit notices outbox rows written by any session on
the hub's engine (it only sets a flag), so no write path can forget.

A long poll re-reads the workspace's cursor from the database when it is
woken, and at least every ``SAFETY_INTERVAL`` seconds in case an event was
missed (every ``DEGRADED_INTERVAL`` seconds while the listener is
disconnected); no database session is held while it sleeps.

Consumers outside the proxy: :mod:`stacksync_swift.eventsclient` and
``stacksync-swift events --workspace W``.
"""

import collections
import datetime
import logging
import os
import threading
import time
import weakref

import kombu
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from stacksync_swift import eventsclient
from stacksync_swift.metadata import db
from stacksync_swift.metadata import models
from stacksync_swift.metadata import outbox
from stacksync_swift.metadata.models import Outbox

LOG = logging.getLogger(__name__)

EMBEDDED_SCHEME = 'sqla+'
RELAY_TICK = 1.0
RELAY_BATCH = 500
# Another process holds the relay lock: try again this soon.
LOCK_RETRY = 0.02
LOCK_RETRIES = 50
SAFETY_INTERVAL = 5.0
DEGRADED_INTERVAL = 1.0
LOG_POLL_INTERVAL = 0.1
BACKOFF_START = 0.25
BACKOFF_MAX = 5.0
CONNECT_TIMEOUT = 2
CONFIRM_TIMEOUT = 10
POOL_LIMIT = 4
LISTEN_KEYS = ('workspace.*',)
# How often each process's relay deletes events older than
# events_keep_days from the outbox (the first time soon after it starts).
PRUNE_INTERVAL = 3600.0

_lock = threading.Lock()
_hubs = {}
# Hubs by id() of their engine, for the commit hook below.
_by_engine = weakref.WeakValueDictionary()
_WROTE_EVENTS = 'stacksync_wrote_events'


def spawn(function, *args):
    """Run ``function`` beside the requests: a green thread under eventlet.
    """
    if _green():
        import eventlet
        return eventlet.spawn(function, *args)
    thread = threading.Thread(target=function, args=args, daemon=True,
                              name='stacksync-%s' % function.__name__)
    thread.start()
    return thread


def _green():
    return db.running_green()


class BrokerTransport:
    """Events through a Kombu broker (RabbitMQ)."""

    def __init__(self, url, exchange_name):
        self.url = url
        self.exchange_name = exchange_name
        self.exchange = eventsclient.exchange(exchange_name)
        connection = kombu.Connection(
            url, connect_timeout=CONNECT_TIMEOUT,
            transport_options={'confirm_publish': True, 'max_retries': 1})
        # One pool per hub, so per process and database.
        self.pool = connection.Pool(limit=POOL_LIMIT)

    def publish(self, events):
        """Publish and wait for the broker's confirms."""
        with self.pool.acquire(block=True, timeout=CONFIRM_TIMEOUT) as conn:
            try:
                producer = conn.Producer()
                for event in events:
                    producer.publish(
                        event, exchange=self.exchange,
                        routing_key=event['routing_key'],
                        serializer='json', delivery_mode='persistent',
                        declare=[self.exchange], retry=False,
                        confirm_timeout=CONFIRM_TIMEOUT)
            except Exception:
                # Reconnect on next use rather than reuse a broken link.
                conn.close()
                raise

    def listen(self, keys, on_event, stopping, ready):
        eventsclient.listen(self.url, keys, on_event, stopping,
                            exchange_name=self.exchange_name, ready=ready)

    def close(self):
        self.pool.force_close_all()


class EmbeddedTransport:
    """Events through the outbox table itself (no server)."""

    def __init__(self, engine, interval=LOG_POLL_INTERVAL):
        self.engine = engine
        self.reader = db.reader(engine)
        self.interval = interval

    def publish(self, events):
        """Nothing to send: marking the rows published is publishing."""

    def listen(self, keys, on_event, stopping, ready):
        position = self.position()
        ready()
        for event in self.tail(keys, stopping, position):
            on_event(event)

    def position(self):
        with self.reader.connect() as connection:
            return outbox.log_position(connection)

    def tail(self, keys, stopping, position):
        """Yield events published after ``position`` matching ``keys``.
        """
        while not stopping.wait(self.interval):
            while True:
                with self.reader.connect() as connection:
                    events = outbox.read_log(connection, position)
                for event in events:
                    position = event['published']
                    if _matches(keys, event):
                        yield event
                if len(events) < outbox.DEFAULT_BATCH:
                    break

    def close(self):
        pass


def _matches(keys, event):
    return any(eventsclient.topic_matches(key, event['routing_key'])
               for key in keys)


def transport_for(settings, engine):
    """The transport ``settings.event_transport_url`` names."""
    url = settings.event_transport_url
    if url.startswith(EMBEDDED_SCHEME):
        if url[len(EMBEDDED_SCHEME):] != settings.database_url:
            raise ValueError(
                'events_url %r: the embedded transport runs on the '
                'metadata database; leave events_url empty or name a '
                'broker (amqp://...)' % url)
        return EmbeddedTransport(engine)
    return BrokerTransport(url, settings.events_exchange)


class EventHub:
    """A process's relay, listener and long-poll waiters for one database.
    """

    def __init__(self, settings, services, transport=None,
                 clock=time.monotonic):
        self.settings = settings
        self.metadata = services.metadata
        self.engine = services.engine
        self.clock = clock
        self._given_transport = transport
        self.transport = None
        self._waiters = collections.defaultdict(set)
        self._guard = threading.Lock()
        self._pid = None
        self._next_prune = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self.listening = threading.Event()
        self.closed = False
        _by_engine[id(self.engine)] = self

    def committed(self):
        """A write was committed in this process (outbox rows are waiting).

        Never blocks: it only wakes the relay.
        """
        self._start()
        self._wake.set()

    def wait(self, user_id, workspace_id, cursor, timeout):
        """Return the workspace's cursor once it is past ``cursor``.

        Returns the cursor as it was when ``timeout`` seconds ran out if
        nothing happened. Raises the metadata service's errors if the user
        cannot see the workspace.
        """
        self._start()
        deadline = self.clock() + timeout
        woken = threading.Event()
        self._add_waiter(workspace_id, woken)
        try:
            while True:
                # Cleared before the read: an event from now on wakes us,
                # one from before is in what we read.
                woken.clear()
                current = self.metadata.get_workspace(
                    user_id, workspace_id)['cursor']
                remaining = deadline - self.clock()
                if current > cursor or remaining <= 0:
                    return current
                woken.wait(min(self._recheck_interval(), remaining))
        finally:
            self._remove_waiter(workspace_id, woken)

    def _recheck_interval(self):
        if self.listening.is_set():
            return SAFETY_INTERVAL
        return DEGRADED_INTERVAL

    def _add_waiter(self, workspace_id, woken):
        with self._guard:
            self._waiters[workspace_id].add(woken)

    def _remove_waiter(self, workspace_id, woken):
        with self._guard:
            waiting = self._waiters.get(workspace_id)
            if waiting is not None:
                waiting.discard(woken)
                if not waiting:
                    del self._waiters[workspace_id]

    def notify(self, event):
        """Wake this process's long polls on the event's workspace."""
        with self._guard:
            waiting = list(self._waiters.get(event.get('workspace'), ()))
        for woken in waiting:
            woken.set()

    # -- the relay and the listener -----------------------------------------

    def _start(self):
        """Start the relay and listener once per process (and after fork).
        """
        if self._pid == os.getpid() or self.closed:
            return
        with self._guard:
            if self._pid == os.getpid() or self.closed:
                return
            self._pid = os.getpid()
            self._stopping = threading.Event()
            self._wake = threading.Event()
            self.transport = self._given_transport or transport_for(
                self.settings, self.engine)
            spawn(self._relay_loop, self._stopping)
            spawn(self._listen_loop, self._stopping)

    def close(self):
        """Stop the relay and the listener (tests, shutdown)."""
        self.closed = True
        self._stopping.set()
        self._wake.set()
        if _by_engine.get(id(self.engine)) is self:
            del _by_engine[id(self.engine)]
        if self.transport is not None:
            self.transport.close()

    def _relay_loop(self, stopping):
        delay = 0
        while not stopping.is_set():
            if delay:
                # Backing off: a commit must not hammer a dead broker.
                stopping.wait(delay)
            else:
                self._wake.wait(RELAY_TICK)
            self._wake.clear()
            if stopping.is_set():
                return
            try:
                self.relay()
                delay = 0
            except Exception as error:
                delay = min(max(delay * 2, BACKOFF_START), BACKOFF_MAX)
                LOG.warning('events relay: %s; outbox events wait, next try '
                            'in %.1fs', _describe(error), delay)
                continue
            self.prune_if_due()

    def prune_if_due(self):
        """Delete old published events, once per :data:`PRUNE_INTERVAL`.

        Returns how many were deleted (None when not due). A failure is
        logged and tried again at the next interval: pruning can wait.
        """
        keep_days = self.settings.events_keep_days
        now = self.clock()
        if not keep_days or (self._next_prune is not None
                             and now < self._next_prune):
            return None
        self._next_prune = now + PRUNE_INTERVAL
        sent_before = models.utcnow() - datetime.timedelta(days=keep_days)
        try:
            deleted = outbox.prune(self.engine, sent_before)
        except Exception as error:
            LOG.warning('events relay: pruning the outbox: %s',
                        _describe(error))
            return None
        if deleted:
            LOG.info('events relay: %d published events older than %g '
                     'days pruned from the outbox', deleted, keep_days)
        return deleted

    def relay(self):
        """Publish every waiting event; returns how many were published."""
        published = 0
        retries = 0
        while True:
            events = outbox.relay_batch(self.engine, self.transport.publish,
                                        RELAY_BATCH)
            if events is None:
                # Another process is relaying; ours may be behind its batch.
                retries += 1
                if retries > LOCK_RETRIES:
                    return published
                # A green sleep in the proxy (Swift does not patch time).
                db.pause(LOCK_RETRY)
                continue
            for event in events:
                self.notify(event)
            published += len(events)
            if len(events) < RELAY_BATCH:
                return published

    def _listen_loop(self, stopping):
        delay = 0
        while not stopping.is_set():
            try:
                self.transport.listen(LISTEN_KEYS, self.notify, stopping,
                                      ready=self.listening.set)
                delay = 0
            except Exception as error:
                delay = min(max(delay * 2, BACKOFF_START), BACKOFF_MAX)
                LOG.warning('events listener: %s; reconnecting in %.1fs',
                            _describe(error), delay)
            finally:
                self.listening.clear()
            stopping.wait(delay)


def _note_events(session, flush_context):
    if any(isinstance(obj, Outbox) for obj in session.new):
        session.info[_WROTE_EVENTS] = True


def _after_commit(session):
    """Wake the relay as soon as any session of ours commits events.

    So a write wakes the relay even where nobody calls ``committed()``
    (the operator's command, a forgotten code path); it only sets a flag.
    """
    if session.info.pop(_WROTE_EVENTS, False):
        hub = _by_engine.get(id(session.bind))
        if hub is not None and hub.engine is session.bind:
            hub.committed()


def _forget_events(session, *args):
    session.info.pop(_WROTE_EVENTS, None)


sa_event.listen(Session, 'after_flush', _note_events)
sa_event.listen(Session, 'after_commit', _after_commit)
sa_event.listen(Session, 'after_rollback', _forget_events)


def _describe(error):
    return '%s: %s' % (type(error).__name__, error)


def hub_for(settings, services):
    """The process's :class:`EventHub` for these settings."""
    with _lock:
        key = (settings.database_url, settings.event_transport_url)
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = EventHub(settings, services)
        return hub


def subscribe(settings, workspaces=(), users=(), stopping=None,
              ready=None):
    """Yield events as they are published, whatever the transport.

    With a broker this is :func:`eventsclient.subscribe`; with the embedded
    transport it reads the outbox log from the metadata database (so it
    runs where the database is reachable, e.g. on a proxy).
    """
    url = settings.event_transport_url
    if not url.startswith(EMBEDDED_SCHEME):
        yield from eventsclient.subscribe(
            url, workspaces, users, settings.events_exchange, stopping,
            ready)
        return
    keys = eventsclient.routing_keys(workspaces, users) or ['#']
    engine = db.create_engine(url[len(EMBEDDED_SCHEME):])
    dedup = eventsclient.Deduplicator()
    try:
        transport = EmbeddedTransport(engine)
        position = transport.position()
        if ready is not None:
            ready()
        for event in transport.tail(keys, stopping or threading.Event(),
                                    position):
            if dedup.fresh(event):
                yield event
    finally:
        engine.dispose()
