"""Chunk uploads compressed with zstd, the batch missing-chunk check, and
creating an encrypted workspace."""

import zstandard

from stacksync_swift import chunking
from stacksync_swift.chunking import MiB
from tests.unit.middleware.api.conftest import ACCOUNT

TEXT = b'all work and no play makes jack a dull boy\n' * 5000
ZSTD = {'X-StackSync-Chunk-Encoding': 'zstd'}


def workspace_of(client):
    return client.get('/v1/folder/0').json['workspace_id']


def chunk_path(workspace_id, name):
    return '/v1/workspace/%d/chunk/%s' % (workspace_id, name)


def stored(swift, client, workspace_id, name):
    container = client.get('/v1/workspace/%d' % workspace_id).json[
        'container']
    return swift.chunks().get('/v1/%s/%s/%s' % (ACCOUNT, container, name))


def test_a_compressed_chunk_is_checked_and_stored_as_plaintext(
        alice, swift):
    wid = workspace_of(alice)
    name = chunking.chunk_name(TEXT)
    frame = zstandard.ZstdCompressor().compress(TEXT)
    resp = alice.put(chunk_path(wid, name), body=frame, headers=ZSTD)
    assert resp.status_int == 201, resp.body
    assert resp.json['size'] == len(TEXT)
    assert stored(swift, alice, wid, name) == TEXT
    assert alice.get(chunk_path(wid, name)).body == TEXT


def test_a_compressed_chunk_under_the_wrong_name_is_refused(alice):
    wid = workspace_of(alice)
    frame = zstandard.ZstdCompressor().compress(TEXT)
    resp = alice.put(chunk_path(wid, chunking.chunk_name(frame)),
                     body=frame, headers=ZSTD)
    assert resp.status_int == 400


def test_a_body_that_is_not_zstd_is_refused(alice):
    wid = workspace_of(alice)
    resp = alice.put(chunk_path(wid, chunking.chunk_name(TEXT)),
                     body=TEXT, headers=ZSTD)
    assert resp.status_int == 400 and 'zstd' in resp.json['description']


def test_an_unknown_encoding_is_refused(alice):
    wid = workspace_of(alice)
    resp = alice.put(chunk_path(wid, chunking.chunk_name(TEXT)),
                     body=TEXT,
                     headers={'X-StackSync-Chunk-Encoding': 'gzip'})
    assert resp.status_int == 400


def test_decompression_is_bounded(alice, swift):
    wid = workspace_of(alice)
    big = b'\0' * (chunking.MAX_SIZE + 1)
    frame = zstandard.ZstdCompressor().compress(big)
    resp = alice.put(chunk_path(wid, chunking.chunk_name(big)),
                     body=frame, headers=ZSTD)
    assert resp.status_int == 413
    assert not [path for path in swift.objects if 'chk-' in path]


def test_identity_is_the_plain_upload(alice):
    wid = workspace_of(alice)
    resp = alice.put(chunk_path(wid, chunking.chunk_name(TEXT)), body=TEXT,
                     headers={'X-StackSync-Chunk-Encoding': 'identity'})
    assert resp.status_int == 201


def test_missing_chunks_in_one_request(alice):
    wid = workspace_of(alice)
    here = chunking.chunk_name(TEXT)
    alice.put(chunk_path(wid, here), body=TEXT)
    absent = chunking.chunk_name(b'absent')
    resp = alice.post('/v1/workspace/%d/chunks/missing' % wid,
                      body={'names': [here, absent, absent]})
    assert resp.status_int == 200, resp.body
    assert resp.json == {'missing': [absent]}


def test_missing_chunks_refuses_bad_names(alice):
    wid = workspace_of(alice)
    for body in ({'names': ['nope']}, {'names': 'x'}, {},
                 {'names': [chunking.chunk_name(b'')] * 1001}):
        resp = alice.post('/v1/workspace/%d/chunks/missing' % wid,
                          body=body)
        assert resp.status_int == 400, body


def test_missing_chunks_of_someone_elses_workspace(alice, bob):
    resp = bob.post('/v1/workspace/%d/chunks/missing' % workspace_of(alice),
                    body={'names': []})
    assert resp.status_int in (403, 404)


# -- encrypted workspaces --

def create_encrypted(client):
    resp = client.post('/v1/workspaces',
                       body={'name': 'vault', 'encrypted': True})
    assert resp.status_int == 201, resp.body
    return resp.json


def test_create_an_encrypted_workspace_with_its_container(
        alice, swift, users):
    workspace = create_encrypted(alice)
    assert workspace['encrypted'] is True and workspace['role'] == 'owner'
    assert workspace['container'].startswith('ws-')
    puts = [call for call in swift.calls if call['method'] == 'PUT'
            and call['path'].endswith(workspace['container'])]
    principal = 'stacksync:%d' % users['alice']['id']
    assert puts[0]['headers']['X-Container-Write'] == principal
    listed = alice.get('/v1/workspaces').json
    assert workspace['id'] in [each['id'] for each in listed]


def test_an_encrypted_workspace_stores_what_it_is_sent(alice, swift):
    workspace = create_encrypted(alice)
    sealed = b'\x01' + bytes(range(256)) * 10
    name = chunking.chunk_name(b'any keyed name')
    resp = alice.put(chunk_path(workspace['id'], name), body=sealed)
    assert resp.status_int == 201
    path = '/v1/%s/%s/%s' % (ACCOUNT, workspace['container'], name)
    assert swift.chunks()[path] == sealed


def test_an_encrypted_workspace_refuses_chunk_encodings(alice):
    workspace = create_encrypted(alice)
    frame = zstandard.ZstdCompressor().compress(TEXT)
    resp = alice.put(chunk_path(workspace['id'], chunking.chunk_name(TEXT)),
                     body=frame, headers=ZSTD)
    assert resp.status_int == 400


def test_the_private_workspace_stays_the_root(alice):
    root = workspace_of(alice)
    create_encrypted(alice)
    assert workspace_of(alice) == root


def test_create_workspace_needs_a_name_and_a_boolean(alice):
    for body in ({}, {'name': 'x', 'encrypted': 'yes'}, {'name': ''}):
        resp = alice.post('/v1/workspaces', body=body)
        assert resp.status_int == 400, (body, resp.body)


def test_plain_created_workspace_checks_names(alice):
    resp = alice.post('/v1/workspaces', body={'name': 'plain'})
    assert resp.status_int == 201 and resp.json['encrypted'] is False
    wid = resp.json['id']
    bad = alice.put(chunk_path(wid, chunking.chunk_name(b'other')),
                    body=b'x' * MiB)
    assert bad.status_int == 400
