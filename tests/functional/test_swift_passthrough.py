"""Installing the filters changes nothing for plain Swift clients.

Every scenario runs twice through python-swiftclient: once through the proxy
with ``stacksync_auth`` and ``stacksync_api`` in its pipeline, once through
the bare proxy without them, each in its own account on the same servers.
Statuses, headers that are not per-request noise, and bodies must match.
"""

import hashlib
import json
import os
import random
import subprocess
import sys
import urllib.request

import pytest
from swiftclient import client as swiftclient

from tests.functional.conftest import connect

# Headers that differ between any two identical requests.
NOISY_HEADERS = {'date', 'x-trans-id', 'x-openstack-request-id',
                 'x-timestamp', 'last-modified', 'x-put-timestamp',
                 'x-backend-timestamp', 'x-auth-token',
                 'x-copied-from-last-modified',
                 'x-storage-url', 'x-account-storage-policy-gold-bytes-used',
                 'x-account-bytes-used', 'x-account-object-count',
                 'x-account-container-count',
                 'x-account-storage-policy-gold-object-count',
                 'x-account-storage-policy-gold-container-count'}


def _call(record, conn, name, *args, **kwargs):
    """Run one swiftclient call and record what a client could observe."""
    response = {}
    if name.startswith(('head_', 'get_')):
        # swiftclient's reads return the headers (and the body) and take no
        # response_dict; a failure raises like the others.
        def call():
            result = getattr(conn, name)(*args, **kwargs)
            headers = result[0] if isinstance(result, tuple) else result
            response.update(status='ok', headers=headers)
            return result
    else:
        def call():
            return getattr(conn, name)(*args, response_dict=response,
                                       **kwargs)
    try:
        result = call()
    except swiftclient.ClientException as err:
        record.append((name, err.http_status, None))
        return
    account = conn.url.rsplit('/', 1)[-1]
    headers = {k: v.replace(account, '<account>')
               for k, v in response['headers'].items()
               if k.lower() not in NOISY_HEADERS}
    if isinstance(result, tuple):
        body = result[1]
        if isinstance(body, list):
            body = [{k: v for k, v in entry.items() if k != 'last_modified'}
                    for entry in body]
        headers = {k: v for k, v in headers.items()
                   if k != 'content-length' or not isinstance(result[1], list)}
    else:
        body = None if name.startswith('head_') else result
    record.append((name, response['status'], headers, body))


def exercise(conn):
    record = []
    payload = random.Random(7).randbytes(1024 * 1024 + 17)
    _call(record, conn, 'put_container', 'pt', headers={
        'X-Container-Meta-Purpose': 'passthrough'})
    _call(record, conn, 'put_object', 'pt', 'a/b.bin', payload,
          content_type='application/octet-stream',
          headers={'X-Object-Meta-Color': 'blue'})
    _call(record, conn, 'put_object', 'pt', 'notes.txt', b'hello swift\n',
          content_type='text/plain')
    _call(record, conn, 'put_object', 'pt', 'bad-etag', b'xyz',
          etag='0' * 32)
    _call(record, conn, 'head_object', 'pt', 'a/b.bin')
    _call(record, conn, 'get_object', 'pt', 'a/b.bin')
    _call(record, conn, 'get_object', 'pt', 'a/b.bin',
          headers={'Range': 'bytes=100-199'})
    _call(record, conn, 'get_object', 'pt', 'notes.txt',
          headers={'Range': 'bytes=50-60'})
    _call(record, conn, 'get_container', 'pt')
    _call(record, conn, 'get_container', 'pt', prefix='a/')
    _call(record, conn, 'get_container', 'pt', delimiter='/')
    _call(record, conn, 'post_object', 'pt', 'notes.txt',
          headers={'X-Object-Meta-Mood': 'good'})
    _call(record, conn, 'head_object', 'pt', 'notes.txt')
    _call(record, conn, 'copy_object', 'pt', 'notes.txt',
          destination='/pt/copy.txt')
    _call(record, conn, 'get_object', 'pt', 'copy.txt')
    _call(record, conn, 'delete_object', 'pt', 'notes.txt')
    _call(record, conn, 'get_object', 'pt', 'notes.txt')
    _call(record, conn, 'delete_container', 'pt')
    _call(record, conn, 'head_container', 'pt')
    _call(record, conn, 'head_account')
    _call(record, conn, 'get_object', 'no-such-container', 'x')
    for name in ('a/b.bin', 'copy.txt'):
        _call(record, conn, 'delete_object', 'pt', name)
    _call(record, conn, 'delete_container', 'pt')
    _call(record, conn, 'get_container', 'pt')
    return record


def test_swift_behaves_the_same_with_and_without_filters(cluster):
    ours = connect(cluster, 'test:tester')
    bare = connect(cluster, 'test2:tester2', bare=True)
    try:
        with_filters, without = exercise(ours), exercise(bare)
    finally:
        ours.close()
        bare.close()
    assert len(with_filters) == len(without) > 20
    for got, expected in zip(with_filters, without):
        assert got == expected
    # The scenario really exercised success and failure paths.
    statuses = {entry[1] for entry in with_filters}
    assert {'ok', 201, 204, 404, 409, 422} <= statuses


def test_unauthenticated_requests_fail_the_same_way(cluster):
    statuses = []
    for base in (cluster.url, cluster.bare_url):
        request = urllib.request.Request(base + '/v1/AUTH_test/pt')
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(request, timeout=10)
        statuses.append(err.value.code)
    assert statuses == [401, 401]


def test_info_shows_both_filters_only_on_our_proxy(cluster):
    def info(base):
        with urllib.request.urlopen(base + '/info', timeout=10) as resp:
            return json.load(resp)

    ours, bare = info(cluster.url), info(cluster.bare_url)
    assert ours['stacksync_api']['storage_account'] == 'AUTH_stacksync'
    assert ours['stacksync_api']['api_versions'] == ['v1', 'v2']
    assert ours['stacksync_auth']['auth_mode'] == 'oauth'
    assert 'stacksync_api' not in bare and 'stacksync_auth' not in bare
    del ours['stacksync_api'], ours['stacksync_auth']
    assert ours == bare


def test_swift_command_line_upload_download_stat(cluster, tmp_path):
    """The ``swift`` CLI of python-swiftclient, as an operator runs it."""
    data = os.urandom(300 * 1024)
    (tmp_path / 'src').mkdir()
    (tmp_path / 'src' / 'blob.bin').write_bytes(data)
    auth = ['-A', cluster.auth_url, '-U', cluster.admin_user,
            '-K', cluster.admin_key]
    swift_cli = [sys.executable, '-m', 'swiftclient.shell'] + auth

    def run(*args, cwd=tmp_path):
        return subprocess.run(swift_cli + list(args), cwd=cwd, check=True,
                              capture_output=True, text=True,
                              timeout=60).stdout

    run('upload', 'cli', 'blob.bin', cwd=tmp_path / 'src')
    assert 'Account: AUTH_stacksync' in run('stat')
    assert run('list', 'cli').split() == ['blob.bin']
    run('download', 'cli', 'blob.bin', '-o', str(tmp_path / 'back.bin'))
    assert hashlib.sha256((tmp_path / 'back.bin').read_bytes()).digest() \
        == hashlib.sha256(data).digest()
    run('delete', 'cli')
    assert 'cli' not in run('list').split()
