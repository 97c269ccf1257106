"""The stacksync client end to end against the all-in-one.

Two users, each with their own config folder (credentials saved the way
``stacksync login`` saves them), and two sync folders per scenario; the
command is run in-process through :func:`stacksync_swift.client.cli.main`.
"""

import hashlib
import io
import os

from stacksync_swift.client import cli
from tests.functional import apiclient
from tests.functional import clientuser
from tests.functional.clientuser import tree
from tests.functional.clientuser import write
from tests.functional.conftest import connect

alice = clientuser.alice      # fixtures
bob = clientuser.bob


def test_create_edit_rename_move_delete(alice, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    write(one / 'notes.txt', b'first')
    write(one / 'docs' / 'report.odt', os.urandom(1024 * 1024))
    alice.sync(one)
    alice.sync(two)
    assert tree(two) == tree(one)
    write(one / 'notes.txt', b'second')
    os.rename(one / 'docs' / 'report.odt', one / 'docs' / 'final.odt')
    os.makedirs(one / 'archive')
    os.rename(one / 'notes.txt', one / 'archive' / 'notes.txt')
    alice.sync(one)
    out = alice.sync(two)
    assert tree(two) == tree(one)
    assert 'archive/notes.txt' in tree(two) and out
    os.unlink(two / 'docs' / 'final.odt')
    alice.sync(two)
    alice.sync(one)
    assert 'docs/final.odt' not in tree(one)
    trash = os.path.join(str(one), '.stacksync', 'trash')
    assert os.listdir(trash)          # deleted locally into the trash


def test_edit_while_offline_is_a_conflicted_copy(alice, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    write(one / 'plan.txt', b'v1')
    alice.sync(one)
    alice.sync(two)
    write(one / 'plan.txt', b'from one')
    write(two / 'plan.txt', b'from two, offline')
    alice.sync(one)
    alice.sync(two)
    alice.sync(one)
    assert tree(one) == tree(two)
    contents = sorted(tree(one).values())
    assert contents == [b'from one', b'from two, offline']
    assert any('conflicted copy' in name for name in tree(one))


def test_shared_folder_between_two_users(alice, bob, tmp_path):
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    alice.run('mkdir', 'team')
    alice.run('share', 'team', bob.name)
    proposal = bob.run('proposals').split()[0]
    bob.run('accept', proposal)
    shared = [w for w in bob.api.get('/v1/workspaces').json()
              if w['is_shared']][0]['id']
    # The engine syncs one workspace per folder: the shared one gets its
    # own folder on both sides.
    write(mine / 'agenda.txt', b'monday')
    alice.sync(mine, '--workspace', str(shared))
    bob.sync(theirs, '--workspace', str(shared))
    assert tree(theirs) == {'agenda.txt': b'monday'}
    write(theirs / 'agenda.txt', b'monday and tuesday')
    bob.sync(theirs, '--workspace', str(shared))
    alice.sync(mine, '--workspace', str(shared))
    assert tree(mine) == {'agenda.txt': b'monday and tuesday'}


def test_encrypted_workspace_stores_ciphertext(alice, bob, cluster,
                                               tmp_path, monkeypatch):
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'correct horse battery')
    out = alice.run('workspace', 'create', 'vault', '--encrypted')
    workspace = out.split('--workspace ')[1].strip()
    secret = b'the launch code is 0000\n' * 50000
    one, two = tmp_path / 'one', tmp_path / 'two'
    write(one / 'secret.txt', secret)
    alice.sync(one, '--workspace', workspace)
    alice.sync(two, '--workspace', workspace, device='two')
    assert tree(two) == {'secret.txt': secret}
    container = [w for w in alice.api.get('/v1/workspaces').json()
                 if w['id'] == int(workspace)][0]['container']
    swift = connect(cluster, cluster.admin_user)
    try:
        _headers, objects = swift.get_container(container)
        chunks = apiclient.stored_chunks({
            o['name']: swift.get_object(container, o['name'])[1]
            for o in objects})
        assert chunks
        for body in chunks.values():
            assert b'launch code' not in body
            assert body[:1] == b'\x01'
    finally:
        swift.close()
    # Nor does the metadata carry the content's hash: a keyed one instead.
    entries = alice.api.get('/v1/workspace/%s/changes' % workspace).json()[
        'entries']
    stored, = [e for e in entries if e['filename'] == 'secret.txt']
    assert stored['content_hash'] != hashlib.sha256(secret).hexdigest()
    assert len(stored['content_hash']) == 64


def test_a_killed_sync_resumes(alice, tmp_path, monkeypatch):
    from stacksync_swift.client import api
    one, two = tmp_path / 'one', tmp_path / 'two'
    for n in range(3):
        write(one / ('f%d.bin' % n), os.urandom(600 * 1024))
    calls = {'n': 0}
    real = api.Connection.commit

    def dies(self, *args, **kwargs):
        calls['n'] += 1
        raise KeyboardInterrupt
    monkeypatch.setattr(api.Connection, 'commit', dies)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(['sync', str(one), '--config', alice.config], out,
                    err) == 130
    monkeypatch.setattr(api.Connection, 'commit', real)
    out = alice.sync(one)
    assert 'sent' in out
    alice.sync(two)
    assert tree(two) == tree(one)


def test_a_compressed_chunk_through_the_real_proxy(alice, cluster):
    import zstandard

    from stacksync_swift import chunking
    text = b'compress me please\n' * 10000
    name = chunking.chunk_name(text)
    wid = alice.api.workspace_id
    resp = alice.api.put('/v1/workspace/%d/chunk/%s' % (wid, name),
                         data=zstandard.ZstdCompressor().compress(text),
                         headers={'X-StackSync-Chunk-Encoding': 'zstd',
                                  'Content-Type':
                                  'application/octet-stream'})
    assert resp.status_code == 201, resp.text
    got = alice.api.get('/v1/workspace/%d/chunk/%s' % (wid, name))
    assert got.content == text
