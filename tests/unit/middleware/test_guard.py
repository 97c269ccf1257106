"""The raw-write guard in front of a fake Swift, with a real metadata
database (SQLite): what it lets through, and exactly how."""

import hashlib
import json

import pytest
from swift.common import swob

from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from stacksync_swift.middleware import guard
from tests.unit.helpers import FakeSwift

ACCOUNT = 'AUTH_ss'


@pytest.fixture
def metadata(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url)
    found = service.MetadataService.from_url(url)
    yield found
    found.close()


@pytest.fixture
def owner(metadata):
    return metadata.create_user('alice', quota_limit=1000)


@pytest.fixture
def workspace(metadata, owner):
    return metadata.get_workspaces(owner['id'])[0]


@pytest.fixture
def swift():
    return FakeSwift()


@pytest.fixture
def filt(swift, metadata):
    return guard.RawWriteGuard(swift, ACCOUNT, metadata, logger=None)


def chunk(data):
    return 'chk-' + hashlib.sha256(data).hexdigest()


def send(filt, method, path, body=b'', headers=None, environ=None):
    req = swob.Request.blank(path, method=method, body=body,
                             headers=headers or {}, environ=environ or {})
    target = filt.target(req.environ)
    if target is None:
        return None
    return req.get_response(lambda env, sr: filt(env, sr, target))


def test_only_writes_to_the_installation_account_are_ours(filt):
    for method, path in (('GET', '/v1/AUTH_ss/c/o'), ('HEAD', '/v1/AUTH_ss'),
                         ('PUT', '/v1/AUTH_other/c/o'),
                         ('DELETE', '/v1/AUTH_other/c/o'),
                         ('PUT', '/info')):
        req = swob.Request.blank(path, method=method)
        assert filt.target(req.environ) is None, (method, path)


def test_our_own_subrequests_are_not_checked(filt, workspace):
    req = swob.Request.blank('/v1/AUTH_ss/%s' % workspace['container'],
                             method='POST', environ={'swift.source': 'SS'})
    assert filt.target(req.environ) is None


def test_a_copy_into_the_account_is_judged_by_its_destination(filt):
    req = swob.Request.blank('/v1/AUTH_other/c/o', method='COPY', headers={
        'Destination': 'ws/chk-x', 'Destination-Account': 'AUTH_ss'})
    assert filt.target(req.environ) == ('ws', 'chk-x')


def test_a_new_chunk_is_forwarded_write_once_and_reserved(
        filt, swift, metadata, workspace, owner):
    data = b'hello chunk'
    path = '/v1/AUTH_ss/%s/%s' % (workspace['container'], chunk(data))
    swift.register('PUT', path, 201)
    resp = send(filt, 'PUT', path, data, {'Content-Type': 'text/html'})
    assert resp.status_int == 201
    call, = swift.calls
    assert call['headers']['If-None-Match'] == '*'
    assert call['headers']['Content-Type'] == 'application/octet-stream'
    assert call['body'] == data
    assert metadata.get_account(owner['id'])['quota_waiting'] == len(data)


def test_a_chunk_already_stored_releases_its_reservation(
        filt, swift, metadata, workspace, owner):
    data = b'twice'
    path = '/v1/AUTH_ss/%s/%s' % (workspace['container'], chunk(data))
    swift.register('PUT', path, 412)
    assert send(filt, 'PUT', path, data).status_int == 412
    assert metadata.get_account(owner['id'])['quota_waiting'] == 0


def test_a_chunk_past_the_quota_never_reaches_swift(filt, swift, workspace):
    data = b'x' * 1001
    path = '/v1/AUTH_ss/%s/%s' % (workspace['container'], chunk(data))
    resp = send(filt, 'PUT', path, data)
    assert resp.status_int == 413 and json.loads(resp.body)['error'] == 413
    assert swift.calls == []


@pytest.mark.parametrize('method, obj, headers, query, status', [
    ('DELETE', 'CHUNK', {}, '', 403),
    ('POST', 'CHUNK', {}, '', 403),
    ('POST', None, {'X-Container-Read': '.r:*'}, '', 403),
    ('PUT', None, {}, '', 403),
    ('PUT', 'notes.txt', {}, '', 403),
    ('PUT', 'CHUNK', {'X-Object-Manifest': 'c/p'}, '', 403),
    ('PUT', 'CHUNK', {'X-Symlink-Target': 'c/o'}, '', 403),
    ('PUT', 'CHUNK', {'X-Copy-From': 'c/o'}, '', 403),
    ('PUT', 'CHUNK', {'X-Delete-After': '5'}, '', 403),
    ('PUT', 'CHUNK', {}, 'multipart-manifest=put', 403),
    ('PUT', 'chk-' + 'a' * 64, {}, '', 400),     # bytes of another name
])
def test_everything_else_is_refused_before_swift(
        filt, swift, metadata, workspace, owner, method, obj, headers,
        query, status):
    data = b'some bytes'
    path = '/v1/AUTH_ss/%s' % workspace['container']
    if obj:
        path += '/' + (chunk(data) if obj == 'CHUNK' else obj)
    if query:
        path += '?' + query
    resp = send(filt, method, path, data, headers)
    assert resp.status_int == status
    assert json.loads(resp.body)['error'] == status
    assert swift.calls == []
    assert metadata.get_account(owner['id'])['quota_waiting'] == 0


def test_bulk_operations_are_refused_anywhere_in_the_account(filt, swift):
    for path in ('/v1/AUTH_ss?bulk-delete', '/v1/AUTH_ss/c?extract-archive'
                 '=tar'):
        resp = send(filt, 'POST' if 'delete' in path else 'PUT', path)
        assert resp.status_int == 403
    assert swift.calls == []


def test_containers_that_are_not_workspaces_keep_swifts_rules(filt, swift):
    swift.register('DELETE', '/v1/AUTH_ss/mine/o', 204)
    assert send(filt, 'DELETE', '/v1/AUTH_ss/mine/o').status_int == 204
    assert swift.call_paths == [('DELETE', '/v1/AUTH_ss/mine/o')]
