"""Where an encrypted workspace's key comes from: ``key_container``.

Clients salt an encrypted workspace's key with a container name. A
folder shared out of an encrypted workspace moves into a new workspace
with a new container, but its chunks are copied still sealed, so it
keeps the key of the workspace it came from. Runs on SQLite and
PostgreSQL (see conftest.py), the migration test on SQLite.
"""

import pytest
import sqlalchemy

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata.service import MetadataService
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import person
from tests.unit.metadata.test_sharing import accept


@pytest.fixture
def alice(service):
    return person(service, 'alice')


@pytest.fixture
def bob(service):
    return person(service, 'bob')


def folder_with_a_file(service, owner, workspace_id, name='plans'):
    folder = service.create_folder(owner.id, workspace_id, None, name)
    service.create_file(owner.id, workspace_id, folder['id'], 'a.txt',
                        device_id=owner.device, **content(b'sealed'))
    return folder


def share(service, owner, folder, member, container):
    [proposal] = service.propose_share(owner.id, folder['id'],
                                       [member.name], 'editor')
    return accept(service, member, proposal['id'], container)['workspace']


def test_a_plain_workspace_keys_with_its_own_container(service, alice):
    private = service.get_workspace(alice.id, alice.workspace)
    assert private['key_container'] == private['container']


def test_an_encrypted_workspace_keys_with_its_own_container(service,
                                                            alice):
    vault = service.create_workspace(alice.id, 'vault', encrypted=True)
    assert vault['key_container'] == vault['container']
    assert service.get_workspace(alice.id, vault['id'])['key_container'] \
        == vault['container']


def test_a_folder_shared_from_an_encrypted_workspace_keeps_its_key(
        service, alice, bob):
    vault = service.create_workspace(alice.id, 'vault', encrypted=True)
    plans = folder_with_a_file(service, alice, vault['id'])
    shared = share(service, alice, plans, bob, 'ws-plans')
    assert shared['container'] == 'ws-plans'
    assert shared['encrypted'] is True
    assert shared['key_container'] == vault['container']
    # Every member reads the same, however they list it.
    for who in (alice, bob):
        listed = [w for w in service.get_workspaces(who.id)
                  if w['id'] == shared['id']]
        assert listed[0]['key_container'] == vault['container']
        assert service.get_workspace(who.id, shared['id'])[
            'key_container'] == vault['container']


def test_a_folder_shared_from_a_plain_workspace_needs_no_origin(
        service, alice, bob):
    docs = folder_with_a_file(service, alice, alice.workspace, 'docs')
    shared = share(service, alice, docs, bob, 'ws-docs')
    assert shared['encrypted'] is False
    assert shared['key_container'] == 'ws-docs'


def test_only_the_owner_of_a_created_workspace_shares_its_folders(
        service, alice, bob):
    vault = service.create_workspace(alice.id, 'vault', encrypted=True)
    service.set_member(alice.id, vault['id'], bob.id, 'editor')
    plans = folder_with_a_file(service, alice, vault['id'])
    with pytest.raises(errors.Forbidden):
        service.propose_share(bob.id, plans['id'], ['alice'], 'editor')


def test_a_folder_inside_a_shared_encrypted_folder_is_not_shared_again(
        service, alice, bob):
    vault = service.create_workspace(alice.id, 'vault', encrypted=True)
    plans = folder_with_a_file(service, alice, vault['id'])
    shared = share(service, alice, plans, bob, 'ws-plans')
    inner = service.create_folder(alice.id, shared['id'], None, 'inner')
    with pytest.raises(errors.Conflict):
        service.propose_share(alice.id, inner['id'], ['bob'], 'viewer')


# An encrypted workspace as a database at revision 0006 holds it.
OLD_ROWS = (
    "INSERT INTO users (id, name, password_hash, quota_limit, quota_used, "
    "created_at) VALUES (1, 'alice', 'x', 0, 0, '2026-01-01 00:00:00')",
    "INSERT INTO workspaces (id, name, container, owner_id, seq, "
    "is_shared, encrypted, created_at) VALUES (1, 'vault', 'ws-old', 1, 0, "
    "1, 1, '2026-01-01 00:00:00')",
    "INSERT INTO workspace_members (workspace_id, user_id, role, "
    "joined_at) VALUES (1, 1, 'owner', '2026-01-01 00:00:00')")


def test_migration_adds_an_empty_key_container_to_existing_rows(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url, '0006_web')
    engine = db.create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in OLD_ROWS:
                connection.execute(sqlalchemy.text(statement))
        db.upgrade(url)
        with engine.connect() as connection:
            stored = connection.execute(sqlalchemy.text(
                'SELECT key_container FROM workspaces')).scalar_one()
        assert stored is None
        vault = MetadataService(engine).get_workspace(1, 1)
        assert vault['key_container'] == 'ws-old'
    finally:
        engine.dispose()
