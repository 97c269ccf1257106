"""Files through the API filter: uploads, downloads, versions, errors."""

import hashlib
import random

import pytest

from stacksync_swift import chunking
from stacksync_swift.chunking import MiB


def random_bytes(size, seed=0):
    return random.Random(seed).randbytes(size)


def upload(client, data, name='a.txt', parent=0, **kwargs):
    resp = client.post('/v1/file?name=%s&parent=%d' % (name, parent),
                       body=data, **kwargs)
    assert resp.status_int == 201, resp.body
    return resp.json


def test_create_and_download_a_file(alice, swift):
    data = random_bytes(3 * MiB)
    meta = upload(alice, data)
    assert meta['filename'] == 'a.txt' and meta['parent_id'] == 0
    assert meta['size'] == len(data) and meta['version'] == 1
    assert meta['content_hash'] == hashlib.sha256(data).hexdigest()
    assert meta['mimetype'] == 'text/plain'
    assert all(chunking.is_chunk_name(name) for name in meta['chunks'])
    resp = alice.get('/v1/file/%d/data' % meta['id'])
    assert resp.status_int == 200 and resp.body == data
    assert resp.headers['X-StackSync-Version'] == '1'


def test_first_request_creates_the_private_container_with_acls(
        alice, swift, users):
    alice.get('/v1/account')
    alice.get('/v1/account')
    puts = [call for call in swift.calls if call['method'] == 'PUT']
    assert len(puts) == 1
    principal = 'stacksync:%d' % users['alice']['id']
    assert puts[0]['headers']['X-Container-Read'] == principal
    assert puts[0]['headers']['X-Container-Write'] == principal
    assert puts[0]['source'] == 'SS'


@pytest.mark.parametrize('size', [0, 1])
def test_tiny_files(alice, size):
    meta = upload(alice, b'x' * size, name='f%d' % size)
    assert alice.get('/v1/file/%d/data' % meta['id']).body == b'x' * size


@pytest.mark.parametrize('range_header, status, body_slice, content_range', [
    ('bytes=0-9', 206, slice(0, 10), 'bytes 0-9/3145728'),
    ('bytes=-5', 206, slice(-5, None), 'bytes 3145723-3145727/3145728'),
    ('bytes=1048570-2097160', 206, slice(1048570, 2097161),
     'bytes 1048570-2097160/3145728'),
])
def test_ranges(alice, range_header, status, body_slice, content_range):
    data = random_bytes(3 * MiB)
    meta = upload(alice, data)
    resp = alice.get('/v1/file/%d/data' % meta['id'],
                     headers={'Range': range_header})
    assert resp.status_int == status
    assert resp.body == data[body_slice]
    assert resp.headers['Content-Range'] == content_range


def test_unsatisfiable_range_is_416(alice):
    meta = upload(alice, b'abc')
    resp = alice.get('/v1/file/%d/data' % meta['id'],
                     headers={'Range': 'bytes=10-20'})
    assert resp.status_int == 416
    assert resp.headers['Content-Range'] == 'bytes */3'
    assert resp.json['error'] == 416


def test_missing_chunk_is_an_error_status_not_a_short_200(alice, swift):
    meta = upload(alice, b'abc')
    container = alice.app.containers.private_workspace(
        alice.user['id'])['container']
    swift.inject('GET', swift.pack_holding('/v1/AUTH_ss/' + container,
                                           meta['chunks'][0]), 404)
    resp = alice.get('/v1/file/%d/data' % meta['id'])
    assert resp.status_int == 409 and resp.json['error'] == 409
    assert resp.json['code'] == 'chunks_missing'


def test_new_version_and_if_match(alice):
    meta = upload(alice, b'one')
    path = '/v1/file/%d/data' % meta['id']
    resp = alice.put(path, body=b'two', headers={'If-Match': '1'})
    assert resp.status_int == 200 and resp.json['version'] == 2
    stale = alice.put(path, body=b'three', headers={'If-Match': '1'})
    assert stale.status_int == 409
    assert stale.json['item']['version'] == 2
    blind = alice.put(path, body=b'four')
    assert blind.json['version'] == 3
    assert alice.get(path).body == b'four'


def test_versions_and_restore(alice):
    meta = upload(alice, b'one')
    base = '/v1/file/%d' % meta['id']
    alice.put(base + '/data', body=b'two')
    versions = alice.get(base + '/versions').json
    assert [v['version'] for v in versions] == [1, 2]
    assert alice.get(base + '/version/1/data').body == b'one'
    assert alice.get(base + '/version/1').json['size'] == 3
    restored = alice.post(base + '/restore', body={'version': 1})
    assert restored.status_int == 200 and restored.json['version'] == 3
    assert alice.get(base + '/data').body == b'one'
    assert alice.get(base + '/version/9').status_int == 404
    assert alice.get(base + '/version/0').status_int == 404


def test_rename_move_delete_restore(alice):
    meta = upload(alice, b'data')
    folder = alice.post('/v1/folder', body={'name': 'docs'}).json
    path = '/v1/file/%d' % meta['id']
    renamed = alice.put(path, body={'name': 'b.txt'}).json
    assert renamed['filename'] == 'b.txt' and renamed['status'] == 'RENAMED'
    moved = alice.put(path, body={'parent': folder['id']}).json
    assert moved['parent_id'] == folder['id']
    listing = alice.get('/v1/folder/%d/contents' % folder['id']).json
    assert [c['filename'] for c in listing['contents']] == ['b.txt']
    deleted = alice.delete(path).json
    assert deleted['status'] == 'DELETED'
    assert alice.get(path + '/data').status_int == 404
    alice.post(path + '/restore?version=%d' % moved['version'])
    assert alice.get(path + '/data').body == b'data'


@pytest.mark.parametrize('method, path, body, status', [
    ('GET', '/v1/file/999', None, 404),
    ('GET', '/v1/file/99999999999999999999999', None, 400),
    ('POST', '/v1/file?name=a%2Fb', b'x', 400),
    ('POST', '/v1/file?name=..', b'x', 400),
    ('POST', '/v1/file', b'x', 400),
    ('POST', '/v1/file?name=a&parent=x', b'x', 400),
    ('POST', '/v1/file?name=a&parent=999', b'x', 404),
    ('PATCH', '/v1/file/1', None, 405),
    ('PUT', '/v1/file/1', b'{not json', 400),
    ('GET', '/v1/nothing', None, 404),
    ('POST', '/v1/folder', b'[1]', 400),
    ('POST', '/v1/file/1/restore', b'{}', 400),
])
def test_bad_requests_are_json_4xx(alice, method, path, body, status):
    upload(alice, b'x', name='one')
    resp = alice.request(method, path, body)
    assert resp.status_int == status, resp.body
    assert resp.json['error'] == status and resp.json['description']


def test_another_users_items_do_not_exist(alice, bob):
    meta = upload(alice, b'secret')
    for path in ('/v1/file/%d', '/v1/file/%d/data', '/v1/file/%d/versions'):
        assert bob.get(path % meta['id']).status_int == 404
    assert bob.delete('/v1/file/%d' % meta['id']).status_int == 404
    assert bob.put('/v1/file/%d/data' % meta['id'],
                   body=b'x').status_int == 404
    ws = meta['workspace_id']
    assert bob.get('/v1/workspace/%d/changes' % ws).status_int == 404


def test_upload_beyond_quota_is_413_before_reading(alice, metadata, swift):
    metadata.set_quota(alice.user['id'], 10)
    alice.user = metadata.get_user(alice.user['id'])
    resp = alice.post('/v1/file?name=big', body=b'x' * 100)
    assert resp.status_int == 413
    assert not [c for c in swift.calls if '/chk-' in c['path']]


def test_chunked_upload_beyond_quota_is_413(alice, metadata):
    metadata.set_quota(alice.user['id'], 10)
    alice.user = metadata.get_user(alice.user['id'])
    resp = alice.post('/v1/file?name=big', body=b'x' * 100,
                      headers={'Transfer-Encoding': 'chunked'})
    assert resp.status_int == 413


def test_unsigned_request_is_401(anonymous):
    assert anonymous.get('/v1/file/1').status_int == 401
