"""A sync killed in the middle of its upload resumes where it stopped.

``stacksync sync`` runs as its own process and is killed with SIGKILL
(no ``finally``, no atexit, the state database as the kill left it) after
some of its chunks landed. The next sync must send exactly the chunks
that did not land, and the server must end with every file, once, with
its content.

The killed process is held still at a known point so the test does not
race it: a small launcher lets a given number of its chunk batch requests
start (a later one blocks for good), waits for those to be answered, and
writes a marker file listing the chunks they stored; the test waits for
the marker and kills the process.
"""

import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from stacksync_swift import chunking
from stacksync_swift.client import api
from stacksync_swift.client import cli
from stacksync_swift.client import credentials
from tests.functional import apiclient
from tests.functional import faults
from tests.functional.apiclient import APIClient

FILES = 3
FILE_SIZE = 6 * chunking.MiB
# Batch requests that complete before the kill (one holds about 16 MiB,
# so at least this many chunks of ~1 MiB, and fewer than all of them).
BATCHES_BEFORE_KILL = 1
LANDED_BEFORE_KILL = 5
MARKER_WAIT = 300

LAUNCHER = textwrap.dedent('''
    """stacksync sync whose chunk uploads stop for good after N batch
    requests started: those complete, every later one waits."""
    import os
    import sys
    import threading

    from stacksync_swift.client import api
    from stacksync_swift.client import cli

    limit, marker = int(sys.argv[1]), sys.argv[2]
    landed = []
    started = [0]
    in_flight = [0]
    lock = threading.Lock()
    real = api.Connection.put_batch

    def put_batch(self, workspace_id, chunks):
        with lock:
            stopped = started[0] >= limit
            started[0] += 1
            in_flight[0] += not stopped
        if stopped:
            threading.Event().wait()      # until SIGKILL
        answered = False
        try:
            real(self, workspace_id, chunks)
            answered = True
        finally:
            with lock:
                in_flight[0] -= 1
                landed.extend(chunks if answered else [])
                if not in_flight[0]:
                    with open(marker + '.tmp', 'w') as out:
                        out.write('\\n'.join(landed))
                    os.rename(marker + '.tmp', marker)
        threading.Event().wait()

    api.Connection.put_batch = put_batch
    sys.exit(cli.main(sys.argv[3:]))
''')


@pytest.fixture
def user(cluster, stores, tmp_path):
    client = APIClient(cluster, stores, 'resume-%s' % tmp_path.name[-8:])
    key, consumer_secret, token, secret = client.auth
    client.config = str(tmp_path / 'config')
    credentials.save_credentials(
        {'url': cluster.url, 'consumer_key': key,
         'consumer_secret': consumer_secret, 'token': token,
         'token_secret': secret, 'user': client.user['name']},
        client.config)
    yield client
    client.close()


@pytest.fixture
def sent(monkeypatch):
    """The names of the chunks this process PUTs, in order."""
    names = []
    real = api.Connection.put_batch

    def put_batch(self, workspace_id, chunks):
        real(self, workspace_id, chunks)
        names.extend(chunks)
    monkeypatch.setattr(api.Connection, 'put_batch', put_batch)
    return names


def sync_argv(user, folder, device='laptop'):
    return ['sync', str(folder), '--config', user.config, '--device',
            device, '--no-progress']


def kill_mid_upload(user, folder, tmp_path):
    """Run a sync in its own process and SIGKILL it mid-upload; the
    names of the chunks whose batch request succeeded."""
    launcher = tmp_path / 'launcher.py'
    launcher.write_text(LAUNCHER)
    marker = tmp_path / 'landed'
    process = subprocess.Popen(
        [sys.executable, str(launcher), str(BATCHES_BEFORE_KILL),
         str(marker)] + sync_argv(user, folder),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + MARKER_WAIT
        while not marker.exists() and process.poll() is None and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), process.communicate(timeout=60)[0]
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    return set(marker.read_text().split())


def chunk_names(data):
    return [chunk.name for chunk in chunking.iter_chunks(io.BytesIO(data))]


def container(user):
    found, = [space['container']
              for space in user.get('/v1/workspaces').json()
              if space['id'] == user.workspace_id]
    return found


def stored_chunks(cluster, user, names=None):
    """The chunks Swift holds in the user's workspace container: of
    ``names`` (in packs the chunk index names, else objects fetched by
    name), or every one its listing shows."""
    if names is None:
        return set(apiclient.stored_chunks(
            faults.stored_objects(cluster, container(user))))
    chunks = faults.StoredChunks(cluster, container(user))
    return {name for name in names if name in chunks}


def test_a_killed_upload_resumes_without_resending(user, cluster,
                                                   tmp_path, sent):
    folder = tmp_path / 'one'
    folder.mkdir()
    files = {'f%d.bin' % n: os.urandom(FILE_SIZE) for n in range(FILES)}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    every = {name for data in files.values() for name in chunk_names(data)}

    reported = kill_mid_upload(user, folder, tmp_path)
    landed = stored_chunks(cluster, user, every)
    assert landed == reported
    assert LANDED_BEFORE_KILL <= len(landed) < len(every)
    assert user.get('/v1/workspace/%d/changes' % user.workspace_id
                    ).json()['entries'] == []     # nothing committed

    out, err = io.StringIO(), io.StringIO()
    assert cli.main(sync_argv(user, folder), out, err) == 0, \
        err.getvalue()
    # Only what had not landed was sent, each chunk once.
    assert sorted(sent) == sorted(every - landed)
    assert stored_chunks(cluster, user) == every

    entries = user.get('/v1/workspace/%d/changes' % user.workspace_id
                       ).json()['entries']
    assert sorted(entry['filename'] for entry in entries) == sorted(files)
    for entry in entries:
        data = files[entry['filename']]
        assert entry['content_hash'] == hashlib.sha256(data).hexdigest()
        assert entry['size'] == len(data)
        assert entry['chunks'] == chunk_names(data)
        assert entry['version'] == 1
        got = user.get('/v1/file/%d/data' % entry['id'])
        assert got.content == data

    # A second folder syncs down the same files and nothing else.
    other = tmp_path / 'two'
    assert cli.main(sync_argv(user, other, device='desktop'),
                    io.StringIO(), err) == 0, err.getvalue()
    assert {name: (other / name).read_bytes()
            for name in os.listdir(other) if name != '.stacksync'} == files
