"""Sharing in the metadata service: proposals, shared workspaces, mounts.

Runs on SQLite and PostgreSQL (see conftest.py). The Swift side (chunk
copies, ACLs) is tests/unit/test_sharing.py; here a container name and
the copied chunks are passed as the orchestration would pass them.
"""

import json

import pytest
from sqlalchemy import select

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import shares
from stacksync_swift.metadata.models import Outbox
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import new_file
from tests.unit.metadata.factories import person


@pytest.fixture
def alice(service):
    return person(service, 'alice')


@pytest.fixture
def bob(service):
    return person(service, 'bob')


@pytest.fixture
def carol(service):
    return person(service, 'carol')


@pytest.fixture
def project(service, alice):
    """alice's folder "project" with a file (two versions) and a subfolder.
    """
    folder = service.create_folder(alice.id, alice.workspace, None,
                                   'project')
    report = new_file(service, alice, 'report.txt', b'v1', folder['id'])
    service.update_file_data(alice.id, report['id'], **content(b'v2'))
    sub = service.create_folder(alice.id, alice.workspace, folder['id'],
                                'sub')
    deep = new_file(service, alice, 'deep.txt', b'deep', sub['id'])
    return {'folder': folder, 'report': report, 'sub': sub, 'deep': deep}


def accept(service, user, proposal_id, container='ws-shared'):
    """Accept as the orchestration does: copy what is asked, retry."""
    copied = set()
    for _round in range(3):
        try:
            return service.accept_proposal(user.id, proposal_id,
                                           container, copied)
        except shares.ChunksNotCopied as missing:
            copied.update(missing.chunks)
    raise AssertionError('accept never converged')


def share(service, owner, folder_id, *people, role='editor'):
    proposals = service.propose_share(owner.id, folder_id,
                                      [who.name for who in people], role)
    return [accept(service, who, proposal['id'])
            for who, proposal in zip(people, proposals)]


def user_events(service, user_id):
    with service._reading() as session:
        rows = session.scalars(select(Outbox).where(
            Outbox.routing_key == 'user.%d' % user_id)
            .order_by(Outbox.id)).all()
        return [json.loads(row.payload) for row in rows]


# -- proposals ----------------------------------------------------------------

def test_proposal_reaches_the_addressee(service, alice, bob, project):
    [proposal] = service.propose_share(alice.id, project['folder']['id'],
                                       ['bob'], 'editor')
    assert proposal['status'] == 'pending'
    assert proposal['folder_name'] == 'project'
    assert proposal['sender'] == 'alice'
    assert service.list_proposals(bob.id) == [proposal]
    assert service.list_proposals(alice.id) == []
    event = user_events(service, bob.id)[-1]
    assert event['type'] == 'share_proposal'
    assert event['proposal'] == proposal['id']
    assert event['role'] == 'editor'


def test_proposing_again_updates_the_pending_one(service, alice, bob,
                                                 project):
    first = service.propose_share(alice.id, project['folder']['id'],
                                  'bob', 'editor')[0]
    again = service.propose_share(alice.id, project['folder']['id'],
                                  ['bob'], 'viewer')[0]
    assert again['id'] == first['id'] and again['role'] == 'viewer'
    assert len(service.list_proposals(bob.id)) == 1


@pytest.mark.parametrize('addressees, role, error', [
    (['nobody'], 'editor', errors.NotFound),
    (['alice'], 'editor', errors.BadRequest),
    (['bob'], 'owner', errors.BadRequest),
    ([], 'editor', errors.BadRequest),
    ([7], 'viewer', errors.BadRequest),
])
def test_bad_proposals_are_refused(service, alice, bob, project, addressees,
                                   role, error):
    with pytest.raises(error):
        service.propose_share(alice.id, project['folder']['id'],
                              addressees, role)
    assert service.list_proposals(bob.id) == []


def test_one_unknown_name_refuses_the_whole_proposal(service, alice, bob,
                                                     project):
    with pytest.raises(errors.NotFound):
        service.propose_share(alice.id, project['folder']['id'],
                              ['bob', 'nobody'], 'editor')
    assert service.list_proposals(bob.id) == []


def test_only_folders_of_ones_own_can_be_shared(service, alice, bob,
                                                project):
    with pytest.raises(errors.BadRequest):
        service.propose_share(alice.id, project['report']['id'], ['bob'],
                              'editor')
    with pytest.raises(errors.BadRequest):
        service.propose_share(alice.id, 0, ['bob'], 'editor')
    with pytest.raises(errors.NotFound):
        service.propose_share(bob.id, project['folder']['id'], ['alice'],
                              'editor')


def test_decline(service, alice, bob, project):
    [proposal] = service.propose_share(alice.id, project['folder']['id'],
                                       ['bob'], 'viewer')
    declined = service.decline_proposal(bob.id, proposal['id'])
    assert declined['status'] == 'declined'
    assert service.list_proposals(bob.id) == []
    with pytest.raises(errors.Conflict):
        service.decline_proposal(bob.id, proposal['id'])
    with pytest.raises(errors.Conflict):
        accept(service, bob, proposal['id'])
    assert user_events(service, alice.id)[-1]['type'] == 'share_declined'


def test_only_the_addressee_answers(service, alice, bob, carol, project):
    [proposal] = service.propose_share(alice.id, project['folder']['id'],
                                       ['bob'], 'viewer')
    with pytest.raises(errors.Forbidden):
        accept(service, alice, proposal['id'])
    with pytest.raises(errors.NotFound):
        accept(service, carol, proposal['id'])
    with pytest.raises(errors.NotFound):
        service.decline_proposal(carol.id, 10 ** 9)


# -- the first accept -----------------------------------------------------

def test_accept_asks_for_every_chunk_of_the_history(service, alice, bob,
                                                    project):
    [proposal] = service.propose_share(alice.id, project['folder']['id'],
                                       ['bob'], 'editor')
    with pytest.raises(shares.ChunksNotCopied) as missing:
        service.accept_proposal(bob.id, proposal['id'])
    expected = {content(data)['chunks'][0] for data in (b'v1', b'v2',
                                                        b'deep')}
    assert set(missing.value.chunks) == expected
    assert missing.value.source == service.get_workspace(
        alice.id, alice.workspace)['container']
    assert missing.value.owner['id'] == alice.id
    # Nothing changed: still pending, still alice's private folder.
    assert service.list_proposals(bob.id)[0]['status'] == 'pending'
    with pytest.raises(shares.ChunksNotCopied) as again:
        service.accept_proposal(bob.id, proposal['id'], 'ws-x',
                                missing.value.chunks[:1])
    assert set(again.value.chunks) == expected - {missing.value.chunks[0]}


def test_first_accept_moves_the_subtree_with_history(service, alice, bob,
                                                     project):
    [result] = share(service, alice, project['folder']['id'], bob)
    shared = result['workspace']
    assert shared['is_shared'] and shared['owner'] == alice.id
    assert shared['container'] == 'ws-shared'
    assert shared['role'] == 'editor'
    # Ids, versions and history stay.
    report = service.get_item(alice.id, project['report']['id'])
    assert report['workspace_id'] == shared['id']
    assert report['parent_id'] is None
    assert report['version'] == 2
    assert [v['version'] for v in service.get_versions(
        bob.id, project['report']['id'])] == [1, 2]
    deep = service.get_item(bob.id, project['deep']['id'])
    assert deep['parent_id'] == project['sub']['id']
    # The shared workspace's delta has the whole tree, parents first.
    delta = service.get_changes(bob.id, shared['id'])
    ids = [entry['id'] for entry in delta['entries']]
    assert set(ids) == {project['report']['id'], project['sub']['id'],
                        project['deep']['id']}
    assert ids.index(project['sub']['id']) < ids.index(project['deep']['id'])


def test_owner_keeps_the_folder_in_place_as_a_mount(service, alice, bob,
                                                    project):
    folder_id = project['folder']['id']
    cursor = service.get_changes(alice.id, alice.workspace)['cursor']
    [result] = share(service, alice, folder_id, bob)
    shared_id = result['workspace']['id']
    folder = service.get_item(alice.id, folder_id)
    assert folder['workspace_id'] == alice.workspace
    assert folder['mount_workspace_id'] == shared_id
    assert folder['version'] == project['folder']['version'] + 1
    delta = service.get_changes(alice.id, alice.workspace, cursor)
    assert [entry['id'] for entry in delta['entries']] == [folder_id]
    listing = service.list_folder(alice.id, folder_id)
    assert [item['filename'] for item in listing['contents']] == \
        ['report.txt', 'sub']
    root = service.list_folder(alice.id, 0)
    assert [item['filename'] for item in root['contents']] == ['project']


def test_member_gets_a_mount_in_their_root(service, alice, bob, project):
    cursor = service.get_changes(bob.id, bob.workspace)['cursor']
    [result] = share(service, alice, project['folder']['id'], bob)
    mount = result['mount']
    assert mount['workspace_id'] == bob.workspace
    assert mount['parent_id'] is None and mount['is_folder']
    assert mount['filename'] == 'project'
    assert mount['mount_workspace_id'] == result['workspace']['id']
    root = service.list_folder(bob.id, 0)
    assert [item['id'] for item in root['contents']] == [mount['id']]
    assert [item['filename'] for item in service.list_folder(
        bob.id, mount['id'])['contents']] == ['report.txt', 'sub']
    delta = service.get_changes(bob.id, bob.workspace, cursor)
    assert [(e['id'], e['status']) for e in delta['entries']] == \
        [(mount['id'], 'NEW')]
    assert any(w['id'] == result['workspace']['id']
               for w in service.get_workspaces(bob.id))
    events = [e['type'] for e in user_events(service, bob.id)]
    assert 'membership' in events
    assert user_events(service, alice.id)[-1]['type'] == 'share_accepted'


def test_mount_name_avoids_a_taken_name(service, alice, bob, project):
    service.create_folder(bob.id, bob.workspace, None, 'project')
    [result] = share(service, alice, project['folder']['id'], bob)
    assert result['mount']['filename'] == 'project (alice)'


def test_resolve_folder(service, alice, bob, project):
    [result] = share(service, alice, project['folder']['id'], bob)
    shared_id = result['workspace']['id']
    expected = {'workspace_id': shared_id, 'parent_id': None}
    assert service.resolve_folder(alice.id, project['folder']['id']) == \
        expected
    assert service.resolve_folder(bob.id, result['mount']['id']) == expected
    assert service.resolve_folder(bob.id, project['sub']['id']) == \
        {'workspace_id': shared_id, 'parent_id': project['sub']['id']}
    assert service.resolve_folder(bob.id, 0) == \
        {'workspace_id': bob.workspace, 'parent_id': None}


def test_later_accepts_join_the_same_workspace(service, alice, bob, carol,
                                               project):
    first, second = share(service, alice, project['folder']['id'], bob,
                          carol)
    assert first['workspace']['id'] == second['workspace']['id']
    assert second['unused_container'] == 'ws-shared'
    assert first['unused_container'] is None
    members = service.share_members(alice.id, project['folder']['id'])
    assert [(m['name'], m['role']) for m in members] == \
        [('alice', 'owner'), ('bob', 'editor'), ('carol', 'editor')]


def test_roles_decide_who_writes(service, alice, bob, carol, project):
    folder_id = project['folder']['id']
    for who, role in ((bob, 'editor'), (carol, 'viewer')):
        [proposal] = service.propose_share(alice.id, folder_id,
                                           [who.name], role)
        accept(service, who, proposal['id'])
    shared_id = service.resolve_folder(alice.id, folder_id)['workspace_id']
    created = service.create_file(bob.id, shared_id, None, 'bob.txt',
                                  **content(b'bob'))
    with pytest.raises(errors.Forbidden):
        service.create_file(carol.id, shared_id, None, 'carol.txt',
                            **content(b'carol'))
    with pytest.raises(errors.Forbidden):
        service.update_file_data(carol.id, created['id'], **content(b'x'))
    assert service.get_item(carol.id, created['id'])['filename'] == \
        'bob.txt'


def test_an_editors_write_reaches_the_owner_through_changes(
        service, alice, bob, project):
    [result] = share(service, alice, project['folder']['id'], bob)
    shared_id = result['workspace']['id']
    cursor = service.get_changes(alice.id, shared_id)['cursor']
    edited = service.update_file_data(
        bob.id, project['report']['id'], base_version=2,
        **content(b'by bob'))
    delta = service.get_changes(alice.id, shared_id, cursor)
    assert [(e['id'], e['version']) for e in delta['entries']] == \
        [(edited['id'], 3)]


def test_a_conflict_between_owner_and_editor(service, alice, bob, project):
    [result] = share(service, alice, project['folder']['id'], bob)
    report = project['report']['id']
    service.update_file_data(alice.id, report, base_version=2,
                             **content(b'alice'))
    with pytest.raises(errors.Conflict) as conflict:
        service.update_file_data(bob.id, report, base_version=2,
                                 **content(b'bob'))
    assert conflict.value.item['version'] == 3


# -- what cannot be shared or written ---------------------------------------

def test_nested_shares_are_refused(service, alice, bob, carol, project):
    share(service, alice, project['folder']['id'], bob)
    with pytest.raises(errors.Conflict):
        service.propose_share(alice.id, project['sub']['id'], ['carol'],
                              'viewer')
    outer = service.create_folder(alice.id, alice.workspace, None, 'outer')
    service.move_item(alice.id, project['folder']['id'], outer['id'])
    with pytest.raises(errors.Conflict):
        service.propose_share(alice.id, outer['id'], ['carol'], 'viewer')


@pytest.mark.parametrize('first', ['outer', 'inner'])
def test_offers_that_would_nest_once_one_is_accepted_are_refused(
        service, alice, bob, project, first):
    """Found by the cloud simulation (seed 1735): two offers made while
    neither folder was shared, one inside the other. Whichever is
    accepted first, the other's accept is refused (shares do not nest),
    and nothing changes."""
    outer = service.propose_share(alice.id, project['folder']['id'],
                                  ['bob'], 'editor')[0]
    inner = service.propose_share(alice.id, project['sub']['id'], ['bob'],
                                  'editor')[0]
    order = [outer, inner] if first == 'outer' else [inner, outer]
    accept(service, bob, order[0]['id'])
    before = service.get_workspaces(bob.id)
    with pytest.raises(errors.Conflict):
        accept(service, bob, order[1]['id'], container='ws-second')
    assert service.get_workspaces(bob.id) == before


def test_a_member_cannot_reshare(service, alice, bob, carol, project):
    [result] = share(service, alice, project['folder']['id'], bob)
    with pytest.raises(errors.Forbidden):
        service.propose_share(bob.id, result['mount']['id'], ['carol'],
                              'viewer')


def test_owner_invites_more_through_the_shared_folder(service, alice, bob,
                                                      carol, project):
    share(service, alice, project['folder']['id'], bob)
    with pytest.raises(errors.Conflict):
        service.propose_share(alice.id, project['folder']['id'], ['bob'],
                              'viewer')
    [joined] = share(service, alice, project['folder']['id'], carol,
                     role='viewer')
    assert joined['workspace']['role'] == 'viewer'


def test_nothing_goes_into_or_dies_with_a_mount(service, alice, bob,
                                                project):
    [result] = share(service, alice, project['folder']['id'], bob)
    mount = result['mount']
    with pytest.raises(errors.BadRequest):
        service.create_folder(bob.id, bob.workspace, mount['id'], 'x')
    with pytest.raises(errors.BadRequest):
        service.delete_item(bob.id, mount['id'])
    holder = service.create_folder(bob.id, bob.workspace, None, 'holder')
    moved = service.move_item(bob.id, mount['id'], holder['id'])
    assert moved['parent_id'] == holder['id']
    with pytest.raises(errors.BadRequest):
        service.delete_item(bob.id, holder['id'])
    renamed = service.rename_item(bob.id, mount['id'], 'from alice')
    assert renamed['mount_workspace_id'] == result['workspace']['id']


# -- unshare and leave ----------------------------------------------------

def test_unshare_revokes_and_unmounts(service, alice, bob, carol, project):
    folder_id = project['folder']['id']
    bob_share, _carol_share = share(service, alice, folder_id, bob, carol)
    shared_id = bob_share['workspace']['id']
    cursor = service.get_changes(bob.id, bob.workspace)['cursor']
    before = service.acl_state(shared_id)['version']
    result = service.remove_member(alice.id, folder_id, 'bob')
    assert result['removed'] == bob.id
    assert [m['name'] for m in result['members']] == ['alice', 'carol']
    with pytest.raises(errors.NotFound):
        service.get_item(bob.id, project['report']['id'])
    with pytest.raises(errors.NotFound):
        service.get_changes(bob.id, shared_id)
    delta = service.get_changes(bob.id, bob.workspace, cursor)
    assert [(e['id'], e['status']) for e in delta['entries']] == \
        [(bob_share['mount']['id'], 'DELETED')]
    assert service.list_folder(bob.id, 0)['contents'] == []
    assert service.acl_state(shared_id)['version'] == before + 1
    assert user_events(service, bob.id)[-1] == {
        'type': 'membership', 'user': bob.id, 'workspace': shared_id,
        'role': None, 'by': alice.id}
    # carol keeps her access.
    assert service.get_item(carol.id, project['report']['id'])


def test_a_member_leaves(service, alice, bob, carol, project):
    [result] = share(service, alice, project['folder']['id'], bob)
    with pytest.raises(errors.Forbidden):
        service.remove_member(bob.id, result['mount']['id'], 'alice')
    left = service.remove_member(bob.id, result['mount']['id'])
    assert left['removed'] == bob.id
    assert service.share_members(alice.id, project['folder']['id'])[0][
        'name'] == 'alice'
    with pytest.raises(errors.BadRequest):
        service.remove_member(alice.id, project['folder']['id'], 'alice')


def test_unshare_cancels_a_pending_proposal(service, alice, bob, project):
    service.propose_share(alice.id, project['folder']['id'], ['bob'],
                          'viewer')
    result = service.remove_member(alice.id, project['folder']['id'], 'bob')
    assert len(result['cancelled']) == 1
    assert service.list_proposals(bob.id) == []
    with pytest.raises(errors.NotFound):
        service.remove_member(alice.id, project['folder']['id'], 'bob')


def test_a_removed_member_can_be_invited_again(service, alice, bob,
                                               project):
    folder_id = project['folder']['id']
    [first] = share(service, alice, folder_id, bob)
    service.remove_member(alice.id, folder_id, 'bob')
    [second] = share(service, alice, folder_id, bob, role='viewer')
    assert second['workspace']['id'] == first['workspace']['id']
    assert second['mount']['id'] != first['mount']['id']
    assert second['mount']['filename'] == 'project'


def test_members_of_an_unshared_folder_is_its_owner(service, alice,
                                                    project):
    members = service.share_members(alice.id, project['folder']['id'])
    assert [(m['name'], m['role']) for m in members] == [('alice', 'owner')]


# -- ACL state ------------------------------------------------------------

def test_acl_state_follows_membership(service, alice, bob, carol, project):
    folder_id = project['folder']['id']
    service.propose_share(alice.id, folder_id, ['bob'], 'editor')
    service.propose_share(alice.id, folder_id, ['carol'], 'viewer')
    for who in (bob, carol):
        accept(service, who, service.list_proposals(who.id)[0]['id'])
    shared_id = service.resolve_folder(alice.id, folder_id)['workspace_id']
    state = service.acl_state(shared_id)
    assert state['container'] == 'ws-shared'
    assert [(p['user']['name'], p['role']) for p in state['members']] == \
        [('alice', 'owner'), ('bob', 'editor'), ('carol', 'viewer')]
    assert (state['version'], state['synced']) == (2, 0)
    assert service.acl_workspaces() == [shared_id]
    assert service.acl_workspaces(pending_only=False) == [shared_id]
    assert not service.mark_acls_synced(shared_id, 1)
    assert service.mark_acls_synced(shared_id, 2)
    assert service.acl_workspaces() == []
    assert service.acl_workspaces(pending_only=False) == [shared_id]


def test_a_mount_names_the_root_of_its_own_workspace(service, alice, bob,
                                                     project):
    [result] = share(service, alice, project['folder']['id'], bob)
    shared_id = result['workspace']['id']
    created = service.create_file(bob.id, shared_id, result['mount']['id'],
                                  'via-mount.txt', **content(b'm'))
    assert created['parent_id'] is None
    moved = service.move_item(alice.id, project['deep']['id'],
                              project['folder']['id'])
    assert moved['parent_id'] is None and moved['workspace_id'] == shared_id
    with pytest.raises(errors.BadRequest):
        service.create_file(bob.id, bob.workspace, result['mount']['id'],
                            'wrong.txt', **content(b'w'))


@pytest.mark.parametrize('member', [[], 7, {'name': 'bob'}, ''])
def test_a_member_name_must_be_a_name(service, alice, bob, project, member):
    share(service, alice, project['folder']['id'], bob)
    with pytest.raises(errors.BadRequest):
        service.remove_member(alice.id, project['folder']['id'], member)
