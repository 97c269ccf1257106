"""Consuming StackSync events from the broker: a helper to copy.

StackSync's proxies publish every change to a Kombu **topic exchange**
(``events_exchange``, default ``stacksync``) on the broker named by
``events_url`` (RabbitMQ in production). This module needs only Kombu and
imports nothing else of StackSync: a client author may copy it whole.

Routing keys
    ``workspace.<wid>``: a commit in workspace ``wid`` (any write: a file
    created, changed, renamed, moved, deleted or restored, a folder made).
    ``user.<uid>``: something about user ``uid`` that is not a commit, such
    as a membership given or taken away (``type`` ``membership``).
    Bind ``workspace.*`` for every workspace, ``#`` for everything.
Messages
    JSON, delivered persistent. Every event has ``id`` (unique, and growing
    within a workspace), ``type`` and ``routing_key``. A commit event::

        {"id": 412, "type": "commit", "routing_key": "workspace.7",
         "workspace": 7, "cursor": 93,
         "items": [{"id": 55, "version": 3, "status": "CHANGED"}],
         "more": false, "device": 2, "user": 1}

    ``cursor`` is the workspace's sequence after the commit: read the delta
    ``GET /v1/workspace/7/changes?cursor=<your cursor>`` to get the
    metadata. ``items`` lists at most 1000 items; ``more`` says some were
    left out (the delta has them all).
Guarantees
    Every committed change is announced (events wait in the outbox while
    the broker is down), and a workspace's events are published in commit
    order. An event may arrive twice (a proxy died between publishing and
    recording it): :class:`Deduplicator` drops the repeats. Events are a
    notification, not the data: a consumer that was away reads the delta
    from its last cursor.

Printing a workspace's events as they happen (what ``stacksync-swift
events --workspace 7`` does)::

    import json

    from stacksync_swift import eventsclient

    for event in eventsclient.subscribe(
            'amqp://guest:guest@rabbit.example.com:5672//',
            workspaces=[7]):
        print(json.dumps(event))

The queue is exclusive and deleted when the consumer disconnects: events
published while nobody listens are not kept for it (the delta is).
"""

import collections
import socket
import threading
import uuid

import kombu

DEFAULT_EXCHANGE = 'stacksync'
CONNECT_TIMEOUT = 5
HEARTBEAT = 20


def exchange(name=DEFAULT_EXCHANGE):
    """The durable topic exchange events are published to."""
    return kombu.Exchange(name, type='topic', durable=True)


def routing_keys(workspaces=(), users=()):
    """The routing keys for some workspaces and users."""
    return (['workspace.%s' % wid for wid in workspaces]
            + ['user.%s' % uid for uid in users])


def topic_matches(pattern, key):
    """Whether an AMQP topic ``pattern`` (``*`` one word, ``#`` any
    number of words) matches routing ``key``."""
    return _match(pattern.split('.'), key.split('.'))


def _match(words, parts):
    if not words:
        return not parts
    if words[0] == '#':
        return any(_match(words[1:], parts[skip:])
                   for skip in range(len(parts) + 1))
    if not parts or words[0] not in ('*', parts[0]):
        return False
    return _match(words[1:], parts[1:])


class Deduplicator:
    """Drops events already seen.

    A commit event is new if its ``cursor`` is past the last one seen for
    its workspace (which also drops a late repeat of an older event); any
    other event if its ``id`` is not among the last ``remember`` ids.
    """

    def __init__(self, remember=10000):
        self.cursors = {}
        self.ids = set()
        self.order = collections.deque()
        self.remember = remember

    def fresh(self, event):
        if event.get('type') == 'commit' and 'workspace' in event:
            seen = self.cursors.get(event['workspace'], -1)
            if event['cursor'] <= seen:
                return False
            self.cursors[event['workspace']] = event['cursor']
            return True
        if event.get('id') in self.ids:
            return False
        self.ids.add(event.get('id'))
        self.order.append(event.get('id'))
        if len(self.order) > self.remember:
            self.ids.discard(self.order.popleft())
        return True


def _private_queue(exchange_name, keys):
    """A queue of our own, bound to ``keys``, gone when we disconnect."""
    ex = exchange(exchange_name)
    return kombu.Queue(
        'stacksync.listen.%s' % uuid.uuid4().hex,
        bindings=[kombu.binding(ex, routing_key=key) for key in keys],
        exclusive=True, auto_delete=True, durable=False)


def _drain(connection):
    """Deliver what arrives within a second, and keep the link alive.

    The heartbeat is checked after every round, not only after a quiet
    second: a consumer only receives, so while events keep arriving more
    often than once a second it would otherwise never send a heartbeat,
    and the broker closes its connection after two heartbeat intervals
    (the listener then reconnects, and events published meanwhile reach
    its long polls only at their next recheck).
    """
    try:
        connection.drain_events(timeout=1)
    except socket.timeout:
        pass
    connection.heartbeat_check()


def listen(url, keys, on_event, stopping, exchange_name=DEFAULT_EXCHANGE,
           ready=None):
    """Call ``on_event(event)`` for each event matching ``keys``.

    Runs until the ``stopping`` event is set; raises Kombu's connection
    errors if the broker goes away (call again to reconnect). ``ready()``
    is called once the queue is bound: events published from then on
    arrive.
    """
    queue = _private_queue(exchange_name, keys)
    with kombu.Connection(url, connect_timeout=CONNECT_TIMEOUT,
                          heartbeat=HEARTBEAT) as connection:
        connection.ensure_connection(max_retries=1)

        def deliver(body, message):
            on_event(body)

        with connection.Consumer(queue, callbacks=[deliver],
                                 accept=['json'], no_ack=True):
            if ready is not None:
                ready()
            while not stopping.is_set():
                _drain(connection)


def subscribe(url, workspaces=(), users=(), exchange_name=DEFAULT_EXCHANGE,
              stopping=None, ready=None):
    """Yield the events of some workspaces and users, without repeats.

    Blocks between events; stops when ``stopping`` (a
    :class:`threading.Event`) is set, or when the caller stops iterating.
    ``ready()`` is called once events published from then on will come.
    """
    keys = routing_keys(workspaces, users) or ['#']
    stopping = stopping or threading.Event()
    dedup = Deduplicator()
    pending = collections.deque()
    queue = _private_queue(exchange_name, keys)
    with kombu.Connection(url, connect_timeout=CONNECT_TIMEOUT,
                          heartbeat=HEARTBEAT) as connection:
        with connection.Consumer(
                queue, accept=['json'], no_ack=True,
                callbacks=[lambda body, message: pending.append(body)]):
            if ready is not None:
                ready()
            while not stopping.is_set():
                _drain(connection)
                while pending:
                    event = pending.popleft()
                    if dedup.fresh(event):
                        yield event
