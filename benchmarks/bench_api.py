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
* for reference, raw Swift storing the same bytes the way the API stores
  them: one object per content-defined chunk (about 1 MiB), 4 PUTs in
  flight, and reading them back in order. This is Swift's own cost of
  many objects, which no middleware storing chunks can go below;
* committing one small file (``POST /v1/file``, 1 KiB) against a raw
  Swift PUT of one 1 KiB object (mean of ``--small`` each).

Ratios (API time / raw time) are printed first. Best of ``--repeat``.
"""

import argparse
import concurrent.futures
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

    def raw_sessions(self, count):
        sessions = []
        for _ in range(count):
            session = requests.Session()
            session.headers.update(self.raw.headers)
            sessions.append(session)
        return sessions


def ratios(clients, size, repeat):
    """Best-of-``repeat`` times; every upload sends bytes new to Swift."""
    created, objects, chunked = [], [], []
    fresh = (os.urandom(size) for _ in iter(int, 1))
    sessions = clients.raw_sessions(4)

    def timed(func, prepare):
        best = None
        for _ in range(repeat):
            argument = prepare()
            start = time.perf_counter()
            func(argument)
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        return best

    def api_upload(data):
        created.append(clients.api_upload(data))

    def raw_upload(data):
        objects.append('object-%s' % uuid.uuid4().hex)
        clients.raw_upload(data, objects[-1])

    def cut(data):
        tag = uuid.uuid4().hex[:8]
        chunks = [('%s-%06d' % (tag, n), chunk.data) for n, chunk in
                  enumerate(chunking.iter_chunks(io.BytesIO(data)))]
        chunked.append([name for name, _data in chunks])
        return chunks

    results = {
        'upload': (timed(api_upload, lambda: next(fresh)),
                   timed(raw_upload, lambda: next(fresh)),
                   timed(lambda chunks: clients.raw_chunked_upload(
                       chunks, sessions), lambda: cut(next(fresh)))),
        'download': (
            timed(lambda _: clients.api_download(created[-1]['id']),
                  lambda: None),
            timed(lambda _: clients.raw_download(objects[-1]), lambda: None),
            timed(lambda _: clients.raw_chunked_download(chunked[-1]),
                  lambda: None)),
    }
    for name, (api_s, raw_s, chunked_s) in results.items():
        print('%s %d MiB: API / raw Swift time ratio %.2f '
              '(API reaches %.0f%% of raw throughput; %.0f%% of raw Swift '
              'storing the same ~1 MiB chunks as objects)'
              % (name, size // MiB, api_s / raw_s, 100 * raw_s / api_s,
                 100 * chunked_s / api_s))
    for name, (api_s, raw_s, chunked_s) in results.items():
        print('  %-9s API %7.0f MB/s (%.2f s)   raw Swift %7.0f MB/s '
              '(%.2f s)   raw Swift, chunk objects %7.0f MB/s (%.2f s)'
              % (name, size / api_s / 1e6, api_s, size / raw_s / 1e6,
                 raw_s, size / chunked_s / 1e6, chunked_s))


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state, \
            aio.AllInOne(state, port=0) as cluster:
        clients = Clients(cluster)
        print('%d MiB of random bytes, HTTP through one proxy, best of %d'
              % (args.size_mib, args.repeat))
        ratios(clients, args.size_mib * MiB, args.repeat)
        commit_latency(clients, args.small)


if __name__ == '__main__':
    main()
