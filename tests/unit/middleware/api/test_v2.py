"""API v2 through the filter: the original StackSync API's shapes.

Requests carry ``StackSync-API: v2`` only (no ``X-StackSync-API``), as
StackSync's own apps send them; the shapes and codes are those of
``StackSync_API_Specifications.md`` (see :mod:`.dialects`).
"""

import datetime
import hashlib
import re

import jsonschema
import pytest

from stacksync_swift.middleware.api import dialects
from stacksync_swift.middleware.api import openapi
from tests.unit.middleware.api.conftest import Client

V2_TIME = re.compile(r'\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\Z')
FILE_FIELDS = {'id', 'parent_id', 'filename', 'is_folder', 'status',
               'modified_at', 'version', 'checksum', 'size', 'mimetype',
               'chunks'}
FOLDER_FIELDS = FILE_FIELDS - {'chunks'} | {'is_root'}


def json_schema(value):
    """An OpenAPI 3.0 schema as JSON Schema (``nullable`` as a type)."""
    if isinstance(value, list):
        return [json_schema(entry) for entry in value]
    if not isinstance(value, dict):
        return value
    converted = {key: json_schema(entry) for key, entry in value.items()
                 if key != 'nullable'}
    if value.get('nullable') and 'type' in value:
        converted['type'] = [value['type'], 'null']
    return converted


def assert_matches(instance, schema_name):
    """``instance`` is valid for the OpenAPI document's schema."""
    components = json_schema(openapi.document()['components'])
    jsonschema.validate(instance, {
        '$ref': '#/components/schemas/%s' % schema_name,
        'components': components})


class V2Client(Client):
    """Sends ``StackSync-API: v2`` requests as one user."""

    api_header = ('StackSync-API', 'v2')


@pytest.fixture
def v2(filter_app, users):
    return V2Client(filter_app, users['alice'])


def assert_file(meta):
    assert set(meta) == FILE_FIELDS, meta
    assert_matches(meta, 'ItemV2')
    assert meta['is_folder'] is False
    assert isinstance(meta['checksum'], int)
    assert V2_TIME.match(meta['modified_at'])


def assert_folder(meta):
    assert set(meta) == FOLDER_FIELDS, meta
    assert_matches(meta, 'ItemV2')
    assert meta['is_folder'] is True and meta['is_root'] is False
    assert (meta['checksum'], meta['size'], meta['mimetype']) == (
        0, 0, 'inode/directory')


def create_file(client, name, data, parent=None):
    query = '?name=%s' % name + ('&parent=%s' % parent if parent else '')
    resp = client.post('/v1/file' + query, body=data,
                       headers={'Content-Type': 'text/plain'})
    assert resp.status_int == 201, resp.body
    return resp


def test_create_get_update_download_and_delete_a_file(v2):
    resp = create_file(v2, 'hello.txt', b'hello')
    meta = resp.json
    assert_file(meta)
    assert resp.headers['Location'].endswith('/v1/file/%d' % meta['id'])
    assert meta['parent_id'] is None and meta['status'] == 'NEW'
    assert meta['checksum'] == int(
        hashlib.sha256(b'hello').hexdigest()[:8], 16)
    assert (meta['size'], meta['version']) == (5, 1)
    assert v2.get('/v1/file/%d' % meta['id']).json == meta
    updated = v2.put('/v1/file/%d/data' % meta['id'], body=b'hello v2')
    assert updated.status_int == 200
    assert_file(updated.json)
    assert (updated.json['status'], updated.json['version']) == (
        'CHANGED', 2)
    assert v2.get('/v1/file/%d/data' % meta['id']).body == b'hello v2'
    deleted = v2.delete('/v1/file/%d' % meta['id'],
                        headers={'Content-Type': 'text/plain'})
    assert deleted.status_int == 200
    assert deleted.json['status'] == 'DELETED'


def test_versions_are_the_file_with_its_history_newest_first(v2):
    meta = create_file(v2, 'h.txt', b'one').json
    v2.put('/v1/file/%d/data' % meta['id'], body=b'two')
    resp = v2.get('/v1/file/%d/versions' % meta['id'])
    assert resp.status_int == 200
    assert set(resp.json) == FILE_FIELDS | {'versions'}
    assert resp.json['version'] == 2
    assert [v['version'] for v in resp.json['versions']] == [2, 1]
    assert_matches(resp.json, 'VersionsV2')
    for version in resp.json['versions']:
        assert_file(version)
    one = v2.get('/v1/file/%d/version/1' % meta['id'])
    assert_file(one.json)
    assert one.json['status'] == 'NEW' and one.json['size'] == 3
    assert v2.get('/v1/file/%d/version/1/data' % meta['id']).body == b'one'


def test_folders_and_the_root(v2):
    resp = v2.post('/v1/folder', body={'name': 'clients'})
    assert resp.status_int == 201
    folder = resp.json
    assert_folder(folder)
    assert resp.headers['Location'].endswith('/v1/folder/%d' % folder['id'])
    # The test client sends the parent as text.
    sub = v2.post('/v1/folder', body={'name': 'sub',
                                      'parent': str(folder['id'])}).json
    assert sub['parent_id'] == folder['id']
    inner = create_file(v2, 'in.txt', b'x', parent=folder['id']).json
    assert inner['parent_id'] == folder['id']
    create_file(v2, 'top.txt', b'y')

    root = v2.get('/v1/folder/0/contents').json
    assert_matches(root, 'FolderV2')
    assert root['is_root'] is True and root['id'] is None
    assert root['filename'] == 'root' and root['parent_id'] is None
    assert [(c['filename'], c['parent_id']) for c in root['contents']] == [
        ('clients', None), ('top.txt', None)]
    assert_folder(root['contents'][0])
    assert_file(root['contents'][1])
    assert 'contents' not in v2.get('/v1/folder/0').json
    assert v2.get('/v1/folder/0').json['is_root'] is True

    listed = v2.get('/v1/folder/%d/contents' % folder['id']).json
    assert listed['id'] == folder['id'] and listed['is_root'] is False
    assert [(c['filename'], c['parent_id']) for c in listed['contents']] == [
        ('in.txt', folder['id']), ('sub', folder['id'])]
    got = v2.get('/v1/folder/%d' % folder['id'])
    assert_folder(got.json)


def test_rename_and_move_with_a_json_body(v2):
    folder = v2.post('/v1/folder', body={'name': 'a'}).json
    meta = create_file(v2, 'f.txt', b'data').json
    renamed = v2.put('/v1/file/%d' % meta['id'], body={'name': 'g.txt'})
    assert renamed.status_int == 200
    assert (renamed.json['filename'], renamed.json['status']) == (
        'g.txt', 'RENAMED')
    moved = v2.put('/v1/file/%d' % meta['id'],
                   body={'parent': str(folder['id']), 'name': None})
    assert moved.json['parent_id'] == folder['id']
    assert moved.json['filename'] == 'g.txt'
    back = v2.put('/v1/folder/%d' % folder['id'],
                  body={'name': 'b', 'parent': 0}).json
    assert back['filename'] == 'b' and back['parent_id'] is None


def test_include_deleted(v2):
    meta = create_file(v2, 'gone.txt', b'x').json
    v2.delete('/v1/file/%d' % meta['id'])
    names = [c['filename'] for c in
             v2.get('/v1/folder/0/contents').json['contents']]
    assert names == []
    listed = v2.get('/v1/folder/0/contents?include_deleted=true').json
    assert [(c['filename'], c['status']) for c in listed['contents']] == [
        ('gone.txt', 'DELETED')]


@pytest.mark.parametrize('method, path, body, status', [
    ('GET', '/v1/file/999999', None, 404),
    ('GET', '/v1/nothing', None, 404),
    ('PATCH', '/v1/file/1', None, 405),
    ('POST', '/v1/file', b'no name', 400),
    ('DELETE', '/v1/folder/0', None, 403),
])
def test_errors_have_the_spec_shape(v2, method, path, body, status):
    resp = v2.request(method, path, body=body)
    assert resp.status_int == status
    assert resp.json == {'error': status,
                         'description': resp.json['description']}
    assert_matches(resp.json, 'Error')


def test_other_client_errors_become_400(v2):
    meta = create_file(v2, 'c.txt', b'x').json
    # A name taken is a 409 in v1, a stale If-Match too.
    resp = v2.post('/v1/file?name=c.txt', body=b'y')
    assert resp.status_int == 400
    assert set(resp.json) == {'error', 'description'}
    assert resp.json['error'] == 400
    stale = v2.put('/v1/file/%d/data' % meta['id'], body=b'z',
                   headers={'If-Match': '7'})
    assert stale.status_int == 400 and 'item' not in stale.json
    range_error = v2.get('/v1/file/%d/data' % meta['id'],
                         headers={'Range': 'bytes=10-20'})
    assert range_error.status_int == 400


def test_v1_is_unchanged(alice):
    resp = alice.post('/v1/folder', body={'name': 'x'})
    assert resp.json['parent_id'] == 0 and 'workspace_id' in resp.json
    assert 'Location' not in resp.headers
    clash = alice.post('/v1/folder', body={'name': 'x'})
    assert clash.status_int == 409


def test_unauthenticated_v2_is_401_with_the_spec_shape(filter_app):
    resp = V2Client(filter_app, None).get('/v1/folder/0')
    assert resp.status_int == 401
    assert set(resp.json) == {'error', 'description'}
    assert 'WWW-Authenticate' in resp.headers


@pytest.mark.parametrize('iso, expected', [
    ('2015-04-28T11:56:53.205000Z', '2015-04-28 11:56:53.205'),
    ('2015-04-28T13:56:53+02:00', '2015-04-28 11:56:53.000'),
    (None, None),
])
def test_timestamps(iso, expected):
    assert dialects.timestamp(iso) == expected
    if expected:
        assert datetime.datetime.strptime(expected, '%Y-%m-%d %H:%M:%S.%f')


@pytest.mark.parametrize('body, expected', [
    (['a@x.org', ' b@y.org', '', 'a@x.org'], ['a@x.org', 'b@y.org']),
    ({'share_to': ['a@x.org']}, ['a@x.org']),
    ({'unshare_to': ['a@x.org']}, ['a@x.org']),
    ([], []),
    ('a@x.org', None),
    ([1], None),
    ({'users': ['bob']}, None),
])
def test_addresses(body, expected):
    assert dialects.addresses(body) == expected


# -- sharing by e-mail ------------------------------------------------------

@pytest.fixture
def people(filter_app, metadata):
    """alice, bob and carol with e-mail addresses, as v2 clients."""
    return {name: V2Client(filter_app, metadata.create_user(
        'v2' + name, email='%s@example.org' % name.capitalize()))
        for name in ('alice', 'bob', 'carol')}


def accept_all(client):
    for proposal in client.get('/v1/proposals').json:
        resp = client.post('/v1/proposal/%d/accept' % proposal['id'])
        assert resp.status_int == 200, resp.body


def test_share_unshare_and_members_by_email(people):
    alice, bob, carol = people['alice'], people['bob'], people['carol']
    folder = alice.post('/v1/folder', body={'name': 'team'}).json
    share = '/v1/folder/%d/share' % folder['id']
    resp = alice.post(share, body=['bob@example.org', 'nobody@example.org',
                                   'alice@example.org', ' CAROL@example.org'])
    assert resp.status_int == 200, resp.body
    assert resp.json == {'shared_to': ['bob@example.org',
                                       'CAROL@example.org']}
    assert_matches(resp.json, 'SharedToV2')
    accept_all(bob)
    accept_all(carol)
    # Sharing again with a member is no error and proposes nothing.
    again = alice.post(share, body=['bob@example.org'])
    assert again.json == {'shared_to': ['bob@example.org']}
    assert bob.get('/v1/proposals').json == []

    members = alice.get('/v1/folder/%d/members' % folder['id']).json
    assert [(m['name'], m['email'], m['is_owner']) for m in members] == [
        ('v2alice', 'Alice@example.org', True),
        ('v2bob', 'Bob@example.org', False),
        ('v2carol', 'Carol@example.org', False)]
    for member in members:
        assert set(member) == {'name', 'email', 'joined_at', 'is_owner'}
        assert_matches(member, 'MemberV2')
        assert V2_TIME.match(member['joined_at'])

    mount = [item for item in bob.get('/v1/folder/0/contents').json[
        'contents'] if item['filename'] == 'team'][0]
    made = create_file(bob, 'b.txt', b'bob', parent=mount['id']).json
    # At the root of the shared workspace: each user's own folder is the
    # parent.
    assert made['parent_id'] == mount['id']
    assert alice.get('/v1/file/%d' % made['id']).json['parent_id'] == \
        folder['id']

    # A member cannot remove the owner.
    refused = bob.post('/v1/folder/%d/unshare' % mount['id'],
                       body=['alice@example.org', 'carol@example.org'])
    assert refused.status_int == 400
    assert refused.json['description'] == (
        'Email alice@example.org corresponds with owner of the folder.')
    # The owner removes carol; their own address and unknown ones are
    # skipped.
    resp = alice.post('/v1/folder/%d/unshare' % folder['id'],
                      body=['carol@example.org', 'alice@example.org',
                            'who@example.org'])
    assert resp.status_int == 200
    assert resp.json == {'unshared_to': ['carol@example.org']}
    assert_matches(resp.json, 'UnsharedToV2')
    assert carol.get('/v1/folder/%d/contents' % mount['id']).status_int \
        == 404
    names = [m['name'] for m in
             alice.get('/v1/folder/%d/members' % folder['id']).json]
    assert names == ['v2alice', 'v2bob']


@pytest.mark.parametrize('body', [
    [], ['nobody@example.org'], ['alice@example.org'], {'x': 1}, b'nope'])
def test_share_without_addressees_is_400(people, body):
    alice = people['alice']
    folder = alice.post('/v1/folder', body={'name': 'f'}).json
    for action in ('share', 'unshare'):
        resp = alice.post('/v1/folder/%d/%s' % (folder['id'], action),
                          body=body)
        assert resp.status_int == 400, resp.body
        assert set(resp.json) == {'error', 'description'}


def test_unshare_of_someone_not_invited_is_400(people):
    alice = people['alice']
    folder = alice.post('/v1/folder', body={'name': 'f'}).json
    resp = alice.post('/v1/folder/%d/unshare' % folder['id'],
                      body=['bob@example.org'])
    assert resp.status_int == 400
    assert resp.json['description'] == 'No addressees found'


def test_unshare_cancels_a_pending_proposal(people):
    alice, bob = people['alice'], people['bob']
    folder = alice.post('/v1/folder', body={'name': 'f'}).json
    alice.post('/v1/folder/%d/share' % folder['id'],
               body=['bob@example.org'])
    assert len(bob.get('/v1/proposals').json) == 1
    resp = alice.post('/v1/folder/%d/unshare' % folder['id'],
                      body=['bob@example.org'])
    assert resp.json == {'unshared_to': ['bob@example.org']}
    assert bob.get('/v1/proposals').json == []


def test_the_openapi_document_describes_v2(v2):
    document = openapi.document()
    assert document['components']['parameters']['ApiV2']['name'] == \
        'StackSync-API'
    for path, operations in document['paths'].items():
        for method in set(operations) & {'get', 'head', 'put', 'post',
                                         'delete'}:
            refs = [p.get('$ref')
                    for p in operations[method].get('parameters', [])]
            assert '#/components/parameters/ApiV2' in refs, (method, path)
    with pytest.raises(jsonschema.ValidationError):
        assert_matches({'id': 1}, 'ItemV2')
