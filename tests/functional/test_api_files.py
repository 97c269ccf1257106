"""The REST API against the real all-in-one, signed with requests-oauthlib.

Files, folders, versions, deltas, long poll, commit and chunks, with real
Swift below: bytes round-trip exactly, chunks are stored once per
workspace, and the proxy's memory stays flat for a 200 MiB file.
"""

import hashlib
import random
import threading

import pytest

from stacksync_swift import chunking
from stacksync_swift.chunking import MiB
from tests.functional.apiclient import APIClient


@pytest.fixture
def client(cluster, stores):
    made = APIClient(cluster, stores)
    yield made
    made.close()


@pytest.fixture
def other(cluster, stores):
    made = APIClient(cluster, stores)
    yield made
    made.close()


def random_bytes(size, seed=0):
    return random.Random(seed).randbytes(size)


class Generated:
    """``size`` pseudo-random bytes produced piece by piece, hashed."""

    def __init__(self, size, seed=0, piece=MiB):
        self.size, self.piece = size, piece
        self.random = random.Random(seed)
        self.hash = hashlib.sha256()

    def __iter__(self):
        left = self.size
        while left:
            data = self.random.randbytes(min(self.piece, left))
            left -= len(data)
            self.hash.update(data)
            yield data


def container_of(client):
    account = client.get('/v1/account').json()
    own, = [ws for ws in account['workspaces'] if not ws['is_shared']]
    return own['container']


def peak_rss_kib(cluster):
    with open('/proc/%d/status' % cluster.processes['proxy'].pid) as fp:
        for line in fp:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    raise AssertionError('no VmHWM')


# -- bytes round trip

@pytest.mark.parametrize('size', [0, 1, 10 * MiB])
def test_round_trip(client, size):
    data = random_bytes(size, seed=size)
    meta = client.upload(data, name='f.bin')
    assert meta['size'] == size
    assert meta['content_hash'] == hashlib.sha256(data).hexdigest()
    resp = client.get('/v1/file/%d/data' % meta['id'])
    assert resp.status_code == 200
    assert resp.content == data
    assert client.get('/v1/file/%d' % meta['id']).json() == meta


def test_200_mib_without_memory_growth(cluster, client):
    before = peak_rss_kib(cluster)
    source = Generated(200 * MiB, seed=7)
    meta = client.upload(iter(source), name='big.bin')
    assert meta['size'] == 200 * MiB
    assert meta['content_hash'] == source.hash.hexdigest()
    received = hashlib.sha256()
    with client.get('/v1/file/%d/data' % meta['id'], stream=True) as resp:
        assert resp.status_code == 200
        for piece in resp.iter_content(MiB):
            received.update(piece)
    assert received.hexdigest() == source.hash.hexdigest()
    growth_mib = (peak_rss_kib(cluster) - before) / 1024
    assert growth_mib < 100, 'proxy peak RSS grew %.0f MiB' % growth_mib


def test_range_requests(client):
    data = random_bytes(3 * MiB, seed=3)
    meta = client.upload(data)
    path = '/v1/file/%d/data' % meta['id']
    for header, expected in [('bytes=0-0', data[:1]),
                             ('bytes=1000000-2100000', data[1000000:2100001]),
                             ('bytes=-10', data[-10:])]:
        resp = client.get(path, headers={'Range': header})
        assert resp.status_code == 206 and resp.content == expected
    resp = client.get(path, headers={'Range': 'bytes=%d-' % len(data)})
    assert resp.status_code == 416
    assert resp.headers['Content-Range'] == 'bytes */%d' % len(data)


# -- versions, names, deletes

def test_versions_and_restore(client):
    meta = client.upload(b'version one', name='v.txt')
    path = '/v1/file/%d' % meta['id']
    second = client.put(path + '/data', data=b'version two').json()
    assert second['version'] == 2
    versions = client.get(path + '/versions').json()
    assert [(v['version'], v['size']) for v in versions] == [(1, 11),
                                                             (2, 11)]
    assert client.get(path + '/version/1/data').content == b'version one'
    restored = client.post(path + '/restore', json={'version': 1}).json()
    assert restored['version'] == 3
    assert client.get(path + '/data').content == b'version one'


def test_rename_and_move(client):
    folder = client.post('/v1/folder', json={'name': 'docs'}).json()
    sub = client.post('/v1/folder', json={'name': 'sub',
                                          'parent': folder['id']}).json()
    meta = client.upload(b'x', name='a.txt')
    path = '/v1/file/%d' % meta['id']
    assert client.put(path, json={'name': 'b.txt'}).json()['filename'] == \
        'b.txt'
    moved = client.put(path, json={'parent': sub['id'], 'name': 'c.txt'})
    assert moved.json()['parent_id'] == sub['id']
    listing = client.get('/v1/folder/%d/contents' % sub['id']).json()
    assert [c['filename'] for c in listing['contents']] == ['c.txt']
    renamed = client.put('/v1/folder/%d' % folder['id'],
                         json={'name': 'papers'}).json()
    assert renamed['filename'] == 'papers'
    root = client.get('/v1/folder/0/contents').json()
    assert 'papers' in [c['filename'] for c in root['contents']]
    assert client.put('/v1/folder/%d' % folder['id'],
                      json={'parent': sub['id']}).status_code == 400


def test_delete_and_restore(client):
    folder = client.post('/v1/folder', json={'name': 'trash'}).json()
    meta = client.upload(b'keep me', name='k.txt', parent=folder['id'])
    deleted = client.delete('/v1/folder/%d' % folder['id'])
    assert deleted.json()['status'] == 'DELETED'
    gone = client.get('/v1/file/%d' % meta['id']).json()
    assert gone['status'] == 'DELETED'
    assert client.get('/v1/file/%d/data' % meta['id']).status_code == 404
    client.post('/v1/folder/%d/restore' % folder['id'])
    revived = client.post('/v1/file/%d/restore' % meta['id'],
                          json={'version': 1})
    # The folder is still deleted: the file cannot come back into it.
    assert revived.status_code == 400
    assert revived.json()['error'] == 400


def test_if_match_conflict_and_last_writer_wins(client):
    meta = client.upload(b'base', name='shared.txt')
    path = '/v1/file/%d/data' % meta['id']
    won = client.put(path, data=b'first', headers={'If-Match': '1'})
    assert won.status_code == 200
    lost = client.put(path, data=b'second', headers={'If-Match': '1'})
    assert lost.status_code == 409
    body = lost.json()
    assert body['error'] == 409 and body['item']['version'] == 2
    blind = client.put(path, data=b'third')
    assert blind.json()['version'] == 3
    assert client.get(path).content == b'third'
    rename = client.put('/v1/file/%d' % meta['id'], json={'name': 'x'},
                        headers={'If-Match': '1'})
    assert rename.status_code == 409


# -- sync: deltas, long poll, commit, chunks

def test_deltas(client):
    ws = client.workspace_id
    start = client.get('/v1/workspace/%d/changes' % ws).json()
    a = client.upload(b'a', name='a')
    client.upload(b'b', name='b')
    client.delete('/v1/file/%d' % a['id'])
    delta = client.get('/v1/workspace/%d/changes' % ws,
                       params={'cursor': start['cursor'], 'limit': 1}).json()
    assert delta['has_more'] is True and len(delta['entries']) == 1
    rest = client.get('/v1/workspace/%d/changes' % ws,
                      params={'cursor': delta['cursor']}).json()
    names = {e['filename']: e['status'] for e in
             delta['entries'] + rest['entries']}
    assert names == {'a': 'DELETED', 'b': 'NEW'}
    assert rest['has_more'] is False


def test_long_poll_wakes_up_on_a_commit(client):
    ws = client.workspace_id
    cursor = client.get('/v1/workspace/%d/changes' % ws).json()['cursor']
    answers = []
    session = client.new_session()

    def wait():
        answers.append(session.get(
            client.base + '/v1/workspace/%d/changes/wait' % ws,
            params={'cursor': cursor, 'timeout': 60},
            headers={'X-StackSync-API': 'v1'}, timeout=120).json())
    waiter = threading.Thread(target=wait)
    waiter.start()
    client.upload(b'wake up', name='ping')
    waiter.join(90)
    assert answers and answers[0]['changes'] is True
    assert answers[0]['cursor'] > cursor


def test_long_poll_times_out_without_changes(client):
    ws = client.workspace_id
    cursor = client.get('/v1/workspace/%d/changes' % ws).json()['cursor']
    answer = client.get('/v1/workspace/%d/changes/wait' % ws,
                        params={'cursor': cursor, 'timeout': 1}).json()
    assert answer == {'changes': False, 'cursor': cursor}


def test_chunk_dedup(client, admin):
    container = container_of(client)
    data = random_bytes(50 * MiB, seed=50)
    first = client.upload(data, name='one.bin')
    stored = admin.head_container(container)
    second = client.upload(data, name='two.bin')
    again = admin.head_container(container)
    assert first['chunks'] == second['chunks']
    assert again['x-container-object-count'] == \
        stored['x-container-object-count']
    assert again['x-container-bytes-used'] == \
        stored['x-container-bytes-used']
    assert int(stored['x-container-bytes-used']) >= 50 * MiB


def test_private_container_acls(client, admin):
    headers = admin.head_container(container_of(client))
    principal = 'stacksync:%d' % client.user['id']
    assert headers['x-container-read'] == principal
    assert headers['x-container-write'] == principal


def test_chunks_and_commit(client):
    ws = client.workspace_id
    data = b'chunk data'
    name = chunking.chunk_name(data)
    chunk = '/v1/workspace/%d/chunk/%s' % (ws, name)
    assert client.head(chunk).status_code == 404
    assert client.put(chunk, data=b'other bytes').status_code == 400
    assert client.put(chunk, data=data).status_code == 201
    assert client.put(chunk, data=data).status_code == 200
    assert client.head(chunk).status_code == 200
    assert client.get(chunk).content == data
    missing = chunking.chunk_name(b'never uploaded')
    batch = [
        {'client_id': 'a', 'filename': 'synced.txt', 'size': len(data),
         'content_hash': hashlib.sha256(data).hexdigest(),
         'chunks': [name]},
        {'client_id': 'b', 'filename': 'broken.txt', 'size': 3,
         'content_hash': hashlib.sha256(b'abc').hexdigest(),
         'chunks': [missing]},
    ]
    resp = client.post('/v1/workspace/%d/commit' % ws, json=batch,
                       headers={'X-StackSync-Device': 'laptop'})
    assert resp.status_code == 200, resp.text
    first, second = resp.json()['results']
    assert first['result'] == 'committed' and first['client_id'] == 'a'
    assert second['result'] == 'error' and second['client_id'] == 'b'
    assert second['error'] == 'missing_chunks'
    item = first['item']
    assert client.get('/v1/file/%d/data' % item['id']).content == data
    stale = client.post('/v1/workspace/%d/commit' % ws, json=[
        dict(item, base_version=0, filename='renamed.txt')],
        headers={'X-StackSync-Device': 'laptop'}).json()
    assert stale['results'][0]['result'] == 'conflict'


# -- errors and isolation

def test_other_users_workspace_is_404(client, other):
    meta = client.upload(b'private', name='p.txt')
    ws = client.workspace_id
    for path in ['/v1/file/%d' % meta['id'],
                 '/v1/file/%d/data' % meta['id'],
                 '/v1/workspace/%d/changes' % ws,
                 '/v1/workspace/%d/changes/wait?timeout=1' % ws,
                 '/v1/workspace/%d/chunk/%s' % (ws, meta['chunks'][0]),
                 '/v1/folder/0/contents?workspace=%d' % ws]:
        resp = other.get(path)
        assert resp.status_code == 404, path
        assert resp.json()['error'] == 404


@pytest.mark.parametrize('method, path, kwargs, status', [
    ('POST', '/v1/folder', {'data': b'{"name": '}, 400),
    ('POST', '/v1/folder', {'json': {'name': 'a/b'}}, 400),
    ('POST', '/v1/file', {'params': {'name': ''}, 'data': b'x'}, 400),
    ('GET', '/v1/file/123456789', {}, 404),
    ('DELETE', '/v1/account', {}, 405),
    ('POST', '/v1/workspace/{ws}/commit',
     {'data': b'x' * (9 * MiB)}, 413),
    ('GET', '/v1/workspace/{ws}/changes?cursor=-1', {}, 400),
    ('PUT', '/v1/workspace/{ws}/chunk/chk-xyz', {'data': b'x'}, 400),
])
def test_bad_requests(client, method, path, kwargs, status):
    path = path.format(ws=client.workspace_id)
    resp = client.request(method, path, **kwargs)
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body['error'] == status and body['description']



def test_openapi_document_is_served(client):
    resp = client.get('/v1/openapi.json')
    assert resp.status_code == 200
    assert resp.json()['openapi'].startswith('3.')
