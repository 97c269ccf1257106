"""Sync client benchmark: bytes sent by ``stacksync sync`` on the all-in-one.

1. Initial sync of a file of random bytes (``--size-mib``, default 100).
2. One byte inserted at the start of that file, synced again: thanks to
   content-defined chunking (the server's FastCDC parameters) only the
   first chunk or two change, and only those are sent.
3. An initial sync of ``--small`` small text files (compressed, committed
   in batches), with the time taken.

Run: ``python benchmarks/bench_client.py [--size-mib 100] [--small 1000]``.
"""

import argparse
import io
import os
import secrets
import tempfile
import threading
import time
import uuid

from stacksync_swift import aio
from stacksync_swift.chunking import MiB
from stacksync_swift.client import api
from stacksync_swift.client import cli
from stacksync_swift.client import credentials as client_credentials
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service


def new_user_config(cluster, config):
    """Make a user with an access token; save the client's credentials.

    :returns: the new user (a dict from the metadata service)
    """
    engine = db.create_engine(cluster.database_url)
    try:
        user = service.MetadataService(engine).create_user(
            'bench-%s' % uuid.uuid4().hex[:8])
        store = credentials.CredentialStore(engine)
        consumer = store.create_consumer('bench-client')
        token, secret = secrets.token_hex(16), secrets.token_hex(16)
        store.save_access_token(consumer.key, user['id'], token, secret)
    finally:
        engine.dispose()
    client_credentials.save_credentials(
        {'url': cluster.url, 'consumer_key': consumer.key,
         'consumer_secret': consumer.secret, 'token': token,
         'token_secret': secret}, config)
    return user


class Counting:
    """Wraps Connection.put_chunk and put_batch (what the client sends
    chunks with: batch requests, several at once) to total what each sync
    sends."""

    def __init__(self):
        self.sent = 0
        self.chunks = 0
        self._lock = threading.Lock()
        real_put, real_batch = api.Connection.put_chunk, \
            api.Connection.put_batch
        counter = self

        def put_chunk(conn, workspace_id, name, body):
            real_put(conn, workspace_id, name, body)
            counter.count({name: body})

        def put_batch(conn, workspace_id, chunks):
            real_batch(conn, workspace_id, chunks)
            counter.count(chunks)
        api.Connection.put_chunk = put_chunk
        api.Connection.put_batch = put_batch

    def count(self, chunks):
        with self._lock:
            self.sent += sum(map(len, chunks.values()))
            self.chunks += len(chunks)

    def reset(self):
        self.sent, self.chunks = 0, 0


def sync(config, folder):
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    status = cli.main(['sync', folder, '--config', config, '--no-progress'],
                      out, err)
    if status != 0:
        raise SystemExit(err.getvalue())
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=100)
    parser.add_argument('--small', type=int, default=1000)
    args = parser.parse_args()
    counting = Counting()
    with tempfile.TemporaryDirectory() as state, \
            aio.AllInOne(os.path.join(state, 'aio'), port=0) as cluster:
        config = os.path.join(state, 'config')
        new_user_config(cluster, config)
        folder = os.path.join(state, 'sync')
        os.makedirs(folder)
        path = os.path.join(folder, 'big.bin')
        data = os.urandom(args.size_mib * MiB)
        with open(path, 'wb') as out:
            out.write(data)
        took = sync(config, folder)
        print('initial sync of %d MiB: %d bytes sent in %d chunks, %.1f s'
              % (args.size_mib, counting.sent, counting.chunks, took))
        counting.reset()
        with open(path, 'wb') as out:
            out.write(b'!' + data)
        took = sync(config, folder)
        print('one byte inserted at the start: %d bytes sent in %d chunks '
              '(%.2f%% of the file), %.1f s'
              % (counting.sent, counting.chunks,
                 100.0 * counting.sent / len(data), took))
        counting.reset()
        small = os.path.join(state, 'small')
        for number in range(args.small):
            name = os.path.join(small, 'd%02d' % (number % 50),
                                'f%05d.txt' % number)
            os.makedirs(os.path.dirname(name), exist_ok=True)
            with open(name, 'w') as out:
                out.write(('file %d\n' % number) * 40)
        raw = sum(os.path.getsize(os.path.join(d, f))
                  for d, _s, files in os.walk(small) for f in files)
        took = sync(config, small)
        print('initial sync of %d small files (%d bytes): %d bytes sent, '
              '%.1f s' % (args.small, raw, counting.sent, took))


if __name__ == '__main__':
    main()
