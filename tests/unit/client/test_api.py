"""The HTTP remote against the real API filter on a local server."""

import io
import os

import pytest

from stacksync_swift import chunking
from stacksync_swift.chunking import MiB
from stacksync_swift.client import api
from stacksync_swift.client import codec
from tests.unit.client.server import Server

TEXT = b'lorem ipsum dolor sit amet, consectetur adipiscing elit\n' * 40000


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.add_user('alice')
    running.add_user('bob')
    yield running
    running.close()


@pytest.fixture
def conn(server):
    with api.Connection(server.url, server.oauth('alice'),
                        device='laptop', retries=2) as connection:
        api.BACKOFF, saved = 0.01, api.BACKOFF
        yield connection
        api.BACKOFF = saved


@pytest.fixture
def wid(conn):
    return conn.list_folder(0)['workspace_id']


def test_requests_are_signed_and_name_the_device(conn, server):
    conn.account()
    method, path, headers = server.auth.requests[-1]
    assert headers['Authorization'].startswith('OAuth ')
    assert headers['X-Stacksync-Api'] == 'v1'
    assert headers['X-Stacksync-Device'] == 'laptop'


def test_workspaces_and_changes(conn, wid):
    assert [each['id'] for each in conn.workspaces()] == [wid]
    conn.create_folder('docs')
    delta = conn.changes(wid, 0)
    assert [entry['filename'] for entry in delta['entries']] == ['docs']
    assert conn.wait(wid, 0, 1) == {'changes': True,
                                    'cursor': delta['cursor']}


def test_upload_sends_only_missing_chunks_compressed(conn, server, wid):
    meta = conn.upload(wid, codec.PlainCodec(), io.BytesIO(TEXT), 'a.txt')
    assert meta['size'] == len(TEXT) and meta['version'] == 1
    assert meta['content_hash'] == chunking.chunk_name(TEXT)[4:]
    assert conn.stats.bytes_sent < len(TEXT) // 10
    stored = server.chunk_objects()
    assert sorted(stored.values(), key=len)[-1][:5] == TEXT[:5]
    sent = conn.stats.chunks_sent
    again = conn.upload(wid, codec.PlainCodec(), io.BytesIO(TEXT),
                        'a.txt', existing=meta)
    assert conn.stats.chunks_sent == sent
    assert again['version'] == 1       # unchanged: no new version


def test_a_resumed_upload_sends_only_what_did_not_land(conn, wid):
    data = os.urandom(3 * MiB)
    chunks = list(chunking.iter_chunks(io.BytesIO(data)))
    plain = codec.PlainCodec()
    conn.put_chunk(wid, *plain.encode(chunks[0].data))   # "landed"
    before = conn.stats.bytes_sent
    conn.upload(wid, plain, io.BytesIO(data), 'big.bin')
    assert conn.stats.bytes_sent - before == \
        sum(chunk.size for chunk in chunks[1:])


def test_download_round_trip(conn, wid):
    data = os.urandom(2 * MiB) + TEXT
    meta = conn.upload(wid, codec.PlainCodec(), io.BytesIO(data), 'x')
    got = b''.join(conn.download(wid, codec.PlainCodec(), meta))
    assert got == data


def test_encrypted_workspace_round_trip(conn, server):
    workspace = conn.create_workspace('vault', encrypted=True)
    sealed = codec.EncryptedCodec.from_passphrase(
        'pass', workspace['container'], encrypt_names=True)
    meta = conn.upload(workspace['id'], sealed, io.BytesIO(TEXT),
                       'secret.txt')
    assert meta['filename'] != 'secret.txt'
    assert sealed.decrypt_name(meta['filename']) == 'secret.txt'
    assert meta['content_hash'] != chunking.chunk_name(TEXT)[4:]
    for body in server.chunk_objects().values():
        assert b'lorem' not in body
    got = b''.join(conn.download(workspace['id'], sealed, meta))
    assert got == TEXT


def test_commit_batches_of_more_than_the_server_takes(conn, wid,
                                                      monkeypatch):
    monkeypatch.setattr(api, 'BATCH', 2)
    items = [{'id': None, 'client_id': str(n), 'parent_id': 0,
              'filename': 'f%d' % n, 'is_folder': True} for n in range(5)]
    outcome = conn.commit(wid, items)
    assert [r['result'] for r in outcome['results']] == ['committed'] * 5
    assert outcome['cursor'] == 5


def test_missing_chunks(conn, wid):
    name, body = codec.PlainCodec().encode(b'here')
    conn.put_chunk(wid, name, body)
    absent = chunking.chunk_name(b'absent')
    assert conn.missing_chunks(wid, [name, absent]) == {absent}
    assert conn.get_chunk(wid, name) == b'here'


def test_put_chunks_stores_them_all_and_counts_them(conn, server, wid):
    plain = codec.PlainCodec()
    chunks = dict(plain.encode(os.urandom(1000 + n)) for n in range(20))
    conn.put_chunks(wid, chunks)
    stored = {path.rsplit('/', 1)[-1]: body
              for path, body in server.chunk_objects().items()}
    assert stored == chunks
    assert conn.stats.chunks_sent == 20
    assert conn.stats.bytes_sent == sum(map(len, chunks.values()))
    assert conn.missing_chunks(wid, list(chunks)) == set()


def test_put_chunks_raises_the_first_failure(conn, server, wid):
    plain = codec.PlainCodec()
    chunks = dict(plain.encode(os.urandom(1000 + n)) for n in range(5))
    server.auth.faults.append(400)
    with pytest.raises(api.BadRequest):
        conn.put_chunks(wid, chunks)
    assert len(conn.missing_chunks(wid, list(chunks))) >= 1


def test_folders_move_delete_history_restore(conn, wid):
    folder = conn.create_folder('docs')
    meta = conn.upload(wid, codec.PlainCodec(), io.BytesIO(b'one'), 'a.txt')
    meta = conn.upload(wid, codec.PlainCodec(), io.BytesIO(b'two'),
                       'a.txt', existing=meta)
    moved = conn.move(meta, name='b.txt', parent=folder['id'])
    assert moved['parent_id'] == folder['id']
    assert [v['version'] for v in conn.versions(meta['id'])] == [1, 2, 3]
    restored = conn.restore(meta['id'], 1)
    assert restored['size'] == 3 and restored['version'] == 4
    deleted = conn.delete(restored)
    assert deleted['status'] == 'DELETED'
    assert conn.list_folder(folder['id'])['contents'] == []


def test_sharing_calls(conn, server):
    folder = conn.create_folder('team')
    proposals = conn.share(folder['id'], ['bob'], 'viewer')['proposals']
    with api.Connection(server.url, server.oauth('bob')) as bob:
        assert [p['id'] for p in bob.proposals()] == \
            [proposals[0]['id']]
        accepted = bob.accept(proposals[0]['id'])
        assert accepted['mount']['filename'] == 'team'
    names = [m['name'] for m in conn.members(folder['id'])]
    assert names == ['alice', 'bob']


# -- errors --

def test_a_stale_base_is_a_conflict(conn, wid):
    meta = conn.upload(wid, codec.PlainCodec(), io.BytesIO(b'one'), 'a')
    conn.upload(wid, codec.PlainCodec(), io.BytesIO(b'two'), 'a',
                existing=meta)
    with pytest.raises(api.Conflict) as raised:
        conn.upload(wid, codec.PlainCodec(), io.BytesIO(b'three'), 'a',
                    existing=meta)
    assert raised.value.item['version'] == 2
    with pytest.raises(api.Conflict):
        conn.move(meta, name='b')


def test_an_unknown_token_is_auth_expired(server):
    with api.Connection(server.url, server.oauth('mallory')) as conn:
        with pytest.raises(api.AuthExpired) as raised:
            conn.account()
    assert 'login' in raised.value.hint


def test_not_found(conn):
    with pytest.raises(api.NotFound):
        conn.item(12345)


def test_quota_full(conn, server, wid):
    server.metadata.set_quota(server.users['alice-token']['id'], 10)
    with pytest.raises(api.QuotaFull) as raised:
        conn.upload(wid, codec.PlainCodec(), io.BytesIO(TEXT), 'big')
    assert 'quota' in raised.value.hint


def test_offline():
    conn = api.Connection('http://127.0.0.1:9', ('k', 's', 't', 's'),
                          retries=0)
    with pytest.raises(api.Offline) as raised:
        conn.account()
    assert '127.0.0.1:9' in str(raised.value)


def test_unavailable_is_retried_with_a_new_signature(conn, server):
    server.auth.faults.extend([503, 503])
    assert conn.account()['name'] == 'alice'
    signatures = {headers['Authorization']
                  for _m, _p, headers in server.auth.requests[-3:]}
    assert len(signatures) == 3


def test_retries_end(conn, server):
    server.auth.faults.extend([503] * 3)
    with pytest.raises(api.ServerError):
        conn.account()


def test_a_commit_error_names_the_file(conn, wid):
    with pytest.raises(api.ClientError, match='x.txt'):
        api.committed_item({'result': 'error', 'error': 'missing_chunks',
                        'description': 'chunks not stored'}, 'x.txt')
