"""The failures sync users report most, each with one documented outcome.

Two (or three) clients of one user over the real metadata service, no
network faults, driven step by step. Each test states the outcome.
"""

import pytest

from stacksync_swift.client.engine import MassDeleteRefused
from stacksync_swift.client.engine import RootVanished
from stacksync_swift.client.interfaces import LocalChanged
from tests.simulation import sim
from tests.simulation.fakes import FOLDER
from tests.simulation.fakes import NetworkDown
from tests.simulation.fakes import sha256

pytestmark = pytest.mark.simulation


@pytest.fixture
def world():
    return sim.Simulation(0, clients=2, faults=False)


def sync(world, *clients):
    for client in clients or world.clients:
        summary = client.engine.sync_once()
        assert summary.error is None, summary.error
        assert summary.converged


def settle(world):
    for _pass in range(3):
        sync(world)
    world.check()


def server(world):
    return world.server.tree(world.user, world.workspace)


def conflicted(tree, stem):
    return [path for path in tree if path.startswith(stem + ' (') and
            'conflicted copy' in path]


def test_server_back_in_time_keeps_newer_local_data(world):
    """The metadata database comes back from an older backup: the client
    sees its cursor ahead of the server, drops its merge base and
    re-uploads what the server lost; nothing local is deleted."""
    a, b = world.clients
    a.fs.nodes['old'] = b'old'
    a.fs._touch('old')
    sync(world, a)
    backup = world.server.snapshot()
    a.fs.nodes['new'] = b'new'
    a.fs._touch('new')
    a.fs.nodes['old'] = b'old, edited'
    a.fs._touch('old')
    sync(world, a)
    world.server.restore(backup)
    summary = a.engine.sync_once()
    assert summary.time_travel
    assert a.fs.nodes['new'] == b'new'
    assert a.fs.nodes['old'] == b'old, edited' or \
        b'old, edited' in a.fs.nodes.values()
    settle(world)
    assert sha256(b'new') in server(world).values()
    assert sha256(b'old, edited') in server(world).values()


def test_vanished_sync_folder_stops_without_deleting(world):
    a, b = world.clients
    a.engine.options.allow_mass_delete = False
    a.fs.nodes['f'] = b'data'
    a.fs._touch('f')
    sync(world, a)
    a.fs.vanished = True
    with pytest.raises(RootVanished):
        a.engine.sync_once()
    a.fs.vanished = False
    a.fs.nodes.clear()          # mounted, but empty: unmounted disk
    with pytest.raises(RootVanished):
        a.engine.sync_once()
    assert 'f' in server(world)


def test_mass_delete_asks_first(world):
    a, b = world.clients
    a.engine.options.allow_mass_delete = False
    for n in range(20):
        a.fs.nodes['f%d' % n] = b'%d' % n
        a.fs._touch('f%d' % n)
    sync(world, a)
    for n in range(15):
        del a.fs.nodes['f%d' % n]
    with pytest.raises(MassDeleteRefused):
        a.engine.sync_once()
    assert len(server(world)) == 20
    a.engine.options.allow_mass_delete = True
    sync(world, a)
    assert len(server(world)) == 5


def test_local_edit_since_scan_is_never_overwritten(world):
    """The server has a new version; the user edits the file between the
    scan and the download: the download is refused and next round the
    two versions end as the server's plus a conflicted copy."""
    a, b = world.clients
    a.fs.nodes['f'] = b'v1'
    a.fs._touch('f')
    settle(world)
    b.fs.nodes['f'] = b'v2 from b'
    b.fs._touch('f')
    sync(world, b)

    def edit(path):
        a.fs.before_replace = None
        a.fs.nodes[path] = b'v2 from a'
        a.fs._touch(path)
    a.fs.before_replace = edit
    summary = a.engine.sync_once()
    assert any(item.outcome == 'changed' for item in summary.items)
    settle(world)
    tree = server(world)
    assert tree['f'] == sha256(b'v2 from b')
    assert [tree[p] for p in conflicted(tree, 'f')] == [sha256(b'v2 from a')]


def test_write_atomic_refuses_a_changed_file(world):
    a, _b = world.clients
    a.fs.nodes['f'] = b'x'
    a.fs._touch('f')
    with pytest.raises(LocalChanged):
        a.fs.write_atomic('f', [b'y'], None)


def test_create_create(world):
    """Both create one name: the first to commit wins the name, the
    other's file becomes its conflicted copy, on both sides."""
    a, b = world.clients
    a.fs.nodes['doc.txt'] = b'from a'
    a.fs._touch('doc.txt')
    b.fs.nodes['doc.txt'] = b'from b'
    b.fs._touch('doc.txt')
    sync(world, a)
    settle(world)
    tree = server(world)
    assert tree['doc.txt'] == sha256(b'from a')
    copies = conflicted(tree, 'doc')
    assert [tree[p] for p in copies] == [sha256(b'from b')]
    assert "dev1's conflicted copy" in copies[0]
    assert copies[0].endswith('.txt')


def test_edit_edit(world):
    a, b = world.clients
    a.fs.nodes['f'] = b'v1'
    a.fs._touch('f')
    settle(world)
    a.fs.nodes['f'] = b'a'
    a.fs._touch('f')
    b.fs.nodes['f'] = b'b'
    b.fs._touch('f')
    sync(world, b)
    settle(world)
    tree = server(world)
    assert tree['f'] == sha256(b'b')
    assert [tree[p] for p in conflicted(tree, 'f')] == [sha256(b'a')]


@pytest.mark.parametrize('deleter', [0, 1])
def test_edit_delete_the_edit_wins(world, deleter):
    a, b = world.clients
    a.fs.nodes['f'] = b'v1'
    a.fs._touch('f')
    settle(world)
    editor = world.clients[1 - deleter]
    del world.clients[deleter].fs.nodes['f']
    editor.fs.nodes['f'] = b'v2'
    editor.fs._touch('f')
    sync(world, world.clients[deleter])
    settle(world)
    assert server(world) == {'f': sha256(b'v2')}


def test_rename_edit(world):
    a, b = world.clients
    a.fs.nodes['f'] = b'v1'
    a.fs._touch('f')
    settle(world)
    a.fs.nodes['g'] = a.fs.nodes.pop('f')
    a.fs.mtimes['g'] = a.fs.mtimes.pop('f')
    b.fs.nodes['f'] = b'v2'
    b.fs._touch('f')
    sync(world, a)
    settle(world)
    assert server(world) == {'g': sha256(b'v2')}


def test_folder_moved_while_a_file_inside_is_edited(world):
    a, b = world.clients
    a.fs.nodes['d'] = FOLDER
    a.fs._touch('d')
    a.fs.nodes['d/f'] = b'v1'
    a.fs._touch('d/f')
    a.fs.nodes['e'] = FOLDER
    a.fs._touch('e')
    settle(world)
    a.fs.move('d', 'e/d')
    b.fs.nodes['d/f'] = b'v2'
    b.fs._touch('d/f')
    sync(world, a)
    settle(world)
    assert server(world) == {'e': None, 'e/d': None, 'e/d/f': sha256(b'v2')}


def test_renames_are_sent_as_moves(world):
    a, b = world.clients
    a.fs.nodes['f'] = b'v1'
    a.fs._touch('f')
    settle(world)
    item = a.engine.state.base(world.workspace)['f'].item_id
    a.fs.move('f', 'g')
    settle(world)
    assert b.engine.state.base(world.workspace)['g'].item_id == item


def test_folder_deleted_while_the_other_adds_a_file(world):
    """A deletes a folder; B adds a file to it first: the folder is not
    deleted with the file A never saw (``if_empty``); it comes back."""
    a, b = world.clients
    a.fs.nodes['d'] = FOLDER
    a.fs._touch('d')
    settle(world)
    b.fs.nodes['d/new'] = b'new'
    b.fs._touch('d/new')
    sync(world, b)
    world.network.faults = False
    del a.fs.nodes['d']
    a.engine.sync_once()
    settle(world)
    assert server(world) == {'d': None, 'd/new': sha256(b'new')}


def test_a_file_put_back_while_its_delete_is_in_flight_is_kept(world):
    """Found by seed 1000313: the user deletes a file, and while the sync
    sends that delete puts the same bytes back under the same name; the
    answer is lost. The engine remembers the deletes it sent, so next
    round the file counts as new (uploaded), not as unchanged since the
    base (which would delete it to follow the server)."""
    a, b = world.clients
    a.fs.nodes['x'] = b'same bytes'
    a.fs._touch('x')
    settle(world)
    del a.fs.nodes['x']
    del a.fs.mtimes['x']
    sent = a.remote.commit

    def commit_then_lose_the_answer(workspace_id, items):
        sent(workspace_id, items)
        a.remote.commit = sent
        a.fs.nodes['x'] = b'same bytes'
        a.fs._touch('x')
        raise NetworkDown('response lost')

    a.remote.commit = commit_then_lose_the_answer
    assert a.engine.sync_once().error
    settle(world)
    assert a.fs.nodes['x'] == b'same bytes'
    assert server(world)['x'] == sha256(b'same bytes')


def test_a_file_deleted_after_its_move_lost_its_answer_stays_deleted(world):
    """Found by the cloud simulation (seed 427): a move is sent and the
    answer lost; before the next pass the user deletes the moved file.
    The engine remembers the moves it sent, so next round the server's
    item at the new name is its own move, and the delete goes up; before,
    the server's "move" beat the local delete and the file came back."""
    a, b = world.clients
    a.fs.nodes['old'] = b'moved then deleted'
    a.fs._touch('old')
    settle(world)
    a.fs.nodes['new'] = a.fs.nodes.pop('old')
    a.fs.mtimes['new'] = a.fs.mtimes.pop('old')
    sent = a.remote.commit

    def commit_then_lose_the_answer(workspace_id, items):
        sent(workspace_id, items)
        a.remote.commit = sent
        raise NetworkDown('response lost')

    a.remote.commit = commit_then_lose_the_answer
    assert a.engine.sync_once().error
    assert server(world) == {'new': sha256(b'moved then deleted')}
    del a.fs.nodes['new']
    del a.fs.mtimes['new']
    settle(world)
    assert server(world) == {}
    assert a.fs.tree() == b.fs.tree() == {}


def ids(world):
    """``{path: item id}`` of the server's live items."""
    from stacksync_swift.client.tree import RemoteItem
    from stacksync_swift.client.tree import remote_paths
    delta = world.server.service.get_changes(world.user, world.workspace, 0)
    items = {meta['id']: RemoteItem.from_meta(meta)
             for meta in delta['entries']}
    return {path: item.id for path, item in remote_paths(items).items()}


def test_a_file_moved_onto_a_name_taken_meanwhile_keeps_its_id(world):
    """Found by the cloud simulation (seed 16): a file renamed here to a
    name the server gave a folder meanwhile becomes a conflicted copy of
    that name, as the same item (moved), not a deleted item and a new one
    (which lost its history)."""
    a, b = world.clients
    a.fs.nodes['f'] = b'keep my history'
    a.fs._touch('f')
    settle(world)
    before = ids(world)['f']
    b.fs.nodes['g'] = FOLDER
    b.fs._touch('g')
    sync(world, b)
    a.fs.nodes['g'] = a.fs.nodes.pop('f')
    a.fs.mtimes['g'] = a.fs.mtimes.pop('f')
    settle(world)
    after = ids(world)
    assert server(world)['g'] is None
    copy, = conflicted(server(world), 'g')
    assert server(world)[copy] == sha256(b'keep my history')
    assert after[copy] == before


def test_a_folder_moved_onto_a_folder_made_meanwhile_merges_by_moves(world):
    """Found by the cloud simulation (seed 418): a folder renamed here to
    the name of a folder made on the server meanwhile merges into it, and
    its files go there as moves of the same items."""
    a, b = world.clients
    a.fs.nodes['p'] = FOLDER
    a.fs._touch('p')
    a.fs.nodes['p/c'] = b'inside'
    a.fs._touch('p/c')
    settle(world)
    before = ids(world)['p/c']
    b.fs.nodes['q'] = FOLDER
    b.fs._touch('q')
    sync(world, b)
    for path in ('p', 'p/c'):
        new = 'q' + path[1:]
        a.fs.nodes[new] = a.fs.nodes.pop(path)
        a.fs.mtimes[new] = a.fs.mtimes.pop(path)
    settle(world)
    assert server(world) == {'q': None, 'q/c': sha256(b'inside')}
    assert ids(world)['q/c'] == before


def test_a_folder_forgotten_mid_round_keeps_no_synced_files(world):
    """Found by the cloud simulation (seed 126254): the server made a
    synced folder a file while the folder here held a new file, so the
    folder leaves the merge base and its synced files are deleted here.
    A round cut short between the two (a download failing) left those
    files synced below a folder the base no longer had; next round the
    folder was set aside as a conflicted copy, and a file deleted on the
    other device came back with it."""
    a, b = world.clients
    for path, data in (('d', FOLDER), ('d/f', b'deleted there'),
                       ('d (x)', b'first')):
        a.fs.nodes[path] = data
        a.fs._touch(path)
    settle(world)
    for path in ('d/f', 'd'):
        del b.fs.nodes[path]
        del b.fs.mtimes[path]
    for path, data in (('d', b'now a file'), ('d (x)', b'second')):
        b.fs.nodes[path] = data
        b.fs._touch(path)
    sync(world, b)
    a.fs.nodes['d/new'] = b'new here'
    a.fs._touch('d/new')
    fetch = a.remote.get_chunk

    def fail_once(workspace_id, name):
        a.remote.get_chunk = fetch
        raise NetworkDown('request dropped')

    a.remote.get_chunk = fail_once
    assert a.engine.sync_once().error
    settle(world)
    assert sha256(b'deleted there') not in server(world).values()
    assert sha256(b'new here') in server(world).values()
