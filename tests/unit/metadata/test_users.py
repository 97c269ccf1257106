"""Users, passwords, devices, accounts, workspaces and members."""

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from stacksync_swift.metadata import service as service_module
from tests.unit.metadata.factories import new_file
from tests.unit.metadata.factories import person


def test_create_user_makes_a_private_workspace(service):
    user = service.create_user('alice', email='a@example.com',
                               quota_limit=1000)
    assert user['name'] == 'alice'
    assert user['email'] == 'a@example.com'
    assert user['quota_limit'] == 1000 and user['quota_used'] == 0
    assert not user['has_password']
    [workspace] = service.get_workspaces(user['id'])
    assert workspace['owner'] == user['id']
    assert workspace['role'] == 'owner'
    assert workspace['is_shared'] is False
    assert workspace['encrypted'] is False
    assert workspace['cursor'] == 0
    assert workspace['container'].startswith('ws-')
    assert len(workspace['container']) == 35


def test_user_names_are_unique(service):
    service.create_user('alice')
    with pytest.raises(errors.Conflict):
        service.create_user('alice')


@pytest.mark.parametrize('name', ['', '   ', 'a\x00b', 'x' * 256, None, 5])
def test_invalid_user_names(service, name):
    with pytest.raises(errors.BadRequest):
        service.create_user(name)


@pytest.mark.parametrize('quota', [-1, 'big', 1.5, True])
def test_invalid_quota(service, quota):
    with pytest.raises(errors.BadRequest):
        service.create_user('alice', quota_limit=quota)


def test_lookup_list_and_delete_users(service):
    alice = person(service, 'alice')
    bob = service.create_user('bob')
    assert service.get_user_by_name('bob') == bob
    assert service.get_user(bob['id']) == bob
    assert [u['name'] for u in service.list_users()] == ['alice', 'bob']
    new_file(service, alice, 'a.txt')
    shared = service.create_workspace(alice.id, 'Team')
    service.set_member(alice.id, shared['id'], bob['id'], 'editor')
    bob_file = service.create_file(bob['id'], shared['id'], None, 'b.txt',
                                   size=1, content_hash='b' * 64,
                                   chunks=['chk-' + 'b' * 64])
    deleted = service.delete_user(bob['id'])
    assert deleted['user']['name'] == 'bob'
    assert len(deleted['containers']) == 1
    with pytest.raises(errors.NotFound):
        service.get_user_by_name('bob')
    with pytest.raises(errors.NotFound):
        service.get_user(bob['id'])
    # What bob did in alice's workspace stays, without an author.
    assert service.get_item(alice.id, bob_file['id'])['user'] is None
    deleted = service.delete_user(alice.id)
    assert len(deleted['containers']) == 2
    assert service.list_users() == []
    with pytest.raises(errors.NotFound):
        service.delete_user(alice.id)


def test_passwords_are_hashed_and_checked(service):
    user = service.create_user('alice', password='s3cret')
    assert user['has_password']
    assert service.check_password('alice', 's3cret')['id'] == user['id']
    assert service.check_password('alice', 'wrong') is None
    assert service.check_password('nobody', 's3cret') is None
    assert service.check_password('alice', None) is None
    assert service.check_password(None, 's3cret') is None
    with Session(service.engine) as session:
        stored = session.scalar(select(models.User.password_hash))
    assert stored.startswith('scrypt$16384$8$1$')
    assert 's3cret' not in stored
    service.set_password(user['id'], 'other')
    assert service.check_password('alice', 's3cret') is None
    assert service.check_password('alice', 'other')
    service.set_password(user['id'], None)
    assert service.check_password('alice', 'other') is None


def test_user_without_password_never_authenticates(service):
    service.create_user('keystone-user')
    assert service.check_password('keystone-user', '') is None
    assert service.check_password('keystone-user', 'anything') is None


def test_password_hashes_are_salted():
    first = service_module.hash_password('same')
    assert first != service_module.hash_password('same')
    assert service_module.password_matches(first, 'same')
    assert not service_module.password_matches('garbage', 'same')
    assert not service_module.password_matches('md5$x$y$z$a$b', 'same')
    with pytest.raises(errors.BadRequest):
        service_module.hash_password('')


def test_devices(service):
    user = service.create_user('alice')
    laptop = service.get_or_create_device(user['id'], 'laptop')
    assert service.get_or_create_device(user['id'], 'laptop') == laptop
    phone = service.get_or_create_device(user['id'], 'phone')
    assert [d['name'] for d in service.list_devices(user['id'])] == \
        ['laptop', 'phone']
    assert phone['id'] != laptop['id']
    with pytest.raises(errors.NotFound):
        service.get_or_create_device(999, 'x')
    with pytest.raises(errors.BadRequest):
        service.get_or_create_device(user['id'], '')


def test_commits_update_device_last_seen(service):
    alice = person(service, 'alice')
    assert service.list_devices(alice.id)[0]['last_seen'] is None
    service.commit(alice.id, alice.device, alice.workspace, [])
    assert service.list_devices(alice.id)[0]['last_seen'] is not None


def test_get_account(service):
    alice = person(service, 'alice', quota_limit=100, email='a@x')
    new_file(service, alice, 'a.txt', b'12345')
    account = service.get_account(alice.id)
    assert account['name'] == 'alice' and account['email'] == 'a@x'
    assert account['quota_limit'] == 100
    assert account['quota_used'] == 5
    assert [w['id'] for w in account['workspaces']] == [alice.workspace]
    assert account['workspaces'][0]['cursor'] == 1
    with pytest.raises(errors.NotFound):
        service.get_account(12345)


def test_quota_management(service):
    alice = person(service, 'alice')
    new_file(service, alice, 'a', b'abc')
    assert service.set_quota(alice.id, 10)['quota_limit'] == 10
    assert service.recalculate_quota(alice.id)['quota_used'] == 3
    with pytest.raises(errors.BadRequest):
        service.set_quota(alice.id, -5)


def test_shared_workspaces_and_roles(service):
    alice = person(service, 'alice')
    bob = person(service, 'bob')
    carol = person(service, 'carol')
    team = service.create_workspace(alice.id, 'Team', encrypted=True)
    assert team['encrypted'] and team['is_shared']
    assert team['container'] != service.get_workspace(
        alice.id, alice.workspace)['container']
    service.set_member(alice.id, team['id'], bob.id, 'editor')
    members = service.set_member(alice.id, team['id'], carol.id, 'viewer')
    assert [(m['name'], m['role']) for m in members] == [
        ('alice', 'owner'), ('bob', 'editor'), ('carol', 'viewer')]
    assert service.get_workspace(carol.id, team['id'])['role'] == 'viewer'
    assert [w['name'] for w in service.get_workspaces(bob.id)] == \
        ['bob', 'Team']
    # Only the owner manages members; the owner's role is fixed.
    with pytest.raises(errors.Forbidden):
        service.set_member(bob.id, team['id'], carol.id, 'editor')
    with pytest.raises(errors.BadRequest):
        service.set_member(alice.id, team['id'], alice.id, 'viewer')
    with pytest.raises(errors.BadRequest):
        service.set_member(alice.id, team['id'], bob.id, 'owner')
    # Outsiders do not see the workspace at all.
    with pytest.raises(errors.NotFound):
        service.get_workspace(bob.id, alice.workspace)
    with pytest.raises(errors.NotFound):
        service.set_member(bob.id, alice.workspace, carol.id, 'viewer')
    service.set_member(alice.id, team['id'], carol.id, 'editor')
    assert service.get_workspace(carol.id, team['id'])['role'] == 'editor'
    service.set_member(alice.id, team['id'], carol.id, None)
    with pytest.raises(errors.NotFound):
        service.list_members(carol.id, team['id'])
    with Session(service.engine) as session:
        events = session.scalars(
            select(models.Outbox).where(
                models.Outbox.routing_key == 'user.%d' % carol.id)
            .order_by(models.Outbox.id)).all()
    roles = [json.loads(event.payload)['role'] for event in events]
    assert roles == ['viewer', 'editor', None]
    assert json.loads(events[0].payload)['workspace'] == team['id']


def test_create_workspace_validation(service):
    alice = person(service, 'alice')
    with pytest.raises(errors.BadRequest):
        service.create_workspace(alice.id, '')
    with pytest.raises(errors.BadRequest):
        service.create_workspace(alice.id, 'x', encrypted='yes')
    with pytest.raises(errors.NotFound):
        service.create_workspace(9999, 'x')


@pytest.mark.parametrize('bad_id', [None, 'x', -1, 1.0, True, 2 ** 64])
def test_ids_are_validated(service, bad_id):
    with pytest.raises(errors.BadRequest):
        service.get_workspaces(bad_id)
    with pytest.raises(errors.BadRequest):
        service.get_item(1, bad_id)


# -- Keystone identities --

def test_keystone_user_is_created_once_with_a_workspace(service):
    first = service.keystone_user('kid-1', 'erin', email='e@example.com',
                                  quota_limit=50)
    again = service.keystone_user('kid-1', 'erin')
    assert first['id'] == again['id']
    assert first['keystone_id'] == 'kid-1' and first['name'] == 'erin'
    assert first['quota_limit'] == 50 and first['email'] == 'e@example.com'
    assert len(service.get_workspaces(first['id'])) == 1
    # No password: only Keystone authenticates them.
    assert service.check_password('erin', '') is None


def test_keystone_names_taken_here_get_a_suffix(service):
    local = service.create_user('erin', password='pw')
    other = service.keystone_user('abcdef0123456789', 'erin')
    assert other['id'] != local['id']
    assert other['name'] == 'erin-abcdef01'
    # Another domain's erin is yet another user.
    third = service.keystone_user('99999999ffffffff', 'erin')
    assert third['name'] == 'erin-99999999'


def test_keystone_email_is_refreshed(service):
    service.keystone_user('kid-2', 'finn')
    assert service.keystone_user('kid-2', 'finn',
                                 email='f@example.com')['email'] == \
        'f@example.com'


@pytest.mark.parametrize('bad', [None, '', 'x' * 300, 5])
def test_keystone_user_validates_its_input(service, bad):
    with pytest.raises(errors.BadRequest):
        service.keystone_user(bad, 'gail')
