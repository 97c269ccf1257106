"""The chunk store against a fake Swift: the exact subrequests it makes."""

import hashlib
import io
import json
import random

import eventlet
import pytest
from swift.common import swob

from stacksync_swift import chunking
from stacksync_swift import packs
from stacksync_swift import storage
from stacksync_swift.chunking import MiB
from tests.unit.helpers import FakeSwift

ACCOUNT = 'AUTH_ss'
WS = '/v1/AUTH_ss/ws'


class ObjectSwift(FakeSwift):
    """FakeSwift that also keeps the objects PUT to it.

    A PUT with ``If-None-Match: *`` on an existing object gets 412; a
    stored object answers HEAD, GET (with ranges) and DELETE. Explicitly
    registered responses win, so a test can still inject failures.
    """

    def __init__(self):
        super().__init__()
        self.objects = {}
        self.injected = {}

    def inject(self, method, path, status, headers=None, body=b''):
        self.injected[(method, path)] = True
        self.register(method, path, status, headers, body)

    def __call__(self, env, start_response):
        req = swob.Request(env)
        key = (req.method, req.path)
        if key not in self.injected:
            self._answer(req)
        result = super().__call__(env, start_response)
        if req.method == 'PUT' and key not in self.injected and \
                self.responses[key][0] == 201:
            self.store(req.path, self.calls[-1]['body'])
        return result

    def _answer(self, req):
        exists = req.path in self.objects
        if req.method == 'PUT':
            conflict = exists and req.headers.get('If-None-Match') == '*'
            self.register('PUT', req.path, 412 if conflict else 201)
        elif req.method == 'GET' and exists and 'Range' in req.headers:
            # FakeSwift's responses ignore Range; a stored object honours it.
            first, last = req.headers['Range'][len('bytes='):].split('-')
            body = self.objects[req.path][int(first):int(last) + 1]
            self.register('GET', req.path, 206, {}, body)
        elif req.method == 'GET' and exists:
            self.store(req.path, self.objects[req.path])
        elif req.method == 'DELETE':
            self.objects.pop(req.path, None)
            self.register('DELETE', req.path, 204 if exists else 404)

    def store(self, path, body):
        self.objects[path] = body
        etag = hashlib.md5(body, usedforsecurity=False).hexdigest()
        headers = {'Etag': etag, 'Content-Type': 'application/octet-stream'}
        self.register('GET', path, 200, headers, body)
        self.register('HEAD', path, 200, headers, body)

    def calls_of(self, method):
        return [call for call in self.calls if call['method'] == method]

    def chunks(self):
        """``{'/v1/<account>/<container>/<chunk>': body}`` of every chunk
        stored, in a pack or in an object of its own."""
        found = {}
        for path, body in self.objects.items():
            container_path, name = path.rsplit('/', 1)
            if packs.is_pack_name(name):
                for chunk, data in packs.split(body):
                    found[container_path + '/' + chunk] = data
            elif chunking.is_chunk_name(name):
                found[path] = body
        return found

    def pack_holding(self, container_path, name):
        """The path of the pack object that holds chunk ``name``."""
        for path, body in self.objects.items():
            parent, object_name = path.rsplit('/', 1)
            if parent == container_path and packs.is_pack_name(
                    object_name) and name in dict(packs.split(body)):
                return path
        raise KeyError(name)


@pytest.fixture
def swift():
    fake = ObjectSwift()
    yield fake
    assert fake.open_bodies == 0, 'a response body was left open'


@pytest.fixture
def store(swift):
    return storage.ChunkStore(swift, ACCOUNT)


@pytest.fixture
def env():
    return swob.Request.blank('/v1/AUTH_user/whatever', environ={
        'swift.trans_id': 'tx-test', 'HTTP_X_STACKSYNC_API': 'v1'}).environ


def random_bytes(size, seed=0):
    return random.Random(seed).randbytes(size)


def chunk_path(data):
    return WS + '/' + chunking.chunk_name(data)


def assert_pre_authed(call):
    assert call['source'] == 'SS'
    assert call['environ']['swift.authorize_override'] is True
    assert call['environ']['REMOTE_USER'] == '.wsgi.pre_authed'
    assert call['environ']['swift_owner'] is True   # may set ACLs
    assert call['environ']['swift.trans_id'] == 'tx-test'
    # The client's API header must not leak into the subrequest.
    assert 'HTTP_X_STACKSYNC_API' not in call['environ']


# -- containers ------------------------------------------------------------

@pytest.mark.parametrize('status, created', [(201, True), (202, False)])
def test_create_container_puts_it_with_acls(store, swift, env, status,
                                            created):
    swift.inject('PUT', WS, status)
    assert store.create_container(env, 'ws', 'r:alice', 'w:alice') is created
    call, = swift.calls
    assert (call['method'], call['path']) == ('PUT', WS)
    assert call['headers']['X-Container-Read'] == 'r:alice'
    assert call['headers']['X-Container-Write'] == 'w:alice'
    assert_pre_authed(call)


def test_create_container_failure_carries_swift_status(store, swift, env):
    swift.inject('PUT', WS, 507)
    with pytest.raises(storage.StorageError) as caught:
        store.create_container(env, 'ws', 'a', 'b')
    assert caught.value.status == 507


def test_set_acls_posts_only_the_given_ones(store, swift, env):
    swift.inject('POST', WS, 204)
    store.set_acls(env, 'ws', 'r:bob', None)
    call, = swift.calls
    assert (call['method'], call['path']) == ('POST', WS)
    assert call['headers']['X-Container-Read'] == 'r:bob'
    assert 'X-Container-Write' not in call['headers']
    assert_pre_authed(call)


def test_get_acls_heads_the_container(store, swift, env):
    swift.inject('HEAD', WS, 204, {'X-Container-Read': 'r:a,r:b'})
    assert store.get_acls(env, 'ws') == ('r:a,r:b', '')
    assert swift.call_paths == [('HEAD', WS)]
    swift.inject('HEAD', WS, 404)
    with pytest.raises(storage.StorageError) as caught:
        store.get_acls(env, 'ws')
    assert caught.value.status == 404


def test_container_names_are_quoted(store, swift, env):
    swift.inject('PUT', '/v1/AUTH_ss/my%20ws%20%C3%A9', 201)
    store.create_container(env, 'my ws é', None, None)
    assert swift.calls[0]['environ']['PATH_INFO'] == \
        '/v1/AUTH_ss/my ws \xc3\xa9'
    with pytest.raises(ValueError):
        store.create_container(env, 'a/b', None, None)


# -- single chunks -----------------------------------------------------------

def test_put_chunk_is_write_once(store, swift, env):
    data = b'hello chunk'
    assert store.put_chunk(env, 'ws', chunking.chunk_name(data), data)
    call, = swift.calls
    assert (call['method'], call['path']) == ('PUT', chunk_path(data))
    assert call['headers']['If-None-Match'] == '*'
    assert call['headers']['Content-Length'] == str(len(data))
    # No MD5 pass by default: the name is the chunk's checksum.
    assert 'Etag' not in call['headers']
    assert call['body'] == data
    assert_pre_authed(call)


@pytest.mark.parametrize('verify', [True, False])
def test_put_chunk_with_chunk_etag_sends_the_md5(swift, env, verify):
    store = storage.ChunkStore(swift, ACCOUNT, chunk_etag=True)
    data = b'hello chunk'
    assert store.put_chunk(env, 'ws', chunking.chunk_name(data), data,
                           verify=verify)
    call, = swift.calls
    assert call['headers']['Etag'] == hashlib.md5(
        data, usedforsecurity=False).hexdigest()


def test_subrequests_never_inherit_the_client_query(store, swift, env):
    # A client must not choose Swift parameters (here: turn our chunk PUT
    # into an SLO manifest PUT) for our pre-authorized subrequests.
    env['QUERY_STRING'] = 'name=f&multipart-manifest=put'
    data = b'[{"path": "/other/chunk"}]'
    store.put_chunk(env, 'ws', chunking.chunk_name(data), data)
    b''.join(store.read_chunk(env, 'ws', chunking.chunk_name(data)))
    assert [(c['method'], c['query']) for c in swift.calls] == [
        ('PUT', ''), ('GET', storage.NO_FOLLOW)]


def test_put_chunk_already_there_is_dedup(store, swift, env):
    data = b'twice'
    name = chunking.chunk_name(data)
    assert store.put_chunk(env, 'ws', name, data) is True
    assert store.put_chunk(env, 'ws', name, data) is False
    assert [c['method'] for c in swift.calls] == ['PUT', 'PUT']
    assert swift.objects == {chunk_path(data): data}


@pytest.mark.parametrize('status', [400, 404, 422, 500, 503])
def test_put_chunk_other_statuses_raise(store, swift, env, status):
    data = b'x'
    swift.inject('PUT', chunk_path(data), status)
    with pytest.raises(storage.StorageError) as caught:
        store.put_chunk(env, 'ws', chunking.chunk_name(data), data)
    assert caught.value.status == status


def test_put_chunk_refuses_a_wrong_name_without_asking_swift(store, swift,
                                                             env):
    with pytest.raises(storage.ChunkNameMismatch):
        store.put_chunk(env, 'ws', chunking.chunk_name(b'a'), b'b')
    with pytest.raises(storage.ChunkNameMismatch):
        store.put_chunk(env, 'ws', 'chk-../etc', b'b', verify=False)
    assert swift.calls == []


def test_put_chunk_unverified_for_encrypted_workspaces(store, swift, env):
    name = 'chk-' + 'ab' * 32
    assert store.put_chunk(env, 'ws', name, b'ciphertext', verify=False)
    assert swift.objects == {WS + '/' + name: b'ciphertext'}


def test_chunk_exists(store, swift, env):
    name = chunking.chunk_name(b'x')
    assert store.chunk_exists(env, 'ws', name) is False
    swift.store(WS + '/' + name, b'x')
    assert store.chunk_exists(env, 'ws', name) is True
    swift.inject('HEAD', WS + '/' + name, 503)
    with pytest.raises(storage.StorageError):
        store.chunk_exists(env, 'ws', name)
    assert all(call['method'] == 'HEAD' for call in swift.calls)


# -- streams -----------------------------------------------------------------

def test_store_stream_puts_every_chunk_in_order(store, swift, env):
    data = random_bytes(6 * MiB)
    result = store.store_stream(env, 'ws', io.BytesIO(data), len(data))
    expected = [(c.name, c.size)
                for c in chunking.iter_chunks(io.BytesIO(data))]
    assert result.chunks == expected and len(expected) > 2
    assert result.names == [name for name, _ in expected]
    assert result.size == len(data)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert (result.new_chunks, result.new_bytes) == (len(expected),
                                                     len(data))
    assert [(c['method'], c['path']) for c in swift.calls] == [
        ('PUT', WS + '/' + name) for name, _ in expected]
    for call in swift.calls:
        assert call['headers']['If-None-Match'] == '*'
        assert_pre_authed(call)
    assert b''.join(swift.objects[WS + '/' + name]
                    for name, _ in expected) == data


def test_store_stream_twice_uploads_nothing_new(store, swift, env):
    data = random_bytes(5 * MiB)
    first = store.store_stream(env, 'ws', io.BytesIO(data))
    stored = dict(swift.objects)
    second = store.store_stream(env, 'ws', io.BytesIO(data))
    assert second.chunks == first.chunks
    assert (second.new_chunks, second.new_bytes) == (0, 0)
    assert swift.objects == stored
    # No HEADs: a PUT answered 412 is the dedup check.
    assert {call['method'] for call in swift.calls} == {'PUT'}


def test_store_stream_fails_on_a_swift_error(store, swift, env):
    data = random_bytes(3 * MiB)
    first = next(iter(chunking.iter_chunks(io.BytesIO(data))))
    swift.inject('PUT', WS + '/' + first.name, 503)
    with pytest.raises(storage.StorageError) as caught:
        store.store_stream(env, 'ws', io.BytesIO(data))
    assert caught.value.status == 503
    # It stops reading: only the PUTs already in flight were sent.
    assert 1 <= len(swift.calls) <= store.concurrency


def test_store_stream_of_a_truncated_upload(store, swift, env):
    with pytest.raises(chunking.TruncatedStream):
        store.store_stream(env, 'ws', io.BytesIO(b'abc'), length=100)
    assert swift.calls == []


@pytest.fixture
def stored(store, swift, env):
    """Three chunks in the fake Swift: (data, [(name, size), ...])."""
    pieces = [random_bytes(size, seed) for seed, size in
              enumerate((100, 250, 70))]
    for piece in pieces:
        swift.store(chunk_path(piece), piece)
    chunks = [(chunking.chunk_name(p), len(p)) for p in pieces]
    return b''.join(pieces), chunks


def read(store, env, chunks, *args, **kwargs):
    return b''.join(store.iter_content(env, 'ws', chunks, *args, **kwargs))


def test_iter_content_reads_whole_chunks_without_ranges(store, swift, env,
                                                        stored):
    data, chunks = stored
    assert read(store, env, chunks) == data
    assert [(c['method'], c['path']) for c in swift.calls] == [
        ('GET', WS + '/' + name) for name, _ in chunks]
    for call in swift.calls:
        assert 'Range' not in call['headers']
        assert_pre_authed(call)


@pytest.mark.parametrize('start, end', [
    (0, 100), (0, 1), (99, 101), (50, 400), (100, 350), (349, 420),
    (419, 420), (10, None), (420, None), (200, 200), (0, 10_000)])
def test_iter_content_ranges_equal_the_slice(store, swift, env, stored,
                                             start, end):
    data, chunks = stored
    assert read(store, env, chunks, start, end) == data[start:end]


def test_iter_content_reads_partial_chunks_whole(store, swift, env, stored):
    # Bytes of a chunk leave the proxy only once the whole chunk is checked,
    # so a range never asks Swift for part of a chunk.
    data, chunks = stored
    assert read(store, env, chunks, 50, 400) == data[50:400]
    assert [c['headers'].get('Range') for c in swift.calls] == [None] * 3


def test_a_range_inside_a_corrupt_chunk_is_refused(store, swift, env,
                                                   stored):
    _, chunks = stored
    swift.store(WS + '/' + chunks[1][0], b'y' * 250)
    with pytest.raises(storage.CorruptChunk):
        read(store, env, chunks, 110, 120)


@pytest.mark.parametrize('method', ['GET', 'HEAD'])
def test_reads_ask_for_the_object_itself(store, swift, env, stored, method):
    _, chunks = stored
    if method == 'GET':
        read(store, env, chunks)
    else:
        store.chunk_sizes(env, 'ws', [name for name, _ in chunks])
    assert swift.calls
    for call in swift.calls:
        assert call['query'] == 'multipart-manifest=get&symlink=get'


@pytest.mark.parametrize('header', [
    ('X-Object-Manifest', 'other-container/chk-'),
    ('X-Static-Large-Object', 'True'),
    ('X-Symlink-Target', 'other-container/chk-' + 'a' * 64)])
def test_a_planted_link_is_never_served_and_is_removed(store, swift, env,
                                                       stored, header):
    # With multipart-manifest=get / symlink=get Swift answers the link
    # object itself, headers and all: it is refused and deleted, so that
    # a correct upload of the name can take its place.
    data, chunks = stored
    name = chunks[0][0]
    swift.inject('GET', WS + '/' + name, 200, dict([header]), b'')
    received = []
    with pytest.raises(storage.CorruptChunk):
        for piece in store.iter_content(env, 'ws', chunks):
            received.append(piece)
    assert received == []
    assert ('DELETE', WS + '/' + name) in swift.call_paths
    delete, = swift.calls_of('DELETE')
    assert delete['query'] == ''    # never multipart-manifest=delete
    assert_pre_authed(delete)


def test_a_planted_link_is_missing_to_a_head(store, swift, env, stored):
    _, chunks = stored
    name = chunks[0][0]
    swift.register('HEAD', WS + '/' + name, 200,
                   {'X-Symlink-Target': 'elsewhere/obj'}, b'')
    assert store.chunk_size(env, 'ws', name) is None
    assert ('DELETE', WS + '/' + name) in swift.call_paths


def test_iter_content_requests_nothing_until_read(store, swift, env,
                                                  stored):
    _, chunks = stored
    content = store.iter_content(env, 'ws', chunks)
    assert swift.calls == []
    next(content)
    content.close()     # a client gone mid-download
    # The chunk sent and the ones opened ahead; the fixture checks that
    # closing closed every response.
    assert len(swift.calls) == 1 + store.prefetch < len(chunks)


def many_chunks(swift, count):
    pieces = [random_bytes(50 + seed, seed) for seed in range(count)]
    for piece in pieces:
        swift.store(chunk_path(piece), piece)
    return pieces, [(chunking.chunk_name(p), len(p)) for p in pieces]


@pytest.mark.parametrize('prefetch', [0, 1, 3])
def test_downloads_open_at_most_prefetch_chunks_ahead(swift, env, prefetch):
    store = storage.ChunkStore(swift, ACCOUNT, prefetch=prefetch)
    pieces, chunks = many_chunks(swift, 8)
    received = []
    for data in store.iter_content(env, 'ws', chunks):
        received.append(data)
        eventlet.sleep(0)   # let the GETs started ahead run
        # Requested: every chunk received so far, and `prefetch` more. Open:
        # the one being read and those opened ahead, no more.
        assert len(swift.calls) == min(len(received) + prefetch, 8)
        assert swift.open_bodies <= 1 + prefetch
    assert received == pieces
    assert [c['path'] for c in swift.calls] == [
        WS + '/' + name for name, _ in chunks]


def test_iter_chunks_prefetches_in_order(store, swift, env):
    pieces, chunks = many_chunks(swift, 5)
    names = [name for name, _ in chunks]
    assert list(store.iter_chunks(env, 'ws', names)) == pieces
    assert [c['path'] for c in swift.calls] == [WS + '/' + n for n in names]


def test_a_missing_chunk_opened_ahead_fails_in_its_turn(store, swift, env):
    pieces, chunks = many_chunks(swift, 4)
    swift.inject('GET', WS + '/' + chunks[2][0], 404)
    content = store.iter_content(env, 'ws', chunks)
    # Its GET was answered while chunk 1 streamed; the error waits for it.
    assert next(content) == pieces[0]
    assert next(content) == pieces[1]
    with pytest.raises(storage.StorageError) as caught:
        next(content)
    assert caught.value.status == 404


def test_iter_content_refuses_a_bad_range(store, env, stored):
    _, chunks = stored
    with pytest.raises(ValueError):
        read(store, env, chunks, 10, 5)


def test_iter_content_detects_a_corrupt_chunk(store, swift, env, stored):
    data, chunks = stored
    bad = WS + '/' + chunks[1][0]
    swift.store(bad, b'y' * 250)
    # Without verification (encrypted workspace) the bytes are passed on.
    assert len(read(store, env, chunks, verify=False)) == len(data)
    received = []
    with pytest.raises(storage.CorruptChunk):
        for piece in store.iter_content(env, 'ws', chunks):
            received.append(piece)
    # Nothing of the bad chunk was sent, and it was removed...
    assert b''.join(received) == data[:chunks[0][1]]
    assert ('DELETE', bad) in swift.call_paths
    assert bad not in swift.objects
    # ...so the right bytes can be stored again (write-once would refuse
    # them while the damaged object stood).
    right = data[chunks[0][1]:chunks[0][1] + chunks[1][1]]
    assert store.put_chunk(env, 'ws', chunks[1][0], right) is True
    assert read(store, env, chunks) == data


def test_iter_content_detects_a_short_chunk(store, swift, env, stored):
    _, chunks = stored
    swift.store(WS + '/' + chunks[0][0], b'short')
    with pytest.raises(storage.CorruptChunk):
        read(store, env, chunks, verify=False)


@pytest.mark.parametrize('status', [404, 503])
def test_iter_content_missing_chunk(store, swift, env, stored, status):
    _, chunks = stored
    swift.inject('GET', WS + '/' + chunks[2][0], status)
    with pytest.raises(storage.StorageError) as caught:
        read(store, env, chunks)
    assert caught.value.status == status


# -- copies and removal ------------------------------------------------------

def test_copy_chunk_streams_source_into_a_write_once_put(store, swift, env):
    data = b'shared chunk'
    name = chunking.chunk_name(data)
    swift.store(chunk_path(data), data)
    assert store.copy_chunk(env, 'ws', 'other', name) is True
    dst = '/v1/AUTH_ss/other/' + name
    assert swift.call_paths == [('HEAD', dst), ('GET', WS + '/' + name),
                                ('PUT', dst)]
    put = swift.calls[-1]
    assert put['headers']['If-None-Match'] == '*'
    assert put['headers']['Etag'] == hashlib.md5(
        data, usedforsecurity=False).hexdigest()
    assert put['body'] == data
    for call in swift.calls:
        assert_pre_authed(call)
    # Already there: one HEAD, nothing written.
    del swift.calls[:]
    assert store.copy_chunk(env, 'ws', 'other', name) is False
    assert swift.call_paths == [('HEAD', dst)]


def test_copy_chunk_lost_race_is_fine(store, swift, env):
    data = b'raced'
    name = chunking.chunk_name(data)
    swift.store(chunk_path(data), data)
    swift.inject('PUT', '/v1/AUTH_ss/other/' + name, 412)
    assert store.copy_chunk(env, 'ws', 'other', name) is False


def test_copy_chunk_of_a_missing_source(store, swift, env):
    name = chunking.chunk_name(b'gone')
    with pytest.raises(storage.StorageError) as caught:
        store.copy_chunk(env, 'ws', 'other', name)
    assert caught.value.status == 404
    assert [c['method'] for c in swift.calls] == ['HEAD', 'GET']


class ListingSwift(ObjectSwift):
    """Answers container listings from the stored objects, by marker."""

    def __call__(self, env, start_response):
        req = swob.Request(env)
        if req.method == 'GET' and req.path == WS:
            names = sorted(path.rsplit('/', 1)[1] for path in self.objects)
            page = [{'name': name} for name in names
                    if name > req.params.get('marker', '')]
            limit = int(req.params['limit'])
            self.register('GET', WS, 200, {}, json.dumps(page[:limit]))
        return super().__call__(env, start_response)


def test_delete_container_pages_through_objects(env, monkeypatch):
    swift = ListingSwift()
    store = storage.ChunkStore(swift, ACCOUNT)
    monkeypatch.setattr(storage, 'LISTING_LIMIT', 2)
    names = [chunking.chunk_name(bytes([i])) for i in range(5)]
    for name in names:
        swift.store(WS + '/' + name, b'.')
    swift.inject('DELETE', WS, 204)
    store.delete_container(env, 'ws')
    assert swift.objects == {}
    methods = [(c['method'], c['path'], c['query']) for c in swift.calls]
    listings = [m for m in methods if m[0] == 'GET']
    assert len(listings) == 4   # 2 + 2 + 1 objects, then an empty page
    assert 'format=json' in listings[0][2]
    assert sorted(p for m, p, _ in methods if m == 'DELETE') == sorted(
        [WS + '/' + name for name in names] + [WS])
    assert methods[-1][:2] == ('DELETE', WS)
    assert swift.open_bodies == 0


def test_delete_container_already_gone(store, swift, env):
    swift.inject('GET', WS, 404)
    swift.inject('DELETE', WS, 404)
    store.delete_container(env, 'ws')
    assert swift.call_paths == [('GET', WS), ('DELETE', WS)]


def test_delete_container_that_stays_full(store, swift, env):
    swift.inject('GET', WS, 200, {}, b'[]')
    swift.inject('DELETE', WS, 409)
    with pytest.raises(storage.StorageError) as caught:
        store.delete_container(env, 'ws')
    assert caught.value.status == 409
    assert len(swift.calls) == 2 * storage.DELETE_ROUNDS


def test_delete_container_listing_failure(store, swift, env):
    swift.inject('GET', WS, 503)
    with pytest.raises(storage.StorageError) as caught:
        store.delete_container(env, 'ws')
    assert caught.value.status == 503


class CountingListingSwift(ListingSwift):
    """Listings with sizes, and a container HEAD giving the object count.
    """

    def __call__(self, env, start_response):
        req = swob.Request(env)
        if req.method == 'GET' and req.path == WS:
            names = sorted(path.rsplit('/', 1)[1] for path in self.objects)
            page = [{'name': name, 'bytes': len(self.objects[WS + '/' + name])}
                    for name in names if name > req.params.get('marker', '')]
            limit = int(req.params['limit'])
            self.register('GET', WS, 200, {}, json.dumps(page[:limit]))
            return FakeSwift.__call__(self, env, start_response)
        if req.method == 'HEAD' and req.path == WS:
            self.register('HEAD', WS, 204, {
                'X-Container-Object-Count': str(len(self.objects))})
        return super().__call__(env, start_response)


def stored_and_new(swift, stored, new):
    names = []
    for i in range(stored + new):
        data = b'chunk %d' % i
        if i < stored:
            swift.store(chunk_path(data), data)
        names.append(chunking.chunk_name(data))
    return sorted(names), {chunking.chunk_name(b'chunk %d' % i)
                           for i in range(stored, stored + new)}


def test_missing_chunks_of_many_read_one_listing(env, monkeypatch):
    swift = CountingListingSwift()
    store = storage.ChunkStore(swift, ACCOUNT)
    monkeypatch.setattr(storage, 'LISTING_LIMIT', 50)
    names, new = stored_and_new(swift, 120, 80)
    missing = store.missing_chunks(env, 'ws', names)
    assert missing == [name for name in names if name in new]
    assert [c['method'] for c in swift.calls] == ['HEAD'] + ['GET'] * 4
    # What the listing showed is known now: a commit check asks nothing.
    del swift.calls[:]
    stored = [name for name in names if name not in new]
    assert store.chunk_sizes(env, 'ws', stored) == [
        len(swift.objects[WS + '/' + name]) for name in stored]
    assert swift.calls == []


def test_missing_chunks_of_a_few_send_heads(env):
    swift = CountingListingSwift()
    store = storage.ChunkStore(swift, ACCOUNT)
    names, new = stored_and_new(swift, 3, 2)
    assert store.missing_chunks(env, 'ws', names) == [
        name for name in names if name in new]
    assert [c['method'] for c in swift.calls] == ['HEAD'] * 5
    assert all(c['path'] != WS for c in swift.calls)


def test_missing_chunks_in_a_big_container_send_heads(env, monkeypatch):
    swift = CountingListingSwift()
    store = storage.ChunkStore(swift, ACCOUNT)
    monkeypatch.setattr(storage, 'LISTING_PER_NAME', 1)
    names, new = stored_and_new(swift, 150, 100)
    asked = names[:120]
    assert store.missing_chunks(env, 'ws', asked) == [
        name for name in asked if name in new]
    assert [c['method'] for c in swift.calls].count('GET') == 0
    assert len(swift.calls) == 1 + 120   # the count, then one HEAD each


def test_missing_chunks_asks_nothing_about_known_ones(store, swift, env):
    data = b'known'
    store.put_chunk(env, 'ws', chunking.chunk_name(data), data)
    del swift.calls[:]
    assert store.missing_chunks(env, 'ws', [chunking.chunk_name(data)]) == []
    assert swift.calls == []
