"""Sharing on the real all-in-one: three users, the API and raw Swift.

alice shares a folder with bob (editor) and carol (viewer). bob's edit
reaches alice through the shared workspace's changes; carol's writes are
refused through the API and through raw Swift (OAuth-signed requests to the
shared container, which stacksync_auth checks against its ACLs); a
conflict between alice and bob leaves a conflicted copy and loses nothing;
after the unshare, bob's raw Swift GET on the shared container fails; the
operator's reconciler puts back ACLs changed behind its back.
"""

import datetime
import re
import subprocess
import sys
import uuid

import pytest
from swiftclient import client as swiftclient

from stacksync_swift.metadata import names
from tests.functional import apiclient
from tests.functional.apiclient import chunk_name
from tests.functional.apiclient import raw_chunk
from tests.functional.apiclient import raw_chunk_url
from tests.functional.apiclient import raw_url

alice = apiclient.alice      # fixtures
bob = apiclient.bob
carol = apiclient.carol


def name_of(client):
    return client.user['name']


def new_folder(client, name, parent=0):
    resp = client.post('/v1/folder', json={'name': name, 'parent': parent})
    assert resp.status_code == 201, resp.text
    return resp.json()


def propose(owner, folder_id, role, *people):
    resp = owner.post('/v1/folder/%d/share' % folder_id, json={
        'users': [name_of(who) for who in people], 'role': role})
    assert resp.status_code == 201, resp.text
    return resp.json()['proposals']


def join(owner, folder_id, role, member):
    """Propose, find the proposal in the member's inbox, accept it."""
    [sent] = propose(owner, folder_id, role, member)
    inbox = member.get('/v1/proposals').json()
    assert sent['id'] in [proposal['id'] for proposal in inbox]
    resp = member.post('/v1/proposal/%d/accept' % sent['id'])
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture
def shared(cluster, alice, bob, carol):
    """alice's "project" shared with bob (editor) and carol (viewer)."""
    folder = new_folder(alice, 'project')
    report = alice.upload(b'first draft', name='report.txt',
                          parent=folder['id'])
    bob_joined = join(alice, folder['id'], 'editor', bob)
    carol_joined = join(alice, folder['id'], 'viewer', carol)
    assert bob_joined['acl_synced'] and carol_joined['acl_synced']
    # Raw Swift readers find the history in the shared container once the
    # proxy copied it there (API reads do not wait).
    apiclient.wait_for_copy(bob, bob_joined['workspace']['id'])
    return {'folder': folder, 'report': report,
            'workspace': bob_joined['workspace'],
            'bob_mount': bob_joined['mount'],
            'carol_mount': carol_joined['mount']}


def test_members_see_the_shared_folder_in_their_root(alice, bob, carol,
                                                     shared):
    for member, mount in ((bob, shared['bob_mount']),
                          (carol, shared['carol_mount'])):
        root = member.get('/v1/folder/0/contents').json()
        assert [item['id'] for item in root['contents']] == [mount['id']]
        assert mount['mount_workspace_id'] == shared['workspace']['id']
        listing = member.get('/v1/folder/%d/contents' % mount['id']).json()
        assert [item['filename'] for item in listing['contents']] == \
            ['report.txt']
    # alice's folder stays where it was, now a mount of the workspace.
    folder = alice.get('/v1/folder/%d' % shared['folder']['id']).json()
    assert folder['mount_workspace_id'] == shared['workspace']['id']
    members = alice.get('/v1/folder/%d/members'
                        % shared['folder']['id']).json()
    assert [(m['name'], m['role']) for m in members] == [
        (name_of(alice), 'owner'), (name_of(bob), 'editor'),
        (name_of(carol), 'viewer')]
    report = bob.get('/v1/file/%d/data' % shared['report']['id'])
    assert report.content == b'first draft'


def test_bobs_edit_reaches_alice_through_changes(alice, bob, shared):
    workspace = shared['workspace']['id']
    cursor = alice.get('/v1/workspace/%d/changes' % workspace).json()[
        'cursor']
    report = shared['report']
    resp = bob.put('/v1/file/%d/data' % report['id'], data=b'bob edited',
                   headers={'If-Match': str(report['version'])})
    assert resp.status_code == 200, resp.text
    created = bob.upload(b'notes', name='notes.txt',
                         parent=shared['bob_mount']['id'])
    assert created['workspace_id'] == workspace
    delta = alice.get('/v1/workspace/%d/changes' % workspace,
                      params={'cursor': cursor}).json()
    assert [(e['id'], e['version']) for e in delta['entries']] == [
        (report['id'], report['version'] + 1), (created['id'], 1)]
    assert alice.get('/v1/file/%d/data' % report['id']).content == \
        b'bob edited'


def test_carols_writes_are_refused_both_ways(cluster, carol, shared):
    report = shared['report']
    resp = carol.put('/v1/file/%d/data' % report['id'], data=b'carol',
                     headers={'If-Match': str(report['version'])})
    assert resp.status_code == 403, resp.text
    resp = carol.post('/v1/file', params={
        'name': 'carol.txt', 'parent': shared['carol_mount']['id']},
        data=b'carol')
    assert resp.status_code == 403, resp.text
    resp = carol.post('/v1/folder', json={
        'name': 'mine', 'parent': shared['carol_mount']['id']})
    assert resp.status_code == 403, resp.text
    container = shared['workspace']['container']
    chunk = chunk_name(b'first draft')
    # Raw Swift: she reads, she cannot write.
    holder = raw_chunk_url(cluster, container, chunk)
    assert raw_chunk(carol.session.get(holder), chunk) == b'first draft'
    data = b'carol was here'
    resp = carol.session.put(raw_url(cluster, container, chunk_name(data)),
                             data=data)
    assert resp.status_code == 403
    resp = carol.session.delete(holder)
    assert resp.status_code == 403
    # Nothing she sent was stored.
    for refused in (b'carol', data):
        resp = carol.session.head(raw_url(cluster, container,
                                          chunk_name(refused)))
        assert resp.status_code == 404


def test_a_conflict_leaves_a_conflicted_copy_and_loses_nothing(
        alice, bob, shared):
    report = shared['report']
    version = str(report['version'])
    won = alice.put('/v1/file/%d/data' % report['id'], data=b'alice wins',
                    headers={'If-Match': version})
    assert won.status_code == 200
    lost = bob.put('/v1/file/%d/data' % report['id'], data=b'bob loses',
                   headers={'If-Match': version})
    assert lost.status_code == 409
    assert lost.json()['item']['version'] == won.json()['version']
    # bob's client keeps its data as a conflicted copy beside the file.
    copy_name = names.conflicted_copy_name(
        'report.txt', name_of(bob),
        datetime.datetime.now(datetime.timezone.utc))
    copy = bob.upload(b'bob loses', name=copy_name,
                      parent=shared['bob_mount']['id'])
    listing = alice.get('/v1/folder/%d/contents'
                        % shared['folder']['id']).json()
    assert sorted(item['filename'] for item in listing['contents']) == \
        sorted(['report.txt', copy_name])
    assert alice.get('/v1/file/%d/data' % copy['id']).content == \
        b'bob loses'
    assert alice.get('/v1/file/%d/data' % report['id']).content == \
        b'alice wins'
    versions = alice.get('/v1/file/%d/versions' % report['id']).json()
    assert [v['version'] for v in versions] == [1, 2]


def test_unshare_revokes_api_and_raw_swift_access(cluster, alice, bob,
                                                  carol, shared):
    container = shared['workspace']['container']
    chunk_url = raw_chunk_url(cluster, container, chunk_name(b'first draft'))
    assert bob.session.get(chunk_url).status_code == 200
    resp = alice.post('/v1/folder/%d/unshare' % shared['folder']['id'],
                      json={'user': name_of(bob)})
    assert resp.status_code == 200, resp.text
    assert resp.json()['acl_synced']
    assert bob.session.get(chunk_url).status_code == 403
    assert bob.get('/v1/file/%d' % shared['report']['id']).status_code \
        == 404
    assert bob.get('/v1/folder/0/contents').json()['contents'] == []
    # carol is still in, and may leave by herself.
    assert carol.session.get(chunk_url).status_code == 200
    resp = carol.post('/v1/folder/%d/unshare' % shared['carol_mount']['id'])
    assert resp.status_code == 200, resp.text
    assert carol.session.get(chunk_url).status_code == 403


def test_clear_errors(alice, bob, carol, shared):
    folder_id = shared['folder']['id']
    sub = new_folder(alice, 'sub', parent=folder_id)

    def share_status(owner, folder, users, role='viewer'):
        return owner.post('/v1/folder/%d/share' % folder, json={
            'users': users, 'role': role}).status_code

    assert share_status(alice, sub['id'], [name_of(carol)]) == 409
    assert share_status(alice, folder_id, [name_of(alice)]) == 400
    assert share_status(alice, folder_id, ['nobody-' + uuid.uuid4().hex]) \
        == 404
    assert share_status(alice, folder_id, [name_of(bob)], 'owner') == 400
    assert share_status(bob, shared['bob_mount']['id'], [name_of(carol)]) \
        == 403
    other = new_folder(alice, 'other')
    [proposal] = propose(alice, other['id'], 'viewer', carol)
    assert bob.post('/v1/proposal/%d/accept' % proposal['id']).status_code \
        == 404
    assert alice.post('/v1/proposal/%d/accept' % proposal['id']
                      ).status_code == 403
    assert carol.post('/v1/proposal/%d/decline' % proposal['id']
                      ).status_code == 200
    assert carol.post('/v1/proposal/%d/accept' % proposal['id']
                      ).status_code == 409
    resp = alice.post('/v1/folder/0/share', json={'users': [name_of(bob)],
                                                  'role': 'viewer'})
    assert resp.status_code == 400
    assert resp.json()['error']


def test_the_reconciler_repairs_acls_changed_behind_its_back(
        cluster, alice, bob, carol, shared):
    container = shared['workspace']['container']
    # By hand, on a proxy without our filters (which refuse raw writes to
    # workspace containers, the admin's included).
    admin = swiftclient.Connection(cluster.bare_url + '/auth/v1.0',
                                   cluster.admin_user, cluster.admin_key,
                                   retries=0)
    try:
        # Drift: bob dropped from the ACLs by hand. (Our proxy keeps its
        # cached container info until it expires: its cache is in-process,
        # and the history copy after the accept filled it.)
        admin.post_container(container, {
            'X-Container-Read': 'stacksync:%d' % alice.user['id']})
        assert admin.head_container(container)['x-container-read'] == \
            'stacksync:%d' % alice.user['id']
        # The operator's command, as run on a proxy node.
        done = subprocess.run(
            [sys.executable, '-m', 'stacksync_swift.cli', '--state',
             cluster.state_dir, 'sharing-reconcile'],
            capture_output=True, text=True, timeout=120, check=False)
        headers = admin.head_container(container)
    finally:
        admin.close()
    assert done.returncode == 0, done.stderr
    assert re.search(r'repaired [\d, ]*\b%d\b' % shared['workspace']['id'],
                     done.stdout), done.stdout
    # Swift has the membership's ACLs again. (The running proxy sees them
    # when its cached container info expires: the all-in-one's cache is
    # in-process, not shared with this one as memcached would be.)
    assert set(headers['x-container-read'].split(',')) == {
        'stacksync:%d' % who.user['id'] for who in (alice, bob, carol)}
