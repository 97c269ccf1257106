"""Events end to end: RabbitMQ and the embedded transport, across processes.

RabbitMQ is the server named by ``STACKSYNC_TEST_AMQP_URL``
(``.ci/rabbitmq.sh`` starts Debian's ``rabbitmq-server`` and prints it).
Without the variable the RabbitMQ cases are skipped, unless ``CI`` is
``true``: then they fail. The outage test stops the broker with
``service rabbitmq-server stop`` and always starts it again.

* a commit produces exactly one event, with the workspace's new cursor;
* with RabbitMQ stopped, 200 commits succeed at once; once it is back all
  200 events arrive, in order per workspace, none lost;
* a long poll in one process wakes within a fraction of a second on a
  commit made in another, well before the database re-check would;
* the same through two real Swift proxies on one database and broker.
"""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import types
import uuid

import kombu
import pytest

from stacksync_swift import aio
from stacksync_swift import config
from stacksync_swift import events
from stacksync_swift import eventsclient
from stacksync_swift import services as services_module
from stacksync_swift.metadata import db
from stacksync_swift.metadata import outbox
from tests import servers
from tests.functional import apiclient

RABBITMQ_SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..',
                               '.ci', 'rabbitmq.sh')
TRANSPORTS = ['embedded', 'rabbitmq']
# A wake-up this fast cannot come from the database re-check.
WAKE_LIMIT = 1.0
assert WAKE_LIMIT < events.SAFETY_INTERVAL



@pytest.fixture
def database_url(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url)
    return url


@pytest.fixture(params=TRANSPORTS)
def events_url(request):
    return servers.amqp_url() if request.param == 'rabbitmq' else ''


# Tests on one broker must not hear each other: every test process
# publishes to an exchange of its own.
EXCHANGE = 'stacksync-test-%s' % uuid.uuid4().hex[:12]


def make_hub(database_url, events_url):
    settings = config.Settings(database_url=database_url,
                               events_url=events_url,
                               events_exchange=EXCHANGE)
    return events.EventHub(settings, services_module.Services(settings))


@pytest.fixture
def hub(database_url, events_url):
    made = make_hub(database_url, events_url)
    yield made
    made.close()
    made.engine.dispose()


def person(hub, name):
    user = hub.metadata.create_user(name)
    workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
    return types.SimpleNamespace(id=user['id'], workspace=workspace)


def commit(hub, who, name):
    meta = hub.metadata.create_folder(who.id, who.workspace, None, name)
    hub.committed()
    return meta


class Listener:
    """Collects the events of some routing keys on a transport."""

    def __init__(self, transport, keys):
        self.got = []
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=transport.listen, args=(
            keys, self.got.append, self.stopping, self.ready.set))
        self.thread.start()
        assert self.ready.wait(10)

    def wait_for(self, count, timeout):
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.got

    def stop(self):
        self.stopping.set()
        self.thread.join(10)


def test_a_commit_is_exactly_one_event_with_its_cursor(hub):
    alice = person(hub, 'alice')
    listener = Listener(events.transport_for(hub.settings, hub.engine),
                        ['workspace.%d' % alice.workspace])
    try:
        meta = commit(hub, alice, 'a')
        listener.wait_for(1, 10)
        time.sleep(0.5)  # anything more would show up by now
    finally:
        listener.stop()
    (event,) = listener.got
    assert hub.metadata.get_workspace(alice.id, alice.workspace)[
        'cursor'] == event['cursor'] == 1
    assert event['type'] == 'commit'
    assert event['workspace'] == alice.workspace
    assert event['items'] == [{'id': meta['id'], 'version': 1,
                               'status': 'NEW'}]
    assert event['routing_key'] == 'workspace.%d' % alice.workspace


# -- a broker outage -------------------------------------------------------

def rabbitmq(action):
    """Stop the broker, or start it (and wait until it is up)."""
    if action == 'stop':
        command = [shutil.which('service'), 'rabbitmq-server', 'stop']
    else:
        command = [shutil.which('bash'), RABBITMQ_SCRIPT]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def commit_queue(prefix, exchange=EXCHANGE):
    """A queue that outlives a broker restart, bound to every commit.

    On the way out the broker is started again (a test may have stopped
    it) and the queue deleted.
    """
    url = servers.amqp_url()
    queue = kombu.Queue('%s.%s' % (prefix, uuid.uuid4().hex),
                        eventsclient.exchange(exchange),
                        routing_key='workspace.*',
                        durable=True, auto_delete=False)
    with kombu.Connection(url) as connection:
        queue(connection.default_channel).declare()
    try:
        yield queue
    finally:
        rabbitmq('start')
        with kombu.Connection(url) as connection:
            queue(connection.default_channel).delete()


@pytest.fixture
def durable_queue():
    with commit_queue('stacksync.test') as queue:
        yield queue


def drain(queue, count, timeout):
    got = []
    with kombu.Connection(servers.amqp_url()) as connection:
        with connection.Consumer(queue, accept=['json'], callbacks=[
                lambda body, message: (got.append(body), message.ack())]):
            deadline = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < deadline:
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:
                    pass
    return got


@pytest.mark.slow
def test_an_outage_delays_events_and_loses_none(database_url,
                                                durable_queue):
    hub = make_hub(database_url, servers.amqp_url())
    people = [person(hub, 'user%d' % n) for n in range(4)]
    try:
        commit(hub, people[0], 'before')
        assert len(drain(durable_queue, 1, 10)) == 1
        rabbitmq('stop')
        slowest = 0
        for n in range(200):
            started = time.monotonic()
            commit(hub, people[n % 4], 'f%d' % n)
            slowest = max(slowest, time.monotonic() - started)
        assert slowest < 1.0
        with hub.engine.connect() as connection:
            assert outbox.backlog(connection) == 200
        rabbitmq('start')
        got = drain(durable_queue, 200, 60)
    finally:
        rabbitmq('start')
        hub.close()
        hub.engine.dispose()
    assert len(got) == 200
    assert len({event['id'] for event in got}) == 200
    for who in people:
        cursors = [event['cursor'] for event in got
                   if event['workspace'] == who.workspace]
        first = 2 if who is people[0] else 1
        assert cursors == list(range(first, first + 50))


# -- two processes ---------------------------------------------------------

WAITER = '''
import json, sys, time
from stacksync_swift import config, events, services
settings = config.Settings(database_url=sys.argv[1], events_url=sys.argv[2],
                           events_exchange=sys.argv[5])
hub = events.EventHub(settings, services.Services(settings))
hub.committed()
assert hub.listening.wait(10)
print('ready', flush=True)
cursor = hub.wait(int(sys.argv[3]), int(sys.argv[4]), 0, 20)
print(json.dumps({'cursor': cursor, 'at': time.time()}), flush=True)
'''


def test_a_long_poll_wakes_on_a_commit_in_another_process(hub):
    alice = person(hub, 'alice')
    waiter = subprocess.Popen(
        [sys.executable, '-c', WAITER, hub.settings.database_url,
         hub.settings.events_url, str(alice.id), str(alice.workspace),
         EXCHANGE],
        stdout=subprocess.PIPE, text=True)
    try:
        assert waiter.stdout.readline().strip() == 'ready'
        time.sleep(0.5)
        started = time.time()
        commit(hub, alice, 'a')
        answer = json.loads(waiter.stdout.readline())
    finally:
        waiter.kill()
        waiter.wait()
    assert answer['cursor'] == 1
    assert answer['at'] - started < WAKE_LIMIT


def test_the_events_command_prints_each_event(hub):
    alice = person(hub, 'alice')
    command = [sys.executable, '-m', 'stacksync_swift.cli',
               '--database-url', hub.settings.database_url, 'events',
               '--workspace', str(alice.workspace),
               '--events-url', hub.settings.events_url,
               '--exchange', EXCHANGE]
    printer = subprocess.Popen(command, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               preexec_fn=servers.interruptible)
    try:
        # Read up to the command's own line: the interpreter may print a
        # dependency's warning first (dnspython's "DSA is deprecated" under
        # a newer cryptography), which is not the command's output.
        before = []
        for line in printer.stderr:
            if line.startswith('Listening to workspace.%d' % alice.workspace):
                break
            before.append(line)
        else:
            pytest.fail('the command never listened: %r' % before)
        commit(hub, alice, 'a')
        commit(hub, alice, 'b')
        lines = [json.loads(printer.stdout.readline()) for _ in range(2)]
    finally:
        printer.send_signal(signal.SIGINT)
        assert printer.wait(10) == 130
    assert [(e['type'], e['cursor']) for e in lines] == [
        ('commit', 1), ('commit', 2)]


# -- two real proxies ------------------------------------------------------

@pytest.fixture(scope='module', params=TRANSPORTS)
def two_proxies(request, tmp_path_factory):
    """An all-in-one whose proxy has a twin on another port."""
    options = {'events_exchange': EXCHANGE}
    if request.param == 'rabbitmq':
        options['events_url'] = servers.amqp_url()
    cluster = aio.AllInOne(tmp_path_factory.mktemp('events'), port=0,
                           filter_options=options)
    cluster.start()
    try:
        port = aio.free_port()
        with open(cluster.proxy_conf_path()) as fp:
            text = fp.read().replace('bind_port = %d' % cluster.port,
                                     'bind_port = %d' % port)
        with open(os.path.join(cluster.swift_dir,
                               'proxy-two-server.conf'), 'w') as fp:
            fp.write(text)
        cluster._spawn('proxy-two')
        cluster._wait_healthy('proxy-two', port)
        yield cluster, 'http://%s:%d' % (cluster.host, port)
    finally:
        cluster.stop()


def test_a_long_poll_on_one_proxy_wakes_on_a_commit_through_another(
        two_proxies):
    cluster, other_url = two_proxies
    stores = apiclient.Stores(cluster)
    client = apiclient.APIClient(cluster, stores)
    try:
        ws = client.workspace_id
        cursor = client.get('/v1/workspace/%d/changes' % ws).json()[
            'cursor']
        # Warm up the other proxy's hub: its listener starts on first use.
        session = client.new_session()
        path = other_url + '/v1/workspace/%d/changes/wait' % ws
        session.get(path, params={'cursor': cursor, 'timeout': 1},
                    headers=apiclient.API, timeout=30)
        answers = []

        def wait():
            answers.append(session.get(
                path, params={'cursor': cursor, 'timeout': 30},
                headers=apiclient.API, timeout=60).json())
            answers.append(time.monotonic())

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(1.0)
        started = time.monotonic()
        client.post('/v1/folder', params={'name': 'ping', 'parent': 0})
        waiter.join(60)
    finally:
        client.close()
        stores.close()
    assert answers[0]['changes'] is True
    assert answers[0]['cursor'] > cursor
    assert answers[1] - started < WAKE_LIMIT
