"""``stacksync-swift gc`` on a real all-in-one.

The cluster of this module sets ``gc_grace = 4`` (seconds), so its proxy
forgets what it learned of stored chunks after one second, and the tests
can wait out the grace period instead of a day. What must hold:

* the command frees what nothing needs (uploads never committed, versions
  past ``keep_versions_days``, mostly dead packs, the container of a
  deleted workspace) and reports it, while every live version still reads
  back byte for byte;
* a commit that names a chunk garbage collection dropped after the client
  looked is refused with ``missing_chunks``, and the client's retry (send
  the chunk again, commit again) completes;
* gc racing 8 uploaders for 60 s loses nothing: every version the server
  acknowledged reads back byte for byte (:func:`faults.audit`).
"""

import copy
import datetime
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import update

from stacksync_swift import packs
from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ItemVersion
from stacksync_swift.metadata.models import utcnow
from tests.functional import apiclient
from tests.functional import faults
from tests.functional.apiclient import chunk_name

GRACE = 4
RACE_SECONDS = 60
UPLOADERS = 8
BATCH_TYPE = {'Content-Type': 'application/vnd.stacksync.chunks'}
DEVICE = {'X-StackSync-Device': 'laptop'}


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    with faults.running(tmp_path_factory, 'gc',
                        filter_options={'gc_grace': str(GRACE)}) as running:
        yield running


def run_gc(cluster, *options):
    """``stacksync-swift gc`` as an operator runs it; its printed lines."""
    done = subprocess.run(
        [sys.executable, '-m', 'stacksync_swift.cli', '--config',
         cluster.proxy_conf_path(), 'gc', *options],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def figure(lines, prefix, position=0):
    """The ``position``-th number on the report line starting ``prefix``."""
    line, = [line for line in lines if line.startswith(prefix)]
    return [int(number) for number in re.findall(r'\d+', line)][position]


def send_chunks(client, chunks):
    """Store ``chunks`` ({name: bytes}) in one batch request."""
    index = {'chunks': [{'name': name, 'size': len(data)}
                        for name, data in chunks.items()]}
    body = json.dumps(index).encode() + b'\n' + b''.join(chunks.values())
    resp = client.post('/v1/workspace/%d/chunks' % client.workspace_id,
                       data=body, headers=BATCH_TYPE)
    assert resp.status_code == 200, resp.text


def commit(client, items):
    resp = client.post('/v1/workspace/%d/commit' % client.workspace_id,
                       json=items, headers=DEVICE)
    assert resp.status_code == 200, resp.text
    return resp.json()['results']


def new_file(name, datas):
    content = b''.join(datas)
    return {'filename': name, 'parent_id': None, 'is_folder': False,
            'size': len(content), 'chunks': [chunk_name(d) for d in datas],
            'content_hash': hashlib.sha256(content).hexdigest()}


def pack_objects(cluster, container):
    conn = faults.admin_swift(cluster)
    try:
        return {entry['name']: entry['bytes'] for entry in
                conn.get_container(container, full_listing=True)[1]
                if packs.is_pack_name(entry['name'])}
    finally:
        conn.close()


def container_of(client):
    return client.get('/v1/workspace/%d' % client.workspace_id
                      ).json()['container']


def test_gc_frees_what_nothing_needs_and_keeps_every_live_byte(
        cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    bob = apiclient.person(cluster, stores, 'bob')
    container = container_of(alice)
    # One pack: 3 MiB that a version will stop needing and 1 MiB that
    # stays; a second pack of chunks never committed; a third file that
    # bob's workspace holds.
    old = [os.urandom(1024 * 1024) for _ in range(3)]
    kept = os.urandom(1024 * 1024)
    send_chunks(alice, {chunk_name(d): d for d in old + [kept]})
    forgotten = [os.urandom(200 * 1024) for _ in range(3)]
    send_chunks(alice, {chunk_name(d): d for d in forgotten})
    first, keeper = commit(alice, [new_file('doc.bin', old),
                                   new_file('keep.bin', [kept])])
    doc, keep = first['item'], keeper['item']
    newer = os.urandom(300 * 1024)
    doc_v2 = alice.put('/v1/file/%d/data' % doc['id'], data=newer).json()
    bob.upload(b'bob was here', name='bob.txt')
    bob_container = container_of(bob)
    stores.metadata.delete_user(bob.user['id'])
    # Version 1 of doc.bin was replaced 40 days ago.
    with db.session(stores.engine) as session:
        session.execute(update(ItemVersion).where(
            ItemVersion.item_id == doc['id'], ItemVersion.version == 2)
            .values(created_at=utcnow() - datetime.timedelta(days=40)))
    before = pack_objects(cluster, container)
    time.sleep(GRACE + 1)

    report = run_gc(cluster, '--keep-versions-days', '30')

    assert figure(report, 'History:') == 1
    assert figure(report, 'Uploads never committed:', 0) == 3
    assert figure(report, 'Uploads never committed:', 1) == 600 * 1024
    # Condemned now; dropped a grace period later (the next run).
    assert figure(report, 'Chunks:', 0) == 6
    assert figure(report, 'Chunks:', 1) == 0
    assert figure(report, 'Containers of deleted') == 1
    assert bob_container not in [c['name'] for c in faults.admin_swift(
        cluster).get_account(full_listing=True)[1]]
    time.sleep(GRACE + 1)

    report = run_gc(cluster, '--keep-versions-days', '30')
    assert figure(report, 'Chunks:', 1) == 6
    assert figure(report, 'Chunks:', 2) == 3 * 1024 * 1024 + 600 * 1024
    # The pack of forgotten chunks is deleted; the pack of old + kept
    # holds 1 of its 4 MiB: kept is copied to a new pack.
    assert figure(report, 'Packs:', 0) == 1
    assert figure(report, 'Packs:', 3) == 1
    assert figure(report, 'Packs:', 4) == len(kept)
    time.sleep(GRACE + 1)

    # The next run deletes the retired pack.
    report = run_gc(cluster)
    assert figure(report, 'Packs:', 0) == 1
    after = pack_objects(cluster, container)
    assert sum(after.values()) < sum(before.values()) - 3 * 1024 * 1024
    assert max(before, key=before.get) not in after

    # Everything live reads back, and the index matches Swift.
    assert alice.get('/v1/file/%d/data' % keep['id']).content == kept
    assert alice.get('/v1/file/%d/data' % doc['id']).content == newer
    history = alice.get('/v1/file/%d/versions' % doc['id']).json()
    assert [v['version'] for v in history] == [doc_v2['version']]
    assert faults.audit_index(cluster, container) >= 2


def test_a_commit_after_its_chunk_was_dropped_is_refused_then_retried(
        cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    data = os.urandom(100 * 1024)
    name = chunk_name(data)
    send_chunks(alice, {name: data})
    time.sleep(GRACE + 1)
    run_gc(cluster)        # the upload expired: condemned
    # A client that saw the chunk stored before gc ran commits now; in
    # between, the grace period passed and a run dropped the chunk.
    time.sleep(GRACE + 1)
    run_gc(cluster)
    result, = commit(alice, [new_file('late.bin', [data])])
    assert result['result'] == 'error'
    assert result['error'] == 'missing_chunks'
    missing = alice.post('/v1/workspace/%d/chunks/missing'
                         % alice.workspace_id, json={'names': [name]})
    assert missing.json()['missing'] == [name]

    send_chunks(alice, {name: data})
    result, = commit(alice, [new_file('late.bin', [data])])
    assert result['result'] == 'committed'
    assert alice.get('/v1/file/%d/data' % result['item']['id']
                     ).content == data


class Uploader(threading.Thread):
    """Stores and commits files until told to stop; some of its uploads
    wait past the grace period before their commit, and some content
    comes back after its file was deleted (dedup against chunks gc may
    be taking)."""

    def __init__(self, client, seed, ledger, stop):
        super().__init__(daemon=True)
        self.client, self.ledger, self.stop = client, ledger, stop
        self.random = random.Random(seed)
        self.seen = []
        self.errors = []
        self.retries = 0

    def run(self):
        try:
            while not self.stop.is_set():
                self.one_file()
        except Exception as error:      # reported by the test
            self.errors.append(error)

    def content(self):
        if self.seen and self.random.random() < 0.3:
            return self.random.choice(self.seen)
        datas = [self.random.randbytes(self.random.randint(1, 300) * 1024)
                 for _ in range(self.random.randint(1, 3))]
        self.seen.append(datas)
        return datas

    def one_file(self):
        datas = self.content()
        chunks = {chunk_name(d): d for d in datas}
        name = 'f-%d.bin' % self.random.getrandbits(48)
        for _attempt in range(5):
            missing = self.client.post(
                '/v1/workspace/%d/chunks/missing' % self.client.workspace_id,
                json={'names': list(chunks)}).json()['missing']
            if missing:
                send_chunks(self.client, {n: chunks[n] for n in missing})
            if self.random.random() < 0.15:
                time.sleep(self.random.uniform(0, 2.5 * GRACE))
            result, = commit(self.client, [new_file(name, datas)])
            if result['result'] == 'committed':
                break
            assert result['error'] == 'missing_chunks', result
            self.retries += 1
        else:
            raise AssertionError('five commits of %s refused' % name)
        item = result['item']
        self.ledger.acknowledge(item)
        if self.random.random() < 0.3:
            resp = self.client.delete('/v1/file/%d' % item['id'])
            assert resp.status_code == 200, resp.text
            self.ledger.acknowledge(resp.json())


class Ledger:
    def __init__(self):
        self.lock = threading.Lock()
        self.acknowledged = {}

    def acknowledge(self, item):
        with self.lock:
            self.acknowledged.setdefault(item['id'], {})[
                item['version']] = item['content_hash']


def test_gc_racing_eight_uploaders_loses_nothing(cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    container = container_of(alice)
    ledger, stop = Ledger(), threading.Event()
    uploaders = []
    for seed in range(UPLOADERS):
        # One OAuth session per thread: requests sessions are not
        # thread-safe.
        client = copy.copy(alice)
        client.session = alice.new_session()
        uploaders.append(Uploader(client, seed, ledger, stop))
    dropped = deleted = runs = 0
    for uploader in uploaders:
        uploader.start()
    deadline = time.monotonic() + RACE_SECONDS
    while time.monotonic() < deadline:
        # The operator's command, run back to back as cron never would.
        report = run_gc(cluster, '--container', container)
        runs += 1
        dropped += figure(report, 'Chunks:', 1)
        deleted += figure(report, 'Packs:', 0)
    stop.set()
    for uploader in uploaders:
        uploader.join(120)
    assert [u.errors for u in uploaders] == [[]] * UPLOADERS
    print('gc race: %d runs, %d chunks dropped, %d packs deleted, %d '
          'refused commits retried' % (runs, dropped, deleted, sum(
              u.retries for u in uploaders)))
    # The race did happen: gc dropped chunks while uploads ran.
    assert dropped > 0
    assert sum(len(versions) for versions in
               ledger.acknowledged.values()) > 50

    assert faults.audit(cluster, alice, alice.workspace_id, ledger) > 50
    faults.check_downloads(alice, faults.all_items(
        alice, alice.workspace_id).values())


def test_repack_moves_chunk_objects_into_packs_and_gc_then_collects_them(
        cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    container = container_of(alice)
    # Chunks stored one object each, as before packs, and as a raw Swift
    # client (the original StackSync one) still stores them.
    datas = [os.urandom(1024 * 1024), os.urandom(1024 * 1024),
             os.urandom(4)]
    dead = os.urandom(50 * 1024)
    for data in datas + [dead]:
        resp = alice.session.put(apiclient.raw_url(
            cluster, container, chunk_name(data)), data=data)
        assert resp.status_code == 201, resp.text
    result, = commit(alice, [new_file('old.bin', datas)])
    assert result['result'] == 'committed', result
    time.sleep(GRACE + 1)

    done = subprocess.run(
        [sys.executable, '-m', 'stacksync_swift.cli', '--config',
         cluster.proxy_conf_path(), 'chunk-index', 'repack'],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    total = done.stdout.splitlines()[-1]
    assert [int(n) for n in re.findall(r'\d+', total)][1:4] == [
        4, 4, 2 * 1024 * 1024 + 4 + 50 * 1024], total

    conn = faults.admin_swift(cluster)
    names = [entry['name'] for entry in
             conn.get_container(container, full_listing=True)[1]]
    conn.close()
    assert names and all(packs.is_pack_name(name) for name in names)
    assert faults.audit_index(cluster, container) == 4
    assert alice.get('/v1/file/%d/data' % result['item']['id']
                     ).content == b''.join(datas)

    # The unreferenced one is now garbage like any packed chunk: its new
    # pack ages, it is condemned, and dropped a grace period later.
    time.sleep(GRACE + 1)
    assert figure(run_gc(cluster), 'Chunks:', 0) == 1
    time.sleep(GRACE + 1)
    report = run_gc(cluster)
    assert figure(report, 'Chunks:', 1) >= 1
    assert chunk_name(dead) not in faults.chunk_locations(cluster, container)
    assert alice.get('/v1/file/%d/data' % result['item']['id']
                     ).content == b''.join(datas)


def shared_folder(alice, bob, size=1024 * 1024):
    """alice's folder ``team`` with one file, proposed to bob; returns
    (folder id, file meta, data, proposal id)."""
    folder = alice.post('/v1/folder', json={'name': 'team-%d' % random.
                                            getrandbits(32)}).json()
    data = os.urandom(size)
    meta = alice.upload(data, name='report.bin', parent=folder['id'])
    resp = alice.post('/v1/folder/%d/share' % folder['id'],
                      json={'users': [bob.user['name']], 'role': 'editor'})
    assert resp.status_code == 201, resp.text
    return folder['id'], meta, data, resp.json()['proposals'][0]['id']


def test_an_accepted_share_is_copied_after_the_answer(cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    bob = apiclient.person(cluster, stores, 'bob')
    _folder, meta, data, proposal = shared_folder(alice, bob)

    resp = bob.post('/v1/proposal/%d/accept' % proposal)
    assert resp.status_code == 200, resp.text
    workspace = resp.json()['workspace']
    assert bob.get('/v1/file/%d/data' % meta['id']).content == data
    # The copy runs in the proxy after the answer; it ends soon.
    apiclient.wait_for_copy(bob, workspace['id'])
    assert faults.audit_index(cluster, workspace['container']) >= 1
    assert set(meta['chunks']) <= set(faults.chunk_locations(
        cluster, workspace['container']))
    assert bob.get('/v1/file/%d/data' % meta['id']).content == data


def test_a_share_reads_from_its_source_until_copied_and_gc_keeps_it(
        cluster, stores):
    alice = apiclient.person(cluster, stores, 'alice')
    bob = apiclient.person(cluster, stores, 'bob')
    source = container_of(alice)
    _folder, meta, data, proposal = shared_folder(alice, bob)
    # An accept whose copy never ran (its proxy stopped right after).
    container = 'ws-' + os.urandom(16).hex()
    conn = faults.admin_swift(cluster)
    conn.put_container(container)
    conn.close()
    result = stores.metadata.accept_proposal(bob.user['id'], proposal,
                                             container, copy_later=True)
    assert result['workspace']['copy_source'] == source

    # Readable at once, from the source's packs.
    assert bob.get('/v1/file/%d/data' % meta['id']).content == data
    ranged = bob.get('/v1/file/%d/data' % meta['id'],
                     headers={'Range': 'bytes=1000-1999'})
    assert ranged.status_code == 206 and ranged.content == data[1000:2000]
    # alice's workspace no longer references the chunks, but the copy
    # still needs them: gc runs over her container (which finish only the
    # copies into the containers they are given) leave them.
    for _run in range(2):
        time.sleep(GRACE + 1)
        report = run_gc(cluster, '--container', source)
        assert figure(report, 'Chunks:', 0) == figure(
            report, 'Chunks:', 1) == 0
        assert figure(report, 'Copies of shared folders finished') == 0
    assert bob.get('/v1/file/%d/data' % meta['id']).content == data

    # sharing-reconcile (and gc) finish copies a proxy left undone.
    done = subprocess.run(
        [sys.executable, '-m', 'stacksync_swift.cli', '--config',
         cluster.proxy_conf_path(), 'sharing-reconcile'],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert 'Finished copying the history of workspace %d' % result[
        'workspace']['id'] in done.stdout
    assert stores.metadata.pending_copies() == []
    assert set(meta['chunks']) <= set(faults.chunk_locations(cluster,
                                                             container))
    # Now alice's copies are garbage, and bob reads his own.
    for _run in range(3):
        time.sleep(GRACE + 1)
        run_gc(cluster, '--container', source)
    assert not set(meta['chunks']) & set(faults.chunk_locations(cluster,
                                                                source))
    assert bob.get('/v1/file/%d/data' % meta['id']).content == data
