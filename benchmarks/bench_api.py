"""The REST API against raw Swift, over HTTP, in the same run.

Usage::

    python benchmarks/bench_api.py [--size-mib 256] [--repeat 2]

Starts an all-in-one cluster in a temporary folder and measures, through
the same proxy over HTTP (requests, one connection per client):

* uploading ``--size-mib`` of random bytes as a new file
  (``POST /v1/file``, OAuth-signed: chunked, stored, committed) against a
  raw Swift PUT of the same bytes as one object (tempauth token);
* downloading it (``GET /v1/file/{id}/data``, every chunk verified)
  against a raw Swift GET of the object;
* committing one small file (``POST /v1/file``, 1 KiB) against a raw
  Swift PUT of one 1 KiB object (mean of ``--small`` each).

Ratios (API time / raw time) are printed first. Best of ``--repeat``.
"""

import argparse
import os
import secrets
import statistics
import tempfile
import time
import uuid

import requests
from requests_oauthlib import OAuth1Session

from stacksync_swift import aio
from stacksync_swift.chunking import MiB
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service

API = {'X-StackSync-API': 'v1'}
OCTETS = {'Content-Type': 'application/octet-stream'}


def best_time(func, repeat):
    best = None
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best


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


def ratios(clients, data, repeat):
    size = len(data)
    created = []

    def upload():
        created.append(clients.api_upload(data))
    results = {
        'upload': (best_time(upload, repeat),
                   best_time(lambda: clients.raw_upload(data), repeat)),
        'download': (
            best_time(lambda: clients.api_download(created[-1]['id']),
                      repeat),
            best_time(clients.raw_download, repeat)),
    }
    for name, (api_s, raw_s) in results.items():
        print('%s %d MiB: API / raw Swift time ratio %.2f '
              '(API reaches %.0f%% of raw throughput)'
              % (name, size // MiB, api_s / raw_s, 100 * raw_s / api_s))
    for name, (api_s, raw_s) in results.items():
        print('  %-9s API %7.0f MB/s (%.2f s)   raw Swift %7.0f MB/s '
              '(%.2f s)' % (name, size / api_s / 1e6, api_s,
                            size / raw_s / 1e6, raw_s))


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
    data = os.urandom(args.size_mib * MiB)
    with tempfile.TemporaryDirectory() as state, \
            aio.AllInOne(state, port=0) as cluster:
        clients = Clients(cluster)
        print('%d MiB of random bytes, HTTP through one proxy, best of %d'
              % (args.size_mib, args.repeat))
        ratios(clients, data, args.repeat)
        commit_latency(clients, args.small)


if __name__ == '__main__':
    main()
