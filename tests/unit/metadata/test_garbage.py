"""Garbage collection's database half: condemn, sweep, retention, uploads.

On SQLite and PostgreSQL. The chunk index rows are written as a pack's
upload writes them (:meth:`ChunkIndex.add_pack`); the collector's Swift
half is tested on a real cluster in ``tests/functional/test_gc.py``.
"""

import datetime
import hashlib

import pytest
from sqlalchemy import update

from stacksync_swift.metadata import chunkindex
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import garbage
from stacksync_swift.metadata.models import ItemVersion
from stacksync_swift.metadata.models import Pack
from stacksync_swift.metadata.models import utcnow
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import person


def chunk_of(data):
    return 'chk-' + hashlib.sha256(data).hexdigest()


@pytest.fixture
def world(service, engine):
    alice = person(service, 'alice')
    container = service.get_workspaces(alice.id)[0]['container']
    return alice, container, chunkindex.ChunkIndex(engine), \
        garbage.Garbage(engine)


def store(index, container, *bodies):
    """Record a pack holding ``bodies`` as an upload would."""
    entries, offset = [], 0
    for body in bodies:
        entries.append((chunk_of(body), offset, len(body)))
        offset += len(body)
    index.add_pack(container, 'pack-%032x' % len(index.packs(container)),
                   offset + 100, entries)
    return [name for name, _offset, _length in entries]


def later(seconds=1):
    """A cutoff after now: every pack and mark counts as old."""
    return utcnow() + datetime.timedelta(seconds=seconds)


def test_unreferenced_chunks_are_condemned_then_swept(service, world):
    alice, container, index, collector = world
    kept, dropped = store(index, container, b'kept', b'dropped')
    service.create_file(alice.id, alice.workspace, None, 'kept.txt',
                        device_id=alice.device, **content(b'kept'))

    assert collector.condemn(alice.workspace, container, later()) == (1, 0)
    # Condemned: missing to an upload, still there for a read.
    assert set(index.locate(container, [kept, dropped])) == {kept}
    assert set(index.locate(container, [kept, dropped], for_read=True)) \
        == {kept, dropped}

    assert collector.sweep(alice.workspace, container, later()) == \
        (1, len(b'dropped'), 0)
    assert set(index.locate(container, [kept, dropped], for_read=True)) \
        == {kept}


def test_young_packs_and_waiting_uploads_are_left_alone(service, engine,
                                                       world):
    alice, container, index, collector = world
    waiting, abandoned = store(index, container, b'waiting', b'abandoned')
    service.reserve_chunk(alice.workspace, waiting, len(b'waiting'))
    with db.session(engine) as session:
        session.execute(update(Pack).values(
            created_at=utcnow() - datetime.timedelta(hours=2)))
    young, = store(index, container, b'young')

    # An hour's grace: the pack of the first two is old, the upload of
    # the first is not (it waits for its commit), the third pack is new.
    cutoff = utcnow() - datetime.timedelta(hours=1)
    assert collector.condemn(alice.workspace, container, cutoff) == (1, 0)
    assert set(index.locate(container, [young, waiting, abandoned])) == \
        {young, waiting}


def test_a_commit_before_the_sweep_keeps_a_condemned_chunk(service, world):
    alice, container, index, collector = world
    name, = store(index, container, b'again')
    collector.condemn(alice.workspace, container, later())

    # A client that found the chunk before it was condemned commits it.
    service.create_file(alice.id, alice.workspace, None, 'again.txt',
                        device_id=alice.device, packed={name},
                        **content(b'again'))

    assert collector.sweep(alice.workspace, container, later()) == \
        (0, 0, 1)
    assert set(index.locate(container, [name])) == {name}


def test_a_commit_after_the_sweep_is_refused(service, world):
    alice, container, index, collector = world
    name, = store(index, container, b'gone')
    collector.condemn(alice.workspace, container, later())
    collector.sweep(alice.workspace, container, later())

    with pytest.raises(errors.MissingChunks):
        service.create_file(alice.id, alice.workspace, None, 'gone.txt',
                            device_id=alice.device, packed={name},
                            **content(b'gone'))
    outcome = service.commit(alice.id, alice.device, alice.workspace, [dict(
        client_id='c1', parent_id=None, filename='gone.txt',
        is_folder=False, **content(b'gone'))], packed={name})
    assert outcome['results'][0]['error'] == 'missing_chunks'
    assert service.list_folder(alice.id, workspace_id=alice.workspace)[
        'contents'] == []

    # The client stores it again; the new pack's row takes its place.
    store(index, container, b'gone')
    service.create_file(alice.id, alice.workspace, None, 'gone.txt',
                        device_id=alice.device, packed={name},
                        **content(b'gone'))


def test_a_new_upload_replaces_a_condemned_row(service, world):
    alice, container, index, collector = world
    name, = store(index, container, b'twice')
    collector.condemn(alice.workspace, container, later())
    assert store(index, container, b'', b'twice')[1] == name
    location = index.locate(container, [name])[name]
    assert location.pack == 'pack-%032x' % 1 and location.offset == 0
    # Unmarked with its new location: the sweep leaves it.
    assert collector.sweep(alice.workspace, container, later())[0] == 0


def test_versions_replaced_long_ago_are_purged(service, engine, world):
    alice, container, index, collector = world
    first = service.create_file(alice.id, alice.workspace, None, 'f.txt',
                                device_id=alice.device, **content(b'v1'))
    for data in (b'v2', b'v3'):
        service.update_file_data(alice.id, first['id'], device_id=
                                 alice.device, **content(data))
    with db.session(engine) as session:
        session.execute(update(ItemVersion).where(
            ItemVersion.item_id == first['id'], ItemVersion.version < 3)
            .values(created_at=utcnow() - datetime.timedelta(days=40)))

    assert collector.purge_versions(alice.workspace, 60) == 0
    # Version 1 was replaced (by version 2) 40 days ago; version 2 was
    # replaced by version 3 just now.
    assert collector.purge_versions(alice.workspace, 30) == 1
    assert [version['version'] for version in
            service.get_versions(alice.id, first['id'])] == [2, 3]
    with pytest.raises(errors.NotFound):
        service.restore_version(alice.id, first['id'], 1,
                                device_id=alice.device)

    # Its chunk is garbage now; the current one is not.
    store(index, container, b'v1', b'v2', b'v3')
    assert collector.condemn(alice.workspace, container, later()) == (1, 0)


def test_uploads_never_committed_leave_the_quota(service, world):
    alice, container, index, collector = world
    service.set_quota(alice.id, 1000)
    name, = store(index, container, b'x' * 400)
    service.reserve_chunk(alice.workspace, name, 400)
    assert service.upload_allowance(alice.workspace) == 600

    assert collector.expire_uploads(alice.workspace, later(-60)) == (0, 0)
    assert collector.expire_uploads(alice.workspace, later()) == (1, 400)
    assert service.upload_allowance(alice.workspace) == 1000
    assert collector.condemn(alice.workspace, container, later()) == (1, 0)
