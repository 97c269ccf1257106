"""Lookups API v2 needs: users by e-mail, a user's mount of a workspace.

Runs on SQLite and PostgreSQL (see conftest.py).
"""

import pytest

from stacksync_swift.metadata import errors
from tests.unit.metadata.factories import person
from tests.unit.metadata.test_sharing import share


def test_users_by_email_ignores_case_spaces_and_unknowns(service):
    alice = service.create_user('alice', email='Alice@Example.com')
    service.create_user('bob', email='bob@example.com')
    service.create_user('nomail')
    found = service.users_by_email([' alice@example.COM',
                                    'nobody@example.com', ''])
    assert list(found) == [' alice@example.COM']
    assert found[' alice@example.COM']['id'] == alice['id']
    assert found[' alice@example.COM']['email'] == 'Alice@Example.com'
    assert service.users_by_email([]) == {}


def test_the_oldest_account_answers_for_a_shared_address(service):
    first = service.create_user('first', email='team@example.com')
    service.create_user('second', email='team@example.com')
    found = service.users_by_email(['team@example.com'])
    assert found['team@example.com']['id'] == first['id']


@pytest.mark.parametrize('addresses', ['a@b.c', [1], ['x@y.z'] * 101,
                                       None])
def test_users_by_email_refuses_bad_input(service, addresses):
    with pytest.raises(errors.BadRequest):
        service.users_by_email(addresses)


def test_members_carry_their_email(service):
    alice = person(service, 'alice', email='alice@example.com')
    bob = person(service, 'bob')
    folder = service.create_folder(alice.id, alice.workspace, None, 'p')
    share(service, alice, folder['id'], bob)
    members = service.share_members(alice.id, folder['id'])
    assert [(m['name'], m['email'], m['role']) for m in members] == [
        ('alice', 'alice@example.com', 'owner'), ('bob', None, 'editor')]


def test_mount_of_finds_each_users_own_mount(service):
    alice = person(service, 'alice')
    bob = person(service, 'bob')
    carol = person(service, 'carol')
    folder = service.create_folder(alice.id, alice.workspace, None, 'p')
    [joined] = share(service, alice, folder['id'], bob)
    shared = joined['workspace']['id']
    assert service.mount_of(alice.id, shared) == folder['id']
    assert service.mount_of(bob.id, shared) == joined['mount']['id']
    assert service.mount_of(carol.id, shared) is None
    assert service.mount_of(alice.id, alice.workspace) is None
    service.remove_member(bob.id, joined['mount']['id'])
    assert service.mount_of(bob.id, shared) is None
