"""Scale-out figures on PostgreSQL and RabbitMQ (issue 25, P8 and P9).

Usage::

    python benchmarks/bench_scale.py [--database-url URL] [--events-url URL]
        [--clients 8 16 32] [--seconds 15] [--changes 100]

Starts an all-in-one as the deployment guide describes production: the
metadata on PostgreSQL (a fresh database made on the server of
``--database-url`` for the run, dropped after), events through RabbitMQ,
and two proxies with the StackSync filters on the same Swift servers
(``extra_proxies = 1``). Each proxy runs one worker and carries the
``hubprobe`` filter (``benchmarks/hubprobe.py``): a 10 ms green ticker
whose late wake-ups are the time that worker's hub was held.

What it measures, each against plain Swift in the same run:

* **P8, commits per second** through one proxy and through two: ``N``
  clients (threads in two processes on the same two CPUs; their CPU time
  is reported), each its own user, each committing one new 1 KiB file per
  request whose chunk is already stored, for ``--seconds``. Meanwhile a
  plain Swift ``HEAD`` of the account through proxy 1 every 50 ms: its
  p50 and p99, against the same HEAD on the idle proxy; and the longest
  hub stall of each proxy during the run.
* **Any proxy answers any request**: long polls held on each proxy
  (``--polls``, half on each), woken by one commit through proxy 1 (how
  many woke, and how soon); and a token revoked in the database is
  refused by both proxies on its next request.
* **P9, device to device**: one user, two devices in ``stacksync sync
  --watch`` (each its own folder and process); device A's folder gets a
  new small file every 0.3 s, and the time until the same bytes are in
  device B's folder is taken, ``--changes`` times. B on the same proxy
  (P9), then B on the other proxy (P9b).

It prints; it never asserts. A run whose commits fail reports the count.
"""

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
from requests_oauthlib import OAuth1Session
from sqlalchemy import create_engine
from sqlalchemy import text
from sqlalchemy.engine import make_url

from stacksync_swift import aio
from stacksync_swift.client import credentials as client_credentials
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service

HERE = os.path.dirname(os.path.abspath(__file__))
API = {'X-StackSync-API': 'v1'}
PROBE_FILTER = 'hubprobe'


class ProbedAllInOne(aio.AllInOne):
    """The all-in-one with the hub probe first in every StackSync proxy."""

    def _proxy_conf(self, bare=False, port=None):
        conf = super()._proxy_conf(bare=bare, port=port)
        if bare:
            return conf
        conf = conf.replace('pipeline = catch_errors ',
                            'pipeline = %s catch_errors ' % PROBE_FILTER, 1)
        return conf + '\n[filter:%s]\npaste.filter_factory = ' \
            'hubprobe:filter_factory\n' % PROBE_FILTER


@contextlib.contextmanager
def fresh_database(server_url):
    """A new, empty database on the server of ``server_url``."""
    url = make_url(server_url)
    name = 'bench_scale_%s' % uuid.uuid4().hex[:8]
    admin = create_engine(url.set(database='postgres'),
                          isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.execute(text('CREATE DATABASE %s' % name))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text('DROP DATABASE %s WITH (FORCE)' % name))
        admin.dispose()


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# -- users and their signed sessions -----------------------------------------

def make_users(cluster, count):
    """``count`` users, each with an access token and one stored chunk."""
    engine = db.create_engine(cluster.database_url)
    metadata = service.MetadataService(engine)
    store = credentials.CredentialStore(engine)
    consumer = store.create_consumer('bench-scale')
    users = []
    for number in range(count):
        user = metadata.create_user('scale-%d-%s' % (number,
                                                     uuid.uuid4().hex[:6]))
        token, secret = secrets.token_hex(16), secrets.token_hex(16)
        store.save_access_token(consumer.key, user['id'], token, secret)
        workspace = metadata.get_workspaces(user['id'])[0]['id']
        users.append({'auth': (consumer.key, consumer.secret, token, secret),
                      'workspace': workspace, 'id': user['id']})
    engine.dispose()
    data = b'x' * 1024
    chunk = 'chk-' + hashlib.sha256(data).hexdigest()
    for user in users:
        with session_of(user) as http:
            resp = http.put('%s/v1/workspace/%d/chunk/%s' % (
                cluster.url, user['workspace'], chunk), data=data,
                headers=API, timeout=60)
            resp.raise_for_status()
        user.update(chunk=chunk, size=len(data),
                    content_hash=hashlib.sha256(data).hexdigest())
    return users


def session_of(user):
    key, consumer_secret, token, secret = user['auth']
    return OAuth1Session(key, client_secret=consumer_secret,
                         resource_owner_key=token,
                         resource_owner_secret=secret)


# -- P8: commits per second ------------------------------------------------

def commit_loop(user, url, deadline, results):
    """Commit one new file per request until ``deadline``."""
    done = failed = 0
    with session_of(user) as http:
        headers = dict(API, **{'X-StackSync-Device': 'bench'})
        while time.monotonic() < deadline:
            item = {'filename': 'f-%s' % uuid.uuid4().hex, 'parent_id': None,
                    'is_folder': False, 'size': user['size'],
                    'content_hash': user['content_hash'],
                    'chunks': [user['chunk']]}
            try:
                resp = http.post('%s/v1/workspace/%d/commit' % (
                    url, user['workspace']), json=[item], headers=headers,
                    timeout=60)
                ok = resp.status_code == 200 and \
                    resp.json()['results'][0]['result'] == 'committed'
            except requests.RequestException:
                ok = False
            if ok:
                done += 1
            else:
                failed += 1
    results.append((done, failed))


def load_process(users, urls, seconds, queue):
    """Threads committing for ``users``; puts (done, failed, cpu s)."""
    deadline = time.monotonic() + seconds
    results = []
    threads = [threading.Thread(target=commit_loop, args=(
        user, urls[user['slot'] % len(urls)], deadline, results))
        for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((sum(d for d, _ in results), sum(f for _, f in results),
               usage.ru_utime + usage.ru_stime))


class HeadProbe:
    """Plain Swift HEADs of the account through one proxy, every 50 ms."""

    def __init__(self, cluster, url):
        auth = requests.get(cluster.auth_url, headers={
            'X-Auth-User': cluster.admin_user,
            'X-Auth-Key': cluster.admin_key}, timeout=60)
        account = auth.headers['X-Storage-Url'].split('/v1/', 1)[1]
        self.target = '%s/v1/%s' % (url, account)
        self.token = auth.headers['X-Auth-Token']
        self.latencies = []
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self.latencies = []
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        with requests.Session() as http:
            while not self._stop.is_set():
                start = time.perf_counter()
                http.head(self.target, headers={'X-Auth-Token': self.token},
                          timeout=60)
                self.latencies.append(1000 * (time.perf_counter() - start))
                self._stop.wait(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return (statistics.median(self.latencies),
                percentile(self.latencies, 0.99), len(self.latencies))


def hub(url, reset=False):
    return requests.get(url + '/hubprobe' + ('?reset' if reset else ''),
                        timeout=60).json()


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far."""
    with open('/proc/%d/stat' % pid) as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_load(users, urls, seconds, head, pids):
    for url in urls:
        hub(url, reset=True)
    cpu_before = [cpu_seconds(pid) for pid in pids]
    for slot, user in enumerate(users):
        user['slot'] = slot
    queue = multiprocessing.Queue()
    halves = [users[0::2], users[1::2]]
    processes = [multiprocessing.Process(
        target=load_process, args=(half, urls, seconds, queue))
        for half in halves if half]
    head.start()
    started = time.monotonic()
    for process in processes:
        process.start()
    outcomes = [queue.get() for _ in processes]
    took = time.monotonic() - started
    for process in processes:
        process.join()
    p50, p99, heads = head.stop()
    stalls = [hub(url) for url in urls]
    busy = [(cpu_seconds(pid) - was) / took
            for pid, was in zip(pids, cpu_before)]
    return {'busy': busy,'commits': sum(o[0] for o in outcomes),
            'failed': sum(o[1] for o in outcomes),
            'client_cpu': sum(o[2] for o in outcomes), 'seconds': took,
            'head_p50': p50, 'head_p99': p99, 'heads': heads,
            'stalls': stalls}


# -- any proxy answers any request --------------------------------------------

def long_polls(users, urls, count):
    """``count`` long polls on one workspace, spread over ``urls``, then
    one commit through ``urls[0]``: (woken, seconds to the last wake)."""
    user = users[0]
    with session_of(user) as http:
        cursor = http.get('%s/v1/workspace/%d' % (urls[0], user['workspace']),
                          headers=API, timeout=60).json()['cursor']
    woken = []
    ready = threading.Barrier(count + 1)

    def poll(url):
        with session_of(user) as http:
            ready.wait()
            resp = http.get('%s/v1/workspace/%d/changes/wait' % (
                url, user['workspace']), params={'cursor': cursor,
                                                 'timeout': 60},
                headers=API, timeout=120)
            if resp.status_code == 200 and resp.json()['changes']:
                woken.append(time.monotonic())

    threads = [threading.Thread(target=poll, args=(urls[n % len(urls)],))
               for n in range(count)]
    for thread in threads:
        thread.start()
    ready.wait()
    time.sleep(3)       # every poll is waiting in a proxy
    committed = time.monotonic()
    commit_loop(user, urls[0], time.monotonic() + 0.001, [])
    for thread in threads:
        thread.join()
    return len(woken), (max(woken) - committed) if woken else None


def revocation_reaches_every_proxy(cluster, users, urls):
    """Revoke a token in the database; each proxy's answer next."""
    user = users[-1]
    store = credentials.CredentialStore(db.create_engine(cluster.database_url))
    before, after = [], []
    with session_of(user) as http:
        for url in urls:
            before.append(http.get(url + '/v1/account', headers=API,
                                   timeout=60).status_code)
        store.revoke_access_token(user['auth'][2])
        for url in urls:
            after.append(http.get(url + '/v1/account', headers=API,
                                  timeout=60).status_code)
    store.engine.dispose()
    return before, after


# -- P9: device to device --------------------------------------------------

def start_device(config, folder, device):
    proc = subprocess.Popen(
        [sys.executable, '-m', 'stacksync_swift.client.cli', 'sync',
         folder, '--watch', '--config', config, '--device', device],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc.lines = []
    for line in proc.stdout:
        proc.lines.append(line)
        if 'watching' in line:
            break
    threading.Thread(target=lambda: proc.lines.extend(proc.stdout),
                     daemon=True).start()
    return proc


def device_to_device(cluster, state, url_a, url_b, changes, tag):
    engine = db.create_engine(cluster.database_url)
    user = service.MetadataService(engine).create_user(
        'p9-%s-%s' % (tag, uuid.uuid4().hex[:6]))
    store = credentials.CredentialStore(engine)
    consumer = store.create_consumer('bench-p9')
    token, secret = secrets.token_hex(16), secrets.token_hex(16)
    store.save_access_token(consumer.key, user['id'], token, secret)
    engine.dispose()
    devices = []
    for name, url in (('a', url_a), ('b', url_b)):
        config = os.path.join(state, '%s-%s-config' % (tag, name))
        folder = os.path.join(state, '%s-%s-files' % (tag, name))
        os.makedirs(folder)
        client_credentials.save_credentials(
            {'url': url, 'consumer_key': consumer.key,
             'consumer_secret': consumer.secret, 'token': token,
             'token_secret': secret}, config)
        devices.append((folder, start_device(config, folder,
                                             '%s-%s' % (tag, name))))
    (folder_a, proc_a), (folder_b, proc_b) = devices
    latencies, lost = [], 0
    try:
        for number in range(changes):
            body = os.urandom(512)
            name = 'change-%03d.bin' % number
            written = time.monotonic()
            with open(os.path.join(folder_a, name + '.tmp'), 'wb') as out:
                out.write(body)
            os.rename(os.path.join(folder_a, name + '.tmp'),
                      os.path.join(folder_a, name))
            arrived = wait_for(os.path.join(folder_b, name), body, 30)
            if arrived is None:
                lost += 1
            else:
                latencies.append(arrived - written)
            time.sleep(0.3)
    finally:
        for proc in (proc_a, proc_b):
            proc.terminate()
            proc.wait(30)
    return latencies, lost, [proc_a.lines, proc_b.lines]


def wait_for(path, body, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, 'rb') as found:
                if found.read() == body:
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.005)
    return None


# -- the report --------------------------------------------------------------

def stall_text(stalls):
    return ' / '.join('%.0f ms' % stall['longest_ms'] for stall in stalls)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--database-url', default=os.environ.get(
        'STACKSYNC_TEST_POSTGRES_URL',
        'postgresql+psycopg2://stacksync:stacksync@127.0.0.1/'
        'stacksync_test'))
    parser.add_argument('--events-url', default=os.environ.get(
        'STACKSYNC_TEST_AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672//'))
    parser.add_argument('--clients', type=int, nargs='+',
                        default=[8, 16, 32])
    parser.add_argument('--seconds', type=float, default=15)
    parser.add_argument('--changes', type=int, default=100)
    parser.add_argument('--polls', type=int, default=200)
    args = parser.parse_args()
    # The proxies import the probe filter from here.
    os.environ['PYTHONPATH'] = os.pathsep.join(
        [HERE] + [p for p in os.environ.get('PYTHONPATH', '').split(
            os.pathsep) if p])

    with tempfile.TemporaryDirectory() as state, \
            fresh_database(args.database_url) as database_url, \
            ProbedAllInOne(os.path.join(state, 'aio'), port=0,
                           database_url=database_url,
                           events_url=args.events_url,
                           extra_proxies=1) as cluster:
        urls = cluster.proxy_urls
        pids = [cluster.processes[name].pid
                for name in ['proxy'] + cluster.extra_proxies]
        users = make_users(cluster, max(args.clients))
        head = HeadProbe(cluster, urls[0])
        head.start()
        time.sleep(3)
        idle_p50, idle_p99, _ = head.stop()
        print('PostgreSQL + RabbitMQ, proxies with one worker each, '
              '%g s per run, load generator on the same %d CPUs'
              % (args.seconds, os.cpu_count()))
        print('plain Swift HEAD through an idle proxy: p50 %.1f ms, '
              'p99 %.1f ms' % (idle_p50, idle_p99))
        rows = []
        for clients in args.clients:
            for proxies in (1, 2):
                result = run_load(users[:clients], urls[:proxies],
                                  args.seconds, head, pids[:proxies])
                rows.append((clients, proxies, result))
        print('P8 commits of one small file (chunk stored), N clients:')
        print('  clients proxies  commits/s  failed   HEAD p50 / p99 ms   '
              'longest hub stall  proxy CPU (of a core)  proxy CPU ms per '
              'commit  client CPU s')
        for clients, proxies, result in rows:
            rate = result['commits'] / result['seconds']
            print('  %7d %7d %10.1f %7d %9.1f / %-8.1f   %-18s %-21s %-22.1f '
                  '%.1f' % (
                      clients, proxies, rate, result['failed'],
                      result['head_p50'], result['head_p99'],
                      stall_text(result['stalls']),
                      ' / '.join('%.0f%%' % (100 * b)
                                 for b in result['busy']),
                      1000 * sum(result['busy']) / rate if rate else 0,
                      result['client_cpu']))
        for clients in args.clients:
            one, two = [result['commits'] / result['seconds']
                        for n, _p, result in rows if n == clients]
            print('two proxies / one proxy commit throughput ratio %.2f '
                  '(%d clients)' % (two / one, clients))
        best = max(result['commits'] / result['seconds']
                   for _n, p, result in rows if p == 1)
        print('P8 commits/s through one proxy: best %.0f (goal >= 400)'
              % best)
        worst = max(stall['longest_ms'] for _n, _p, result in rows
                    for stall in result['stalls'])
        print('hub stall: longest 10 ms ticker gap in any run %.0f ms '
              '(goal <= 50)' % worst)
        for proxies in (1, 2):
            woken, last = long_polls(users, urls[:proxies], args.polls)
            print('long polls held: %d on %d prox%s, %d woken by one commit '
                  'through proxy 1, the last after %s' % (
                      args.polls, proxies, 'y' if proxies == 1 else 'ies',
                      woken, '%.2f s' % last if last is not None else '-'))
        before, after = revocation_reaches_every_proxy(cluster, users, urls)
        print('a token revoked in the database: proxies answered %s before, '
              '%s on the next request' % (before, after))
        for tag, url_b in (('P9', urls[0]), ('P9b', urls[1])):
            latencies, lost, outputs = device_to_device(
                cluster, state, urls[0], url_b, args.changes, tag)
            if latencies:
                print('%s device A -> device B (%s): p50 %.2f s, p99 %.2f '
                      's over %d changes, %d not arrived in 30 s '
                      '(goal p50 <= 0.5 s, p99 <= 2 s)' % (
                          tag, 'same proxy' if url_b == urls[0] else
                          'B on the other proxy',
                          statistics.median(latencies),
                          percentile(latencies, 0.99), len(latencies), lost))
            else:
                print('%s: no change arrived (%d lost)' % (tag, lost))
            for device, output in zip('AB', outputs):
                if lost and output:
                    print('  device %s said: %s' % (
                        device, ''.join(output[-5:]).strip()))
                warnings = [line.strip() for line in output
                            if 'WARNING' in line or 'ERROR' in line]
                if warnings:
                    print('  device %s warned %d times, first: %s' % (
                        device, len(warnings), warnings[0][:300]))
        print(json.dumps({'idle_head_ms': [idle_p50, idle_p99]}))


if __name__ == '__main__':
    main()
