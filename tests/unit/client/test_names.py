"""Encrypted file names between the sync engine and the server.

The first tests drive :class:`NameCipher` over a small in-memory remote
that keeps what it is sent; the last runs the real engine through it
against the real API filter (``tests/unit/client/server.py``).
"""

import os

import pytest

from stacksync_swift.client import api
from stacksync_swift.client import codec
from stacksync_swift.client import engine
from stacksync_swift.client import localfs
from stacksync_swift.client import names
from stacksync_swift.client import state
from tests.unit.client.server import Server

CONTAINER = 'ws-names'


@pytest.fixture(scope='module')
def master():
    return codec.derive_master_key('correct horse',
                                   codec.workspace_salt(CONTAINER))


@pytest.fixture
def sealed(master):
    return codec.EncryptedCodec(master, encrypt_names=True)


class KeepingRemote:
    """A remote that stores committed items as sent and lists them back.
    """

    def __init__(self):
        self.items = {}
        self.sent = []
        self.chunks = {}

    def workspaces(self):
        return [{'id': 7, 'name': 'vault', 'cursor': len(self.sent)}]

    def changes(self, workspace_id, cursor, limit=1000):
        return {'entries': [dict(item) for item in self.items.values()],
                'cursor': len(self.sent), 'has_more': False}

    def commit(self, workspace_id, items):
        results = []
        for item in items:
            self.sent.append(dict(item))
            stored = dict(self.items.get(item['id']) or {},
                          **{key: value for key, value in item.items()
                             if key not in ('client_id', 'base_version')})
            stored['id'] = item['id'] or len(self.items) + 1
            stored['version'] = stored.get('version', 0) + 1
            self.items[stored['id']] = stored
            result = {'result': 'committed', 'item': dict(stored)}
            if 'client_id' in item:
                result['client_id'] = item['client_id']
            results.append(result)
        return {'results': results, 'cursor': len(self.sent)}

    def put_chunk(self, workspace_id, name, body):
        self.chunks[name] = body


def new_item(path, **fields):
    return dict({'id': None, 'client_id': path, 'base_version': None,
                 'parent_id': None, 'filename': path.rsplit('/', 1)[-1],
                 'is_folder': False}, **fields)


def test_names_go_up_sealed_and_come_back_clear(sealed):
    remote = KeepingRemote()
    cipher = names.NameCipher(remote, lambda workspace_id: sealed)
    answer = cipher.commit(7, [new_item('docs', is_folder=True),
                               new_item('docs/Ünïcode ü.txt')])
    stored = [item['filename'] for item in remote.items.values()]
    assert 'docs' not in stored and 'Ünïcode ü.txt' not in stored
    assert [sealed.decrypt_name(name) for name in stored] == \
        ['docs', 'Ünïcode ü.txt']
    committed = [result['item']['filename'] for result in answer['results']]
    assert committed == ['docs', 'Ünïcode ü.txt']
    listed = cipher.changes(7, 0)['entries']
    assert sorted(entry['filename'] for entry in listed) == \
        ['docs', 'Ünïcode ü.txt']


def test_the_local_path_never_goes_up(sealed):
    remote = KeepingRemote()
    cipher = names.NameCipher(remote, lambda workspace_id: sealed)
    answer = cipher.commit(7, [new_item('a/report.odt',
                                        mimetype='application/'
                                        'vnd.oasis.opendocument.text'),
                               new_item('b.txt')])
    assert [item['client_id'] for item in remote.sent] == [0, 1]
    assert all('mimetype' not in item for item in remote.sent)
    assert 'report' not in repr(remote.sent)
    # The engine gets its own client ids back, in order.
    assert [result['client_id'] for result in answer['results']] == \
        ['a/report.odt', 'b.txt']


def test_a_rename_is_sealed_and_other_fields_are_left_alone(sealed):
    remote = KeepingRemote()
    cipher = names.NameCipher(remote, lambda workspace_id: sealed)
    cipher.commit(7, [new_item('old.txt', chunks=['chk-' + '0' * 64])])
    cipher.commit(7, [{'id': 1, 'base_version': 1, 'parent_id': None,
                       'filename': 'new.txt'}])
    cipher.commit(7, [{'id': 1, 'base_version': 2, 'status': 'DELETED'}])
    assert remote.sent[1]['filename'] == sealed.encrypt_name('new.txt')
    assert remote.sent[2] == {'id': 1, 'base_version': 2,
                              'status': 'DELETED'}
    assert remote.items[1]['chunks'] == ['chk-' + '0' * 64]


def test_a_name_that_does_not_decrypt_is_kept_as_stored(sealed, master):
    remote = KeepingRemote()
    stranger = codec.EncryptedCodec.from_passphrase('another', CONTAINER,
                                                    encrypt_names=True)
    foreign = stranger.encrypt_name('theirs.txt')
    remote.items = {
        1: {'id': 1, 'filename': 'written in clear.txt', 'version': 1},
        2: {'id': 2, 'filename': foreign, 'version': 1},
        3: {'id': 3, 'filename': sealed.encrypt_name('ours.txt'),
            'version': 1}}
    cipher = names.NameCipher(remote, lambda workspace_id: sealed)
    entries = cipher.changes(7, 0)['entries']
    assert [entry['filename'] for entry in entries] == \
        ['written in clear.txt', foreign, 'ours.txt']


@pytest.mark.parametrize('bad', ['..', 'a/b', 'tab\there', 'U\u0308ber'])
def test_a_name_no_server_would_store_is_kept_as_stored(sealed, bad):
    stored = sealed._siv.encrypt(bad.encode('utf-8'), [codec.NAME_AD])
    stored = codec.base64.urlsafe_b64encode(stored).rstrip(b'=').decode()
    assert names.clear_name(sealed, stored) == stored


def test_a_conflict_answer_is_opened_too(sealed):
    class Conflicting(KeepingRemote):
        def commit(self, workspace_id, items):
            current = {'id': 1, 'version': 3,
                       'filename': sealed.encrypt_name('plan.txt')}
            return {'results': [{'result': 'conflict', 'item': current,
                                 'description': 'stale'}], 'cursor': 3}
    cipher = names.NameCipher(Conflicting(), lambda workspace_id: sealed)
    result, = cipher.commit(7, [{'id': 1, 'base_version': 1,
                                 'filename': 'plan.txt'}])['results']
    assert result['result'] == 'conflict'
    assert result['item']['filename'] == 'plan.txt'


@pytest.mark.parametrize('make', [
    codec.PlainCodec,
    lambda: codec.EncryptedCodec(b'k' * 32, encrypt_names=False)])
def test_workspaces_without_name_encryption_pass_through(make):
    remote = KeepingRemote()
    cipher = names.NameCipher(remote, lambda workspace_id: make())
    cipher.commit(7, [new_item('notes.txt', mimetype='text/plain')])
    assert remote.sent == [new_item('notes.txt', mimetype='text/plain')]
    assert cipher.changes(7, 0)['entries'][0]['filename'] == 'notes.txt'


def test_chunk_calls_go_straight_through(sealed):
    remote = KeepingRemote()
    cipher = names.NameCipher(remote, lambda workspace_id: sealed)
    cipher.put_chunk(7, 'chk-' + '1' * 64, b'body')
    assert remote.chunks == {'chk-' + '1' * 64: b'body'}
    assert cipher.workspaces() == remote.workspaces()


# -- the real engine through the wrapper, against the real API filter --

@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.add_user('alice')
    yield running
    running.close()


def sync(server, workspace, cipher_codec, folder):
    conn = api.Connection(server.url, server.oauth('alice'),
                          device=os.path.basename(folder))
    fs = localfs.LocalFileSystem(folder)
    db = state.State.open(os.path.join(fs.control, 'state.sqlite'))
    try:
        syncer = engine.SyncEngine(
            fs, names.NameCipher(conn, lambda workspace_id: cipher_codec),
            lambda space: cipher_codec, db, localfs.SystemClock(),
            conn.device, engine.SyncOptions(workspace_id=workspace['id']))
        summary = syncer.sync_once()
    finally:
        db.close()
        conn.close()
    assert summary.converged and summary.error is None, summary
    return summary


def files(folder):
    found = {}
    for path, dirs, names_here in os.walk(folder):
        dirs[:] = [d for d in dirs if d != '.stacksync']
        for name in names_here:
            full = os.path.join(path, name)
            found[os.path.relpath(full, folder)] = open(full, 'rb').read()
    return found


def test_the_engine_syncs_clear_names_over_sealed_ones(server, tmp_path):
    alice = server.users['alice-token']['id']
    workspace = server.metadata.create_workspace(alice, 'vault',
                                                 encrypted=True)
    sealed = codec.EncryptedCodec.from_passphrase(
        'correct horse', workspace['container'], encrypt_names=True)
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    os.makedirs(os.path.join(one, 'docs', 'Ünïcode ü'))
    for path, data in (('report.odt', b'odt'),
                       ('docs/Ünïcode ü/deep.txt', b'deep')):
        with open(os.path.join(one, path), 'wb') as out:
            out.write(data)
    sync(server, workspace, sealed, one)
    sync(server, workspace, sealed, two)
    assert files(two) == files(one) == {'report.odt': b'odt',
                                        'docs/Ünïcode ü/deep.txt': b'deep'}
    stored = server.metadata.get_changes(alice, workspace['id'], 0)
    filenames = [entry['filename'] for entry in stored['entries']]
    assert len(filenames) == 4
    for clear in ('report.odt', 'docs', 'Ünïcode ü', 'deep.txt'):
        assert clear not in filenames
        assert sealed.encrypt_name(clear) in filenames
    # A rename goes up sealed and comes down clear on the other side.
    os.rename(os.path.join(two, 'report.odt'),
              os.path.join(two, 'final report.odt'))
    sync(server, workspace, sealed, two)
    sync(server, workspace, sealed, one)
    assert sorted(files(one)) == ['docs/Ünïcode ü/deep.txt',
                                  'final report.odt']
