"""Faults under load: a storage node, the database and the broker fail.

One all-in-one of the test's own in the production shape: metadata in a
PostgreSQL database of its own (beside ``STACKSYNC_TEST_POSTGRES_URL``),
events through RabbitMQ (``STACKSYNC_TEST_AMQP_URL``) on an exchange of its
own. Clients are threads of this process speaking signed HTTP. Without the
servers the tests skip, unless ``CI`` is ``true``: then they fail.

* The object server killed (SIGKILL) while clients upload: uploads are
  answered 503 (JSON) while it is down, retried uploads succeed once it is
  back, and afterwards no committed version names a chunk missing from
  Swift (every version's chunks hash to its content hash).
* The proxy, or the object server, killed (SIGKILL) in the middle of a
  48 MiB upload that has filled some 4 MiB packs: the upload fails (a
  dropped connection, or a JSON 503 from the proxy when the object
  server went), no chunk index row names a pack Swift does not hold
  whole, and the same upload sent again is stored and reads back.
* PostgreSQL restarted (``pg_ctlcluster ... restart``) while clients write:
  every failed request is a JSON 503, no filter logs an unhandled error,
  and every client's requests succeed again after the restart.
* RabbitMQ stopped while clients write: no write fails; once the broker
  is back every commit's event arrives (one per workspace cursor), none
  lost.

The broker and the database are always started again, whatever happens.
"""

import hashlib
import os
import shutil
import subprocess
import threading
import time
import uuid

import kombu
import pytest

from tests import servers
from tests.functional import faults
from tests.functional import test_events

EXCHANGE = 'stacksync-faults-%s' % uuid.uuid4().hex[:12]
# How long a client keeps retrying one request before giving up.
RETRY_FOR = 120.0
OUTAGE = 5.0
OCTETS = {'Content-Type': 'application/octet-stream'}
# Small packs, so that a large upload fills several before a kill.
PACK_SIZE = 4 * 1024 * 1024
MiB = 1024 * 1024


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    database = servers.side_database('_faults')
    with faults.running(
            tmp_path_factory, 'faults',
            database_url=database.render_as_string(hide_password=False),
            events_url=servers.amqp_url(),
            filter_options={'events_exchange': EXCHANGE,
                            'pack_size': str(PACK_SIZE)}) as running:
        yield running


@pytest.fixture
def team(cluster, stores):
    made = faults.Team(cluster, stores, 4)
    yield made
    made.close()


class Writers:
    """Threads that write through the API until stopped.

    Each writer creates a file, then alternately uploads new data to it
    and creates another, retrying each request until it succeeds; every
    answer goes into the ledger.
    """

    def __init__(self, team, ledger, retry=True):
        self.team = team
        self.ledger = ledger
        self.retry = retry
        self.stopping = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(client,))
                        for client in team.clients]

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stopping.set()
        for thread in self.threads:
            thread.join()

    def _run(self, client):
        try:
            mine = None
            while not self.stopping.is_set():
                mine = self._step(client, mine)
        except Exception as error:
            self.errors.append(error)

    def _step(self, client, mine):
        data = uuid.uuid4().bytes * 1024 * (1 + len(self.ledger.live) % 8)
        if mine is None or len(self.ledger.live) % 2:
            return self._send(lambda: client.post('/v1/file', params={
                'name': 'w-%s' % uuid.uuid4().hex[:8],
                'parent': self.team.parents[client]}, data=data))['id']
        self._send(lambda: client.put('/v1/file/%d/data' % mine,
                                      data=data))
        return mine

    def _send(self, request):
        deadline = time.monotonic() + RETRY_FOR
        while True:
            try:
                resp = request()
            except OSError:  # the proxy dropped the connection
                resp = None
            if resp is not None:
                item = self.ledger.note('write', resp, allowed=(503,))
                if item is not None or not self.retry:
                    return item
            assert time.monotonic() < deadline, 'no recovery'
            time.sleep(0.2)

    def wait_for(self, count):
        """Until the ledger holds ``count`` more acknowledged writes."""
        target = self.acknowledged() + count
        deadline = time.monotonic() + RETRY_FOR
        while self.acknowledged() < target:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, 'writes stalled'
            time.sleep(0.1)

    def acknowledged(self):
        with self.ledger.lock:
            return sum(len(v) for v in self.ledger.acknowledged.values())


def check_after(cluster, team, ledger, writers):
    assert writers.errors == []
    assert ledger.failures == []
    assert faults.unhandled_errors(cluster) == []
    faults.audit(cluster, team.owner, team.workspace, ledger)


# -- the object server -----------------------------------------------

def kill_and_restart(cluster, name, down_for):
    process = cluster.processes[name]
    process.kill()
    process.wait()
    time.sleep(down_for)
    cluster._spawn(name)
    cluster._wait_healthy(name, cluster.ports[name])


@pytest.mark.slow
def test_object_server_killed_during_uploads(cluster, team):
    ledger = faults.Ledger()
    with Writers(team, ledger) as writers:
        writers.wait_for(8)
        kill_and_restart(cluster, 'object', OUTAGE)
        writers.wait_for(20)
    assert ledger.statuses[503] > 0
    assert set(ledger.statuses) <= {200, 201, 503}
    check_after(cluster, team, ledger, writers)
    faults.check_downloads(team.owner, faults.all_items(
        team.owner, team.workspace).values())


class PausedStream:
    """Upload bytes that stop after ``pause_at`` until released, so a
    server can be killed while the request is mid-stream."""

    def __init__(self, data, pause_at):
        self.data = data
        self.pause_at = pause_at
        self.paused = threading.Event()
        self.release = threading.Event()

    def __iter__(self):
        for offset in range(0, len(self.data), MiB):
            if offset == self.pause_at:
                self.paused.set()
                self.release.wait(RETRY_FOR)
            yield self.data[offset:offset + MiB]


def packed_chunks(cluster, container):
    return len(faults.chunk_locations(cluster, container))


@pytest.mark.slow
@pytest.mark.parametrize('server', ['proxy', 'object'])
def test_a_server_killed_mid_pack(cluster, stores, server):
    client = faults.Team(cluster, stores, 1).owner
    try:
        container = client.get('/v1/workspace/%d' % client.workspace_id
                               ).json()['container']
        data = os.urandom(48 * MiB)
        stream = PausedStream(data, 24 * MiB)
        answers = []

        def upload():
            try:
                answers.append(client.post(
                    '/v1/file', params={'name': 'big.bin', 'parent': 0},
                    data=stream, headers=OCTETS))
            except OSError as error:    # the proxy went
                answers.append(error)
        uploader = threading.Thread(target=upload)
        uploader.start()
        assert stream.paused.wait(RETRY_FOR)
        # Packs fill as the bytes stream in: some are stored already.
        deadline = time.monotonic() + RETRY_FOR
        while packed_chunks(cluster, container) == 0:
            assert time.monotonic() < deadline, 'no pack was stored'
            time.sleep(0.1)
        process = cluster.processes[server]
        process.kill()
        process.wait()
        stream.release.set()
        uploader.join(RETRY_FOR)
        [answer] = answers
        if server == 'object':
            assert not isinstance(answer, Exception), answer
            assert answer.status_code == 503, answer.text
            assert answer.json()['error'] == 503
        else:
            assert isinstance(answer, OSError), answer
        cluster._spawn(server)
        cluster._wait_healthy(server, cluster.port if server == 'proxy'
                              else cluster.ports[server])
        faults.check_index(faults.StoredChunks(cluster, container))
        created = send_until_stored(client, data)
        got = client.get('/v1/file/%d/data' % created['id'])
        assert got.status_code == 200
        assert hashlib.sha256(got.content).digest() == \
            hashlib.sha256(data).digest()
        assert faults.audit(cluster, client, client.workspace_id) >= 1
        assert faults.unhandled_errors(cluster) == []
    finally:
        client.close()


def send_until_stored(client, data):
    """The client's retry: the same upload until it is stored (the
    object server may need a moment after its restart)."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        resp = client.post('/v1/file', params={'name': 'big-again.bin',
                                               'parent': 0}, data=data)
        if resp.status_code == 201:
            return resp.json()
        assert resp.status_code == 503, resp.text
        assert time.monotonic() < deadline, 'no recovery'
        time.sleep(0.5)


# -- PostgreSQL ----------------------------------------------------

def tool(name):
    path = shutil.which(name)
    if path is None:
        servers.unavailable('%s is not installed' % name)
    return path


def postgres_cluster():
    """(version, name) of the local PostgreSQL cluster, or skip."""
    line = subprocess.run([tool('pg_lsclusters'), '-h'], check=True,
                          capture_output=True, text=True).stdout.split()
    return line[0], line[1]


def pg_ctl(action):
    version, name = postgres_cluster()
    subprocess.run([tool('pg_ctlcluster'), version, name, action],
                   check=True, capture_output=True)


def ensure_postgres_running():
    version, name = postgres_cluster()
    status = subprocess.run([tool('pg_lsclusters'), '-h', version, name],
                            capture_output=True, text=True).stdout
    if 'online' not in status:
        pg_ctl('start')


@pytest.mark.slow
def test_postgres_restarted_under_load(cluster, team):
    ledger = faults.Ledger()
    try:
        with Writers(team, ledger) as writers:
            writers.wait_for(8)
            pg_ctl('stop')
            time.sleep(OUTAGE)
            pg_ctl('start')
            writers.wait_for(20)
    finally:
        ensure_postgres_running()
    assert ledger.statuses[503] > 0
    assert set(ledger.statuses) <= {200, 201, 503}
    check_after(cluster, team, ledger, writers)


# -- RabbitMQ ------------------------------------------------------

@pytest.fixture
def event_queue(cluster):
    """A durable queue of every workspace event on our exchange."""
    with test_events.commit_queue('stacksync.faults', EXCHANGE) as queue:
        yield queue


def drain(queue, workspace, cursor, timeout):
    """Events of ``workspace`` until one reaches ``cursor``."""
    got = []
    with kombu.Connection(servers.amqp_url()) as connection:
        with connection.Consumer(queue, accept=['json'], callbacks=[
                lambda body, message: (got.append(body), message.ack())]):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not any(
                    e['workspace'] == workspace and e['cursor'] >= cursor
                    for e in got):
                try:
                    connection.drain_events(timeout=1)
                except TimeoutError:
                    pass
    return [e for e in got if e['workspace'] == workspace]


@pytest.mark.slow
def test_rabbitmq_stopped_under_load(cluster, team, event_queue):
    ledger = faults.Ledger()
    start = team.owner.get('/v1/workspace/%d' % team.workspace).json()[
        'cursor']
    try:
        with Writers(team, ledger, retry=False) as writers:
            writers.wait_for(8)
            test_events.rabbitmq('stop')
            writers.wait_for(20)
            test_events.rabbitmq('start')
            writers.wait_for(8)
    finally:
        test_events.rabbitmq('start')
    end = team.owner.get('/v1/workspace/%d' % team.workspace).json()[
        'cursor']
    assert set(ledger.statuses) <= {200, 201}
    check_after(cluster, team, ledger, writers)
    events = drain(event_queue, team.workspace, end, 60)
    cursors = sorted({event['cursor'] for event in events})
    assert cursors == list(range(start + 1, end + 1))
