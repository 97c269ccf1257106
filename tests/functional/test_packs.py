"""Packs against the real all-in-one: many chunks per Swift object.

The store is the API filter's own :class:`~stacksync_swift.storage.
ChunkStore`, loaded in this process from the cluster's
``proxy-server.conf``, with the chunk index in the cluster's metadata
database. What Swift holds is checked as the installation admin over HTTP.
"""

import hashlib
import subprocess
import sys
import tracemalloc
import uuid

import pytest
from sqlalchemy import delete

from stacksync_swift import chunking
from stacksync_swift import packs
from stacksync_swift import storage
from stacksync_swift.chunking import MiB
from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ChunkLocation
from stacksync_swift.metadata.models import Pack
from stacksync_swift.middleware.api import StackSyncAPI
from tests.functional.conftest import GeneratedStream


@pytest.fixture(scope='module')
def api(pipeline):
    found, = [f for f in pipeline if isinstance(f, StackSyncAPI)]
    return found


@pytest.fixture(scope='module')
def store(api):
    assert api.storage.index is not None
    return api.storage


@pytest.fixture
def workspace(store, env):
    name = 'ws-' + uuid.uuid4().hex
    store.create_container(env, name, None, None)
    return name


def listing(admin, container):
    return admin.get_container(container, full_listing=True)[1]


def pack_names(admin, container):
    return [entry['name'] for entry in listing(admin, container)
            if packs.is_pack_name(entry['name'])]


def fresh_store(api):
    """A second store on the same index: another proxy process, which has
    remembered nothing."""
    return storage.ChunkStore(api.app, api.storage.account,
                              index=api.storage.index)


def drop_index(api, container):
    with db.session(api.services.engine) as session:
        session.execute(delete(ChunkLocation).where(
            ChunkLocation.container == container))
        session.execute(delete(Pack).where(Pack.container == container))


def test_an_upload_stores_its_chunks_in_few_packs(store, env, admin,
                                                  workspace):
    size = 40 * MiB
    stream = GeneratedStream(size, seed=40)
    stored = store.store_stream(env, workspace, stream, size)
    assert stored.size == size and stored.sha256 == stream.hash.hexdigest()
    assert stored.new_chunks == len(stored.chunks) > 30
    objects = listing(admin, workspace)
    # 40 MiB in packs of at most 16 MiB: 3 objects, not one per chunk.
    assert len(objects) == 3
    assert all(packs.is_pack_name(entry['name']) for entry in objects)
    assert max(entry['bytes'] for entry in objects) <= store.pack_size
    # Each pack is its own index: its chunks hash to their names.
    held = {}
    for entry in objects:
        for name, body in packs.split(admin.get_object(workspace,
                                                       entry['name'])[1]):
            assert chunking.chunk_name(body) == name
            held[name] = len(body)
    assert held == dict(stored.chunks)


def test_reads_of_packed_chunks_match_the_upload(api, env, workspace):
    size = 20 * MiB
    stream = GeneratedStream(size, seed=20)
    stored = api.storage.store_stream(env, workspace, stream, size)
    reader = fresh_store(api)
    whole = hashlib.sha256()
    for piece in reader.iter_chunks(env, workspace, stored.names):
        whole.update(piece)
    assert whole.hexdigest() == stored.sha256
    content = b''.join(reader.iter_content(env, workspace, stored.chunks))
    for start, end in ((0, 1), (5, 3 * MiB + 7), (size - 10, size),
                       (7 * MiB, 15 * MiB)):
        got = b''.join(reader.iter_content(env, workspace, stored.chunks,
                                           start, end))
        assert got == content[start:end]


def test_adjacent_chunks_are_read_with_one_ranged_get(api, env, workspace,
                                                      monkeypatch):
    size = 12 * MiB
    stored = api.storage.store_stream(env, workspace,
                                      GeneratedStream(size, seed=12), size)
    reader = fresh_store(api)
    ranges = []
    real = reader._open_range

    def counting(env, container, pack, start, end):
        ranges.append((pack, start, end))
        return real(env, container, pack, start, end)

    monkeypatch.setattr(reader, '_open_range', counting)
    assert sum(len(piece) for piece in reader.iter_chunks(
        env, workspace, stored.names)) == size
    # One pack, its chunks back to back: one request for the whole file.
    assert len(ranges) == 1 and ranges[0][1:] == (0, size)


def test_uploading_the_same_content_again_stores_nothing(store, env, admin,
                                                         workspace):
    size = 6 * MiB
    first = store.store_stream(env, workspace, GeneratedStream(size, 6),
                               size)
    before = listing(admin, workspace)
    again = fresh_store_of(store).store_stream(
        env, workspace, GeneratedStream(size, 6), size)
    assert again.chunks == first.chunks
    assert again.new_chunks == 0 and not any(again.written)
    assert listing(admin, workspace) == before


def fresh_store_of(store):
    return storage.ChunkStore(store.app, store.account, index=store.index)


def test_repeated_chunks_in_one_upload_are_stored_once(store, env,
                                                       workspace):
    block = GeneratedStream(2 * MiB, seed=2).read(2 * MiB)
    data = block * 4

    class Reader:
        offset = 0

        def read(self, n):
            piece = data[self.offset:self.offset + n]
            self.offset += len(piece)
            return piece

    stored = store.store_stream(env, workspace, Reader(), len(data))
    names = stored.names
    assert len(set(names)) < len(names)
    assert stored.new_chunks == len(set(names))
    assert b''.join(fresh_store_of(store).iter_chunks(
        env, workspace, names)) == data


def test_sizes_and_missing_come_from_the_index(store, env, workspace):
    stored = store.store_stream(env, workspace,
                                GeneratedStream(3 * MiB, 3), 3 * MiB)
    absent = chunking.chunk_name(b'never stored')
    reader = fresh_store_of(store)
    sizes = reader.chunk_sizes(env, workspace, stored.names + [absent],
                               fresh=True)
    assert sizes == [size for _name, size in stored.chunks] + [None]
    assert reader.missing_chunks(env, workspace,
                                 stored.names + [absent]) == [absent]
    assert reader.chunk_exists(env, workspace, stored.names[0])


def test_chunks_stored_one_per_object_stay_readable(api, env, admin,
                                                    workspace):
    """Data from before packs: chk- objects, no index rows."""
    legacy = storage.ChunkStore(api.app, api.storage.account)
    old = legacy.store_stream(env, workspace, GeneratedStream(3 * MiB, 31),
                              3 * MiB)
    assert all(chunking.is_chunk_name(entry['name'])
               for entry in listing(admin, workspace))
    new = api.storage.store_stream(env, workspace,
                                   GeneratedStream(3 * MiB, 32), 3 * MiB)
    mixed = old.chunks + new.chunks
    reader = fresh_store(api)
    expected = b''.join(fresh_store(api).iter_chunks(
        env, workspace, [name for name, _size in mixed]))
    assert hashlib.sha256(expected[:3 * MiB]).hexdigest() == old.sha256
    assert hashlib.sha256(expected[3 * MiB:]).hexdigest() == new.sha256
    assert b''.join(reader.iter_content(env, workspace, mixed, MiB,
                                        5 * MiB)) == expected[MiB:5 * MiB]
    assert reader.missing_chunks(env, workspace,
                                 [name for name, _size in mixed]) == []


def test_a_damaged_chunk_in_a_pack_is_refused_and_stored_again(
        api, env, admin, workspace):
    store = api.storage
    size = 4 * MiB
    stored = store.store_stream(env, workspace, GeneratedStream(size, 44),
                                size)
    pack, = pack_names(admin, workspace)
    body = bytearray(admin.get_object(workspace, pack)[1])
    body[10] ^= 0xFF           # inside the first chunk
    # Damage on disk, as an admin could cause it (we never overwrite).
    admin.put_object(workspace, pack, bytes(body))
    reader = fresh_store(api)
    with pytest.raises(storage.CorruptChunk):
        b''.join(reader.iter_chunks(env, workspace, stored.names))
    first = stored.names[0]
    # Its row is gone: the chunk is missing until it is uploaded again.
    assert reader.missing_chunks(env, workspace, stored.names) == [first]
    again = reader.store_stream(env, workspace, GeneratedStream(size, 44),
                                size)
    assert again.written[0] and again.new_chunks == 1
    whole = hashlib.sha256()
    for piece in fresh_store(api).iter_chunks(env, workspace,
                                              stored.names):
        whole.update(piece)
    assert whole.hexdigest() == stored.sha256


def test_copy_chunks_packs_them_into_the_other_workspace(api, env, admin,
                                                         workspace):
    store = api.storage
    stored = store.store_stream(env, workspace, GeneratedStream(9 * MiB, 9),
                                9 * MiB)
    other = 'ws-' + uuid.uuid4().hex
    store.create_container(env, other, None, None)
    copied = store.copy_chunks(env, workspace, other, stored.names)
    assert copied == len(set(stored.names))
    assert len(pack_names(admin, other)) == 1
    assert store.copy_chunks(env, workspace, other, stored.names) == 0
    whole = hashlib.sha256()
    for piece in fresh_store(api).iter_chunks(env, other, stored.names):
        whole.update(piece)
    assert whole.hexdigest() == stored.sha256


def test_deleting_a_container_forgets_its_packs(api, env, workspace):
    store = api.storage
    stored = store.store_stream(env, workspace, GeneratedStream(MiB, 1),
                                MiB)
    assert store.index.packs(workspace)
    store.delete_container(env, workspace)
    assert store.index.packs(workspace) == {}
    assert store.index.locate(workspace, stored.names) == {}


def test_the_index_is_rebuilt_from_swift_alone(api, env, workspace):
    store = api.storage
    size = 20 * MiB
    stored = store.store_stream(env, workspace, GeneratedStream(size, 21),
                                size)
    before = store.index.locate(workspace, stored.names)
    drop_index(api, workspace)
    assert store.index.locate(workspace, stored.names) == {}
    report = fresh_store(api).rebuild_index(env, workspace)
    assert report == {'packs': 2, 'chunks': len(set(stored.names)),
                      'bad': 0}
    assert store.index.locate(workspace, stored.names) == before


def test_upload_memory_is_bounded_by_the_packs_in_flight(store, env,
                                                         workspace):
    size = 128 * MiB
    stream = GeneratedStream(size, seed=128)
    tracemalloc.start()
    try:
        stored = store.store_stream(env, workspace, stream, size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.sha256 == stream.hash.hexdigest()
    # (packs_in_flight + 1) packs, FastCDC's 8 MiB buffer and the proxy's
    # read buffers: a bound on memory, not a timing.
    bound = (store.packs_in_flight + 1) * store.pack_size + 16 * MiB
    assert peak < bound, 'peak %.1f MiB' % (peak / MiB)


def test_the_operator_rebuilds_a_lost_index_from_swift(api, cluster, env,
                                                       workspace):
    """``stacksync-swift chunk-index rebuild`` after the index rows of
    every container were lost (a database restored from an old backup)."""
    store = api.storage
    size = 18 * MiB
    stored = store.store_stream(env, workspace, GeneratedStream(size, 18),
                                size)
    before = store.index.locate(workspace, stored.names)
    with db.session(api.services.engine) as session:
        session.execute(delete(ChunkLocation))
        session.execute(delete(Pack))
    done = subprocess.run(
        [sys.executable, '-m', 'stacksync_swift.cli', '--state',
         cluster.state_dir, 'chunk-index', 'rebuild'],
        capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert '0 objects named like packs were not packs' in done.stdout
    assert '%s: 2 packs read, %d chunks added' % (
        workspace, len(set(stored.names))) in done.stdout
    assert store.index.locate(workspace, stored.names) == before
    whole = hashlib.sha256()
    for piece in fresh_store(api).iter_chunks(env, workspace, stored.names):
        whole.update(piece)
    assert whole.hexdigest() == stored.sha256
