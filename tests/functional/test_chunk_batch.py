"""``POST /v1/workspace/{wid}/chunks``: many chunks in one request.

Against the real all-in-one, signed with OAuth as a sync client signs:
the chunks of hundreds of small files land in one pack, each is checked
against its name, and bad input is a JSON 4xx that stores nothing.
"""

import hashlib
import json
import os

from stacksync_swift import packs
from tests.functional import apiclient
from tests.functional.apiclient import chunk_name

alice = apiclient.alice      # fixtures

BATCH_TYPE = {'Content-Type': 'application/vnd.stacksync.chunks'}


def batch_body(chunks, sizes=None):
    """The request body for ``chunks`` ({name: bytes}, in order)."""
    index = {'chunks': [{'name': name, 'size': len(data)}
                        for name, data in chunks.items()]}
    if sizes is not None:
        for entry, size in zip(index['chunks'], sizes):
            entry['size'] = size
    return json.dumps(index).encode() + b'\n' + b''.join(chunks.values())


def post_batch(client, body):
    return client.post('/v1/workspace/%d/chunks' % client.workspace_id,
                       data=body, headers=BATCH_TYPE)


def packs_of(admin, client):
    container = client.get('/v1/workspace/%d' % client.workspace_id
                           ).json()['container']
    return [entry['name'] for entry in admin.get_container(
        container, full_listing=True)[1]
        if packs.is_pack_name(entry['name'])]


def small_chunks(count, seed=b''):
    datas = [b'file %d ' % n + seed + os.urandom(1000 + n)
             for n in range(count)]
    return {chunk_name(data): data for data in datas}


def test_hundreds_of_small_chunks_in_one_request_and_one_pack(alice, admin):
    chunks = small_chunks(300)
    resp = post_batch(alice, batch_body(chunks))
    assert resp.status_code == 200, resp.text
    results = resp.json()['results']
    assert [(r['name'], r['result']) for r in results] == [
        (name, 'created') for name in chunks]
    assert len(packs_of(admin, alice)) == 1
    assert alice.post('/v1/workspace/%d/chunks/missing' % alice.workspace_id,
                      json={'names': list(chunks)}).json()['missing'] == []
    # Counted against the quota until a version references them.
    account = alice.get('/v1/account').json()
    assert account['quota_waiting'] == sum(map(len, chunks.values()))
    # A file made of two of them commits and reads back.
    names = list(chunks)[:2]
    content = b''.join(chunks[name] for name in names)
    resp = alice.post('/v1/workspace/%d/commit' % alice.workspace_id, json=[{
        'filename': 'two.bin', 'parent_id': None, 'is_folder': False,
        'size': len(content), 'chunks': names,
        'content_hash': hashlib.sha256(content).hexdigest()}],
        headers={'X-StackSync-Device': 'laptop'})
    [result] = resp.json()['results']
    assert result['result'] == 'committed', result
    data = alice.get('/v1/file/%d/data' % result['item']['id'])
    assert data.status_code == 200 and data.content == content
    # The same batch again stores nothing.
    again = post_batch(alice, batch_body(chunks))
    assert {r['result'] for r in again.json()['results']} == {'exists'}
    assert len(packs_of(admin, alice)) == 1


def test_a_chunk_that_does_not_match_its_name_is_not_stored(alice):
    chunks = small_chunks(3)
    names = list(chunks)
    chunks[names[1]] = b'X' * len(chunks[names[1]])     # same size, wrong
    resp = post_batch(alice, batch_body(chunks))
    assert resp.status_code == 200, resp.text
    assert [r['result'] for r in resp.json()['results']] == [
        'created', 'mismatch', 'created']
    missing = alice.post('/v1/workspace/%d/chunks/missing'
                         % alice.workspace_id, json={'names': names})
    assert missing.json()['missing'] == [names[1]]


def assert_refused(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers['Content-Type'].startswith('application/json')
    assert resp.json()['error'] == status


def test_bad_batches_are_json_errors_that_store_nothing(alice, admin,
                                                        stores):
    chunks = small_chunks(2, b'bad')
    body = batch_body(chunks)
    assert_refused(post_batch(alice, b'not json\n' + body), 400)
    assert_refused(post_batch(alice, b'{"chunks": []}\n'), 400)
    assert_refused(post_batch(alice, body.replace(b'\n', b' ', 1)), 400)
    # The index announces more bytes than the body carries.
    assert_refused(post_batch(alice, batch_body(chunks, sizes=[
        len(data) + 1 for data in chunks.values()])), 400)
    name = next(iter(chunks))
    twice = json.dumps({'chunks': [{'name': name, 'size': 5}] * 2})
    assert_refused(post_batch(alice, twice.encode() + b'\n' + b'x' * 10),
                   400)
    assert packs_of(admin, alice) == []
    # Past the owner's quota: refused before a byte is stored.
    stores.metadata.set_quota(alice.user['id'], 1000)
    assert_refused(post_batch(alice, body), 413)
    assert packs_of(admin, alice) == []
