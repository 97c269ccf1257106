"""Files and folders: create, list, rename, move, delete, restore."""

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import new_file
from tests.unit.metadata.factories import person


@pytest.fixture
def alice(service):
    return person(service, 'alice')


def folder(service, who, name, parent=None):
    return service.create_folder(who.id, who.workspace, parent, name,
                                 device_id=who.device)


def test_create_file_metadata(service, alice):
    meta = service.create_file(
        alice.id, alice.workspace, None, 'report.pdf', mimetype='app/pdf',
        modified_at='2024-01-02T03:04:05+01:00', device_id=alice.device,
        **content(b'pdf'))
    digest = content(b'pdf')['content_hash']
    assert meta == {
        'id': meta['id'], 'parent_id': None, 'filename': 'report.pdf',
        'is_folder': False, 'status': 'NEW', 'version': 1,
        'workspace_id': alice.workspace,
        'modified_at': '2024-01-02T02:04:05Z', 'device': alice.device,
        'user': alice.id, 'size': 3, 'checksum': digest,
        'content_hash': digest, 'mimetype': 'app/pdf',
        'chunks': ['chk-' + digest]}
    assert service.get_item(alice.id, meta['id']) == meta


def test_create_folder_and_list(service, alice):
    docs = folder(service, alice, 'Docs')
    assert docs['is_folder'] and 'chunks' not in docs
    new_file(service, alice, 'b.txt', parent=docs['id'])
    new_file(service, alice, 'a.txt', parent=docs['id'])
    sub = folder(service, alice, 'Sub', parent=docs['id'])
    listing = service.list_folder(alice.id, docs['id'])
    assert listing['id'] == docs['id']
    assert [c['filename'] for c in listing['contents']] == \
        ['Sub', 'a.txt', 'b.txt']
    assert listing['contents'][0] == sub
    root = service.list_folder(alice.id)
    assert root['id'] is None and root['is_folder']
    assert [c['filename'] for c in root['contents']] == ['Docs']
    assert service.list_folder(alice.id, 0, alice.workspace) == root
    with pytest.raises(errors.BadRequest):
        service.list_folder(alice.id, listing['contents'][1]['id'])


def test_names_are_validated_and_normalised(service, alice):
    for bad in ('', '.', '..', 'a/b', 'a\x00', 'x' * 256, None):
        with pytest.raises(errors.InvalidName):
            folder(service, alice, bad)
    made = folder(service, alice, 'Cafe\u0301')
    assert made['filename'] == 'Caf\u00e9'
    with pytest.raises(errors.Conflict):
        folder(service, alice, 'Caf\u00e9')


def test_duplicate_live_name_is_a_conflict_with_the_holder(service, alice):
    first = new_file(service, alice, 'a.txt')
    with pytest.raises(errors.Conflict) as raised:
        new_file(service, alice, 'a.txt', b'other')
    assert raised.value.item == first
    assert raised.value.as_dict()['item'] == first
    # Names are case-sensitive, and a deleted item frees its name.
    new_file(service, alice, 'A.txt')
    service.delete_item(alice.id, first['id'])
    again = new_file(service, alice, 'a.txt')
    assert again['id'] != first['id']


def test_parent_must_be_a_live_folder_of_the_workspace(service, alice):
    a_file = new_file(service, alice, 'f')
    with pytest.raises(errors.BadRequest, match='not a folder'):
        new_file(service, alice, 'x', parent=a_file['id'])
    gone = folder(service, alice, 'gone')
    service.delete_item(alice.id, gone['id'])
    with pytest.raises(errors.BadRequest, match='deleted'):
        new_file(service, alice, 'x', parent=gone['id'])
    with pytest.raises(errors.NotFound):
        new_file(service, alice, 'x', parent=12345)
    bob = person(service, 'bob')
    bobs = folder(service, bob, 'bobs')
    with pytest.raises(errors.NotFound):
        new_file(service, alice, 'x', parent=bobs['id'])


@pytest.mark.parametrize('field, value', [
    ('size', -1), ('size', 'big'), ('size', 2 ** 63),
    ('content_hash', 'xyz'), ('content_hash', 5), ('content_hash', None),
    ('chunks', 'chk-x'), ('chunks', ['chk-short']), ('chunks', [None]),
    ('mimetype', ''), ('mimetype', 'x' * 300),
    ('modified_at', 'yesterday'), ('modified_at', 12)])
def test_file_fields_are_validated(service, alice, field, value):
    kwargs = dict(content(), mimetype=None, modified_at=None)
    kwargs[field] = value
    with pytest.raises(errors.BadRequest):
        service.create_file(alice.id, alice.workspace, None, 'f', **kwargs)
    assert service.get_changes(alice.id, alice.workspace)['entries'] == []


def test_content_hash_may_be_absent_in_encrypted_workspaces(service, alice):
    secret = service.create_workspace(alice.id, 'Secret', encrypted=True)
    meta = service.create_file(alice.id, secret['id'], None, 'f', size=3,
                               content_hash=None, chunks=['chk-' + 'a' * 64])
    assert meta['content_hash'] is None and meta['checksum'] is None


def test_update_file_data(service, alice):
    meta = new_file(service, alice, 'f', b'one')
    updated = service.update_file_data(
        alice.id, meta['id'], base_version=1, device_id=alice.device,
        **content(b'three'))
    assert updated['version'] == 2 and updated['status'] == 'CHANGED'
    assert updated['size'] == 5
    assert updated['chunks'] == content(b'three')['chunks']
    assert updated['mimetype'] == meta['mimetype']
    with pytest.raises(errors.Conflict) as raised:
        service.update_file_data(alice.id, meta['id'], base_version=1,
                                 **content(b'stale'))
    assert raised.value.item == updated
    # Without a base version the last writer wins.
    assert service.update_file_data(alice.id, meta['id'],
                                    **content(b'x'))['version'] == 3
    # The same data again makes no version.
    assert service.update_file_data(alice.id, meta['id'],
                                    **content(b'x'))['version'] == 3
    docs = folder(service, alice, 'docs')
    with pytest.raises(errors.BadRequest):
        service.update_file_data(alice.id, docs['id'], **content())


def test_rename_and_move(service, alice):
    docs = folder(service, alice, 'docs')
    meta = new_file(service, alice, 'f')
    renamed = service.rename_item(alice.id, meta['id'], 'g', base_version=1)
    assert (renamed['filename'], renamed['status'], renamed['version']) == \
        ('g', 'RENAMED', 2)
    moved = service.move_item(alice.id, meta['id'], docs['id'])
    assert (moved['parent_id'], moved['status'], moved['filename']) == \
        (docs['id'], 'MOVED', 'g')
    back = service.move_item(alice.id, meta['id'], None, name='h')
    assert (back['parent_id'], back['filename']) == (None, 'h')
    assert back['version'] == 4
    assert service.rename_item(alice.id, meta['id'], 'h')['version'] == 4
    with pytest.raises(errors.Conflict):
        service.rename_item(alice.id, meta['id'], 'docs')
    with pytest.raises(errors.Conflict):
        service.rename_item(alice.id, meta['id'], 'x', base_version=1)
    with pytest.raises(errors.InvalidName):
        service.rename_item(alice.id, meta['id'], 'a/b')


def test_folder_cannot_move_into_itself_or_its_subtree(service, alice):
    top = folder(service, alice, 'top')
    mid = folder(service, alice, 'mid', top['id'])
    low = folder(service, alice, 'low', mid['id'])
    for target in (top, mid, low):
        with pytest.raises(errors.BadRequest, match='into itself'):
            service.move_item(alice.id, top['id'], target['id'])
    moved = service.move_item(alice.id, low['id'], None)
    assert moved['parent_id'] is None
    service.move_item(alice.id, top['id'], low['id'])


def test_delete_folder_deletes_its_live_subtree(service, alice):
    top = folder(service, alice, 'top')
    sub = folder(service, alice, 'sub', top['id'])
    inner = new_file(service, alice, 'inner', parent=sub['id'])
    early = new_file(service, alice, 'early', parent=top['id'])
    service.delete_item(alice.id, early['id'])
    cursor = service.get_changes(alice.id, alice.workspace)['cursor']
    deleted = service.delete_item(alice.id, top['id'], base_version=1)
    assert deleted['status'] == 'DELETED' and deleted['version'] == 2
    changes = service.get_changes(alice.id, alice.workspace, cursor)
    assert {(e['id'], e['status']) for e in changes['entries']} == {
        (top['id'], 'DELETED'), (sub['id'], 'DELETED'),
        (inner['id'], 'DELETED')}
    # The file deleted before keeps its own history.
    assert len(service.get_versions(alice.id, early['id'])) == 2
    assert service.list_folder(alice.id)['contents'] == []
    listing = service.list_folder(alice.id, include_deleted=True)
    assert [c['filename'] for c in listing['contents']] == ['top']
    with pytest.raises(errors.NotFound):
        service.delete_item(alice.id, top['id'])
    with pytest.raises(errors.NotFound):
        service.rename_item(alice.id, inner['id'], 'x')


def test_versions_and_restore(service, alice):
    meta = new_file(service, alice, 'f', b'one')
    service.update_file_data(alice.id, meta['id'], **content(b'two'))
    service.rename_item(alice.id, meta['id'], 'g')
    service.delete_item(alice.id, meta['id'])
    versions = service.get_versions(alice.id, meta['id'])
    assert [(v['version'], v['status'], v['filename']) for v in versions] \
        == [(1, 'NEW', 'f'), (2, 'CHANGED', 'f'), (3, 'RENAMED', 'g'),
            (4, 'DELETED', 'g')]
    assert [v['seq'] for v in versions] == sorted(
        v['seq'] for v in versions)
    assert versions[3]['chunks'] == content(b'two')['chunks']
    assert service.get_version(alice.id, meta['id'], 1) == versions[0]
    with pytest.raises(errors.NotFound):
        service.get_version(alice.id, meta['id'], 9)
    with pytest.raises(errors.BadRequest):
        service.get_version(alice.id, meta['id'], 0)
    # Restoring revives the deleted file with version 1's data.
    restored = service.restore_version(alice.id, meta['id'], 1)
    assert (restored['version'], restored['status'], restored['filename'],
            restored['size']) == (5, 'CHANGED', 'g', 3)
    assert restored['chunks'] == content(b'one')['chunks']
    # Restoring a live file makes a new version too, even of equal data.
    again = service.restore_version(alice.id, meta['id'], 2)
    assert again['version'] == 6 and again['size'] == 3
    same = service.restore_version(alice.id, meta['id'], 5)
    assert same['version'] == 7 and same['size'] == 3
    with pytest.raises(errors.BadRequest, match='already'):
        service.restore_version(alice.id, meta['id'], 7)
    assert len(service.get_versions(alice.id, meta['id'])) == 7


def test_restore_needs_a_live_parent_and_a_free_name(service, alice):
    docs = folder(service, alice, 'docs')
    meta = new_file(service, alice, 'f', parent=docs['id'])
    service.delete_item(alice.id, docs['id'])
    with pytest.raises(errors.BadRequest, match='restore it first'):
        service.restore_version(alice.id, meta['id'], 1)
    revived = service.restore_version(alice.id, docs['id'], 1)
    assert revived['status'] == 'CHANGED' and revived['version'] == 3
    with pytest.raises(errors.BadRequest):
        service.restore_version(alice.id, docs['id'], 1)
    holder = new_file(service, alice, 'f', parent=docs['id'])
    with pytest.raises(errors.Conflict) as raised:
        service.restore_version(alice.id, meta['id'], 1)
    assert raised.value.item == holder


def test_quota_is_enforced_and_counts_live_files(service):
    alice = person(service, 'alice', quota_limit=10)
    first = new_file(service, alice, 'a', b'123456')
    with pytest.raises(errors.QuotaExceeded):
        new_file(service, alice, 'b', b'12345')
    assert service.get_account(alice.id)['quota_used'] == 6
    assert service.get_changes(alice.id, alice.workspace)['cursor'] == 1
    service.update_file_data(alice.id, first['id'], **content(b'1234567890'))
    assert service.get_account(alice.id)['quota_used'] == 10
    with pytest.raises(errors.QuotaExceeded):
        service.update_file_data(alice.id, first['id'],
                                 **content(b'12345678901'))
    service.delete_item(alice.id, first['id'])
    assert service.get_account(alice.id)['quota_used'] == 0
    second = new_file(service, alice, 'b', b'12345')
    with pytest.raises(errors.QuotaExceeded):
        service.restore_version(alice.id, first['id'], 1)
    service.delete_item(alice.id, second['id'])
    service.restore_version(alice.id, first['id'], 1)
    assert service.get_account(alice.id)['quota_used'] == 6
    assert service.recalculate_quota(alice.id)['quota_used'] == 6


def test_shared_workspace_files_count_against_the_owner(service):
    alice = person(service, 'alice', quota_limit=5)
    bob = person(service, 'bob')
    team = service.create_workspace(alice.id, 'Team')
    service.set_member(alice.id, team['id'], bob.id, 'editor')
    service.create_file(bob.id, team['id'], None, 'x', **content(b'1234'))
    assert service.get_account(alice.id)['quota_used'] == 4
    assert service.get_account(bob.id)['quota_used'] == 0
    with pytest.raises(errors.QuotaExceeded):
        service.create_file(bob.id, team['id'], None, 'y', **content(b'12'))


def test_roles_are_enforced(service):
    alice = person(service, 'alice')
    bob = person(service, 'bob')
    carol = person(service, 'carol')
    dave = person(service, 'dave')
    team = service.create_workspace(alice.id, 'Team')
    service.set_member(alice.id, team['id'], bob.id, 'editor')
    service.set_member(alice.id, team['id'], carol.id, 'viewer')
    made = service.create_folder(bob.id, team['id'], None, 'by bob')
    # A viewer reads everything and writes nothing.
    assert service.get_item(carol.id, made['id']) == made
    assert service.list_folder(carol.id, None, team['id'])['contents'] == \
        [made]
    assert service.get_changes(carol.id, team['id'])['entries'] == [made]
    assert service.get_versions(carol.id, made['id'])
    for write in (
            lambda: service.create_folder(carol.id, team['id'], None, 'x'),
            lambda: service.rename_item(carol.id, made['id'], 'x'),
            lambda: service.delete_item(carol.id, made['id']),
            lambda: service.commit(carol.id, carol.device, team['id'], [])):
        with pytest.raises(errors.Forbidden):
            write()
    # To an outsider the workspace and its items do not exist.
    for action in (
            lambda: service.get_item(dave.id, made['id']),
            lambda: service.get_versions(dave.id, made['id']),
            lambda: service.list_folder(dave.id, made['id']),
            lambda: service.list_folder(dave.id, None, team['id']),
            lambda: service.get_changes(dave.id, team['id']),
            lambda: service.rename_item(dave.id, made['id'], 'x'),
            lambda: service.create_folder(dave.id, team['id'], None, 'x')):
        with pytest.raises(errors.NotFound):
            action()
    # A device must be the acting user's own.
    with pytest.raises(errors.BadRequest):
        service.create_folder(bob.id, team['id'], None, 'y',
                              device_id=alice.device)


def test_every_write_leaves_one_outbox_event(service, alice):
    meta = new_file(service, alice, 'f')
    service.rename_item(alice.id, meta['id'], 'g', device_id=alice.device)
    with Session(service.engine) as session:
        events = session.scalars(select(models.Outbox).order_by(
            models.Outbox.id)).all()
    assert [e.routing_key for e in events] == [
        'workspace.%d' % alice.workspace] * 2
    assert all(e.sent_at is None for e in events)
    assert json.loads(events[1].payload) == {
        'type': 'commit', 'workspace': alice.workspace, 'cursor': 2,
        'items': [{'id': meta['id'], 'version': 2, 'status': 'RENAMED'}],
        'more': False, 'device': alice.device, 'user': alice.id}


def test_failed_writes_change_nothing(service, alice):
    new_file(service, alice, 'f')
    with pytest.raises(errors.Conflict):
        new_file(service, alice, 'f')
    with Session(service.engine) as session:
        assert len(session.scalars(select(models.Outbox)).all()) == 1
        assert session.scalar(select(models.Workspace.seq).where(
            models.Workspace.id == alice.workspace)) == 1
