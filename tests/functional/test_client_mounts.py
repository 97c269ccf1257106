"""``stacksync sync DIR`` with shared folders inside, against the all-in-one.

Alice shares ``Team/`` from her sync folder with bob; bob's plain
``stacksync sync BOBDIR`` (no ``--workspace``) brings the share into
``BOBDIR/Team/`` and sends his changes back, and leaving the share keeps
his local files (in ``.stacksync/trash``) without an error on later
passes. Users and helpers are those of :mod:`.clientuser`.
"""

import glob
import os

from tests.functional import clientuser
from tests.functional.clientuser import tree
from tests.functional.clientuser import write

alice = clientuser.alice      # fixtures
bob = clientuser.bob


def mount_id(user, name):
    """The id of ``user``'s item ``name`` in the root of their tree."""
    listing = user.api.get('/v1/folder/0/contents').json()
    return next(item['id'] for item in listing['contents']
                if item['filename'] == name)


def share_team(alice, bob):
    alice.run('share', 'Team', bob.name)
    proposal = bob.run('proposals').split()[0]
    bob.run('accept', proposal)


def test_a_shared_folder_syncs_inside_the_sync_folder(alice, bob,
                                                      tmp_path):
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    write(mine / 'Team' / 'agenda.txt', b'monday')
    write(mine / 'notes.txt', b'private to alice')
    write(theirs / 'diary.txt', b'private to bob')
    alice.sync(mine)
    bob.sync(theirs)
    share_team(alice, bob)

    bob.sync(theirs)
    assert tree(theirs) == {'diary.txt': b'private to bob',
                            os.path.join('Team', 'agenda.txt'): b'monday'}

    write(theirs / 'Team' / 'agenda.txt', b'monday and tuesday')
    write(theirs / 'Team' / 'minutes.txt', b'from bob')
    bob.sync(theirs)
    alice.sync(mine)
    assert tree(mine) == {
        'notes.txt': b'private to alice',
        os.path.join('Team', 'agenda.txt'): b'monday and tuesday',
        os.path.join('Team', 'minutes.txt'): b'from bob'}
    # Nothing of the share went into a private workspace.
    bob_root = bob.api.get('/v1/folder/0/contents').json()['contents']
    assert sorted(item['filename'] for item in bob_root) == ['Team',
                                                           'diary.txt']
    team = bob.api.get('/v1/folder/%d/contents'
                       % mount_id(bob, 'Team')).json()['contents']
    assert sorted(item['filename'] for item in team) == ['agenda.txt',
                                                         'minutes.txt']


def test_leaving_keeps_the_local_files_and_stops_syncing(alice, bob,
                                                         tmp_path):
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    write(mine / 'Team' / 'agenda.txt', b'monday')
    alice.sync(mine)
    share_team(alice, bob)
    bob.sync(theirs)
    write(theirs / 'Team' / 'late.txt', b'written as bob left')

    resp = bob.api.post('/v1/folder/%d/unshare' % mount_id(bob, 'Team'))
    assert resp.status_code == 200, resp.text
    out = bob.sync(theirs)
    assert 'no longer shared with you' in out
    assert tree(theirs) == {}
    trash = os.path.join(str(theirs), '.stacksync', 'trash')
    kept = {os.path.relpath(path, trash).split(os.sep, 1)[1]:
            open(path, 'rb').read()
            for path in glob.glob(os.path.join(trash, '*', 'Team', '*'))}
    assert kept == {os.path.join('Team', 'agenda.txt'): b'monday',
                    os.path.join('Team', 'late.txt'): b'written as bob left'}

    again = bob.sync(theirs)
    assert 'up to date; 0 changes' in again
    assert bob.api.get('/v1/folder/0/contents').json()['contents'] == []
    alice.sync(mine)
    assert tree(mine) == {os.path.join('Team', 'agenda.txt'): b'monday'}
