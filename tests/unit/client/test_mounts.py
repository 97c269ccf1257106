"""Shared folders inside the sync folder (:mod:`.client.mounts`).

The orchestrator runs end to end in-process: the simulation's in-memory
file system, the real metadata service on SQLite and a network without
faults, with two people sharing a folder through the service itself.
"""

import dataclasses
import random

import pytest

from stacksync_swift.client import mounts
from stacksync_swift.client.engine import SyncEngine
from stacksync_swift.client.engine import SyncOptions
from stacksync_swift.client.engine import SyncStopped
from stacksync_swift.client.state import State
from stacksync_swift.client.tree import RemoteItem
from stacksync_swift.metadata import shares
from tests.simulation.fakes import FOLDER
from tests.simulation.fakes import FakeClock
from tests.simulation.fakes import MemoryFS
from tests.simulation.fakes import Network
from tests.simulation.fakes import PlainCodec
from tests.simulation.fakes import Server
from tests.simulation.fakes import SimRemote


class Person:
    """One person's device: a folder, a state database, the orchestrator.
    """

    def __init__(self, server, network, clock, name):
        self.server = server
        self.service = server.service
        self.id = self.service.create_user(name)['id']
        self.name = name
        self.fs = MemoryFS()
        self.state = State.open(':memory:')
        device = self.service.get_or_create_device(self.id, name + '-pc')
        self.remote = SimRemote(server, network, name, self.id,
                                device['id'])
        self.notices = []
        self.syncer = mounts.MountedSync(
            self.fs, self.remote, lambda space: PlainCodec(), self.state,
            clock, name + '-pc', SyncOptions(),
            notify=self.notices.append)

    def sync(self):
        summary = self.syncer.sync_once()
        assert summary.converged and not summary.error, summary
        return summary

    def files(self):
        """``{path: bytes}`` of the local files (folders left out)."""
        return {path: data for path, data in self.fs.nodes.items()
                if data is not FOLDER}

    def server_tree(self, workspace_id=None):
        return self.server.tree(self.id, workspace_id or self.private_id)

    @property
    def private_id(self):
        return next(space['id']
                    for space in self.service.get_workspaces(self.id)
                    if not space['is_shared'])

    def item_at(self, name):
        for item in self.service.list_folder(self.id, None)['contents']:
            if item['filename'] == name:
                return item
        raise KeyError(name)


@pytest.fixture
def world():
    server = Server()
    network = Network(random.Random(1), faults=False)
    clock = FakeClock()
    alice = Person(server, network, clock, 'alice')
    bob = Person(server, network, clock, 'bob')
    return server, alice, bob


def write(person, path, data):
    parts = path.split('/')
    for depth in range(1, len(parts)):
        person.fs.nodes.setdefault('/'.join(parts[:depth]), FOLDER)
        person.fs.mtimes.setdefault('/'.join(parts[:depth]), 0)
    person.fs.nodes[path] = data
    person.fs._touch(path)


def share(owner, member, folder='Team'):
    """``owner`` shares ``folder`` with ``member``, who accepts."""
    service = owner.service
    folder_id = owner.item_at(folder)['id']
    service.propose_share(owner.id, folder_id, [member.name], 'editor')
    proposal = service.list_proposals(member.id)[0]['id']
    copied = set()
    while True:
        try:
            return service.accept_proposal(member.id, proposal, 'ws',
                                           copied)
        except shares.ChunksNotCopied as missing:
            copied.update(missing.chunks)


@pytest.fixture
def shared(world):
    """Alice's ``Team/`` shared with bob, both synced."""
    server, alice, bob = world
    write(alice, 'Team/plan.txt', b'plan v1')
    write(alice, 'notes.txt', b'private to alice')
    alice.sync()
    accepted = share(alice, bob)
    alice.sync()
    bob.sync()
    return server, alice, bob, accepted['workspace']['id']


# -- the folder view and the exclusion ---------------------------------------

def test_folder_view_sees_and_changes_only_its_folder():
    fs = MemoryFS()
    fs.mkdir('Team')
    fs.mkdir('Team/sub')
    fs.write_atomic('Team/sub/a.txt', [b'a'], None)
    fs.write_atomic('Teamwork.txt', [b'next to it'], None)
    view = mounts.FolderView(fs, 'Team')
    assert sorted(view.scan()) == ['sub', 'sub/a.txt']
    assert view.exists('') and view.exists('sub/a.txt')
    assert not view.exists('Teamwork.txt')
    with view.read('sub/a.txt') as source:
        assert source.read() == b'a'
    view.write_atomic('b.txt', [b'b'], None)
    view.mkdir('new')
    view.move('b.txt', 'new/b.txt')
    view.delete('sub')
    assert fs.tree().keys() == {'Team', 'Team/new', 'Team/new/b.txt',
                                'Teamwork.txt'}
    assert [path for path, _data, _top in fs.trash] == ['Team/sub',
                                                  'Team/sub/a.txt']


def test_a_view_of_a_missing_folder_is_missing():
    assert not mounts.FolderView(MemoryFS(), 'Gone').exists('')


def test_exclude_keeps_a_folder_but_not_its_contents(world):
    server, alice, _bob = world
    write(alice, 'Team/inside.txt', b'not for this workspace')
    write(alice, 'outside.txt', b'synced')
    engine = SyncEngine(alice.fs, alice.remote, lambda space: PlainCodec(),
                        alice.state, FakeClock(), 'pc',
                        SyncOptions(exclude=lambda: ['Team']))
    summary = engine.sync_once()
    assert summary.converged
    assert alice.server_tree().keys() == {'Team', 'outside.txt'}
    # Something the server holds inside is left alone as well.
    team = alice.item_at('Team')['id']
    alice.service.create_folder(alice.id, alice.private_id, team, 'remote')
    assert engine.sync_once().converged
    assert 'Team/remote' not in alice.fs.nodes
    assert alice.fs.nodes['Team/inside.txt'] == b'not for this workspace'


def test_remote_items_keep_their_mount():
    item = RemoteItem.from_meta({'id': 3, 'parent_id': None,
                                 'filename': 'Team', 'is_folder': True,
                                 'version': 2, 'mount_workspace_id': 9})
    state = State.open(':memory:')
    state.save_remote(1, [item], cursor=5)
    assert state.remote_items(1)[3].mount_workspace_id == 9


# -- sharing end to end ------------------------------------------------------

def test_an_accepted_share_arrives_in_the_folder_of_its_name(shared):
    _server, alice, bob, team = shared
    assert bob.files() == {'Team/plan.txt': b'plan v1'}
    # Each workspace holds its own: nothing of Team/ in a private one.
    assert bob.server_tree() == {'Team': None}
    assert alice.server_tree().keys() == {'Team', 'notes.txt'}
    assert alice.server_tree(team).keys() == {'plan.txt'}
    assert alice.files() == {'Team/plan.txt': b'plan v1',
                             'notes.txt': b'private to alice'}
    # The owner's folder, synced before it was shared, is the mount: the
    # private merge base forgets what moved into the shared workspace.
    assert alice.state.base(alice.private_id).keys() == {'Team',
                                                         'notes.txt'}


def test_edits_on_each_side_reach_the_other(shared):
    _server, alice, bob, team = shared
    write(bob, 'Team/plan.txt', b'plan v2 by bob')
    write(bob, 'Team/minutes.txt', b'new from bob')
    bob.sync()
    alice.sync()
    assert alice.files()['Team/plan.txt'] == b'plan v2 by bob'
    assert alice.files()['Team/minutes.txt'] == b'new from bob'
    write(alice, 'Team/plan.txt', b'plan v3 by alice')
    alice.fs.delete('Team/minutes.txt')
    summary = alice.sync()
    assert {(item.kind, item.path) for item in summary.items} >= {
        ('upload', 'Team/plan.txt'), ('remote_delete', 'Team/minutes.txt')}
    bob.sync()
    assert bob.files() == {'Team/plan.txt': b'plan v3 by alice'}
    assert bob.server_tree() == {'Team': None}
    assert alice.server_tree(team).keys() == {'plan.txt'}


def test_the_owner_gets_what_changed_before_their_first_pass(world):
    _server, alice, bob = world
    write(alice, 'Team/plan.txt', b'plan v1')
    alice.sync()
    share(alice, bob)
    bob.sync()
    write(bob, 'Team/plan.txt', b'plan v2 by bob')
    bob.sync()
    summary = alice.sync()
    assert alice.files() == {'Team/plan.txt': b'plan v2 by bob'}
    assert summary.count('conflict') == 0


def test_a_mirror_without_mount_ids_is_fetched_again(shared):
    _server, _alice, bob, team = shared
    # As an older client stored it: the mount item without its mount.
    mirror = bob.state.remote_items(bob.private_id)
    stale = [dataclasses.replace(item, mount_workspace_id=None)
             for item in mirror.values()]
    bob.state.reset(team)
    bob.state.update_base(bob.private_id, items=stale)
    bob.fs.delete('Team/plan.txt')
    upgraded = mounts.MountedSync(bob.fs, bob.remote,
                                  lambda space: PlainCodec(), bob.state,
                                  FakeClock(), 'bob-pc')
    assert upgraded.sync_once().converged
    assert bob.files() == {'Team/plan.txt': b'plan v1'}


def test_a_quiet_pass_does_nothing(shared):
    _server, _alice, bob, _team = shared
    summary = bob.sync()
    assert summary.count() == 0 and not bob.notices


def test_leaving_moves_the_folder_to_the_trash_and_stops(shared):
    _server, alice, bob, team = shared
    write(bob, 'Team/unsent.txt', b'edited after leaving')
    bob.service.remove_member(bob.id, bob.item_at('Team')['id'])
    summary = bob.sync()
    assert [item.kind for item in summary.items] == [mounts.LEFT]
    assert bob.files() == {}
    trashed = {path: data for path, data, _top in bob.fs.trash}
    assert trashed['Team/plan.txt'] == b'plan v1'
    assert trashed['Team/unsent.txt'] == b'edited after leaving'
    assert bob.server_tree() == {}
    assert bob.sync().count() == 0
    assert bob.state.base(team) == {} and bob.state.cursor(team) == 0
    # The share itself is untouched.
    alice.sync()
    assert alice.files()['Team/plan.txt'] == b'plan v1'
    assert alice.server_tree(team).keys() == {'plan.txt'}


def test_a_share_comes_back_afresh_after_leaving(shared):
    _server, alice, bob, _team = shared
    bob.service.remove_member(bob.id, bob.item_at('Team')['id'])
    bob.sync()
    share(alice, bob)
    bob.sync()
    assert bob.files() == {'Team/plan.txt': b'plan v1'}


def test_a_deleted_mount_folder_comes_back(shared):
    _server, alice, bob, team = shared
    bob.fs.delete('Team')
    summary = bob.sync()
    assert mounts.RESTORED in [item.kind for item in summary.items]
    assert 'unshare' in bob.notices[0]
    assert bob.files() == {'Team/plan.txt': b'plan v1'}
    assert alice.server_tree(team).keys() == {'plan.txt'}
    assert bob.sync().count() == 0


def test_renaming_the_mount_folder_renames_the_mount(shared):
    _server, alice, bob, team = shared
    bob.fs.move('Team', 'Alice team')
    summary = bob.sync()
    assert [(item.kind, item.dest) for item in summary.items
            if item.kind in mounts.KINDS] == [(mounts.MOVED, 'Alice team')]
    assert bob.server_tree() == {'Alice team': None}
    write(bob, 'Alice team/more.txt', b'still shared')
    bob.sync()
    alice.sync()
    assert alice.files()['Team/more.txt'] == b'still shared'
    assert bob.sync().count() == 0


def test_a_mount_folder_renamed_in_case_alone_is_found_by_its_name(
        shared):
    # None of its synced files is left to find it by: the name says it.
    _server, alice, bob, team = shared
    bob.fs.delete('Team/plan.txt')
    write(bob, 'Team/new.txt', b'new by bob')
    bob.fs.move('Team', 'TEAM')
    summary = bob.sync()
    assert [(item.kind, item.dest) for item in summary.items
            if item.kind in mounts.KINDS] == [(mounts.MOVED, 'TEAM')]
    assert bob.files() == {'TEAM/new.txt': b'new by bob'}
    assert bob.server_tree() == {'TEAM': None}
    assert alice.server_tree(team).keys() == {'new.txt'}
    assert bob.sync().count() == 0


def test_a_mount_renamed_on_the_server_moves_here(shared):
    _server, alice, bob, _team = shared
    bob.service.rename_item(bob.id, bob.item_at('Team')['id'], 'Renamed')
    bob.sync()
    assert bob.files() == {'Renamed/plan.txt': b'plan v1'}
    write(bob, 'Renamed/plan.txt', b'plan v2 by bob')
    bob.sync()
    alice.sync()
    assert alice.files()['Team/plan.txt'] == b'plan v2 by bob'


def test_a_file_in_place_of_the_mount_folder_is_set_aside(shared):
    _server, _alice, bob, _team = shared
    bob.fs.delete('Team')
    write(bob, 'Team', b'a file now')
    summary = bob.sync()
    assert {mounts.SET_ASIDE, mounts.RESTORED} <= {
        item.kind for item in summary.items}
    assert bob.files() == {'Team/plan.txt': b'plan v1',
                           'Team (local copy)': b'a file now'}
    assert bob.sync().count() == 0


def test_moving_the_mount_folder_where_the_server_cannot_is_undone(shared):
    _server, _alice, bob, _team = shared
    bob.fs.mkdir('new')
    bob.fs.move('Team', 'new/Team')
    summary = bob.sync()
    assert mounts.MOVED_BACK in [item.kind for item in summary.items]
    assert bob.files() == {'Team/plan.txt': b'plan v1'}
    assert bob.server_tree() == {'Team': None, 'new': None}


def test_a_local_folder_with_the_mount_name_stays_private(world):
    _server, alice, bob = world
    write(alice, 'Team/plan.txt', b'plan v1')
    alice.sync()
    bob.sync()
    share(alice, bob)
    write(bob, 'Team/diary.txt', b'private to bob')
    summary = bob.sync()
    assert mounts.SET_ASIDE in [item.kind for item in summary.items]
    assert bob.files() == {'Team/plan.txt': b'plan v1',
                           'Team (local copy)/diary.txt': b'private to bob'}
    assert 'Team (local copy)/diary.txt' in bob.server_tree()
    alice.sync()
    assert 'diary.txt' not in str(alice.files())


def test_a_synced_folder_with_the_name_gives_the_mount_another(world):
    _server, alice, bob = world
    write(alice, 'Team/plan.txt', b'plan v1')
    write(bob, 'Team/own.txt', b'bob has a Team too')
    alice.sync()
    bob.sync()
    share(alice, bob)
    bob.sync()
    assert bob.files() == {'Team/own.txt': b'bob has a Team too',
                           'Team (alice)/plan.txt': b'plan v1'}


def test_a_share_emptied_here_stops_and_names_its_folder(shared):
    _server, alice, bob, team = shared
    bob.fs.delete('Team/plan.txt')     # the last file: unmounted?
    with pytest.raises(SyncStopped, match='shared folder Team: '):
        bob.syncer.sync_once()
    assert alice.server_tree(team).keys() == {'plan.txt'}


def test_a_deleted_folder_above_a_shared_folder_comes_back(world):
    """Found by the cloud simulation (seed 61): the owner deletes the
    folder that holds their shared folder. The server keeps both (a live
    mount cannot be deleted); the folders are made again around the
    mount folder, where every pass used to fail ("cannot create")."""
    _server, alice, bob = world
    write(alice, 'Work/Team/plan.txt', b'plan v1')
    write(alice, 'Work/other.txt', b'other')
    alice.sync()
    work = alice.item_at('Work')['id']
    team = next(item['id'] for item in alice.service.list_folder(
        alice.id, work)['contents'] if item['filename'] == 'Team')
    alice.service.propose_share(alice.id, team, [bob.name], 'editor')
    proposal = alice.service.list_proposals(bob.id)[0]['id']
    copied = set()
    while True:
        try:
            alice.service.accept_proposal(bob.id, proposal, 'ws', copied)
            break
        except shares.ChunksNotCopied as missing:
            copied.update(missing.chunks)
    alice.sync()
    alice.fs.delete('Work')
    alice.sync()
    alice.sync()
    assert alice.files() == {'Work/Team/plan.txt': b'plan v1'}
    assert alice.sync().count() == 0


def test_a_file_moved_into_a_folder_as_it_is_shared_leaves_the_mirror(
        world):
    """Found by the cloud simulation (seed 3163): a device that last saw
    a file at the top keeps it there when another device moves it into a
    folder that is then shared, since the private workspace's changes do
    not say it left. Seen in the share's mirror, it leaves the private
    one, and the file ends up in the shared folder only."""
    server, alice, bob = world
    laptop = second_device(server, alice)
    write(alice, 'Team/plan.txt', b'plan v1')
    write(alice, 'report.txt', b'report')
    alice.sync()
    laptop.sync()
    alice.fs.move('report.txt', 'Team/report.txt')
    alice.sync()
    share(alice, bob)
    alice.sync()
    for _pass in range(3):
        laptop.sync()
    assert laptop.files() == alice.files() == {
        'Team/plan.txt': b'plan v1', 'Team/report.txt': b'report'}


def test_a_file_moved_into_a_folder_as_it_is_shared_leaves_in_one_pass(
        world):
    """Found by the cloud simulation (seed 114029): the same, where the
    share's first fetch comes after the private engine's pass. The file
    stayed at the top until a next pass, which a watcher never made."""
    server, alice, bob = world
    laptop = second_device(server, alice)
    write(alice, 'Team/plan.txt', b'plan v1')
    write(alice, 'report.txt', b'report')
    alice.sync()
    laptop.sync()
    alice.fs.move('report.txt', 'Team/report.txt')
    alice.sync()
    share(alice, bob)
    laptop.sync()
    assert laptop.files() == {'Team/plan.txt': b'plan v1',
                              'Team/report.txt': b'report'}
    assert laptop.sync().count() == 0


def second_device(server, person):
    """Another device of ``person``'s, with a folder of its own."""
    laptop = Person.__new__(Person)
    laptop.server, laptop.service = server, server.service
    laptop.id, laptop.name = person.id, person.name
    laptop.fs = MemoryFS()
    laptop.state = State.open(':memory:')
    device = server.service.get_or_create_device(person.id, 'laptop')
    laptop.remote = SimRemote(server, person.remote.network, 'laptop',
                              person.id, device['id'])
    laptop.notices = []
    laptop.syncer = mounts.MountedSync(
        laptop.fs, laptop.remote, lambda space: PlainCodec(), laptop.state,
        person.syncer.clock, 'laptop', SyncOptions(),
        notify=laptop.notices.append)
    return laptop
