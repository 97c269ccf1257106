"""The chunk store against the real all-in-one cluster.

The proxy pipeline is loaded in this process from the cluster's own
``proxy-server.conf``; the :class:`~stacksync_swift.storage.ChunkStore`
gets the part below ``stacksync_api`` (copy, slo, ..., proxy-server), as the
API filter will give it, and its subrequests reach the real account,
container and object servers. Results are checked as the installation
admin with python-swiftclient over HTTP.
"""

import hashlib
import io
import json
import random
import tracemalloc
import uuid

import pytest
from swiftclient import client as swiftclient

from stacksync_swift import chunking
from stacksync_swift import storage
from stacksync_swift.chunking import MiB
from stacksync_swift.middleware.api import StackSyncAPI
from tests.functional.conftest import GeneratedStream


@pytest.fixture(scope='module')
def store(cluster, pipeline):
    # Without a chunk index: one object per chunk, as before packs (and
    # still readable, see test_packs.py).
    api, = [f for f in pipeline if isinstance(f, StackSyncAPI)]
    return storage.ChunkStore(api.app, cluster.storage_account)


@pytest.fixture
def workspace(store, env):
    name = 'ws-' + uuid.uuid4().hex
    store.create_container(env, name, None, None)
    return name


def object_count(admin, container):
    return int(admin.head_container(container)['x-container-object-count'])


def test_create_container_with_acls(store, env, admin):
    name = 'ws-' + uuid.uuid4().hex
    assert store.create_container(env, name, 'test:tester', 'test:tester')
    headers = admin.head_container(name)
    assert headers['x-container-read'] == 'test:tester'
    assert headers['x-container-write'] == 'test:tester'
    # Idempotent: a second create converges to the ACLs given.
    assert not store.create_container(env, name, 'test:tester,test2:tester2',
                                      'test:tester')
    store.set_acls(env, name, None, 'test2:tester2')
    assert store.get_acls(env, name) == ('test:tester,test2:tester2',
                                         'test2:tester2')


def test_put_chunk_is_write_once(store, env, admin, workspace):
    data = b'the original bytes'
    name = chunking.chunk_name(data)
    assert store.put_chunk(env, workspace, name, data) is True
    assert store.chunk_exists(env, workspace, name)
    # Even unverified (as for an encrypted workspace), nothing overwrites.
    assert store.put_chunk(env, workspace, name, b'other', verify=False) \
        is False
    assert admin.get_object(workspace, name)[1] == data
    with pytest.raises(storage.ChunkNameMismatch):
        store.put_chunk(env, workspace, name, b'other')


@pytest.mark.parametrize('chunk_etag', [False, True])
def test_swift_records_the_md5_with_or_without_chunk_etag(
        pipeline, cluster, env, admin, workspace, chunk_etag):
    api, = [f for f in pipeline if isinstance(f, StackSyncAPI)]
    store = storage.ChunkStore(api.app, cluster.storage_account,
                               chunk_etag=chunk_etag)
    data = random.Random(chunk_etag).randbytes(MiB)
    name = chunking.chunk_name(data)
    assert store.put_chunk(env, workspace, name, data) is True
    # The object server hashes what it received either way (its auditor
    # checks the disk against that); the option only decides whether the
    # proxy's own MD5 is compared with it before the write is accepted.
    headers, stored = admin.get_object(workspace, name)
    assert headers['etag'] == hashlib.md5(
        data, usedforsecurity=False).hexdigest()
    assert stored == data


def test_a_client_query_cannot_make_a_chunk_a_manifest(store, env, admin,
                                                       workspace):
    segment = b'someone else\'s chunk'
    store.put_chunk(env, workspace, chunking.chunk_name(segment), segment)
    manifest = json.dumps([{'path': '/%s/%s' % (
        workspace, chunking.chunk_name(segment))}]).encode()
    env = dict(env, QUERY_STRING='name=f&multipart-manifest=put')
    name = chunking.chunk_name(manifest)
    assert store.put_chunk(env, workspace, name, manifest)
    headers, stored = admin.get_object(workspace, name)
    assert 'x-static-large-object' not in headers
    assert stored == manifest
    assert b''.join(store.read_chunk(env, workspace, name)) == manifest


def test_store_and_read_back_50_mib(store, env, workspace):
    data = random.Random(50).randbytes(50 * MiB)
    result = store.store_stream(env, workspace, io.BytesIO(data), len(data))
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert 30 <= len(result.chunks) <= 70
    assert result.new_chunks == len(result.chunks)
    read_back = hashlib.sha256()
    for piece in store.iter_content(env, workspace, result.chunks):
        read_back.update(piece)
    assert read_back.hexdigest() == result.sha256
    boundaries = [0]
    for _name, size in result.chunks:
        boundaries.append(boundaries[-1] + size)
    b1, b2 = boundaries[3], boundaries[5]
    for start, end in [(b1 - 10, b1 + 10), (b1, b2), (b1 - 1, b2 + 1),
                       (b1 + 5, b1 + 6), (len(data) - 7, None),
                       (12345, 12345 + 3 * MiB)]:
        got = b''.join(store.iter_content(env, workspace, result.chunks,
                                          start, end))
        assert got == data[start:end], (start, end)


def test_second_store_uploads_nothing_new(store, env, admin, workspace):
    data = random.Random(7).randbytes(6 * MiB)
    first = store.store_stream(env, workspace, GeneratedStream(6 * MiB, 7))
    assert first.sha256 == hashlib.sha256(data).hexdigest()
    count = object_count(admin, workspace)
    assert count == len(first.chunks)
    second = store.store_stream(env, workspace, GeneratedStream(6 * MiB, 7))
    assert second.chunks == first.chunks
    assert (second.new_chunks, second.new_bytes) == (0, 0)
    assert object_count(admin, workspace) == count


def test_an_edited_file_uploads_few_chunks(store, env, workspace):
    data = random.Random(8).randbytes(16 * MiB)
    edited = data[:8 * MiB] + b'inserted' + data[8 * MiB:]
    first = store.store_stream(env, workspace, io.BytesIO(data))
    second = store.store_stream(env, workspace, io.BytesIO(edited))
    assert second.new_chunks <= 3 < len(first.chunks)


def test_corrupt_chunk_is_detected_on_read(store, env, admin, workspace):
    data = b'good bytes'
    name = chunking.chunk_name(data)
    admin.put_object(workspace, name, b'evil bytes')   # behind our back
    with pytest.raises(storage.CorruptChunk):
        b''.join(store.iter_content(env, workspace, [(name, len(data))]))


def test_copy_chunk_into_another_workspace(store, env, admin, workspace):
    data = random.Random(9).randbytes(MiB)
    name = chunking.chunk_name(data)
    store.put_chunk(env, workspace, name, data)
    other = 'ws-' + uuid.uuid4().hex
    store.create_container(env, other, None, None)
    assert store.copy_chunk(env, workspace, other, name) is True
    assert admin.get_object(other, name)[1] == data
    assert store.copy_chunk(env, workspace, other, name) is False
    missing = chunking.chunk_name(b'missing')
    with pytest.raises(storage.StorageError) as caught:
        store.copy_chunk(env, workspace, other, missing)
    assert caught.value.status == 404


def test_delete_container_with_many_objects(store, env, admin, workspace,
                                            monkeypatch):
    monkeypatch.setattr(storage, 'LISTING_LIMIT', 3)
    for i in range(8):
        data = b'%d' % i
        store.put_chunk(env, workspace, chunking.chunk_name(data), data)
    store.delete_container(env, workspace)
    with pytest.raises(swiftclient.ClientException) as caught:
        admin.head_container(workspace)
    assert caught.value.http_status == 404
    store.delete_container(env, workspace)      # already gone: fine


def test_store_stream_memory_stays_flat(store, env, workspace):
    size = 256 * MiB
    stream = GeneratedStream(size, seed=256)
    tracemalloc.start()
    try:
        result = store.store_stream(env, workspace, stream, size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == size
    assert result.sha256 == stream.hash.hexdigest()
    # FastCDC's 8 MiB buffer, one chunk of at most 4 MiB and the proxy's
    # read buffers (measured: 12 MiB; 46 MiB when subrequest inputs were
    # left to the garbage collector). A bound on memory, not a timing.
    assert peak < 32 * MiB, 'peak %.1f MiB' % (peak / MiB)


def test_download_memory_stays_flat_with_prefetch(store, env, workspace):
    size = 64 * MiB
    stream = GeneratedStream(size, seed=64)
    result = store.store_stream(env, workspace, stream, size)
    read_back = hashlib.sha256()
    tracemalloc.start()
    try:
        for piece in store.iter_content(env, workspace, result.chunks):
            read_back.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert store.prefetch >= 1
    assert read_back.hexdigest() == stream.hash.hexdigest()
    # Every chunk is checked whole before its first byte is sent, so the
    # proxy holds the chunk being sent and the ones fetched ahead, each of
    # at most MAX_SIZE (and, for a moment, the pieces a chunk is joined
    # from): flat in the file's size (measured: 6 MiB for 64 MiB). A bound
    # on memory, not a timing.
    assert peak < (2 + store.prefetch) * chunking.MAX_SIZE, \
        'peak %.1f MiB' % (peak / MiB)


def test_missing_chunks_from_the_listing_of_real_swift(cluster, pipeline,
                                                        env, admin,
                                                        workspace):
    """Chunks this proxy never saw (stored by another proxy): many names
    are answered from the container listing, and what it lists is then
    known with its size."""
    api, = [f for f in pipeline if isinstance(f, StackSyncAPI)]
    fresh = storage.ChunkStore(api.app, cluster.storage_account)
    stored = [b'stored %d' % i for i in range(110)]
    for data in stored:
        admin.put_object(workspace, chunking.chunk_name(data), data)
    new = sorted(chunking.chunk_name(b'new %d' % i) for i in range(40))
    names = sorted(new + [chunking.chunk_name(d) for d in stored])
    assert storage.LISTING_MIN_NAMES <= len(names)
    assert fresh.missing_chunks(env, workspace, names) == new
    assert fresh.chunk_sizes(env, workspace, [
        chunking.chunk_name(d) for d in stored]) == [len(d) for d in stored]
    # A few names: HEADs, same answer.
    few = new[:2] + [chunking.chunk_name(stored[0])]
    assert storage.ChunkStore(api.app, cluster.storage_account) \
        .missing_chunks(env, workspace, sorted(few)) == sorted(new[:2])
