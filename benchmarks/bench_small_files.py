"""Initial sync of small files: ``stacksync sync`` against ``swift upload``.

Usage::

    python benchmarks/bench_small_files.py [--files 10000] [--seed 1]

Makes ``--files`` files of 1 to 4 KiB of random bytes (sizes and bytes
from ``--seed``; folders of 100 files), starts an all-in-one cluster and
uploads the same folder twice, each command in its own process as a user
would type it:

* ``swift upload`` (python-swiftclient with its defaults: 10 object
  threads) into a container of the tempauth admin, one object per file;
* ``stacksync sync`` (the sync client: chunk, upload, commit) into a new
  user's workspace.

Both go through the same proxy, whose cache is a memcached as in
production (``--no-memcached``: the in-process one). The time of each
includes the command's start (the interpreter and its imports), since a
user waits for that too.
The ratio (stacksync time / swift time) is printed first. Afterwards the
container's object count and the workspace's committed files are checked
against ``--files``, so a fast run that lost files cannot pass unnoticed.
"""

import argparse
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import time

import requests
from bench_client import new_user_config
from sqlalchemy import func
from sqlalchemy import select

from stacksync_swift import aio
from stacksync_swift.metadata import db
from stacksync_swift.metadata import models

FILES_PER_FOLDER = 100
MIN_SIZE, MAX_SIZE = 1024, 4096
CONTAINER = 'bench-small-files'


def make_files(root, count, seed):
    """Write ``count`` files of random sizes and bytes; return total bytes."""
    rng = random.Random(seed)
    total = 0
    for number in range(count):
        folder = os.path.join(root, 'd%03d' % (number // FILES_PER_FOLDER))
        if number % FILES_PER_FOLDER == 0:
            os.makedirs(folder, exist_ok=True)
        size = rng.randint(MIN_SIZE, MAX_SIZE)
        with open(os.path.join(folder, 'f%05d.bin' % number), 'wb') as out:
            out.write(rng.randbytes(size))
        total += size
    return total


def timed(command, cwd=None):
    """Run a command to its end; its time in seconds. Fails loudly."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode:
        raise SystemExit('%s failed (%d):\n%s' % (
            ' '.join(command[:4]), done.returncode, done.stderr[-4000:]))
    return took


def swift_upload(cluster, folder):
    """``swift upload CONTAINER NAME`` from the folder's parent."""
    return timed([sys.executable, '-m', 'swiftclient.shell',
                  '-A', cluster.auth_url, '-U', cluster.admin_user,
                  # One argument: a key may begin with '-'.
                  '--key=' + cluster.admin_key, '-q',
                  'upload', CONTAINER, os.path.basename(folder)],
                 cwd=os.path.dirname(folder))


def stacksync_sync(config, folder):
    return timed([sys.executable, '-m', 'stacksync_swift.client.cli',
                  'sync', folder, '--config', config, '--no-progress',
                  '--quiet'])


def stored_objects(cluster):
    """How many objects ``swift upload`` left in the container."""
    auth = requests.get(cluster.auth_url, headers={
        'X-Auth-User': cluster.admin_user, 'X-Auth-Key': cluster.admin_key},
        timeout=60)
    resp = requests.head('%s/%s' % (auth.headers['X-Storage-Url'],
                                    CONTAINER),
                         headers={'X-Auth-Token':
                                  auth.headers['X-Auth-Token']},
                         timeout=60)
    return int(resp.headers['X-Container-Object-Count'])


def committed_files(cluster, user_id):
    """How many live files the user's workspaces hold after the sync."""
    engine = db.create_engine(cluster.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(models.Item)
                .join(models.Workspace,
                      models.Workspace.id == models.Item.workspace_id)
                .where(models.Workspace.owner_id == user_id,
                       models.Item.is_folder.is_(False),
                       models.Item.status != models.DELETED)).scalar()
    finally:
        engine.dispose()


def report(count, total, swift_s, stacksync_s):
    print('initial upload of %d files of 1-4 KiB (%.1f MiB), one proxy'
          % (count, total / 1048576))
    print('stacksync sync / swift upload time ratio %.2f '
          '(stacksync reaches %.0f%% of swift upload\'s files/s)'
          % (stacksync_s / swift_s, 100 * swift_s / stacksync_s))
    for name, took in (('stacksync sync', stacksync_s),
                       ('swift upload', swift_s)):
        print('  %-15s %7.1f s  %7.0f files/s  %6.2f MB/s'
              % (name, took, count / took, total / took / 1e6))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--files', type=int, default=10000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--no-memcached', action='store_true',
                        help="the all-in-one's in-process cache instead of "
                        'a memcached, as production proxies share')
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        state = stack.enter_context(tempfile.TemporaryDirectory())
        memcache = None if args.no_memcached else \
            stack.enter_context(aio.Memcached()).address
        cluster = stack.enter_context(aio.AllInOne(
            os.path.join(state, 'aio'), port=0, memcache_servers=memcache))
        print('cache: %s' % ('memcached' if memcache else 'in-process'))
        folder = os.path.join(state, 'files')
        total = make_files(folder, args.files, args.seed)
        config = os.path.join(state, 'config')
        user = new_user_config(cluster, config)
        swift_s = swift_upload(cluster, folder)
        stacksync_s = stacksync_sync(config, folder)
        report(args.files, total, swift_s, stacksync_s)
        stored = stored_objects(cluster)
        committed = committed_files(cluster, user['id'])
        print('  check: %d objects in the container, %d files committed'
              % (stored, committed))
        if stored != args.files or committed != args.files:
            raise SystemExit('expected %d of each' % args.files)


if __name__ == '__main__':
    main()
