"""Attacks on workspace storage, on the real all-in-one (issue 19, 1-3).

Each test is an attack that used to work, now answered with a JSON error
that changes nothing:

* a member plants a DLO manifest or a symlink (raw Swift, OAuth-signed)
  and reads another workspace through the API's pre-authorized reads;
* an editor overwrites or deletes chunks, or stores other objects, raw;
* a stored chunk damaged behind our back is served, or cannot be
  repaired; a restore of a version whose chunks are gone makes a version
  nobody can read;
* chunk uploads and raw writes escape the quota; a commit's false size
  is believed.

Objects that only an attacker of the *old* code could have planted are
planted here through the bare proxy (the same servers without our
filters), as an operator's hand or an earlier release would have left
them.
"""

import hashlib
import http.client
import json
import os
import urllib.parse

import pytest

from stacksync_swift import packs
from tests.functional import apiclient
from tests.functional.apiclient import chunk_name
from tests.functional.apiclient import raw_chunk
from tests.functional.apiclient import raw_chunk_url
from tests.functional.apiclient import raw_url
from tests.functional.conftest import connect

MiB = 1024 * 1024


alice = apiclient.alice      # fixtures
bob = apiclient.bob
carol = apiclient.carol


@pytest.fixture
def behind_our_back(cluster):
    """The installation admin on the bare proxy: writes no filter sees."""
    conn = connect(cluster, cluster.admin_user, bare=True)
    yield conn
    conn.close()


def private_container(client):
    account = client.get('/v1/account').json()
    [own] = [ws for ws in account['workspaces'] if not ws['is_shared']]
    return own


def share(owner, member, role, folder_name='project'):
    """owner's new folder shared with member; the shared workspace."""
    folder = owner.post('/v1/folder', json={'name': folder_name,
                                            'parent': 0}).json()
    resp = owner.post('/v1/folder/%d/share' % folder['id'], json={
        'users': [member.user['name']], 'role': role})
    assert resp.status_code == 201, resp.text
    [proposal] = resp.json()['proposals']
    joined = member.post('/v1/proposal/%d/accept' % proposal['id']).json()
    assert joined['acl_synced']
    return folder, dict(joined['workspace'], mount=joined['mount'])


def assert_json_error(resp, *statuses):
    assert resp.status_code in statuses, (resp.status_code, resp.text)
    assert resp.headers['Content-Type'].startswith('application/json')
    assert 'Traceback' not in resp.text
    assert resp.json()['error'] == resp.status_code


def leaked(resp, secret):
    return secret in resp.content


# -- 1. no reads of other workspaces through manifests or symlinks ---------

@pytest.mark.parametrize('link', [
    lambda container, name: {'X-Object-Manifest': '%s/chk-' % container},
    lambda container, name: {'X-Symlink-Target': '%s/%s' % (container,
                                                            name)}])
def test_a_member_cannot_plant_a_link_raw(cluster, alice, bob, link):
    folder, shared = share(alice, bob, 'viewer')
    secret = b'alice secret ' + os.urandom(16)
    alice.upload(secret, name='plans.txt', parent=folder['id'])
    mine = private_container(bob)['container']
    name = 'chk-' + os.urandom(32).hex()
    resp = bob.session.put(raw_url(cluster, mine, name), data=b'',
                           headers=link(shared['container'],
                                        chunk_name(secret)))
    assert_json_error(resp, 403)
    # Nothing was stored under that name.
    assert bob.head('/v1/workspace/%d/chunk/%s'
                    % (bob.workspace_id, name)).status_code == 404


@pytest.mark.parametrize('link', ['manifest', 'symlink'])
def test_a_planted_link_never_reads_another_workspace(
        cluster, alice, bob, behind_our_back, link):
    """Links left in a workspace container (by an older release, say)
    are never followed by our reads, and are removed when found."""
    secret = b'alice secret ' + os.urandom(16)
    meta = alice.upload(secret, name='plans.txt')
    target_container = private_container(alice)['container']
    mine = private_container(bob)
    name = 'chk-' + os.urandom(32).hex()
    headers = {'X-Object-Manifest': '%s/chk-' % target_container} \
        if link == 'manifest' else \
        {'X-Symlink-Target': '%s/%s' % (target_container,
                                        meta['chunks'][0])}
    behind_our_back.put_object(mine['container'], name, b'',
                               headers=headers)
    chunk_path = '/v1/workspace/%d/chunk/%s' % (mine['id'], name)
    resp = bob.get(chunk_path)
    assert not leaked(resp, secret)
    assert_json_error(resp, 404, 409)
    # A commit naming it finds no chunk there either.
    resp = bob.post('/v1/workspace/%d/commit' % mine['id'], json=[{
        'filename': 'stolen.txt', 'parent_id': None, 'is_folder': False,
        'size': len(secret), 'content_hash': hashlib.sha256(
            secret).hexdigest(), 'chunks': [name]}],
        headers={'X-StackSync-Device': 'laptop'})
    assert resp.status_code == 200, resp.text
    [result] = resp.json()['results']
    assert result['result'] == 'error'
    # The link itself is gone.
    assert bob.head(chunk_path).status_code == 404
    with pytest.raises(Exception) as gone:
        behind_our_back.head_object(mine['container'], name)
    assert getattr(gone.value, 'http_status', None) == 404


# -- 2. members cannot corrupt, delete or misuse chunks by raw Swift -------

@pytest.fixture
def project(cluster, alice, bob, carol):
    folder, shared = share(alice, bob, 'editor')
    resp = alice.post('/v1/folder/%d/share' % folder['id'], json={
        'users': [carol.user['name']], 'role': 'viewer'})
    [proposal] = resp.json()['proposals']
    carol.post('/v1/proposal/%d/accept' % proposal['id'])
    first = b'first draft ' + os.urandom(8)
    report = alice.upload(first, name='report.txt', parent=folder['id'])
    return {'folder': folder, 'workspace': shared, 'report': report,
            'first': first}


def test_an_editor_cannot_overwrite_a_chunk_raw(cluster, alice, bob,
                                                project):
    container = project['workspace']['container']
    [name] = project['report']['chunks']
    url = raw_url(cluster, container, name)
    # Other bytes under the name: refused before Swift sees them.
    assert_json_error(bob.session.put(url, data=b'evil bytes'), 400)
    # The right bytes: the chunk lives in a pack, which no raw write
    # reaches; the copy is a verified chunk object that reads never use
    # while the pack holds the chunk, and it is never overwritten either.
    assert bob.session.put(url, data=project['first']).status_code == 201
    assert bob.session.put(url, data=project['first']).status_code == 412
    resp = alice.get('/v1/file/%d/data' % project['report']['id'])
    assert resp.status_code == 200 and resp.content == project['first']


@pytest.mark.parametrize('method, extra', [
    ('DELETE', {}),
    ('POST', {'X-Delete-After': '1'}),
    ('POST', {'X-Object-Meta-Evil': '1'}),
    ('COPY', {'Destination': 'elsewhere/obj'})])
def test_an_editor_cannot_delete_or_change_a_chunk_raw(
        cluster, alice, bob, project, method, extra):
    container = project['workspace']['container']
    [name] = project['report']['chunks']
    resp = bob.session.request(method, raw_url(cluster, container, name),
                               headers=extra)
    if method == 'COPY':
        # Out of the workspace, to a container bob may not write: Swift's
        # own refusal (the guard only stops copies into workspaces).
        assert resp.status_code == 403
    else:
        assert_json_error(resp, 403)
    resp = alice.get('/v1/file/%d/data' % project['report']['id'])
    assert resp.status_code == 200 and resp.content == project['first']


@pytest.mark.parametrize('obj, headers', [
    ('notes.html', {}),
    ('chk-' + 'a' * 63, {}),
    (None, {'X-Delete-After': '60'}),
    (None, {'X-Copy-From': 'other/obj'}),
    (None, {'X-Object-Manifest': 'other/chk-'}),
    (None, {'X-Symlink-Target': 'other/obj'})])
def test_an_editor_stores_nothing_but_plain_chunks_raw(
        cluster, bob, project, behind_our_back, obj, headers):
    data = b'not a chunk ' + os.urandom(8)
    obj = obj or chunk_name(data)
    container = project['workspace']['container']
    resp = bob.session.put(raw_url(cluster, container, obj), data=data,
                           headers=headers)
    assert_json_error(resp, 403)
    names = [entry['name'] for entry in
             behind_our_back.get_container(container)[1]]
    assert obj not in names


def test_a_copy_into_a_workspace_is_refused(cluster, bob, project):
    mine = private_container(bob)['container']
    data = os.urandom(100)
    resp = bob.session.put(raw_url(cluster, mine, chunk_name(data)),
                           data=data)
    assert resp.status_code == 201
    resp = bob.session.request(
        'COPY', raw_url(cluster, mine, chunk_name(data)),
        headers={'Destination': '%s/%s' % (
            project['workspace']['container'], 'chk-' + 'b' * 64)})
    assert_json_error(resp, 403)


def test_bulk_operations_are_refused_in_the_storage_account(cluster, bob,
                                                            project):
    container = project['workspace']['container']
    [name] = project['report']['chunks']
    account = '%s/v1/%s' % (cluster.url, cluster.storage_account)
    resp = bob.session.post(account + '?bulk-delete', data='%s/%s\n' % (
        container, name), headers={'Content-Type': 'text/plain'})
    assert_json_error(resp, 403)
    resp = bob.session.put(raw_url(cluster, container) + '?extract-archive'
                           '=tar', data=b'')
    assert_json_error(resp, 403)


def test_editors_still_upload_verified_chunks_raw(cluster, alice, bob,
                                                  carol, project):
    """What the original StackSync client did stays possible."""
    container = project['workspace']['container']
    data = b'second draft ' + os.urandom(16)
    url = raw_url(cluster, container, chunk_name(data))
    # Viewers read raw, but do not write.
    first = project['report']['chunks'][0]
    assert raw_chunk(carol.session.get(raw_chunk_url(
        cluster, container, first)), first) == project['first']
    assert carol.session.put(url, data=data).status_code == 403
    before = alice.get('/v1/account').json()
    resp = bob.session.put(url, data=data)
    assert resp.status_code == 201, resp.text
    assert bob.session.put(url, data=data).status_code == 412
    # Counted against the owner (alice) until a version references it.
    after = alice.get('/v1/account').json()
    assert after['quota_waiting'] - before['quota_waiting'] == len(data)
    resp = bob.post('/v1/workspace/%d/commit'
                    % project['workspace']['id'], json=[{
                        'id': project['report']['id'],
                        'base_version': project['report']['version'],
                        'size': len(data), 'chunks': [chunk_name(data)],
                        'content_hash': hashlib.sha256(data).hexdigest()}],
                    headers={'X-StackSync-Device': 'laptop'})
    assert resp.json()['results'][0]['result'] == 'committed'
    assert alice.get('/v1/account').json()['quota_waiting'] == \
        before['quota_waiting']


# -- damaged or missing chunks ------------------------------------------

def test_a_damaged_chunk_is_a_json_error_and_a_reupload_repairs_it(
        cluster, alice, behind_our_back):
    data = b'precious ' + os.urandom(32)
    meta = alice.upload(data, name='precious.bin')
    container = private_container(alice)['container']
    [name] = meta['chunks']
    damage(behind_our_back, cluster, container, name)
    resp = alice.get('/v1/file/%d/data' % meta['id'])
    assert_json_error(resp, 409)
    assert resp.json()['code'] == 'chunk_damaged'
    # The damaged chunk was forgotten: the right bytes are stored again.
    resp = alice.put('/v1/workspace/%d/chunk/%s' % (alice.workspace_id,
                                                    name), data=data)
    assert resp.status_code == 201, resp.text
    resp = alice.get('/v1/file/%d/data' % meta['id'])
    assert resp.status_code == 200 and resp.content == data


def test_a_chunk_damaged_mid_download_never_sends_a_traceback(
        cluster, alice, behind_our_back):
    first, second = os.urandom(300 * 1024), os.urandom(300 * 1024)
    for data in (first, second):
        resp = alice.put('/v1/workspace/%d/chunk/%s' % (
            alice.workspace_id, chunk_name(data)), data=data)
        assert resp.status_code == 201
    content = first + second
    resp = alice.post('/v1/workspace/%d/commit' % alice.workspace_id, json=[{
        'filename': 'two.bin', 'parent_id': None, 'is_folder': False,
        'size': len(content), 'chunks': [chunk_name(first),
                                         chunk_name(second)],
        'content_hash': hashlib.sha256(content).hexdigest()}],
        headers={'X-StackSync-Device': 'laptop'})
    meta = resp.json()['results'][0]['item']
    container = private_container(alice)['container']
    damage(behind_our_back, cluster, container, chunk_name(second))
    # Five bytes of the good chunk go out first, then the bad one fails.
    start = len(first) - 5
    body = raw_get(cluster, alice, '/v1/file/%d/data' % meta['id'],
                   {'Range': 'bytes=%d-' % start})
    assert body['status'] == 206
    assert b'Traceback' not in body['data']
    assert body['data'] == first[start:]    # cut short, never garbage
    # ...and the proxy says so, with the request's transaction id.
    assert 'cut short (tx' in cluster.log_tail('proxy', lines=400)


def damage(conn, cluster, container, chunk):
    """Flip the first byte of ``chunk`` where Swift holds it (its pack or
    its own object), as a failing disk would, behind the proxy's back."""
    holder = raw_chunk_url(cluster, container, chunk).rsplit('/', 1)[-1]
    body = bytearray(conn.get_object(container, holder)[1])
    offset = 0
    if packs.is_pack_name(holder):
        offset, = [start for name, start, _length in packs.entries(
            bytes(body)) if name == chunk]
    body[offset] ^= 0xFF
    conn.put_object(container, holder, bytes(body))


def remove(conn, cluster, container, chunk):
    """Delete the object that holds ``chunk``, behind the proxy's back."""
    conn.delete_object(container, raw_chunk_url(
        cluster, container, chunk).rsplit('/', 1)[-1])


def raw_get(cluster, client, path, headers):
    """A GET read to the end of the connection, whatever it declared."""
    url = urllib.parse.urlsplit(cluster.url)
    prepared = client.session.prepare_request(__import__(
        'requests').Request('GET', cluster.url + path, headers=dict(
            headers, **{'X-StackSync-API': 'v1'})))
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    conn.request('GET', path, headers=dict(prepared.headers))
    resp = conn.getresponse()
    data = b''
    try:
        while True:
            piece = resp.read1(65536)
            if not piece:
                break
            data += piece
    except http.client.IncompleteRead as short:
        data += short.partial
    finally:
        conn.close()
    return {'status': resp.status, 'data': data}


def test_a_version_whose_chunks_are_gone_is_not_read_or_restored(
        cluster, alice, behind_our_back):
    old = b'old text ' + os.urandom(8)
    meta = alice.upload(old, name='history.txt')
    resp = alice.put('/v1/file/%d/data' % meta['id'], data=b'new text')
    assert resp.status_code == 200
    container = private_container(alice)['container']
    remove(behind_our_back, cluster, container, meta['chunks'][0])
    resp = alice.get('/v1/file/%d/version/1/data' % meta['id'])
    assert_json_error(resp, 409)
    assert resp.json()['code'] == 'chunks_missing'
    resp = alice.post('/v1/file/%d/restore' % meta['id'],
                      json={'version': 1})
    assert_json_error(resp, 409)
    versions = alice.get('/v1/file/%d/versions' % meta['id']).json()
    assert [v['version'] for v in versions] == [1, 2]


# -- 3. quota ----------------------------------------------------------------

def test_chunk_uploads_count_against_the_quota(cluster, stores, alice):
    stores.metadata.set_quota(alice.user['id'], 2 * MiB + 1000)
    chunks = [os.urandom(MiB) for _ in range(3)]
    statuses = [alice.put('/v1/workspace/%d/chunk/%s' % (
        alice.workspace_id, chunk_name(data)), data=data).status_code
        for data in chunks]
    assert statuses == [201, 201, 413]
    account = alice.get('/v1/account').json()
    assert account['quota_used'] == account['quota_waiting'] == 2 * MiB
    # A commit naming them with a false size is refused...
    resp = alice.post('/v1/workspace/%d/commit' % alice.workspace_id, json=[{
        'filename': 'big.bin', 'parent_id': None, 'is_folder': False,
        'size': 0, 'chunks': [chunk_name(data) for data in chunks[:2]],
        'content_hash': hashlib.sha256(b''.join(chunks[:2])).hexdigest()}],
        headers={'X-StackSync-Device': 'laptop'})
    [result] = resp.json()['results']
    assert result['result'] == 'error' and 'size' in result['description']
    # ...the true one is committed, and the bytes count once.
    resp = alice.post('/v1/workspace/%d/commit' % alice.workspace_id, json=[{
        'filename': 'big.bin', 'parent_id': None, 'is_folder': False,
        'size': 2 * MiB, 'chunks': [chunk_name(data)
                                    for data in chunks[:2]],
        'content_hash': hashlib.sha256(b''.join(chunks[:2])).hexdigest()}],
        headers={'X-StackSync-Device': 'laptop'})
    assert resp.json()['results'][0]['result'] == 'committed'
    account = alice.get('/v1/account').json()
    assert account['quota_used'] == 2 * MiB
    assert account['quota_waiting'] == 0


def test_raw_writes_into_ones_own_container_count(cluster, stores, alice):
    stores.metadata.set_quota(alice.user['id'], 1000)
    container = private_container(alice)['container']
    data = os.urandom(3 * MiB)
    resp = alice.session.put(raw_url(cluster, container, chunk_name(data)),
                             data=data)
    assert_json_error(resp, 413)
    small = os.urandom(600)
    resp = alice.session.put(raw_url(cluster, container, chunk_name(small)),
                             data=small)
    assert resp.status_code == 201
    assert alice.get('/v1/account').json()['quota_used'] == 600
    small2 = os.urandom(600)
    resp = alice.session.put(raw_url(cluster, container,
                                     chunk_name(small2)), data=small2)
    assert_json_error(resp, 413)


def test_an_upload_to_a_shared_folder_counts_against_its_owner(
        cluster, stores, alice, bob):
    _folder, shared = share(alice, bob, 'editor')
    stores.metadata.set_quota(alice.user['id'], 1000)
    data = os.urandom(2000)
    resp = bob.post('/v1/file', params={'name': 'big.bin',
                                        'parent': shared['mount']['id']},
                    data=data)
    assert_json_error(resp, 413)
    # Refused before a byte was stored (not only at the commit).
    assert alice.head('/v1/workspace/%d/chunk/%s' % (
        shared['id'], chunk_name(data))).status_code == 404
    # bob's own quota has room; alice's, whose folder it is, has not.
    assert json.loads(resp.text)['error'] == 413
    assert bob.upload(os.urandom(2000), name='mine.bin')['size'] == 2000


def test_the_web_site_does_not_restore_a_version_whose_chunks_are_gone(
        cluster, stores, behind_our_back):
    from tests.functional.test_web_links import WebUser
    alice = WebUser(cluster, stores, 'alice')
    try:
        meta = alice.api.upload(b'old text ' + os.urandom(8), name='h.txt')
        alice.api.put('/v1/file/%d/data' % meta['id'], data=b'new text')
        container = private_container(alice.api)['container']
        remove(behind_our_back, cluster, container, meta['chunks'][0])
        alice.sign_in()
        resp = alice.post('file/%d/version/1/restore' % meta['id'])
        assert resp.status_code == 409
        assert 'missing from storage' in resp.text
        assert 'Traceback' not in resp.text
        versions = alice.api.get('/v1/file/%d/versions' % meta['id']).json()
        assert [v['version'] for v in versions] == [1, 2]
    finally:
        alice.close()
