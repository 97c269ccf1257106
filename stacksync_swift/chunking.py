"""
========
Chunking
========

How StackSync cuts a file into chunks and names them. The server and the
sync client share this module (it imports neither Swift nor WSGI), so both
sides always cut the same bytes at the same places: a file edited in the
middle re-uploads only the one or two chunks around the edit.

Content-defined chunking
------------------------

Files are cut with FastCDC (the ``pyfastcdc`` package) using these
parameters, which every client must use unchanged:

``MIN_SIZE = 256 KiB``
    No cut before this many bytes. Keeps Swift from storing swarms of tiny
    objects (each costs an object-server write, a container row and a
    request) and lets FastCDC skip hashing the first bytes of every chunk.
``AVG_SIZE = 768 KiB``
    FastCDC's "normal size"; its mask is chosen by rounding log2 of it
    (768 KiB rounds to the 1 MiB mask). Because nothing is cut before
    ``MIN_SIZE``, the real mean is about ``AVG_SIZE + MIN_SIZE``: measured on
    512 MiB of random data, 1.08 MiB mean, 0.95 MiB median, 99% of chunks
    under 3.2 MiB. One MiB is the target: large enough that a 1 GiB file is
    about a thousand objects and a thousand metadata rows, small enough that
    an edit re-sends little and a retry after a dropped connection is cheap.
``MAX_SIZE = 4 MiB``
    A forced cut (reached only by very regular data such as runs of zeros).
    It bounds what the server holds per upload: FastCDC's read buffer is two
    ``MAX_SIZE`` (8 MiB) plus the one chunk being stored.

Normalized chunking level 1 and the default gear table (seed 0) are used.
A one-byte insert in the middle of 32 MiB of random data changes one chunk
of about thirty.

Chunk names
-----------

A chunk of a plain workspace is stored as the Swift object
``chk-<sha256 of its bytes, 64 lowercase hex digits>`` (:func:`chunk_name`);
the server checks the name on upload and on read. A client-side encrypted
workspace uses ``chk-<HMAC-SHA256(workspace key, plaintext)>`` instead: pass
such a ``namer`` to :func:`iter_chunks`. Either way, :func:`is_chunk_name`
accepts the name.

Usage::

    content = iter_chunks(fileobj)
    for chunk in content:
        upload(chunk.name, chunk.data)        # chunk.offset, chunk.size
    content.size, content.sha256              # known once fully read
"""

import hashlib
import re
from typing import NamedTuple

from pyfastcdc import FastCDC

KiB = 1024
MiB = 1024 * KiB

MIN_SIZE = 256 * KiB
AVG_SIZE = 768 * KiB
MAX_SIZE = 4 * MiB

# Bytes asked of the reader per read(): pyfastcdc asks to fill its whole
# 8 MiB buffer at once, which on a socket-backed wsgi.input would mean an
# 8 MiB temporary per call. 64 KiB is Swift's own client_chunk_size.
READ_SIZE = 64 * KiB

CHUNK_PREFIX = 'chk-'
CHUNK_NAME_RE = re.compile(r'\Achk-[0-9a-f]{64}\Z')


def is_chunk_name(name):
    """True when ``name`` is ``chk-`` and 64 lowercase hex digits."""
    return isinstance(name, str) and CHUNK_NAME_RE.match(name) is not None


def chunk_name(data):
    """The name of a plain-workspace chunk: ``chk-<sha256 hex>``."""
    return CHUNK_PREFIX + hashlib.sha256(data).hexdigest()


def new_chunker():
    """A FastCDC cutter with the parameters every StackSync side uses."""
    return FastCDC(avg_size=AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE)


class TruncatedStream(ValueError):
    """The reader ended before the length it announced."""


class Chunk(NamedTuple):
    """One chunk: its bytes, name and place in the content."""

    data: bytes
    name: str
    offset: int
    size: int


class _Source:
    """A ``readinto`` for pyfastcdc over any ``read(n)`` file-like.

    Reads at most :data:`READ_SIZE` and never past ``length`` (a WSGI input
    may block rather than end there), accepts short reads, and counts the
    bytes as they pass.
    """

    def __init__(self, reader, length=None):
        self._read = reader.read
        self.remaining = length
        self.size = 0

    def readinto(self, view):
        wanted = min(len(view), READ_SIZE)
        if self.remaining is not None:
            wanted = min(wanted, self.remaining)
        if wanted <= 0:
            return 0
        data = self._read(wanted)
        if not data:
            if self.remaining:
                raise TruncatedStream('stream ended %d bytes early'
                                      % self.remaining)
            return 0
        if len(data) > wanted:
            raise ValueError('reader returned more bytes than asked for')
        view[:len(data)] = data
        self._count(data)
        return len(data)

    def _count(self, data):
        self.size += len(data)
        if self.remaining is not None:
            self.remaining -= len(data)


class ChunkedContent:
    """The chunks of one stream, read once; then its size and SHA-256.

    Iterate it once to get :class:`Chunk` objects in order. ``size`` and
    ``sha256`` (hex digest of the whole content) are available after the
    iteration has finished; asking earlier raises :class:`RuntimeError`.

    ``spawn(function, data)`` runs the hashing of each chunk (its name and
    its part of the content's SHA-256, in one call per chunk) and returns
    a handle whose ``wait()`` gives the result. By default it is a plain
    call. The proxy starts it in an OS thread, as hashlib lets go of the
    GIL on large buffers: the next chunk is cut while this one is hashed,
    and the hub keeps the pack PUTs moving meanwhile. One chunk is hashed
    at a time, in order, so the content's hash sees the stream's bytes as
    they came.
    """

    def __init__(self, reader, length=None, namer=chunk_name, spawn=None):
        self._source = _Source(reader, length)
        self._namer = namer
        self._spawn = spawn or _call_now
        self._hash = hashlib.sha256()
        self._started = False
        self.complete = False

    def __iter__(self):
        if self._started:
            raise RuntimeError('a stream can only be chunked once')
        self._started = True
        return self._chunks()

    def _chunks(self):
        hashing = None
        for cut in new_chunker().cut_stream(self._source):
            # cut.data is a view into pyfastcdc's buffer, reused for the
            # next chunk: copy it out before handing it on.
            data = bytes(cut.data)
            # The previous chunk's hash must end before this one's starts
            # (the content's hash takes them in order); it is handed on
            # only then, so the caller's work on it overlaps this hash.
            ready = None if hashing is None else self._named(*hashing)
            hashing = (self._spawn(self._hash_chunk, data), data, cut.offset)
            del data
            if ready is not None:
                yield ready
                del ready
        if hashing is not None:
            yield self._named(*hashing)
        self.complete = True

    def _hash_chunk(self, data):
        """The chunk's name; counts its bytes into the content's SHA-256."""
        self._hash.update(data)
        return self._namer(data)

    @staticmethod
    def _named(hashing, data, offset):
        return Chunk(data, hashing.wait(), offset, len(data))

    def _finished(self, what):
        if not self.complete:
            raise RuntimeError('%s is known once every chunk is read' % what)

    @property
    def size(self):
        self._finished('size')
        return self._source.size

    @property
    def sha256(self):
        self._finished('sha256')
        return self._hash.hexdigest()


def iter_chunks(reader, length=None, namer=chunk_name, spawn=None):
    """Chunk a file-like ``reader`` incrementally.

    :param reader: anything with ``read(n)`` (a file, ``wsgi.input``); it
        may return fewer bytes than asked for
    :param length: bytes the reader holds (a request's Content-Length), or
        None to read until ``read`` returns ``b''``; with a length, an early
        end raises :class:`TruncatedStream`
    :param namer: names a chunk from its bytes; :func:`chunk_name` for a
        plain workspace, an HMAC for an encrypted one
    :param spawn: ``spawn(function, data)`` starts each chunk's hashing
        (in an OS thread, say) and returns a handle with ``wait()``; None
        hashes in the caller
    :returns: a :class:`ChunkedContent` to iterate once
    """
    return ChunkedContent(reader, length, namer, spawn)


class _Done:
    """The handle of a call that already ran (no ``spawn`` given)."""

    def __init__(self, result):
        self.result = result

    def wait(self):
        return self.result


def _call_now(function, data):
    return _Done(function(data))


# What sealing adds to a chunk in a client-side encrypted workspace: a
# format byte, the 12-byte AES-GCM nonce, the sealed payload's flag byte
# (raw or zstd) and the 16-byte GCM tag; the payload is the plaintext or its
# zstd frame, whichever is smaller (stacksync_swift.client.codec). The
# server, which cannot open a sealed chunk, uses it to bound the plaintext
# size a client may claim for stored chunks: at least their bytes less
# this per chunk.
SEALED_OVERHEAD = 1 + 12 + 1 + 16
