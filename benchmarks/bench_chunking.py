"""Chunking and chunk-store throughput, against raw Swift in the same run.

Usage::

    python benchmarks/bench_chunking.py [--size-mib 256] [--repeat 2]

Starts an all-in-one cluster in a temporary folder and measures:

* chunking alone (FastCDC cuts, no hashing) and :func:`iter_chunks` (cuts,
  a copy and SHA-256 of every chunk, SHA-256 of the whole content);
* :meth:`ChunkStore.store_stream` into the cluster, once new and once again
  (every chunk already there), against one raw Swift PUT of the same bytes
  through the same in-process pipeline and through HTTP (python-swiftclient);
* :meth:`ChunkStore.iter_content` against one raw GET;
* the per-chunk cost of the dedup check: HEAD vs a PUT answered 412, and a
  new chunk's PUT vs HEAD-then-PUT.

The store is given the pipeline below ``stacksync_api`` loaded in this
process, as the API filter gives it. Best of ``--repeat`` runs.
"""

import argparse
import hashlib
import io
import random
import tempfile
import time
import uuid

from swift.common import swob
from swift.common.utils import drain_and_close
from swift.common.utils import set_swift_dir
from swift.common.wsgi import loadapp
from swift.common.wsgi import make_pre_authed_request
from swiftclient import client as swiftclient

from stacksync_swift import aio
from stacksync_swift import chunking
from stacksync_swift import localcache
from stacksync_swift import storage
from stacksync_swift.chunking import MiB
from stacksync_swift.middleware.api import StackSyncAPI


def best_time(func, repeat):
    """The shortest of ``repeat`` runs of ``func()``, and its last result."""
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def report(label, size, seconds):
    print('%-44s %8.0f MB/s  (%.2f s)' % (label, size / seconds / 1e6,
                                          seconds))
    return seconds


def bench_chunking(data, repeat):
    def cut_only():
        return sum(1 for _ in chunking.new_chunker().cut_stream(
            io.BytesIO(data)))

    def chunk_and_hash():
        content = chunking.iter_chunks(io.BytesIO(data))
        count = sum(1 for _ in content)
        return count, content.sha256

    seconds, count = best_time(cut_only, repeat)
    report('chunking, cuts only', len(data), seconds)
    seconds, (count, _digest) = best_time(chunk_and_hash, repeat)
    report('iter_chunks (cuts, copies, SHA-256s)', len(data), seconds)
    print('  %d chunks, mean %.2f MiB' % (count, len(data) / count / MiB))


class Bench:
    """The cluster, the in-process pipeline and the chunk store."""

    def __init__(self, cluster):
        self.cluster = cluster
        set_swift_dir(cluster.swift_dir)
        pipeline = []
        app = loadapp(cluster.proxy_conf_path())
        while app is not None:
            pipeline.append(app)
            app = getattr(app, 'app', None)
        api, = [f for f in pipeline if isinstance(f, StackSyncAPI)]
        cache, = [f.cache for f in pipeline
                  if isinstance(f, localcache.LocalCacheMiddleware)]
        self.below = api.app
        self.store = storage.ChunkStore(self.below, cluster.storage_account)
        self.env = swob.Request.blank('/', environ={
            'swift.cache': cache}).environ
        self.conn = swiftclient.Connection(
            cluster.auth_url, cluster.admin_user, cluster.admin_key)

    def new_container(self):
        name = 'bench-' + uuid.uuid4().hex[:12]
        self.store.create_container(self.env, name, None, None)
        return name

    def raw(self, method, path, headers=None, body=None, stream=None):
        path = '/v1/%s/%s' % (self.cluster.storage_account, path)
        req = make_pre_authed_request(self.env, method, path,
                                      headers=headers, body=body,
                                      swift_source='BENCH')
        if stream is not None:
            req.environ['wsgi.input'] = stream
        resp = req.get_response(self.below)
        drain_and_close(resp)
        return resp.status_int

    def raw_put(self, container, data):
        status = self.raw('PUT', '%s/whole' % container,
                          {'Content-Length': str(len(data))},
                          stream=io.BytesIO(data))
        assert status == 201, status

    def http_put(self, container, data):
        self.conn.put_object(container, 'whole-http', io.BytesIO(data),
                             content_length=len(data))


def bench_store(bench, data, repeat):
    size = len(data)
    raw = report('raw Swift PUT, one object, in-process', size, best_time(
        lambda: bench.raw_put(bench.new_container(), data), repeat)[0])
    report('raw Swift PUT, one object, HTTP (swiftclient)', size, best_time(
        lambda: bench.http_put(bench.new_container(), data), repeat)[0])
    container = bench.new_container()

    def store_new():
        nonlocal container
        container = bench.new_container()
        return bench.store.store_stream(bench.env, container,
                                        io.BytesIO(data), size)

    seconds, result = best_time(store_new, repeat)
    stored = report('store_stream, new chunks', size, seconds)
    seconds, again = best_time(lambda: bench.store.store_stream(
        bench.env, container, io.BytesIO(data), size), repeat)
    report('store_stream, every chunk already there', size, seconds)
    assert again.new_chunks == 0
    print('  store_stream / raw PUT time ratio: %.2f' % (stored / raw))
    return container, result


def bench_read(bench, container, result, repeat):
    size = result.size

    def read_all():
        digest = hashlib.sha256()
        for piece in bench.store.iter_content(bench.env, container,
                                              result.chunks):
            digest.update(piece)
        assert digest.hexdigest() == result.sha256

    raw = report('raw Swift GET, one object, in-process', size, best_time(
        lambda: bench.raw('GET', '%s/whole' % container), repeat)[0])
    read = report('iter_content, every chunk verified', size,
                  best_time(read_all, repeat)[0])
    print('  iter_content / raw GET time ratio: %.2f' % (read / raw))


def bench_dedup_check(bench, container, result, count=40):
    name, _size = result.chunks[0]
    one_mib = random.Random(1).randbytes(MiB)

    def per_call(func):
        start = time.perf_counter()
        for i in range(count):
            func(i)
        return (time.perf_counter() - start) / count * 1000

    existing = '%s/%s' % (container, name)
    print('dedup check, per 1 MiB chunk (mean of %d):' % count)
    print('  HEAD of an existing chunk      %6.1f ms' % per_call(
        lambda i: bench.raw('HEAD', existing)))
    print('  PUT If-None-Match answered 412 %6.1f ms' % per_call(
        lambda i: bench.raw('PUT', existing, {'If-None-Match': '*'},
                            one_mib)))
    print('  HEAD of a missing chunk        %6.1f ms' % per_call(
        lambda i: bench.raw('HEAD', '%s/missing-%d' % (container, i))))
    print('  PUT of a new chunk             %6.1f ms' % per_call(
        lambda i: bench.raw('PUT', '%s/new-%d' % (container, i),
                            {'If-None-Match': '*'}, one_mib)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=256)
    parser.add_argument('--repeat', type=int, default=2)
    args = parser.parse_args()
    rnd = random.Random(256)
    data = b''.join(rnd.randbytes(MiB) for _ in range(args.size_mib))
    print('%d MiB of random bytes, best of %d runs' % (args.size_mib,
                                                        args.repeat))
    bench_chunking(data, args.repeat + 1)
    with tempfile.TemporaryDirectory() as state, \
            aio.AllInOne(state, port=0) as cluster:
        bench = Bench(cluster)
        container, result = bench_store(bench, data, args.repeat)
        bench.raw_put(container, data)
        bench_read(bench, container, result, args.repeat)
        bench_dedup_check(bench, container, result)


if __name__ == '__main__':
    main()
