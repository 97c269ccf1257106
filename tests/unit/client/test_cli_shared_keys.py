"""The key of a folder shared out of an encrypted workspace.

The command against the real API filter on a local server (server.py):
alice's workspace ``vault`` is encrypted; she shares its folder ``plans``
with bob. The shared workspace's container is new, but its chunks were
copied sealed with the vault's key, so the clients salt its key with
``key_container`` and both open it with the vault's passphrase.
"""

import io
import os

import pytest

from stacksync_swift.client import cli
from stacksync_swift.client import codec
from stacksync_swift.client import credentials
from tests.unit.client.server import Server
from tests.unit.client.test_cli import login

PASSPHRASE = 'open sesame'


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.add_user('alice')
    running.add_user('bob')
    yield running
    running.close()


@pytest.fixture
def run(server, tmp_path, monkeypatch):
    """``run(user, *argv)``: ``(status, out, err)`` of one command."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', PASSPHRASE)

    def stacksync(user, *argv):
        config = str(tmp_path / ('config-' + user))
        if not os.path.exists(config):
            login(server, config, user)
        out, err = io.StringIO(), io.StringIO()
        status = cli.main(list(argv[:1]) + ['--config', config]
                          + list(argv[1:]), out, err)
        return status, out.getvalue(), err.getvalue()
    return stacksync


def ok(result):
    status, out, err = result
    assert status == 0, err
    return out


def make(path, data):
    with open(path, 'wb') as out:
        out.write(data)
    return str(path)


def vault_with_plans(run, tmp_path, *flags):
    """Alice's encrypted vault with ``plans/a.txt``; the vault's id."""
    out = ok(run('alice', 'workspace', 'create', 'vault', '--encrypted',
                 *flags))
    vault = out.split('--workspace ')[1].strip()
    ok(run('alice', 'mkdir', 'plans', '--workspace', vault))
    ok(run('alice', 'put', make(tmp_path / 'a.txt', b'attack at dawn'),
           '--to', 'plans', '--workspace', vault))
    return vault


def share_with_bob(run, vault):
    """``plans`` shared with bob and accepted; the shared workspace."""
    out = ok(run('alice', 'share', 'plans', 'bob', '--workspace', vault))
    proposal = ok(run('bob', 'proposals')).split()[0]
    ok(run('bob', 'accept', proposal))
    return out


def shared_workspace(server, user='bob'):
    """The workspace of the shared folder (its name may be sealed)."""
    user_id = [u for u in server.users.values() if u['name'] == user][0]
    return [space for space in server.metadata.get_workspaces(user_id['id'])
            if space['key_container'] != space['container']][0]


def mount_name(run):
    """The name of the shared folder in bob's root, as stored.

    With ``--encrypt-names`` it is the sealed name: the mount lives in
    bob's plain private workspace, which has no key to open it.
    """
    listed = ok(run('bob', 'ls')).splitlines()
    return [line for line in listed if line.endswith('/ (shared)')][0][
        :-len('/ (shared)')]


def has_verifier(server, workspace):
    name = codec.verifier_chunk_name(workspace['container'])
    return any(path.endswith('/%s/%s' % (workspace['container'], name))
               for path in server.chunk_objects())


@pytest.mark.parametrize('flags', [(), ('--encrypt-names',)])
def test_a_member_opens_the_shared_folder_with_the_vaults_passphrase(
        run, server, tmp_path, flags):
    vault = vault_with_plans(run, tmp_path, *flags)
    out = share_with_bob(run, vault)
    assert 'plans is encrypted: tell bob its passphrase yourself' in out
    shared = shared_workspace(server)
    assert shared['encrypted'] and shared['container'] != \
        shared['key_container']
    assert not has_verifier(server, shared)
    plans = mount_name(run)
    assert (plans == 'plans') == (not flags)
    ok(run('bob', 'get', plans + '/a.txt', 'got.txt'))
    assert open('got.txt', 'rb').read() == b'attack at dawn'
    assert ok(run('bob', 'ls', plans)).split() == ['a.txt']
    # Bob's client checked his key against the file, then sealed the
    # verifier with the setting the stored names show.
    assert has_verifier(server, shared)
    assert credentials.load_key(shared['id'], str(tmp_path / 'config-bob')
                                )[1] == bool(flags)


def test_a_wrong_passphrase_is_refused_before_any_verifier(
        run, server, tmp_path, monkeypatch):
    vault = vault_with_plans(run, tmp_path, '--encrypt-names')
    share_with_bob(run, vault)
    shared = shared_workspace(server)
    plans = mount_name(run)
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'not the passphrase')
    status, out, err = run('bob', 'ls', plans)
    assert status == 1 and out == ''
    assert len(err.strip().splitlines()) == 1
    assert err.startswith('ERROR: the passphrase of workspace')
    assert 'is wrong' in err
    assert not has_verifier(server, shared)
    assert credentials.load_key(shared['id'],
                                str(tmp_path / 'config-bob')) is None
    # The right one still works afterwards: nothing was sealed wrongly.
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', PASSPHRASE)
    assert ok(run('bob', 'ls', plans)).split() == ['a.txt']


def test_the_sharer_opens_it_with_the_key_saved_for_the_vault(
        run, server, tmp_path, monkeypatch):
    vault = vault_with_plans(run, tmp_path)
    share_with_bob(run, vault)
    monkeypatch.delenv('STACKSYNC_PASSPHRASE')
    ok(run('alice', 'get', 'plans/a.txt', 'mine.txt', '--workspace', vault))
    assert open('mine.txt', 'rb').read() == b'attack at dawn'
    assert has_verifier(server, shared_workspace(server, 'alice'))


def test_sharing_an_already_shared_folder_seals_its_verifier(
        run, server, tmp_path):
    server.add_user('carol')
    vault = vault_with_plans(run, tmp_path)
    share_with_bob(run, vault)
    shared = shared_workspace(server)
    assert not has_verifier(server, shared)
    out = ok(run('alice', 'share', 'plans', 'carol', '--workspace', vault))
    assert 'tell carol its passphrase' in out
    assert has_verifier(server, shared)


def test_an_empty_shared_folder_takes_the_first_openers_key(
        run, server, tmp_path):
    out = ok(run('alice', 'workspace', 'create', 'vault', '--encrypted'))
    vault = out.split('--workspace ')[1].strip()
    ok(run('alice', 'mkdir', 'plans', '--workspace', vault))
    share_with_bob(run, vault)
    ok(run('bob', 'put', make(tmp_path / 'b.txt', b'from bob'),
           '--to', 'plans'))
    assert has_verifier(server, shared_workspace(server))
    ok(run('alice', 'get', 'plans/b.txt', 'b-copy.txt', '--workspace',
           vault))
    assert open('b-copy.txt', 'rb').read() == b'from bob'


def test_a_plain_folder_share_says_nothing_of_passphrases(run, tmp_path):
    ok(run('alice', 'mkdir', 'team'))
    out = ok(run('alice', 'share', 'team', 'bob'))
    assert 'passphrase' not in out
