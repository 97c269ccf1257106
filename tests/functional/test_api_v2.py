"""The original StackSync API v2 test client's requests, on the all-in-one.

``tests/api_test_menu_v2.py`` of the public repository
``stacksync/swift-API`` drives the API v2 with ``requests`` and an
``OAuth1`` auth object: ``StackSync-API: v2`` and no other API header,
paths under the base URL ``…/v1``, parameters as it builds them (the
file name in a hand-made query string, a parent id read as text, a share
list split from a comma-separated line). Each test here sends the
requests of one of its menu sequences the same way, signed with a real
access token, and checks the answers against
``StackSync_API_Specifications.md``: status codes, the spec's fields
(and the OpenAPI document's ``…V2`` schemas), the root folder
``/folder/0`` with ``is_root``, ``include_deleted``, versions, and
sharing by e-mail with its rules.
"""

import hashlib
import json
import re
import secrets
import types
import uuid

import pytest
import requests
from requests_oauthlib import OAuth1

from stacksync_swift import keystone
from tests.functional.keystone import keystone_server  # noqa: F401
from tests.unit.middleware.api.test_v2 import assert_matches

V2_TIME = re.compile(r'\A\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\Z')
FILE_FIELDS = {'id', 'parent_id', 'filename', 'is_folder', 'status',
               'modified_at', 'version', 'checksum', 'size', 'mimetype',
               'chunks'}
FOLDER_FIELDS = FILE_FIELDS - {'chunks'} | {'is_root'}
TIMEOUT = 120


class V2App:
    """One user of an API v2 app: requests signed as the test client."""

    def __init__(self, cluster, stores, name):
        self.name = '%s-%s' % (name, uuid.uuid4().hex[:6])
        self.email = '%s@example.org' % self.name
        self.user = stores.metadata.create_user(self.name, email=self.email)
        token, secret = secrets.token_hex(16), secrets.token_hex(16)
        stores.credentials.save_access_token(
            stores.consumer.key, self.user['id'], token, secret)
        self.oauth = OAuth1(stores.consumer.key,
                            client_secret=stores.consumer.secret,
                            resource_owner_key=token,
                            resource_owner_secret=secret)
        self.base_url = cluster.url + '/v1'

    def send(self, method, path, data=None, content_type=None):
        headers = {'StackSync-API': 'v2'}
        if content_type:
            headers['Content-Type'] = content_type
        return requests.request(method, self.base_url + path, data=data,
                                headers=headers, auth=self.oauth,
                                timeout=TIMEOUT)

    # -- the test client's menu entries, request for request --------------

    def create_new_file(self, name, content, parent=''):
        # (2) It spells the parent "parant", so the file lands in the root.
        url = '/file?name=' + name
        if parent:
            url += '&parant=' + parent
        return self.send('POST', url, content, 'text/plain')

    def upload_new_file(self, name, data, parent=''):
        # (13) A file's bytes, no Content-Type.
        url = '/file?name=' + name
        if parent:
            url += '&parent=' + parent
        return self.send('POST', url, data)

    def update_file_data(self, file_id, content):
        # (3)
        return self.send('PUT', '/file/%s/data' % file_id, content,
                         'text/plain')

    def upload_file_data(self, file_id, data):
        # (14)
        return self.send('PUT', '/file/%s/data' % file_id, data)

    def update_metadata(self, kind, item_id, new_name='', new_parent=''):
        # (4) and (10)
        if not new_parent:
            parameters = {'name': new_name}
        elif not new_name:
            parameters = {'parent': new_parent}
        else:
            parameters = {'name': new_name, 'parent': new_parent}
        return self.send('PUT', '/%s/%s' % (kind, item_id),
                         json_text(parameters), 'application/json')

    def get_metadata_file(self, file_id):
        # (5)
        return self.send('GET', '/file/%s' % file_id,
                         content_type='application/json')

    def get_file_data(self, file_id):
        # (6)
        return self.send('GET', '/file/%s/data' % file_id,
                         content_type='application/json')

    def create_new_folder(self, name, parent=''):
        # (7)
        parameters = {'name': name}
        if parent:
            parameters['parent'] = parent
        return self.send('POST', '/folder', json_text(parameters),
                         'application/json')

    def share_folder(self, folder_id, emails):
        # (8) "mails to share (separated by comma)"
        return self.send('POST', '/folder/%s/share' % folder_id,
                         json_text(emails.split(',')), 'application/json')

    def unshare_folder(self, folder_id, emails):
        # (9)
        return self.send('POST', '/folder/%s/unshare' % folder_id,
                         json_text(emails.split(',')), 'application/json')

    def delete_file(self, file_id):
        # (11)
        return self.send('DELETE', '/file/%s' % file_id,
                         content_type='text/plain')

    def get_folder(self, folder_id, query=''):
        # (12)
        return self.send('GET', '/folder/%s/contents%s' % (folder_id, query))

    # -- what the spec documents besides the menu ---------------------------

    def get(self, path):
        return self.send('GET', path)

    def delete(self, path):
        return self.send('DELETE', path)


def json_text(value):
    return json.dumps(value)


@pytest.fixture
def app(cluster, stores):
    return V2App(cluster, stores, 'v2app')


def assert_file(meta):
    assert set(meta) == FILE_FIELDS, meta
    assert meta['is_folder'] is False
    assert V2_TIME.match(meta['modified_at'])
    assert_matches(meta, 'ItemV2')


def assert_folder(meta):
    assert set(meta) == FOLDER_FIELDS, meta
    assert meta['is_folder'] is True and meta['is_root'] is False
    assert (meta['checksum'], meta['size'], meta['mimetype']) == (
        0, 0, 'inode/directory')
    assert_matches(meta, 'ItemV2')


def assert_error(resp, status):
    assert resp.status_code == status, resp.text
    assert resp.headers['Content-Type'].startswith('application/json')
    body = resp.json()
    assert set(body) == {'error', 'description'} and body['error'] == status
    return body['description']


def checksum(data):
    return int(hashlib.sha256(data).hexdigest()[:8], 16)


def test_files_create_update_get_download_delete(app):
    resp = app.create_new_file('new_file.txt', 'hello world', parent='8474')
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert_file(created)
    assert resp.headers['Location'].endswith('/v1/file/%d' % created['id'])
    assert created['parent_id'] is None and created['status'] == 'NEW'
    assert (created['size'], created['version']) == (11, 1)
    assert created['checksum'] == checksum(b'hello world')
    assert created['mimetype'] == 'text/plain'
    file_id = str(created['id'])

    resp = app.update_file_data(file_id, 'hello again, world')
    assert resp.status_code == 200, resp.text
    updated = resp.json()
    assert_file(updated)
    assert (updated['status'], updated['version'], updated['size']) == (
        'CHANGED', 2, 18)

    resp = app.get_metadata_file(file_id)
    assert resp.status_code == 200 and resp.json() == updated
    resp = app.get_file_data(file_id)
    assert resp.status_code == 200 and resp.content == b'hello again, world'

    resp = app.update_metadata('file', file_id, new_name='renamed.txt')
    assert resp.status_code == 200, resp.text
    assert_file(resp.json())
    assert (resp.json()['filename'], resp.json()['status']) == (
        'renamed.txt', 'RENAMED')

    resp = app.delete_file(file_id)
    assert resp.status_code == 200, resp.text
    assert_file(resp.json())
    assert resp.json()['status'] == 'DELETED'
    assert_error(app.get_file_data(file_id), 404)


def test_binary_upload_into_a_folder_and_its_versions(app):
    folder = app.create_new_folder('photos').json()
    data = secrets.token_bytes(300 * 1024)
    resp = app.upload_new_file('pic.bin', data, parent=str(folder['id']))
    assert resp.status_code == 201, resp.text
    first = resp.json()
    assert first['parent_id'] == folder['id']
    second_data = secrets.token_bytes(200 * 1024)
    resp = app.upload_file_data(str(first['id']), second_data)
    assert resp.status_code == 200 and resp.json()['version'] == 2

    resp = app.get('/file/%d/versions' % first['id'])
    assert resp.status_code == 200, resp.text
    history = resp.json()
    assert_matches(history, 'VersionsV2')
    assert history['version'] == 2 and history['id'] == first['id']
    assert [(v['version'], v['status'], v['size'], v['checksum'])
            for v in history['versions']] == [
        (2, 'CHANGED', len(second_data), checksum(second_data)),
        (1, 'NEW', len(data), checksum(data))]
    one = app.get('/file/%d/version/1' % first['id'])
    assert one.status_code == 200
    assert_file(one.json())
    assert one.json()['version'] == 1
    assert app.get('/file/%d/version/1/data' % first['id']).content == data
    assert app.get_file_data(str(first['id'])).content == second_data


def test_folders_root_contents_and_include_deleted(app):
    resp = app.create_new_folder('clients')
    assert resp.status_code == 201, resp.text
    clients = resp.json()
    assert_folder(clients)
    assert resp.headers['Location'].endswith('/v1/folder/%d' % clients['id'])
    resp = app.create_new_folder('2015', parent=str(clients['id']))
    assert resp.status_code == 201
    year = resp.json()
    assert year['parent_id'] == clients['id']
    app.upload_new_file('inside.txt', b'inside', parent=str(clients['id']))
    gone = app.create_new_file('gone.txt', 'bye').json()
    app.delete_file(str(gone['id']))

    resp = app.get_folder('0')
    assert resp.status_code == 200, resp.text
    root = resp.json()
    assert_matches(root, 'FolderV2')
    assert root['is_root'] is True and root['id'] is None
    assert root['filename'] == 'root'
    assert [(c['filename'], c['parent_id']) for c in root['contents']] == [
        ('clients', None)]
    assert_folder(root['contents'][0])
    listed = app.get_folder('0', '?include_deleted=true').json()
    assert [(c['filename'], c['status']) for c in listed['contents']] == [
        ('clients', 'NEW'), ('gone.txt', 'DELETED')]
    assert app.get('/folder/0').json()['is_root'] is True

    inside = app.get_folder(str(clients['id'])).json()
    assert inside['id'] == clients['id'] and inside['is_root'] is False
    assert [(c['filename'], c['parent_id']) for c in inside['contents']] == [
        ('2015', clients['id']), ('inside.txt', clients['id'])]
    got = app.get('/folder/%d' % clients['id'])
    assert got.status_code == 200
    assert_folder(got.json())

    # (10) Update folder metadata: rename, then move to the root.
    resp = app.update_metadata('folder', str(year['id']),
                               new_name='2016')
    assert resp.status_code == 200, resp.text
    assert resp.json()['filename'] == '2016'
    resp = app.update_metadata('folder', str(year['id']),
                               new_name='archive', new_parent='0')
    assert resp.status_code == 200, resp.text
    assert (resp.json()['filename'], resp.json()['parent_id']) == (
        'archive', None)
    resp = app.delete('/folder/%d' % clients['id'])
    assert resp.status_code == 200
    assert_folder(resp.json())
    assert resp.json()['status'] == 'DELETED'


def test_errors_have_the_spec_codes(app):
    assert_error(app.get_metadata_file('987654321'), 404)
    assert_error(app.get_folder('987654321'), 404)
    folder = app.create_new_folder('f').json()
    # A folder is not a file, and the reverse.
    assert_error(app.get_metadata_file(str(folder['id'])), 404)
    assert_error(app.send('POST', '/file'), 400)
    assert_error(app.send('PATCH', '/file/1'), 405)
    assert_error(app.delete('/folder/0'), 403)
    # A name already taken: 409 in our API, 400 (bad input) in v2.
    assert_error(app.create_new_folder('f'), 400)
    # Unsigned: 401.
    resp = requests.get(app.base_url + '/folder/0/contents',
                        headers={'StackSync-API': 'v2'}, timeout=TIMEOUT)
    assert resp.status_code == 401


def test_share_unshare_and_members_by_email(cluster, stores, app):
    bob = V2App(cluster, stores, 'bob')
    carol = V2App(cluster, stores, 'carol')
    folder = app.create_new_folder('team').json()
    folder_id = str(folder['id'])

    # The addressee list as the test client splits it: blanks stripped,
    # unknown addresses skipped.
    resp = app.share_folder(folder_id, '%s, %s,nobody@example.org' % (
        bob.email, carol.email.upper()))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'shared_to': [bob.email, carol.email.upper()]}
    assert_matches(resp.json(), 'SharedToV2')
    # The same proposals as ours: each addressee accepts as usual.
    for person in (bob, carol):
        [proposal] = person.get('/proposals').json()
        assert proposal['folder_id'] == folder['id']
        assert proposal['role'] == 'editor'
        resp = person.send('POST', '/proposal/%d/accept' % proposal['id'])
        assert resp.status_code == 200, resp.text

    resp = app.get('/folder/%s/members' % folder_id)
    assert resp.status_code == 200
    members = resp.json()
    assert [(m['name'], m['email'], m['is_owner']) for m in members] == [
        (app.name, app.email, True), (bob.name, bob.email, False),
        (carol.name, carol.email, False)]
    for member in members:
        assert_matches(member, 'MemberV2')
        assert V2_TIME.match(member['joined_at'])

    [mount] = [item for item in bob.get_folder('0').json()['contents']
               if item['filename'] == 'team']
    [carols] = [item for item in carol.get_folder('0').json()['contents']
                if item['filename'] == 'team']
    assert carol.get_folder(str(carols['id'])).status_code == 200
    made = bob.upload_new_file('from-bob.txt', b'bob', str(mount['id']))
    assert made.status_code == 201, made.text
    assert made.json()['parent_id'] == mount['id']
    mine = app.get_metadata_file(str(made.json()['id'])).json()
    assert mine['parent_id'] == folder['id']
    assert app.get_file_data(str(mine['id'])).content == b'bob'

    # The rules of the spec's unshare.
    description = assert_error(
        bob.unshare_folder(str(mount['id']),
                           '%s,%s' % (carol.email, app.email)), 400)
    assert description == ('Email %s corresponds with owner of the '
                           'folder.' % app.email)
    assert assert_error(app.unshare_folder(folder_id, ''), 400) == \
        'No addressees found'
    assert assert_error(app.unshare_folder(
        folder_id, 'who@example.org,%s' % app.email), 400) == \
        'No addressees found'
    resp = app.unshare_folder(folder_id, '%s,%s,who@example.org' % (
        carol.email, app.email))
    assert resp.status_code == 200, resp.text
    assert resp.json() == {'unshared_to': [carol.email]}
    assert_matches(resp.json(), 'UnsharedToV2')
    assert_error(carol.get_folder(str(carols['id'])), 404)
    assert 'team' not in [item['filename'] for item in
                          carol.get_folder('0').json()['contents']]
    names = [m['name'] for m in
             app.get('/folder/%s/members' % folder_id).json()]
    assert names == [app.name, bob.name]
    # Sharing with nobody known is 400 too.
    assert assert_error(app.share_folder(folder_id, 'x@example.org'),
                        400) == 'No addressees found'


# -- Keystone mode: the Keystone user's e-mail ------------------------------

@pytest.mark.keystone
def test_a_keystone_users_email_read_with_their_own_token(
        keystone_server):  # noqa: F811
    settings = types.SimpleNamespace(
        keystone_auth_url=keystone_server.auth_url)
    password = secrets.token_hex(8)
    name = 'mail-%s' % uuid.uuid4().hex[:6]
    created = keystone_server.create_user(name, password,
                                          email='%s@example.org' % name)
    token = keystone_server.token(name, password)
    assert keystone.user_email(settings, created.user_id, token) == \
        '%s@example.org' % name
    plain = 'plain-%s' % uuid.uuid4().hex[:6]
    without = keystone_server.create_user(plain, password)
    plain_token = keystone_server.token(plain, password)
    assert keystone.user_email(settings, without.user_id,
                               plain_token) is None
    # Another user's record is not one's own to read.
    assert keystone.user_email(settings, created.user_id,
                               plain_token) is None
