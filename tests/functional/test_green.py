"""The proxy's hub never waits on the database or on a password (issue 25).

Swift's proxy runs every request of a worker on one eventlet hub and
patches only socket, select and thread. A C call that blocks (libpq
waiting for PostgreSQL, SQLite waiting for its lock, scrypt) stops every
request of the worker, plain Swift included. Against real all-in-ones
(one proxy process, ``workers = 0``), over HTTP:

* PostgreSQL (``STACKSYNC_TEST_POSTGRES_URL``; the tests make their own
  database beside that one): while an API commit waits for a workspace
  row that another session holds locked, a plain Swift HEAD through the
  same proxy answers;
* a database that accepts connections and never answers: the API answers
  a JSON 503 after ``connect_timeout``, and Swift answers meanwhile;
* SQLite (the all-in-one's default): while another process holds the
  write lock, the same; many concurrent commits all succeed and the
  workspace's sequence has no gap;
* 20 concurrent wrong passwords at ``/oauth/authorize``: plain Swift GETs
  keep answering while the passwords are being checked.

No assertion is on a duration: each checks the order of events (Swift
answered *while* the database or the password check was still busy).
The password test prints the GETs' latencies (``pytest -s``).
"""

import base64
import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid

import pytest
import requests
import sqlalchemy
from requests_oauthlib import OAuth1Session
from swiftclient import client as swiftclient

from stacksync_swift import aio
from stacksync_swift import throttle
from stacksync_swift.metadata import service
from tests import servers
from tests.functional import apiclient
from tests.functional.apiclient import SourceAddress
from tests.functional.apiclient import loopback
from tests.functional.conftest import TEST_USERS

TIMEOUT = 120
# Longest we wait for something that takes milliseconds when the hub is
# free; it only keeps a failing test from hanging.
PATIENCE = 20
ATTEMPTS = 20


def swift_session(cluster):
    """A keep-alive HTTP session and storage URL of a tempauth user."""
    conn = swiftclient.Connection(cluster.auth_url, 'test:tester',
                                  TEST_USERS['test:tester'][0], retries=0)
    url, token = conn.get_auth()
    conn.close()
    session = requests.Session()
    session.headers['X-Auth-Token'] = token
    return session, url


class InBackground:
    """Run ``function`` in a thread; remember its result and end time."""

    def __init__(self, function, *args, **kwargs):
        self.result = self.error = self.finished = None
        self.done = threading.Event()

        def run():
            try:
                self.result = function(*args, **kwargs)
            except Exception as error:  # reported by the assertions
                self.error = error
            finally:
                self.finished = time.monotonic()
                self.done.set()
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def join(self, timeout=TIMEOUT):
        self.thread.join(timeout)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.result


# -- PostgreSQL ---------------------------------------------------------------

@pytest.fixture(scope='module')
def pg_cluster(tmp_path_factory):
    url = servers.side_database('_green').render_as_string(
        hide_password=False)
    cluster = aio.AllInOne(tmp_path_factory.mktemp('green-pg'), port=0,
                           users=TEST_USERS, database_url=url,
                           filter_options={'connect_timeout': '2',
                                           'statement_timeout': '60'})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def pg_stores(pg_cluster):
    stores = apiclient.Stores(pg_cluster)
    yield stores
    stores.close()


def waiting_on_a_lock(engine):
    """Backends of the proxy waiting for a row lock, by their query."""
    with engine.connect() as connection:
        return connection.exec_driver_sql(
            "SELECT query FROM pg_stat_activity WHERE "
            "datname = current_database() AND wait_event_type = 'Lock'"
        ).scalars().all()


def test_swift_answers_while_a_commit_waits_for_a_row_lock(pg_cluster,
                                                          pg_stores):
    client = apiclient.APIClient(pg_cluster, pg_stores)
    swift, storage_url = swift_session(pg_cluster)
    assert swift.head(storage_url, timeout=TIMEOUT).status_code // 100 == 2
    locker = sqlalchemy.create_engine(pg_cluster.database_url)
    try:
        with locker.connect() as held:
            # Another session locks the workspace row, as a long commit
            # of another proxy would: the API commit waits on it.
            held.execute(sqlalchemy.text(
                'SELECT id FROM workspaces WHERE id = :id FOR UPDATE'),
                {'id': client.workspace_id})
            commit = InBackground(client.post, '/v1/folder', params={
                'name': 'waits-%s' % uuid.uuid4().hex[:8], 'parent': 0})
            deadline = time.monotonic() + PATIENCE
            while not waiting_on_a_lock(locker):
                assert time.monotonic() < deadline, 'the commit never waited'
                time.sleep(0.05)
            head = InBackground(swift.head, storage_url, timeout=TIMEOUT)
            answered_meanwhile = head.done.wait(PATIENCE)
            commit_still_waiting = not commit.done.is_set() and \
                bool(waiting_on_a_lock(locker))
            held.rollback()
        created = commit.join()
        head.join()
    finally:
        locker.dispose()
        client.close()
    assert created.status_code == 201, created.text
    assert head.result.status_code // 100 == 2
    # The HEAD went through the same proxy process while its commit was
    # blocked in PostgreSQL: the hub was free.
    assert answered_meanwhile
    assert commit_still_waiting


class SilentDatabase:
    """A TCP port that accepts connections and never says a word."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


class WithoutDatabaseSetup(aio.AllInOne):
    """An all-in-one whose database is not set up (it never answers)."""

    def _prepare_database(self):
        pass


@pytest.fixture(scope='module')
def silent_cluster(tmp_path_factory):
    silent = SilentDatabase()
    url = 'postgresql+psycopg2://nobody:secret@127.0.0.1:%d/nothing' \
        % silent.port
    cluster = WithoutDatabaseSetup(
        tmp_path_factory.mktemp('green-silent'), port=0, users=TEST_USERS,
        database_url=url, filter_options={'connect_timeout': '2',
                                          'statement_timeout': '5'})
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
        silent.close()


def test_a_database_that_never_answers_is_a_503_and_swift_answers(
        silent_cluster):
    swift, storage_url = swift_session(silent_cluster)
    assert swift.head(storage_url, timeout=TIMEOUT).status_code // 100 == 2
    signed = OAuth1Session('c' * 32, client_secret='s' * 32,
                           resource_owner_key='t' * 32,
                           resource_owner_secret='u' * 32)
    api = InBackground(signed.get, silent_cluster.url + '/v1/account',
                       headers=apiclient.API, timeout=TIMEOUT)
    heads = []
    while not api.done.is_set() and len(heads) < 5:
        heads.append(swift.head(storage_url, timeout=PATIENCE).status_code)
    answer = api.join()
    assert len(heads) == 5 and all(status // 100 == 2 for status in heads), \
        'Swift did not answer while the API waited'
    assert answer.status_code == 503, answer.text
    assert answer.headers['Content-Type'].startswith('application/json')
    body = answer.json()
    assert body['error'] == 503
    assert 'database' in body['description']
    # The worker keeps serving Swift afterwards too.
    assert swift.head(storage_url, timeout=PATIENCE).status_code // 100 == 2


# -- SQLite -------------------------------------------------------------------

def sqlite_path(cluster):
    return sqlalchemy.engine.make_url(cluster.database_url).database


def test_swift_answers_while_another_process_holds_sqlite_s_lock(
        cluster, swift):
    stores = apiclient.Stores(cluster)
    client = apiclient.APIClient(cluster, stores)
    session, storage_url = swift_session(cluster)
    held = sqlite3.connect(sqlite_path(cluster), isolation_level=None,
                           timeout=PATIENCE)
    try:
        held.execute('BEGIN IMMEDIATE')
        try:
            commit = InBackground(client.post, '/v1/folder', params={
                'name': 'waits-%s' % uuid.uuid4().hex[:8], 'parent': 0})
            # Give the commit time to reach the lock (its HEAD below may
            # come first; that is not what fails the old code).
            time.sleep(1)
            head = InBackground(session.head, storage_url, timeout=TIMEOUT)
            answered_meanwhile = head.done.wait(PATIENCE)
            commit_still_waiting = not commit.done.is_set()
        finally:
            held.execute('ROLLBACK')
        created = commit.join()
        head.join()
    finally:
        held.close()
        client.close()
        stores.close()
    assert created.status_code == 201, created.text
    assert head.result.status_code // 100 == 2
    assert answered_meanwhile
    assert commit_still_waiting


def test_concurrent_commits_all_succeed_without_gaps(cluster):
    stores = apiclient.Stores(cluster)
    clients = [apiclient.APIClient(cluster, stores) for _ in range(4)]
    shared = clients[0]
    try:
        results = []
        guard = threading.Lock()

        def commit_many(client, who):
            session = client.new_session()
            for n in range(10):
                resp = session.post(
                    cluster.url + '/v1/folder', headers=apiclient.API,
                    params={'name': 'c%d-%d' % (who, n), 'parent': 0},
                    timeout=TIMEOUT)
                with guard:
                    results.append(resp.status_code)
        # 16 writers: 12 on one workspace (via three sessions of its
        # user), 4 on the others' own.
        threads = [threading.Thread(target=commit_many, args=(
            shared if n < 12 else clients[1 + n % 3], n)) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
        assert results == [201] * 160
        expected = {id(client): set() for client in clients}
        for n in range(16):
            owner = shared if n < 12 else clients[1 + n % 3]
            expected[id(owner)].update('c%d-%d' % (n, k) for k in range(10))
        for client in clients:
            delta = client.get('/v1/workspace/%d/changes' %
                               client.workspace_id,
                               params={'cursor': 0, 'limit': 10000}).json()
            names = [entry['filename'] for entry in delta['entries']]
            assert sorted(names) == sorted(expected[id(client)])
            # One sequence number per commit, none skipped or repeated.
            assert delta['cursor'] == len(names)
    finally:
        for client in clients:
            client.close()
        stores.close()


# -- password checks ----------------------------------------------------------

def slow_hash(password, p):
    """A stored hash ``p`` times as costly to check as the default."""
    salt = os.urandom(16)
    key = service._scrypt(salt, service.SCRYPT_N, service.SCRYPT_R,
                          p).derive(password.encode())
    return 'scrypt$%d$%d$%d$%s$%s' % (
        service.SCRYPT_N, service.SCRYPT_R, p,
        base64.b64encode(salt).decode(), base64.b64encode(key).decode())


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextlib.contextmanager
def plain_object(cluster):
    """A tempauth user's session and the URL of a 1 KiB object of theirs,
    removed afterwards: the session cluster's accounts stay as they were
    (test_swift_passthrough compares them with a fresh account's)."""
    prober, storage_url = swift_session(cluster)
    container = storage_url + '/green-%s' % uuid.uuid4().hex[:8]
    assert prober.put(container, timeout=TIMEOUT).status_code in (201, 202)
    target = container + '/object'
    try:
        assert prober.put(target, data=b'x' * 1024,
                          timeout=TIMEOUT).status_code == 201
        yield prober, target
    finally:
        prober.delete(target, timeout=TIMEOUT)
        prober.delete(container, timeout=TIMEOUT)
        prober.close()


def attack(cluster, cost, rounds=1):
    with plain_object(cluster) as (prober, target):
        return _attack(cluster, cost, rounds, prober, target)


def _attack(cluster, cost, rounds, prober, target):
    """20 clients each trying ``rounds`` wrong passwords, while plain Swift
    GETs run; their timings.

    Every attempt names a user of its own and each client speaks from a
    loopback address of its own, so the throttle never delays one (a
    throttled attempt waits in a green sleep and checks nothing).
    """
    stores = apiclient.Stores(cluster)
    names = []
    for _ in range(ATTEMPTS * rounds):
        user = stores.metadata.create_user(
            'pw-%s' % uuid.uuid4().hex[:10], password='the right one')
        names.append(user['name'])
        if cost > 1:
            with stores.engine.begin() as connection:
                connection.execute(sqlalchemy.text(
                    'UPDATE users SET password_hash = :hash WHERE id = :id'),
                    {'hash': slow_hash('the right one', cost),
                     'id': user['id']})
    tokens = []
    for _ in range(ATTEMPTS):
        session = OAuth1Session(stores.consumer.key,
                                client_secret=stores.consumer.secret,
                                callback_uri='oob')
        tokens.append(session.fetch_request_token(
            cluster.url + '/oauth/request_token')['oauth_token'])
    ready = threading.Barrier(ATTEMPTS + 1)
    sent, answered, statuses = [], [], []

    def guess(names, token):
        client = requests.Session()
        client.mount('http://', SourceAddress(loopback()))
        ready.wait()
        for name in names:
            sent.append(time.monotonic())
            resp = client.post(cluster.url + '/oauth/authorize',
                               timeout=TIMEOUT, allow_redirects=False,
                               data={'oauth_token': token, 'username': name,
                                     'password': 'wrong'})
            answered.append(time.monotonic())
            statuses.append(resp.status_code)

    gets = []
    stop = threading.Event()

    def probe():
        while not stop.is_set():
            started = time.monotonic()
            status = prober.get(target, timeout=TIMEOUT).status_code
            gets.append((started, time.monotonic(), status))

    for _ in range(5):   # warm the prober's connection and the caches
        assert prober.get(target, timeout=TIMEOUT).status_code == 200
    # Within the throttle's free attempts per client address.
    assert rounds <= throttle.FREE_ATTEMPTS
    guesses = [threading.Thread(target=guess, args=(
        names[n::ATTEMPTS], tokens[n])) for n in range(ATTEMPTS)]
    for thread in guesses:
        thread.start()
    probing = threading.Thread(target=probe)
    probing.start()
    ready.wait()
    for thread in guesses:
        thread.join(TIMEOUT)
    stop.set()
    probing.join(TIMEOUT)
    stores.close()
    assert statuses == [401] * ATTEMPTS * rounds
    assert {status for _, _, status in gets} == {200}
    # Every GET that overlapped the attack.
    during = [(end - start) * 1000 for start, end, _ in gets
              if end > min(sent) and start < max(answered)]
    print('\n%d clients x %d wrong passwords (cost x%d) took %.2f s; %d '
          'plain GETs meanwhile: p50 %.1f ms, p99 %.1f ms, max %.1f ms' % (
              ATTEMPTS, rounds, cost, max(answered) - min(sent),
              len(during),
              percentile(during, 0.5) if during else -1,
              percentile(during, 0.99) if during else -1,
              max(during) if during else -1))
    return sent, answered, gets


def test_swift_answers_while_passwords_are_checked(cluster):
    # Each check costs 8 default ones (a few tenths of a second), so the
    # order below does not hang on scheduling luck.
    sent, answered, gets = attack(cluster, cost=8)
    # GETs sent after every attempt was on its way, answered before the
    # first attempt's password check was done.
    meanwhile = [get for get in gets
                 if get[0] >= max(sent) and get[1] <= min(answered)]
    assert len(meanwhile) >= 3, (
        'only %d plain GETs answered while the passwords were checked'
        % len(meanwhile))


def test_swift_latency_under_default_password_checks(cluster):
    """The issue's figure: 20 wrong passwords at the default cost."""
    sent, answered, gets = attack(cluster, cost=1, rounds=3)
    assert [get for get in gets if get[1] <= max(answered)]
