"""A folder shared out of an encrypted workspace, end to end.

Alice keeps ``plans/`` in her encrypted workspace ``vault`` and shares it
with bob. The server moves it into a new workspace with a new container
and copies its chunks there still sealed with the vault's key; the
workspace's ``key_container`` says so, and bob, told the vault's
passphrase out of band, syncs the folder in clear while Swift holds only
ciphertext. A wrong passphrase is refused in one line before anything is
sealed. Users and helpers are those of :mod:`.clientuser`.
"""

import os

import pytest

from stacksync_swift.client import codec
from stacksync_swift.client import credentials
from tests.functional import apiclient
from tests.functional import clientuser
from tests.functional.clientuser import PASSPHRASE
from tests.functional.clientuser import tree
from tests.functional.clientuser import write
from tests.functional.conftest import connect

PLANS = {'draft.txt': b'the secret plan, first draft\n' * 100,
         os.path.join('budget', 'costs.csv'): b'rockets;1000000\n' * 50}
CLEAR_WORDS = (b'secret plan', b'rockets', b'from bob')

alice = clientuser.alice      # fixtures
bob = clientuser.bob
passphrase = clientuser.passphrase


@pytest.fixture
def config_per_device():
    """A config folder per device, as in :mod:`.test_client_names`."""
    return True


def shared_plans(alice, bob, tmp_path, *flags):
    """Alice's vault with ``plans/`` shared with bob; (vault, shared).

    ``shared`` is the shared workspace as bob's ``/v1/workspaces`` lists
    it. ``flags`` go to ``workspace create``.
    """
    out = alice.run('workspace', 'create', 'vault', '--encrypted', *flags)
    vault = out.split('--workspace ')[1].strip()
    laptop = tmp_path / 'alice-laptop'
    for path, data in PLANS.items():
        write(laptop / 'plans' / path, data)
    write(laptop / 'diary.txt', b'stays in the vault')
    alice.run('sync', str(laptop), '--workspace', vault)
    out = alice.run('share', 'plans', bob.name, '--workspace', vault)
    assert 'plans is encrypted: tell %s its passphrase' % bob.name in out
    bob.run('accept', bob.run('proposals').split()[0])
    shared = [space for space in bob.api.get('/v1/workspaces').json()
              if space['is_shared'] and space['role'] == 'editor'][0]
    return vault, shared


def container_objects(cluster, container):
    """``{name: body}`` of every object in a container, read as admin."""
    swift = connect(cluster, cluster.admin_user)
    try:
        _headers, listed = swift.get_container(container, full_listing=True)
        return {obj['name']: swift.get_object(container, obj['name'])[1]
                for obj in listed}
    finally:
        swift.close()


def assert_only_ciphertext(objects):
    chunks = apiclient.stored_chunks(objects)
    assert chunks
    for body in chunks.values():
        assert body[:1] == codec.ENCRYPTED_VERSION
        assert not any(word in body for word in CLEAR_WORDS)


def test_bob_syncs_the_shared_folder_with_the_vaults_passphrase(
        alice, bob, cluster, tmp_path, passphrase, monkeypatch):
    vault, shared = shared_plans(alice, bob, tmp_path)
    vault_container = [space for space in alice.api.get(
        '/v1/workspaces').json() if space['id'] == int(vault)][0][
        'container']
    assert shared['encrypted']
    assert shared['container'] != vault_container
    assert shared['key_container'] == vault_container

    # Bob's own sync folder: the share arrives inside it, in clear.
    theirs = tmp_path / 'bob'
    bob.run('sync', str(theirs))
    assert tree(theirs) == {os.path.join('plans', path): data
                            for path, data in PLANS.items()}
    verifier = codec.verifier_chunk_name(shared['container'])
    assert verifier in apiclient.stored_chunks(
        container_objects(cluster, shared['container']))

    write(theirs / 'plans' / 'draft.txt', b'the secret plan, from bob\n')
    bob.run('sync', str(theirs))

    # Alice opens the shared workspace with the key saved for her vault:
    # no passphrase needed, and her edit-free copy gets bob's change.
    monkeypatch.delenv('STACKSYNC_PASSPHRASE')
    mine = tmp_path / 'alice-plans'
    alice.run('sync', str(mine), '--workspace', str(shared['id']))
    assert tree(mine)['draft.txt'] == b'the secret plan, from bob\n'
    assert tree(mine)[os.path.join('budget', 'costs.csv')] == \
        PLANS[os.path.join('budget', 'costs.csv')]
    assert_only_ciphertext(container_objects(cluster, shared['container']))

    # The vault's own folder follows the shared folder mounted in it.
    laptop = tmp_path / 'alice-laptop'
    alice.run('sync', str(laptop), '--workspace', vault)
    assert tree(laptop)[os.path.join('plans', 'draft.txt')] == \
        b'the secret plan, from bob\n'
    write(laptop / 'plans' / 'draft.txt', b'the plan, as alice left it\n')
    alice.run('sync', str(laptop), '--workspace', vault)
    bob.run('sync', str(theirs))
    assert tree(theirs)[os.path.join('plans', 'draft.txt')] == \
        b'the plan, as alice left it\n'
    assert tree(laptop)['diary.txt'] == b'stays in the vault'


def test_a_wrong_passphrase_is_refused_and_seals_nothing(
        alice, bob, cluster, tmp_path, passphrase, monkeypatch):
    _vault, shared = shared_plans(alice, bob, tmp_path)
    theirs = tmp_path / 'bob'
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'not the passphrase')
    for argv in (('sync', str(theirs)), ('ls', 'plans'),
                 ('sync', str(tmp_path / 'other'), '--workspace',
                  str(shared['id']))):
        status, out, err = bob.call(*argv)
        assert status == 1, out
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("ERROR: the passphrase of workspace 'plans'")
        assert 'is wrong' in err
    verifier = codec.verifier_chunk_name(shared['container'])
    assert verifier not in apiclient.stored_chunks(
        container_objects(cluster, shared['container']))
    assert credentials.load_key(shared['id'], bob.config_of('laptop')) is None
    assert not os.path.exists(theirs / 'plans' / 'draft.txt')
    # The right passphrase then opens it: nothing was sealed wrongly.
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', PASSPHRASE)
    bob.run('sync', str(theirs))
    assert tree(theirs)[os.path.join('plans', 'draft.txt')] == \
        PLANS['draft.txt']


def test_encrypted_names_stay_sealed_in_the_shared_folder(
        alice, bob, cluster, tmp_path, passphrase):
    _vault, shared = shared_plans(alice, bob, tmp_path, '--encrypt-names')
    theirs = tmp_path / 'bob-plans'
    bob.run('sync', str(theirs), '--workspace', str(shared['id']))
    assert tree(theirs) == PLANS
    write(theirs / 'budget' / 'more costs.csv', b'from bob')
    bob.run('sync', str(theirs), '--workspace', str(shared['id']))
    mine = tmp_path / 'alice-plans'
    alice.run('sync', str(mine), '--workspace', str(shared['id']))
    assert tree(mine) == tree(theirs)
    changes = bob.api.get('/v1/workspace/%d/changes' % shared['id'])
    for word in ('draft', 'budget', 'costs'):
        assert word not in changes.text
    assert_only_ciphertext(container_objects(cluster, shared['container']))
