"""Does a delta cost the change or the tree? get_changes at 1k..100k items.

For each size the benchmark makes a user through the service, fills the
user's workspace with that many items (folders of 1,000 files; written
with bulk inserts, since making 100,000 items one commit at a time only
measures the setup), changes one file through the service, then times
``MetadataService.get_changes`` from the cursor before the change. The
delta must hold exactly that change, and its time must not grow with the
tree: the ``(workspace_id, seq)`` index makes it a range scan.

Usage::

    python benchmarks/bench_changes.py                      # SQLite
    python benchmarks/bench_changes.py --database-url \\
        postgresql+psycopg2://stacksync:stacksync@127.0.0.1/bench
    python benchmarks/bench_changes.py --plot results/changes.png

``--plot`` draws the median and p90 against the number of items (a log
scale) into a PNG: a flat line is the claim.
"""

import argparse
import datetime
import hashlib
import os
import platform
import statistics
import sys
import tempfile
import time

import sqlalchemy
from sqlalchemy import insert
from sqlalchemy import update

from stacksync_swift.metadata import db
from stacksync_swift.metadata import models
from stacksync_swift.metadata.service import MetadataService

FILES_PER_FOLDER = 1000


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def fill_workspace(engine, user_id, workspace_id, count):
    """``count`` items (folders of files) with one version each."""
    now = models.utcnow()
    folders = max(1, count // (FILES_PER_FOLDER + 1))
    files = count - folders
    seq = 0

    def item_row(name, parent_id, is_folder, size=0, content_hash=None):
        nonlocal seq
        seq += 1
        return {'workspace_id': workspace_id, 'parent_id': parent_id,
                'name': name, 'is_folder': is_folder, 'version': 1,
                'status': models.NEW, 'seq': seq, 'size': size,
                'content_hash': content_hash,
                'mimetype': None if is_folder else 'text/plain',
                'modified_at': now, 'device_id': None, 'user_id': user_id}

    with engine.begin() as connection:
        rows = [item_row('folder-%05d' % i, None, True)
                for i in range(folders)]
        folder_ids = _insert_returning_ids(connection, rows)
        for start in range(0, files, 10000):
            rows.extend(
                item_row('file-%06d.txt' % i,
                         folder_ids[i % len(folder_ids)], False, 1000,
                         digest(str(i)))
                for i in range(start, min(start + 10000, files)))
        file_rows = rows[folders:]
        item_ids = folder_ids + _insert_returning_ids(connection, file_rows)
        versions = [{
            'item_id': item_id, 'version': 1, 'status': models.NEW,
            'name': row['name'], 'parent_id': row['parent_id'],
            'size': row['size'], 'content_hash': row['content_hash'],
            'mimetype': row['mimetype'], 'modified_at': now,
            'device_id': None, 'user_id': user_id, 'seq': row['seq'],
            'created_at': now} for item_id, row in zip(item_ids, rows)]
        version_ids = _insert_returning_ids(connection, versions,
                                            models.ItemVersion)
        connection.execute(insert(models.VersionChunk), [
            {'version_id': version_id, 'position': 0,
             'name': 'chk-' + row['content_hash']}
            for version_id, row in zip(version_ids, rows)
            if not row['is_folder']])
        connection.execute(update(models.Workspace).where(
            models.Workspace.id == workspace_id).values(seq=seq))
        connection.execute(update(models.User).where(
            models.User.id == user_id).values(quota_used=files * 1000))
    return item_ids[-1]


def _insert_returning_ids(connection, rows, model=models.Item):
    ids = []
    for start in range(0, len(rows), 10000):
        result = connection.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True),
            rows[start:start + 10000])
        ids.extend(result.scalars())
    return ids


def measure(service, size, repeat):
    user = service.create_user('bench-%d-%d' % (size, time.time_ns()))
    workspace = service.get_workspaces(user['id'])[0]['id']
    started = time.perf_counter()
    last_file = fill_workspace(service.engine, user['id'], workspace, size)
    setup = time.perf_counter() - started
    cursor = service.get_workspace(user['id'], workspace)['cursor']
    assert cursor == size
    service.update_file_data(
        user['id'], last_file, size=5, content_hash=digest('changed'),
        chunks=['chk-' + digest('changed')])
    delta = service.get_changes(user['id'], workspace, cursor)
    assert [e['id'] for e in delta['entries']] == [last_file], delta
    assert not delta['has_more'] and delta['cursor'] == cursor + 1
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        service.get_changes(user['id'], workspace, cursor)
        timings.append(time.perf_counter() - started)
    return {'size': size, 'setup': setup,
            'median_ms': statistics.median(timings) * 1000,
            'p90_ms': sorted(timings)[int(0.9 * len(timings))] * 1000,
            'entries': len(delta['entries'])}


def plot(path, backend, results):
    """Latency against workspace size, into a PNG (matplotlib, no display)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4), dpi=100)
    sizes = [row['size'] for row in results]
    for key, label in (('median_ms', 'median'), ('p90_ms', 'p90')):
        axes.plot(sizes, [row[key] for row in results], marker='o',
                  label=label)
    axes.set_xscale('log')
    axes.set_ylim(bottom=0)
    axes.set_xlabel('items in the workspace')
    axes.set_ylabel('get_changes, ms')
    axes.set_title('get_changes after one change (%s)' % backend)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    print('plot: %s' % path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--database-url',
                        help='SQLAlchemy URL (default: a new SQLite file); '
                             'the database is migrated, not emptied')
    parser.add_argument('--sizes', default='1000,10000,100000',
                        help='workspace sizes (default: %(default)s)')
    parser.add_argument('--repeat', type=int, default=300,
                        help='get_changes calls per size (default: '
                             '%(default)s)')
    parser.add_argument('--plot', metavar='PNG',
                        help='draw latency against items into this file')
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(',')]
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or 'sqlite:///%s' % os.path.join(
            scratch, 'bench.sqlite')
        engine = db.create_engine(url)
        db.upgrade(engine)
        service = MetadataService(engine)
        results = [measure(service, size, args.repeat) for size in sizes]
        engine.dispose()
    backend = sqlalchemy.engine.make_url(url).get_backend_name()
    print('get_changes after one change (%s, Python %s, %s)'
          % (backend, platform.python_version(),
             datetime.date.today().isoformat()))
    print('%10s  %8s  %12s  %10s  %9s'
          % ('items', 'entries', 'median ms', 'p90 ms', 'setup s'))
    for row in results:
        print('%10d  %8d  %12.3f  %10.3f  %9.1f'
              % (row['size'], row['entries'], row['median_ms'],
                 row['p90_ms'], row['setup']))
    by_size = {row['size']: row for row in results}
    if 1000 in by_size and 100000 in by_size:
        print('100k / 1k time ratio: %.2f'
              % (by_size[100000]['median_ms'] / by_size[1000]['median_ms']))
    if args.plot:
        plot(args.plot, backend, results)
    return 0


if __name__ == '__main__':
    sys.exit(main())
