"""The REST API against raw Swift, over HTTP, in the same run.

Usage::

    python benchmarks/bench_api.py [--size-mib 256] [--repeat 2]

Starts an all-in-one cluster in a temporary folder and measures, through
the same proxy over HTTP (requests, one connection per client):

* uploading ``--size-mib`` of random bytes as a new file
  (``POST /v1/file``, OAuth-signed: chunked, stored, committed) against a
  raw Swift PUT of the same bytes as one object (tempauth token); each
  repeat sends fresh bytes, so no chunk is already stored;
* downloading it (``GET /v1/file/{id}/data``, every chunk verified)
  against a raw Swift GET of the object;
* how many Swift objects the API's uploads made, per GiB stored (the
  workspace container's object count and bytes);
* for reference, raw Swift storing the same bytes the way the API stores
  them: one object per content-defined chunk (about 1 MiB), 4 PUTs in
  flight, and reading them back in order. This is Swift's own cost of
  many objects, which no middleware storing chunks can go below;
* committing one small file (``POST /v1/file``, 1 KiB) against a raw
  Swift PUT of one 1 KiB object (mean of ``--small`` each);
* where the time goes: the CPU seconds each server process (proxy,
  object, container, account) spent in each transfer above, read from
  ``/proc`` (Linux), so a ratio can be told apart from a busy machine;
* Swift's cost of objects against their size: raw Swift storing the same
  bytes as objects of 1, 2, 4, 8 and 16 MiB (``--object-sizes``), 4 PUTs
  in flight, as a share of the one-object PUT. It says how large chunks
  would have to be for a chunk store to reach a given share of raw
  throughput on this cluster.

The proxy's cache is a memcached, as in production, where it keeps OAuth
secrets and nonces (``--no-memcached``: the all-in-one's in-process cache,
where every signed request reads the database). Ratios (API time / raw
time) are printed first. Best of ``--repeat``.
"""

import argparse
import concurrent.futures
import contextlib
import io
import os
import secrets
import statistics
import tempfile
import time
import uuid

import requests
from requests_oauthlib import OAuth1Session

from stacksync_swift import aio
from stacksync_swift import chunking
from stacksync_swift.chunking import MiB
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service

API = {'X-StackSync-API': 'v1'}
OCTETS = {'Content-Type': 'application/octet-stream'}
SERVERS = ('proxy', 'object', 'container', 'account')


def cpu_seconds(pid):
    """User + system CPU seconds a process has used so far (Linux)."""
    with open('/proc/%d/stat' % pid) as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


class CPUMeter:
    """The CPU seconds each server of the cluster spends in a block."""

    def __init__(self, cluster):
        self.pids = {name: cluster.processes[name].pid for name in SERVERS}

    @contextlib.contextmanager
    def measure(self):
        spent = {}
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        yield spent
        for name, pid in self.pids.items():
            spent[name] = cpu_seconds(pid) - before[name]

    @staticmethod
    def show(spent):
        return '%s = %.2f' % (' + '.join('%.2f' % spent[name]
                                         for name in SERVERS),
                              sum(spent.values()))


class Clients:
    """A signed API session for a new user, and a raw Swift session."""

    def __init__(self, cluster):
        self.base = cluster.url
        engine = db.create_engine(cluster.database_url)
        try:
            user = service.MetadataService(engine).create_user(
                'bench-%s' % uuid.uuid4().hex[:8])
            store = credentials.CredentialStore(engine)
            consumer = store.create_consumer('bench')
            token, secret = secrets.token_hex(16), secrets.token_hex(16)
            store.save_access_token(consumer.key, user['id'], token, secret)
        finally:
            engine.dispose()
        self.api = OAuth1Session(consumer.key, client_secret=consumer.secret,
                                 resource_owner_key=token,
                                 resource_owner_secret=secret)
        self.api.headers.update(API)
        self.raw = requests.Session()
        auth = self.raw.get(cluster.auth_url, headers={
            'X-Auth-User': cluster.admin_user,
            'X-Auth-Key': cluster.admin_key})
        self.raw.headers['X-Auth-Token'] = auth.headers['X-Auth-Token']
        self.raw_url = auth.headers['X-Storage-Url'] + '/bench'
        self.check(self.raw.put(self.raw_url), 201, 202)
        self.check(self.api.get(self.base + '/v1/account'), 200)

    @staticmethod
    def check(resp, *statuses):
        if resp.status_code not in statuses:
            raise RuntimeError('%s %s: %s %s' % (
                resp.request.method, resp.url, resp.status_code, resp.text))
        return resp

    def api_upload(self, data):
        # With a Content-Type, requests-oauthlib does not parse the body
        # looking for form parameters.
        resp = self.api.post(self.base + '/v1/file', data=data, params={
            'name': 'bench-%s' % uuid.uuid4().hex}, headers=OCTETS)
        return self.check(resp, 201).json()

    def api_download(self, item_id):
        resp = self.api.get(self.base + '/v1/file/%d/data' % item_id)
        return len(self.check(resp, 200).content)

    def raw_upload(self, data, name='object'):
        self.check(self.raw.put(self.raw_url + '/' + name, data=data,
                                headers=OCTETS), 201)

    def raw_download(self, name='object'):
        return len(self.check(self.raw.get(self.raw_url + '/' + name),
                              200).content)

    def raw_chunked_upload(self, chunks, sessions):
        """PUT each ``(name, bytes)`` as an object, one per session at a
        time (the API's store keeps 4 chunk PUTs in flight)."""
        def put(index):
            session = sessions[index % len(sessions)]
            for name, data in chunks[index::len(sessions)]:
                self.check(session.put(self.raw_url + '/' + name, data=data,
                                       headers=OCTETS), 201)
        with concurrent.futures.ThreadPoolExecutor(len(sessions)) as pool:
            list(pool.map(put, range(len(sessions))))

    def raw_chunked_download(self, names):
        return sum(self.raw_download(name) for name in names)

    def workspace_objects(self):
        """``(objects, bytes)`` in the API user's workspace container."""
        folder = self.check(self.api.get(self.base + '/v1/folder/0'), 200)
        workspace = self.check(self.api.get(
            self.base + '/v1/workspace/%d' % folder.json()['workspace_id']),
            200).json()
        head = self.check(self.raw.head(self.raw_url.rsplit('/', 1)[0] +
                                        '/' + workspace['container']), 204)
        return (int(head.headers['X-Container-Object-Count']),
                int(head.headers['X-Container-Bytes-Used']))

    def raw_sessions(self, count):
        sessions = []
        for _ in range(count):
            session = requests.Session()
            session.headers.update(self.raw.headers)
            sessions.append(session)
        return sessions


def best_of(repeat, func, prepare, meter):
    """(seconds, server CPU seconds) of the fastest of ``repeat`` runs."""
    best = None
    for _ in range(repeat):
        argument = prepare()
        with meter.measure() as spent:
            start = time.perf_counter()
            func(argument)
            elapsed = time.perf_counter() - start
        if best is None or elapsed < best[0]:
            best = (elapsed, spent)
    return best


def new_names(pieces):
    """``(name, bytes)`` for each piece, under names no run used yet."""
    tag = uuid.uuid4().hex[:8]
    return [('%s-%06d' % (tag, n), piece) for n, piece in enumerate(pieces)]


def ratios(clients, meter, size, repeat):
    """Best-of-``repeat`` times; every upload sends bytes new to Swift."""
    created, objects, chunked = [], [], []
    fresh = (os.urandom(size) for _ in iter(int, 1))
    sessions = clients.raw_sessions(4)

    def api_upload(data):
        created.append(clients.api_upload(data))

    def raw_upload(data):
        objects.append('object-%s' % uuid.uuid4().hex)
        clients.raw_upload(data, objects[-1])

    def cut(data):
        chunks = new_names(chunk.data for chunk in
                           chunking.iter_chunks(io.BytesIO(data)))
        chunked.append([name for name, _data in chunks])
        return chunks

    results = {
        'upload': (best_of(repeat, api_upload, lambda: next(fresh), meter),
                   best_of(repeat, raw_upload, lambda: next(fresh), meter),
                   best_of(repeat, lambda chunks: clients.raw_chunked_upload(
                       chunks, sessions), lambda: cut(next(fresh)), meter)),
        'download': (
            best_of(repeat, lambda _: clients.api_download(
                created[-1]['id']), lambda: None, meter),
            best_of(repeat, lambda _: clients.raw_download(objects[-1]),
                    lambda: None, meter),
            best_of(repeat, lambda _: clients.raw_chunked_download(
                chunked[-1]), lambda: None, meter)),
    }
    for name, ((api_s, _), (raw_s, _), (chunked_s, _)) in results.items():
        print('%s %d MiB: API / raw Swift time ratio %.2f '
              '(API reaches %.0f%% of raw throughput; %.0f%% of raw Swift '
              'storing the same ~1 MiB chunks as objects)'
              % (name, size // MiB, api_s / raw_s, 100 * raw_s / api_s,
                 100 * chunked_s / api_s))
    for name, ((api_s, _), (raw_s, _), (chunked_s, _)) in results.items():
        print('  %-9s API %7.0f MB/s (%.2f s)   raw Swift %7.0f MB/s '
              '(%.2f s)   raw Swift, chunk objects %7.0f MB/s (%.2f s)'
              % (name, size / api_s / 1e6, api_s, size / raw_s / 1e6,
                 raw_s, size / chunked_s / 1e6, chunked_s))
    print('server CPU seconds of those runs (%s = total; %d CPUs):'
          % (' + '.join(SERVERS), os.cpu_count()))
    for name, ((_, api_cpu), (_, raw_cpu), (_, chunked_cpu)) in \
            results.items():
        print('  %-9s API %s   raw Swift %s   chunk objects %s'
              % (name, meter.show(api_cpu), meter.show(raw_cpu),
                 meter.show(chunked_cpu)))
    objects, stored = clients.workspace_objects()
    print('Swift objects per GiB stored through the API: %.0f (%d objects, '
          '%.0f MiB in the workspace container)'
          % (objects / (stored / 2 ** 30), objects, stored / MiB))


def object_sizes(clients, meter, size, repeat, sizes_mib):
    """Raw Swift storing ``size`` bytes as objects of each size."""
    sessions = clients.raw_sessions(4)
    fresh = (os.urandom(size) for _ in iter(int, 1))
    one, _ = best_of(repeat, lambda data: clients.raw_upload(
        data, 'whole-%s' % uuid.uuid4().hex), lambda: next(fresh), meter)
    print('raw Swift storing %d MiB as objects of N MiB, 4 PUTs in flight, '
          'against one object (%.0f MB/s):' % (size // MiB, size / one / 1e6))
    print('  %8s %8s %9s %10s   server CPU s (%s)'
          % ('N MiB', 'objects', 'MB/s', '% of one', ' + '.join(SERVERS)))
    for mib in sizes_mib:
        def cut(data, step=mib * MiB):
            return new_names(data[offset:offset + step]
                             for offset in range(0, len(data), step))
        seconds, spent = best_of(
            repeat, lambda pieces: clients.raw_chunked_upload(
                pieces, sessions), lambda: cut(next(fresh)), meter)
        print('  %8d %8d %9.0f %9.0f%%   %s'
              % (mib, -(-size // (mib * MiB)), size / seconds / 1e6,
                 100 * one / seconds, meter.show(spent)))


def commit_latency(clients, count):
    small = os.urandom(1024)
    api_times, raw_times = [], []
    for i in range(count):
        start = time.perf_counter()
        clients.api_upload(small)
        api_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        clients.raw_upload(small, 'small-%d' % i)
        raw_times.append(time.perf_counter() - start)
    api_ms = statistics.mean(api_times) * 1000
    raw_ms = statistics.mean(raw_times) * 1000
    print('commit of one 1 KiB file: API %.1f ms vs raw Swift PUT %.1f ms '
          '(ratio %.2f; medians %.1f / %.1f ms, %d each)'
          % (api_ms, raw_ms, api_ms / raw_ms,
             statistics.median(api_times) * 1000,
             statistics.median(raw_times) * 1000, count))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--repeat', type=int, default=2)
    parser.add_argument('--small', type=int, default=50)
    parser.add_argument('--no-memcached', action='store_true',
                        help="the all-in-one's in-process cache instead of "
                        'a memcached (which production proxies share, and '
                        'where they keep OAuth secrets and nonces)')
    parser.add_argument('--object-sizes', default='1,2,4,8,16',
                        help='object sizes in MiB for the raw Swift sweep '
                        '(comma-separated; empty: none)')
    args = parser.parse_args()
    sizes_mib = [int(size) for size in args.object_sizes.split(',') if size]
    with contextlib.ExitStack() as stack:
        state = stack.enter_context(tempfile.TemporaryDirectory())
        memcache = None if args.no_memcached else \
            stack.enter_context(aio.Memcached()).address
        cluster = stack.enter_context(
            aio.AllInOne(state, port=0, memcache_servers=memcache))
        clients = Clients(cluster)
        meter = CPUMeter(cluster)
        print('%d MiB of random bytes, HTTP through one proxy (cache: %s), '
              'best of %d' % (args.size_mib, 'memcached' if memcache
                              else 'in-process', args.repeat))
        ratios(clients, meter, args.size_mib * MiB, args.repeat)
        commit_latency(clients, args.small)
        if sizes_mib:
            object_sizes(clients, meter, args.size_mib * MiB, args.repeat,
                         sizes_mib)


if __name__ == '__main__':
    main()
