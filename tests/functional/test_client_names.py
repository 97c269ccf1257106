"""Encrypted file names and the passphrase check, end to end.

Alice's laptop creates an encrypted workspace with ``--encrypt-names``;
her desktop (its own config folder: no saved key, no ``--encrypt-names``
on its command line) syncs it from the passphrase alone. Both folders
converge with clear names while the API and Swift hold only ciphertext;
a third config with a wrong passphrase is refused before it sends or
receives anything. Bob, who is no member, is refused the workspace.
"""

import os
import shutil

import pytest

from stacksync_swift import chunking
from stacksync_swift import packs
from stacksync_swift.client import credentials
from tests.functional import clientuser
from tests.functional.clientuser import PASSPHRASE
from tests.functional.clientuser import tree
from tests.functional.clientuser import write
from tests.functional.conftest import connect

CLEAR_NAMES = ('report.odt', 'Ünïcode ü.txt', 'docs', 'nested',
               'deep notes.txt', 'renamed notes.txt', 'slides.odp')

alice = clientuser.alice      # fixtures
bob = clientuser.bob
passphrase = clientuser.passphrase


@pytest.fixture
def config_per_device():
    """A config folder per device: the desktop has no saved key."""
    return True


@pytest.fixture
def vault(alice, passphrase):
    """The id of Alice's new encrypted workspace with encrypted names."""
    out = alice.run('workspace', 'create', 'vault', '--encrypted',
                    '--encrypt-names')
    return out.split('--workspace ')[1].strip()


def sync(user, folder, workspace, device):
    return user.run('sync', str(folder), '--workspace', workspace,
                    device=device)


def server_view(user, cluster, workspace):
    """Everything the server answers about the workspace, as text: the
    raw changes and root listing bodies, the filenames in them, and the
    object names Swift holds in its container."""
    changes = user.api.get('/v1/workspace/%s/changes' % workspace)
    listing = user.api.get('/v1/folder/0/contents',
                           params={'workspace': workspace})
    assert changes.status_code == 200 and listing.status_code == 200
    entries = changes.json()['entries']
    names = [entry['filename'] for entry in entries] + \
        [child['filename'] for child in listing.json()['contents']]
    container = [w for w in user.api.get('/v1/workspaces').json()
                 if w['id'] == int(workspace)][0]['container']
    swift = connect(cluster, cluster.admin_user)
    try:
        _headers, objects = swift.get_container(container, full_listing=True)
    finally:
        swift.close()
    objects = [obj['name'] for obj in objects]
    return {'bodies': changes.text + listing.text, 'names': names,
            'objects': objects, 'cursor': changes.json()['cursor']}


def assert_only_ciphertext(view):
    assert view['names'] and view['objects']
    for clear in CLEAR_NAMES:
        stem = clear.split('.')[0].split(' ')[0]
        assert stem not in view['bodies']
        assert all(stem not in name for name in view['names'])
        assert all(stem not in name for name in view['objects'])
    assert all(chunking.is_chunk_name(name) or packs.is_pack_name(name)
               for name in view['objects'])
    assert 'Ünïcode' not in ''.join(view['names'])


def test_two_devices_sync_clear_names_the_server_sees_ciphertext(
        alice, cluster, vault, tmp_path, monkeypatch):
    laptop, desk = tmp_path / 'laptop', tmp_path / 'desk'
    write(laptop / 'report.odt', b'quarterly figures')
    write(laptop / 'Ünïcode ü.txt', 'ünïcödé'.encode())
    write(laptop / 'docs' / 'nested' / 'deep notes.txt', b'deep')
    sync(alice, laptop, vault, 'laptop')
    # The desktop has no saved key and no --encrypt-names: the workspace's
    # verifier tells it that names are encrypted.
    sync(alice, desk, vault, 'desk')
    assert tree(desk) == tree(laptop)
    assert sorted(tree(desk)) == ['docs/nested/deep notes.txt',
                                  'report.odt', 'Ünïcode ü.txt']
    os.rename(desk / 'docs' / 'nested' / 'deep notes.txt',
              desk / 'docs' / 'nested' / 'renamed notes.txt')
    write(desk / 'report.odt', b'quarterly figures, revised')
    sync(alice, desk, vault, 'desk')
    sync(alice, laptop, vault, 'laptop')
    assert tree(laptop) == tree(desk)
    assert tree(laptop)['docs/nested/renamed notes.txt'] == b'deep'
    assert tree(laptop)['report.odt'] == b'quarterly figures, revised'
    # The one-shot commands seal and read the same names.
    write(tmp_path / 'slides.odp', b'slides')
    alice.run('put', str(tmp_path / 'slides.odp'), '--workspace', vault,
              device='desk')
    assert alice.run('ls', '--workspace', vault, device='desk').split() == \
        ['docs/', 'report.odt', 'slides.odp', 'Ünïcode', 'ü.txt']
    sync(alice, laptop, vault, 'laptop')
    assert tree(laptop)['slides.odp'] == b'slides'
    view = server_view(alice, cluster, vault)
    assert_only_ciphertext(view)
    assert 'opendocument' not in view['bodies']     # no telling mimetype


def test_a_name_written_in_clear_is_synced_as_it_is(alice, vault,
                                                     tmp_path):
    laptop = tmp_path / 'laptop'
    write(laptop / 'sealed.txt', b'sealed')
    sync(alice, laptop, vault, 'laptop')
    # Someone commits a folder whose name is not sealed with the key.
    resp = alice.api.post('/v1/workspace/%s/commit' % vault, json=[
        {'id': None, 'client_id': 'x', 'base_version': None,
         'parent_id': 0, 'is_folder': True, 'filename': 'left in clear'}],
        headers={'X-StackSync-Device': 'web'})
    assert resp.json()['results'][0]['result'] == 'committed', resp.text
    out = sync(alice, laptop, vault, 'laptop')
    assert 'up to date' in out
    assert os.path.isdir(laptop / 'left in clear')
    assert tree(laptop) == {'sealed.txt': b'sealed'}


def test_a_wrong_passphrase_is_refused_and_changes_nothing(
        alice, bob, cluster, vault, tmp_path, monkeypatch):
    laptop, other = tmp_path / 'laptop', tmp_path / 'other'
    write(laptop / 'report.odt', b'quarterly figures')
    sync(alice, laptop, vault, 'laptop')
    before = server_view(alice, cluster, vault)
    write(other / 'intruder.txt', b'must not be uploaded')
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'not the passphrase')
    for argv in (('sync', str(other)), ('ls',),
                 ('put', str(other / 'intruder.txt'))):
        status, out, err = alice.call(*(argv + ('--workspace', vault)),
                                      device='other')
        assert status == 1 and out == ''
        assert len(err.strip().splitlines()) == 1
        assert err.startswith('ERROR: the passphrase of workspace')
        assert 'is wrong' in err
    assert server_view(alice, cluster, vault) == before
    assert tree(other) == {'intruder.txt': b'must not be uploaded'}
    assert credentials.load_key(int(vault), alice.config_of('other')) is None
    # The right passphrase on that device then works as usual.
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', PASSPHRASE)
    shutil.rmtree(other)
    sync(alice, other, vault, 'other')
    assert tree(other) == tree(laptop)
    # Bob is no member: the workspace is not his to open at all.
    status, _out, err = bob.call('ls', '--workspace', vault)
    assert status == 1 and 'passphrase' not in err
