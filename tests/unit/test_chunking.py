"""Content-defined chunking: the properties server and client rely on."""

import concurrent.futures
import hashlib
import io
import random

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from stacksync_swift import chunking
from stacksync_swift.chunking import MAX_SIZE
from stacksync_swift.chunking import MIN_SIZE
from stacksync_swift.chunking import MiB


class TrickleReader:
    """A file-like that returns fewer bytes than asked, as a socket does."""

    def __init__(self, data, piece):
        self.data = memoryview(data)
        self.piece = piece
        self.pos = 0
        self.largest_request = 0

    def read(self, n):
        self.largest_request = max(self.largest_request, n)
        end = self.pos + min(n, self.piece)
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out


def random_bytes(size, seed):
    rnd = random.Random(seed)
    return b''.join(rnd.randbytes(min(MiB, size - pos))
                    for pos in range(0, size, MiB))


def chunk_all(data, **kwargs):
    content = chunking.iter_chunks(io.BytesIO(data), **kwargs)
    return content, list(content)


# Inputs from empty to several max-size chunks; long runs of one byte reach
# the forced cut at MAX_SIZE, random bytes the content-defined cuts.
contents = st.one_of(
    st.binary(max_size=4096),
    st.builds(random_bytes, st.integers(0, 12 * MiB), st.integers(0, 99)),
    st.builds(lambda byte, n: bytes([byte]) * n,
              st.integers(0, 255), st.integers(0, 9 * MiB)),
)


@settings(max_examples=25, deadline=None)
@given(contents)
def test_chunks_concatenate_to_the_input(data):
    content, chunks = chunk_all(data)
    assert b''.join(chunk.data for chunk in chunks) == data
    assert content.size == len(data)
    assert content.sha256 == hashlib.sha256(data).hexdigest()


@settings(max_examples=25, deadline=None)
@given(contents)
def test_chunk_sizes_offsets_and_names(data):
    _, chunks = chunk_all(data)
    offset = 0
    for chunk in chunks:
        assert chunk.offset == offset and chunk.size == len(chunk.data)
        assert chunk.name == chunking.chunk_name(chunk.data)
        assert chunking.is_chunk_name(chunk.name)
        assert 0 < chunk.size <= MAX_SIZE
        offset += chunk.size
    assert all(chunk.size >= MIN_SIZE for chunk in chunks[:-1])


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 6 * MiB), st.integers(0, 99),
       st.integers(1, 200_000))
def test_short_reads_cut_at_the_same_places(size, seed, piece):
    data = random_bytes(size, seed)
    _, whole = chunk_all(data)
    reader = TrickleReader(data, piece)
    trickled = list(chunking.iter_chunks(reader))
    assert [c.name for c in trickled] == [c.name for c in whole]
    # Reads stay small whatever pyfastcdc asks for.
    assert reader.largest_request <= chunking.READ_SIZE


def test_deterministic_and_about_one_mib():
    data = random_bytes(64 * MiB, seed=1)
    _, first = chunk_all(data)
    _, second = chunk_all(data)
    assert [c.name for c in first] == [c.name for c in second]
    mean = len(data) / len(first)
    assert 0.8 * MiB < mean < 1.4 * MiB


@pytest.mark.parametrize('insert', [b'x', b'a few bytes', b'\0' * 4096])
def test_an_insert_changes_only_the_chunks_around_it(insert):
    data = random_bytes(32 * MiB, seed=2)
    middle = len(data) // 2
    edited = data[:middle] + insert + data[middle:]
    _, before = chunk_all(data)
    _, after = chunk_all(edited)
    changed = {c.name for c in after} - {c.name for c in before}
    assert 20 <= len(before) <= 40
    assert len(changed) <= 3


def test_a_length_stops_reading_there():
    data = random_bytes(3 * MiB, seed=3)
    reader = io.BytesIO(data + b'next request')
    content = chunking.iter_chunks(reader, length=len(data))
    assert b''.join(c.data for c in content) == data
    assert content.size == len(data)
    assert reader.read() == b'next request'


def test_a_stream_shorter_than_its_length_is_refused():
    content = chunking.iter_chunks(io.BytesIO(b'abc'), length=10)
    with pytest.raises(chunking.TruncatedStream):
        list(content)


def test_size_and_hash_only_after_the_last_chunk():
    content = chunking.iter_chunks(io.BytesIO(random_bytes(2 * MiB, 4)))
    chunks = iter(content)
    next(chunks)
    with pytest.raises(RuntimeError):
        _ = content.sha256
    list(chunks)
    assert content.size == 2 * MiB
    with pytest.raises(RuntimeError):
        iter(content)


def test_empty_input_has_no_chunks():
    content, chunks = chunk_all(b'')
    assert chunks == []
    assert content.size == 0
    assert content.sha256 == hashlib.sha256(b'').hexdigest()


def test_a_namer_for_encrypted_workspaces():
    def hmac_namer(data):
        return 'chk-' + hashlib.sha256(b'key' + data).hexdigest()
    _, chunks = chunk_all(b'secret', namer=hmac_namer)
    assert chunks[0].name == hmac_namer(b'secret')


@pytest.mark.parametrize('name, valid', [
    ('chk-' + 'a' * 64, True),
    ('chk-' + '0123456789abcdef' * 4, True),
    ('chk-' + 'A' * 64, False),
    ('chk-' + 'a' * 63, False),
    ('chk-' + 'a' * 65, False),
    ('chk-' + 'a' * 64 + '\n', False),
    ('CHK-' + 'a' * 64, False),
    ('chk-' + 'g' * 64, False),
    ('', False),
    (None, False),
])
def test_chunk_names(name, valid):
    assert chunking.is_chunk_name(name) is valid


def test_chunk_name_is_sha256():
    assert chunking.chunk_name(b'abc') == (
        'chk-ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')


@pytest.mark.parametrize('plaintext', [b'x', b'\x00' * 4096,
                                       random.Random(7).randbytes(100000)])
def test_sealed_overhead_bounds_what_the_client_codec_adds(plaintext):
    # The server refuses encrypted commits whose size is below the stored
    # bytes less SEALED_OVERHEAD per chunk: the client's codec must never
    # add more than that (it adds exactly that to incompressible chunks).
    from stacksync_swift.client import codec
    sealed = codec.EncryptedCodec(b'k' * 32)
    _name, body = sealed.encode(plaintext)
    assert len(body) - len(plaintext) <= chunking.SEALED_OVERHEAD
    _name, body = sealed.encode(random.Random(1).randbytes(5000))
    assert len(body) - 5000 == chunking.SEALED_OVERHEAD


def test_offloaded_hashing_gives_the_same_chunks_and_hash():
    """The proxy hashes each chunk in an OS thread; nothing else changes."""
    data = random_bytes(9 * MiB, seed=5)
    _, direct = chunk_all(data)
    calls = []
    with concurrent.futures.ThreadPoolExecutor(1) as threads:
        def spawn(function, chunk_data):
            calls.append(len(chunk_data))
            future = threads.submit(function, chunk_data)
            future.wait = future.result
            return future
        content, offloaded = chunk_all(data, spawn=spawn)
    assert [(c.name, c.offset) for c in offloaded] == \
        [(c.name, c.offset) for c in direct]
    assert calls == [c.size for c in direct]
    assert content.sha256 == hashlib.sha256(data).hexdigest()
