"""Bad input: a corpus of malformed requests, each a JSON 4xx, none a change.

Against an all-in-one of the test's own, one signed user with a folder and
a file sends (and an unsigned stranger sends):

* malformed OAuth ``Authorization`` headers: garbage, missing parameters,
  unknown consumer or token, a wrong signature, an unsupported or
  PLAINTEXT (over plain HTTP) method, stale or non-numeric timestamps,
  a replayed nonce, a huge header;
* malformed JSON bodies: not JSON, invalid UTF-8, NaN and infinity,
  deep nesting, wrong types where names, parents, versions, users and
  commit items go, a body over the size limit;
* bad names: ``.``, ``..``, ``/``, NUL, control characters, a 10 KiB
  name, invalid UTF-8, a lone surrogate, an empty name;
* bad ids: non-numeric, negative, beyond 64 bits, someone else's, zero
  where it means nothing, a workspace not one's own, bad cursors, limits
  and ``If-Match`` values.

Each answer is a 4xx whose body is the API's JSON error (never a 5xx, a
traceback or a bare Swift error), the proxy logs no unhandled error, and
afterwards the user's workspace cursor, usage, folder listing and Swift
container are exactly what they were before.
"""

import json
import time
import uuid

import pytest
import requests
from oauthlib import oauth1

from tests.functional import apiclient
from tests.functional import faults

NAMES = {
    'empty': '',
    'dot': '.',
    'dotdot': '..',
    'slash': '/',
    'inner-slash': 'a/b',
    'nul': 'a\x00b',
    'newline': 'a\nb',
    'control': 'a\x07b',
    'long': 'n' * 10240,
    'surrogate': 'a\ud800b',
}


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    with faults.running(tmp_path_factory, 'badinput') as running:
        yield running


@pytest.fixture(scope='module')
def world(cluster, stores):
    """The user, a folder and a file, another user's file, a snapshot."""
    user = apiclient.APIClient(cluster, stores)
    other = apiclient.APIClient(cluster, stores)
    folder = user.post('/v1/folder', json={'name': 'docs', 'parent': 0})
    assert folder.status_code == 201, folder.text
    made = {'user': user, 'folder': folder.json()['id'],
            'file': user.upload(b'hello', name='a.txt')['id'],
            'foreign': other.upload(b'theirs')['id'],
            'workspace': user.workspace_id,
            'foreign_workspace': other.workspace_id}
    made['before'] = snapshot(cluster, user)
    yield made
    user.close()
    other.close()


def snapshot(cluster, client):
    """What bad input must not change: cursor, usage, listing, objects."""
    workspace = client.get('/v1/workspace/%d' % client.workspace_id).json()
    account = client.get('/v1/account').json()
    listing = client.get('/v1/folder/0/contents').json()['contents']
    return {'cursor': workspace['cursor'],
            'usage': account.get('quota_used', account.get('usage')),
            'listing': sorted((i['id'], i['filename'], i['version'])
                              for i in listing),
            'objects': sorted(faults.stored_objects(
                cluster, workspace['container']))}


def assert_json_4xx(resp):
    assert 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    assert resp.headers['Content-Type'].startswith('application/json'), \
        resp.text
    assert 'error' in resp.json()


# -- OAuth headers -----------------------------------------------------------

def oauth_header(**params):
    fields = {'oauth_consumer_key': 'nobody', 'oauth_token': 'nothing',
              'oauth_signature_method': 'HMAC-SHA1',
              'oauth_timestamp': str(int(time.time())),
              'oauth_nonce': uuid.uuid4().hex, 'oauth_version': '1.0',
              'oauth_signature': 'c2lnbmF0dXJl'}
    fields.update(params)
    return 'OAuth ' + ', '.join('%s="%s"' % item for item in fields.items()
                                if item[1] is not None)


MALFORMED_AUTHORIZATION = {
    'bare-scheme': 'OAuth ',
    'garbage': 'OAuth garbage',
    'unquoted': 'OAuth oauth_consumer_key=x,oauth_signature=y',
    'unterminated': 'OAuth oauth_consumer_key="x',
    'no-signature': oauth_header(oauth_signature=None),
    'no-consumer': oauth_header(oauth_consumer_key=None),
    'unknown-consumer': oauth_header(),
    'rsa': oauth_header(oauth_signature_method='RSA-SHA1'),
    'plaintext': oauth_header(oauth_signature_method='PLAINTEXT'),
    'bogus-method': oauth_header(oauth_signature_method='MD5'),
    'timestamp-text': oauth_header(oauth_timestamp='yesterday'),
    'timestamp-old': oauth_header(oauth_timestamp='1'),
    'timestamp-huge': oauth_header(oauth_timestamp='9' * 40),
    'version-2': oauth_header(oauth_version='2.0'),
    'bad-percent': oauth_header(oauth_consumer_key='%ZZ'),
    'latin1': oauth_header(oauth_consumer_key='caf\xe9'),
    'duplicate': oauth_header() + ', oauth_nonce="again"',
    'huge': oauth_header(oauth_nonce='n' * 6000),
}


@pytest.mark.parametrize('name', sorted(MALFORMED_AUTHORIZATION))
def test_malformed_oauth_headers_are_401s(cluster, world, name):
    header = MALFORMED_AUTHORIZATION[name].encode('latin-1')
    resp = requests.get(cluster.url + '/v1/folder/0', headers={
        'Authorization': header, 'X-StackSync-API': 'v1'}, timeout=30)
    assert_json_4xx(resp)


def signed(client, method, path, **params):
    """A request signed with the user's real keys, before sending."""
    key, consumer_secret, token, secret = client.auth
    signer = oauth1.Client(key, client_secret=consumer_secret,
                           resource_owner_key=token,
                           resource_owner_secret=secret, **params)
    uri, headers, _body = signer.sign(client.base + path, method)
    headers.update(apiclient.API)
    return uri, headers


def test_a_wrong_signature_with_real_keys_is_401(world):
    uri, headers = signed(world['user'], 'GET', '/v1/folder/0')
    headers['Authorization'] = headers['Authorization'].replace(
        'oauth_signature="', 'oauth_signature="x')
    assert_json_4xx(requests.get(uri, headers=headers, timeout=30))


def test_a_replayed_nonce_is_401(world):
    uri, headers = signed(world['user'], 'GET', '/v1/folder/0')
    assert requests.get(uri, headers=headers, timeout=30).status_code == 200
    assert_json_4xx(requests.get(uri, headers=headers, timeout=30))


def test_a_stale_timestamp_is_401(world):
    uri, headers = signed(world['user'], 'GET', '/v1/folder/0',
                          timestamp=str(int(time.time()) - 3600))
    assert_json_4xx(requests.get(uri, headers=headers, timeout=30))


def test_a_signature_for_another_path_is_401(world):
    _uri, headers = signed(world['user'], 'GET', '/v1/folder/0')
    resp = requests.get(world['user'].base + '/v1/account',
                        headers=headers, timeout=30)
    assert_json_4xx(resp)


# -- JSON bodies -------------------------------------------------------------

BODIES = {
    'not-json': b'name=x',
    'truncated': b'{"name": "x"',
    'invalid-utf8': b'{"name": "\xff\xfe"}',
    'nan': b'{"name": NaN, "parent": NaN}',
    'infinity': b'{"name": "x", "parent": Infinity}',
    'huge-number': b'{"name": "x", "parent": 1e999}',
    'deep': b'[' * 100000 + b']' * 100000,
    'deep-object': b'{"a":' * 50000 + b'1' + b'}' * 50000,
    'array': b'["x"]',
    'string': b'"x"',
    'null': b'null',
    'name-number': b'{"name": 7}',
    'name-list': b'{"name": ["x"]}',
    'name-object': b'{"name": {"x": 1}}',
    'name-null': b'{"name": null}',
    'parent-text': b'{"name": "x", "parent": "abc"}',
    'parent-float': b'{"name": "x", "parent": 1.5}',
    'parent-bool': b'{"name": "x", "parent": true}',
    'parent-negative': b'{"name": "x", "parent": -1}',
    'parent-huge': b'{"name": "x", "parent": 99999999999999999999999}',
    'parent-list': b'{"name": "x", "parent": [1]}',
    'surrogate': b'{"name": "a\\ud800b"}',
}

# (method, path template) of every endpoint that reads a JSON body.
JSON_ENDPOINTS = {
    'create-folder': ('POST', '/v1/folder'),
    'rename-file': ('PUT', '/v1/file/{file}'),
    'rename-folder': ('PUT', '/v1/folder/{folder}'),
    'restore': ('POST', '/v1/file/{file}/restore'),
    'share': ('POST', '/v1/folder/{folder}/share'),
    'unshare': ('POST', '/v1/folder/{folder}/unshare'),
    'commit': ('POST', '/v1/workspace/{workspace}/commit'),
    'missing-chunks': ('POST', '/v1/workspace/{workspace}/chunks/missing'),
}


def send_json(world, endpoint, body):
    method, template = JSON_ENDPOINTS[endpoint]
    return world['user'].request(
        method, template.format(**world), data=body,
        headers={'Content-Type': 'application/json'})


@pytest.mark.parametrize('body', sorted(BODIES))
@pytest.mark.parametrize('endpoint', sorted(JSON_ENDPOINTS))
def test_malformed_json_bodies_are_4xx(world, endpoint, body):
    assert_json_4xx(send_json(world, endpoint, BODIES[body]))


COMMITS = {
    'item-number': [1],
    'item-empty': [{}],
    'id-text': [{'id': 'x', 'version': 1}],
    'chunks-text': [{'name': 'x', 'parent_id': None, 'chunks': 'abc'}],
    'chunks-numbers': [{'name': 'x', 'parent_id': None, 'chunks': [1, 2]}],
    'chunk-bad-name': [{'name': 'x', 'parent_id': None, 'size': 1,
                        'content_hash': '0' * 64, 'chunks': ['../x']}],
    'size-negative': [{'name': 'x', 'parent_id': None, 'size': -1,
                       'content_hash': '0' * 64, 'chunks': []}],
    'version-huge': [{'id': 1, 'version': 2 ** 70}],
    'too-many': [{}] * 100000,
}


@pytest.mark.parametrize('commit', sorted(COMMITS))
def test_malformed_commits_are_refused(world, commit):
    resp = send_json(world, 'commit', json.dumps(COMMITS[commit]))
    if resp.status_code == 200:
        # Per-item refusals: nothing of it was committed.
        results = resp.json()['results']
        assert all(r['result'] != 'committed' for r in results), results
    else:
        assert_json_4xx(resp)


def test_a_body_over_the_limit_is_413(world):
    resp = send_json(world, 'create-folder',
                     b'{"name": "' + b'x' * (9 * 1024 * 1024) + b'"}')
    assert resp.status_code == 413, resp.text


# -- names -------------------------------------------------------------------

# A surrogate cannot travel in a URL (the invalid UTF-8 test sends its
# bytes); a 10 KiB query is refused by the HTTP server itself (414).
QUERY_NAMES = sorted(set(NAMES) - {'surrogate'})


@pytest.mark.parametrize('name', QUERY_NAMES)
def test_bad_names_of_new_files_are_400(world, name):
    resp = world['user'].post('/v1/file', params={
        'name': NAMES[name], 'parent': 0}, data=b'data')
    if resp.status_code == 414:
        return
    assert_json_4xx(resp)


@pytest.mark.parametrize('name', sorted(NAMES))
def test_bad_names_of_new_folders_are_400(world, name):
    resp = world['user'].post('/v1/folder', json={
        'name': NAMES[name], 'parent': 0})
    assert_json_4xx(resp)


@pytest.mark.parametrize('name', sorted(NAMES))
def test_bad_names_in_renames_are_400(world, name):
    resp = world['user'].put('/v1/file/%d' % world['file'],
                             json={'name': NAMES[name]})
    assert_json_4xx(resp)


@pytest.mark.parametrize('raw', ['%FF', 'a%C0%AFb', '%ED%A0%80'])
def test_invalid_utf8_names_in_the_query_are_400(world, raw):
    resp = world['user'].post('/v1/file?name=%s&parent=0' % raw,
                              data=b'data')
    assert_json_4xx(resp)


def test_utf8_names_in_the_query_are_decoded(cluster, stores):
    """Regression: query values were WSGI strings, so 'é' became 'Ã©'."""
    client = apiclient.APIClient(cluster, stores)
    try:
        made = client.upload(b'data', name='caf\xe9 \u4e2d.txt')
        folder = client.post('/v1/folder', params={'name': '\xe9t\xe9'})
    finally:
        client.close()
    assert made['filename'] == 'caf\xe9 \u4e2d.txt'
    assert folder.json()['filename'] == '\xe9t\xe9'


# -- ids ---------------------------------------------------------------------

BAD_PATHS = {
    'text-id': ('GET', '/v1/file/abc'),
    'negative-id': ('GET', '/v1/file/-1'),
    'huge-id': ('GET', '/v1/file/%d' % 2 ** 64),
    'max-id': ('GET', '/v1/file/%d' % (2 ** 63 - 1)),
    'zero-file': ('GET', '/v1/file/0'),
    'foreign-file': ('GET', '/v1/file/{foreign}'),
    'foreign-data': ('GET', '/v1/file/{foreign}/data'),
    'foreign-delete': ('DELETE', '/v1/file/{foreign}'),
    'foreign-put-data': ('PUT', '/v1/file/{foreign}/data'),
    'folder-as-file': ('GET', '/v1/file/{folder}/data'),
    'file-as-folder': ('GET', '/v1/folder/{file}/contents'),
    'version-zero': ('GET', '/v1/file/{file}/version/0'),
    'version-huge': ('GET', '/v1/file/{file}/version/%d' % 2 ** 64),
    'version-missing': ('GET', '/v1/file/{file}/version/99'),
    'foreign-workspace': ('GET', '/v1/workspace/{foreign_workspace}'),
    'foreign-changes': ('GET',
                        '/v1/workspace/{foreign_workspace}/changes'),
    'foreign-commit': ('POST', '/v1/workspace/{foreign_workspace}/commit'),
    'huge-workspace': ('GET', '/v1/workspace/%d/changes' % 2 ** 64),
    'cursor-negative': ('GET', '/v1/workspace/{workspace}/changes'
                               '?cursor=-1'),
    'cursor-text': ('GET', '/v1/workspace/{workspace}/changes?cursor=x'),
    'cursor-huge': ('GET', '/v1/workspace/{workspace}/changes'
                           '?cursor=%d' % 2 ** 64),
    'limit-zero': ('GET', '/v1/workspace/{workspace}/changes?limit=0'),
    'limit-huge': ('GET', '/v1/workspace/{workspace}/changes'
                          '?limit=%d' % 2 ** 64),
    'timeout-text': ('GET', '/v1/workspace/{workspace}/changes/wait'
                            '?timeout=soon'),
    'parent-text': ('POST', '/v1/file?name=x&parent=abc'),
    'parent-negative': ('POST', '/v1/file?name=x&parent=-1'),
    'parent-foreign': ('POST', '/v1/file?name=x&parent={foreign}'),
    'parent-file': ('POST', '/v1/file?name=x&parent={file}'),
    'parent-huge': ('POST', '/v1/file?name=x&parent=%d' % 2 ** 64),
    'restore-text': ('POST', '/v1/file/{file}/restore?version=x'),
    'restore-missing': ('POST', '/v1/file/{file}/restore?version=99'),
    'proposal-missing': ('POST', '/v1/proposal/999999/accept'),
    'proposal-huge': ('POST', '/v1/proposal/%d/accept' % 2 ** 64),
    'chunk-bad-name': ('PUT', '/v1/workspace/{workspace}/chunk/chk-xyz'),
    'chunk-dotdot': ('GET', '/v1/workspace/{workspace}/chunk/..'),
    'share-root': ('POST', '/v1/folder/0/share'),
    'unknown-resource': ('GET', '/v1/nothing'),
    'wrong-method': ('PATCH', '/v1/file/{file}'),
}


@pytest.mark.parametrize('case', sorted(BAD_PATHS))
def test_bad_ids_are_4xx(world, case):
    method, template = BAD_PATHS[case]
    resp = world['user'].request(method, template.format(**world),
                                 data=b'body' if method in ('PUT', 'POST')
                                 else None)
    assert_json_4xx(resp)


@pytest.mark.parametrize('value', ['abc', '0', '-1', '"', 'W/"1"',
                                   str(2 ** 64)])
def test_bad_if_match_values_are_4xx(world, value):
    resp = world['user'].put('/v1/file/%d/data' % world['file'],
                             data=b'new', headers={'If-Match': value})
    assert_json_4xx(resp)


def test_an_unsupported_api_version_is_400(world):
    resp = world['user'].get('/v1/folder/0',
                             headers={'X-StackSync-API': 'v9'})
    assert_json_4xx(resp)


# -- afterwards ---------------------------------------------------------------

def test_nothing_changed_and_nothing_went_unhandled(cluster, world):
    assert snapshot(cluster, world['user']) == world['before']
    assert faults.unhandled_errors(cluster) == []
