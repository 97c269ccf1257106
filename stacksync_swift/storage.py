"""
=============
Chunk storage
=============

Workspace containers and the ``chk-<hash>`` chunk objects in them, in the
installation account, reached only through pre-authorized subrequests
(:func:`swift.common.wsgi.make_pre_authed_request`, ``swift.source`` ``SS``)
sent to the rest of the proxy pipeline below ``stacksync_api``. Nothing here
talks HTTP to the proxy itself, and every response body is read or closed.
A subrequest carries only the query string given here, never the client's
(Swift's ``make_env`` would copy it): a client must not pick Swift
parameters such as ``multipart-manifest`` for pre-authorized requests.

Contracts (DESIGN.md "Chunks"):

* A chunk object is written once, with ``If-None-Match: *``, and never
  overwritten, so a name always means the same bytes. Swift answers 412 when
  the name exists: that is deduplication, not an error.
* A plain workspace's chunk is named ``chk-<sha256>``; the name is checked
  on upload (:meth:`ChunkStore.put_chunk` with ``verify``) and every chunk
  read is checked again, whole, *before its first byte leaves the proxy*
  (a Range download fetches the whole chunks it overlaps). An encrypted
  workspace's names are HMACs the server cannot check: callers pass
  ``verify=False``, and its chunks are checked by size (the body must be
  as long as Swift says, and no longer than a chunk may be); the client
  authenticates them (AES-GCM).
* Reads never follow links. Every GET and HEAD asks for the stored object
  itself (``multipart-manifest=get&symlink=get``), never what a DLO or SLO
  manifest or a symlink points to: our subrequests are pre-authorized, so
  following one would hand its target to whoever planted it, whatever the
  target container's ACLs say. An object that carries manifest or symlink
  headers is not a chunk: it is reported missing (HEAD) or refused
  (:class:`CorruptChunk` on GET), and deleted, so that a correct upload
  of that name can take its place. So is a plain chunk whose bytes do not
  hash to its name: write-once would otherwise make the damage permanent,
  since every later upload of the right bytes would be answered "already
  stored". (Raw Swift writes into workspace containers are limited to new,
  verified chunks by :mod:`stacksync_swift.middleware.guard`, so such
  objects can only predate it, or come from damage on disk.)
* A chunk PUT carries no MD5 ``Etag`` unless the operator sets
  ``chunk_etag = true`` (:attr:`ChunkStore.chunk_etag`). Every chunk
  already has an end-to-end check stronger than MD5: a plain chunk's
  SHA-256 name, computed or checked by the proxy from the very bytes it
  sends and checked again by the proxy on every whole-chunk read (and by
  the sync client); an encrypted chunk's authenticated encryption, checked
  by the client on every read. What the Etag adds is the *moment* of
  detection for damage between the proxy and the object server, a hop
  that TCP protects as it protects every other hop inside Swift (Swift
  itself accepts client PUTs without an Etag): with it, Swift refuses
  such bytes at once (422); without it, the damage is found at the first
  whole read (:class:`CorruptChunk`, logged, never served as file data),
  and until the chunk is repaired a later upload of the same bytes
  deduplicates against it. The price of the Etag is an MD5 pass in the
  proxy over every byte uploaded, its largest single upload cost: on the
  all-in-one (``benchmarks/bench_api.py``, 256 MiB) the proxy spent about
  1.9 s of CPU on the upload with it and 1.5 s without (a raw Swift PUT of
  the same bytes: 0.25 s). So it is off by default; turn it on where
  write-time refusal matters more than proxy CPU.

Failures of Swift raise :class:`StorageError` with Swift's status; the API
maps them to its JSON errors. Memory stays flat whatever the file size: an
upload holds FastCDC's 8 MiB buffer and the chunks in flight (at most
:data:`PUT_CONCURRENCY` of them, each at most 4 MiB, see
:mod:`stacksync_swift.chunking`); a download streams one chunk's Swift
response at a time and holds up to :data:`GET_PREFETCH` more responses
open. Each chunk a download sends is read whole and checked first, so a
download holds at most ``1 +`` :data:`GET_PREFETCH` chunks (4 MiB each at
most) in memory.

Concurrency: :meth:`ChunkStore.store_stream` keeps up to
:data:`PUT_CONCURRENCY` chunk PUTs in flight in eventlet green threads
while it reads and cuts the next chunk, and :meth:`ChunkStore.chunk_sizes`
sends its HEADs the same way. A download opens the GETs of the next
:data:`GET_PREFETCH` chunks while the current one streams out (see
:meth:`ChunkStore.iter_content`). In the proxy (eventlet monkey-patched)
they overlap; called from plain threads (tests, tools) the green threads
simply run one after another, with the same results and the same memory
bound. An upload's hashing (each chunk's SHA-256 and the file's) runs in
an OS thread (``metadata.db.off_hub``), one chunk behind the cutting, so
the proxy uses a second core for it and the hub keeps sending packs.

Chunk sizes and locations do not change once a chunk is stored
(write-once), so the store remembers them per process
(:data:`KNOWN_CHUNKS` entries at most): a Range download or a commit check
sends a HEAD only for chunks this process has not seen lately. Garbage
collection (:mod:`stacksync_swift.gc`) does remove chunks no version
references and moves live ones out of mostly dead packs, but it deletes
nothing a grace period has not passed on, and a memory lasts at most a
quarter of that period; what an upload leans on (dedup) is always asked
afresh, and a commit's chunks are confirmed by the metadata service under
the workspace's lock.
"""

import collections
import datetime
import hashlib
import itertools
import json
import time
from typing import NamedTuple
from typing import Optional

from eventlet import GreenPile
from eventlet import GreenPool
from eventlet import spawn
from swift.common.utils import FileLikeIter
from swift.common.utils import close_if_possible
from swift.common.utils import closing_if_possible
from swift.common.utils import drain_and_close
from swift.common.utils import get_logger
from swift.common.utils import quote
from swift.common.wsgi import make_pre_authed_request

from stacksync_swift import chunking
from stacksync_swift import packs
from stacksync_swift.metadata import chunkindex
from stacksync_swift.metadata.db import off_hub
from stacksync_swift.middleware.common import SWIFT_SOURCE

# Objects per container listing page when emptying a container.
LISTING_LIMIT = 1000
# Listing-and-deleting rounds before a container that keeps answering 409
# (objects written concurrently) is reported as not empty.
DELETE_ROUNDS = 3
# Chunk PUTs in flight per upload (and HEADs per size or existence check).
# Measured on the all-in-one (benchmarks/bench_api.py): 4 keeps the object
# server busy while the proxy cuts and hashes the next chunk.
PUT_CONCURRENCY = 4
# Chunk GETs opened ahead of the chunk streaming out of a download. Each
# holds one backend connection; the object server fills its socket buffers
# while the proxy sends the current chunk, so the next one starts at once
# instead of after a connect and the object server's open. Measured on the
# all-in-one (benchmarks/bench_api.py, 256 MiB): 1 ahead took the download
# from 3.45 to 3.26 s (medians of three best-of-2 runs); 2 or 3 did no
# better there, where the proxy's CPU, not latency, is the limit.
GET_PREFETCH = 1
# missing_chunks reads the container listing instead of sending HEADs when
# at least this many names are unknown and the container holds at most
# LISTING_PER_NAME objects per such name: a listing page of 1,000 entries
# costs about what a few HEADs do.
LISTING_MIN_NAMES = 100
LISTING_PER_NAME = 10
# Remembered (container, chunk) -> size entries per process (about 150 bytes
# each), each for at most MEMORY_SECONDS (and a quarter of garbage
# collection's grace period, GC_GRACE by default; see stacksync_swift.gc).
KNOWN_CHUNKS = 200000
MEMORY_SECONDS = 600
GC_GRACE = 24 * 3600
# Defaults of the pack options (see stacksync_swift.config): the largest
# pack, and the pack PUTs an upload keeps in flight while it fills the next
# one. An upload holds at most (PACKS_IN_FLIGHT + 1) packs in memory.
# Measured on the all-in-one (benchmarks/bench_memory.py and bench_api.py,
# 2 CPUs): one in flight keeps a 1 GiB upload's proxy RSS growth at +55 MiB
# (two: +71 MiB) for 161 MB/s against 167 MB/s on 256 MiB.
PACK_SIZE = 16 * 1024 * 1024
PACKS_IN_FLIGHT = 1
# Chunks located in the index per query while a download runs.
LOCATE_BATCH = 256
# The query of every chunk GET and HEAD: the stored object itself, never the
# target of a DLO/SLO manifest or a symlink (see the module docstring).
NO_FOLLOW = 'multipart-manifest=get&symlink=get'
# Response headers that mark an object as a manifest or a symlink.
LINK_HEADERS = ('X-Object-Manifest', 'X-Static-Large-Object',
                'X-Symlink-Target')


class StorageError(Exception):
    """Swift did not do what was asked; ``status`` is its answer, if any."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


class ChunkNameMismatch(StorageError):
    """An uploaded chunk's bytes do not hash to its name (client's fault)."""


class CorruptChunk(StorageError):
    """A stored chunk's bytes do not match its name or size."""


class ContainerACLs(NamedTuple):
    read: str
    write: str


class StoredContent(NamedTuple):
    """What :meth:`ChunkStore.store_stream` stored."""

    chunks: list        # [(name, size), ...] in content order
    size: int
    sha256: str         # hex digest of the whole content
    new_chunks: int     # chunks written now (the others were already there)
    new_bytes: int
    written: tuple = ()     # per chunk of ``chunks``: written now?
    # The names stored in packs (all of them with a chunk index), for the
    # metadata service to confirm under the workspace's lock.
    packed: frozenset = frozenset()

    @property
    def names(self):
        return [name for name, _size in self.chunks]


def _acl_headers(read_acl, write_acl):
    headers = {}
    if read_acl is not None:
        headers['X-Container-Read'] = read_acl
    if write_acl is not None:
        headers['X-Container-Write'] = write_acl
    return headers


def _check_container_name(container):
    if not container or '/' in container:
        raise ValueError('invalid container name %r' % (container,))


class ChunkStore:
    """Chunks and workspace containers of one installation account.

    :param app: the WSGI app below ``stacksync_api`` in the proxy pipeline
    :param account: the installation account, e.g. ``AUTH_stacksync``
    :param chunk_etag: send the MD5 ``Etag`` with every chunk PUT, so Swift
        refuses bytes damaged on their way to the object server (see the
        module docstring for why it is off by default)
    :param prefetch: chunk GETs a download opens ahead of the one it sends

    Every method takes ``env``, the WSGI environment of the request being
    served; subrequests inherit its transaction id, ``swift.cache`` and
    ``swift.infocache``.
    """

    def __init__(self, app, account, logger=None,
                 concurrency=PUT_CONCURRENCY, chunk_etag=False,
                 prefetch=GET_PREFETCH, index=None, pack_size=PACK_SIZE,
                 packs_in_flight=PACKS_IN_FLIGHT, gc_grace=GC_GRACE):
        self.app = app
        self.account = account
        self.logger = logger or get_logger({}, log_route='stacksync_storage')
        self.concurrency = concurrency
        self.chunk_etag = chunk_etag
        self.prefetch = prefetch
        self.index = index
        self.pack_size = pack_size
        self.packs_in_flight = packs_in_flight
        # What this process learned of stored chunks lasts a fraction of
        # garbage collection's grace period (see _KnownChunks).
        self.memory_seconds = min(MEMORY_SECONDS, gc_grace / 4)
        self._known = _KnownChunks(KNOWN_CHUNKS, self.memory_seconds)
        # (container, chunk) -> Location of chunks in packs.
        self._located = _KnownChunks(KNOWN_CHUNKS, self.memory_seconds)

    # -- subrequests -------------------------------------------------------

    def _path(self, container, obj=None):
        _check_container_name(container)
        path = '/v1/%s/%s' % (self.account, container)
        if obj is not None:
            path += '/' + obj
        return quote(path)

    def _response(self, env, method, path, headers=None, body=None):
        """Send a subrequest; the caller must close the response body."""
        req = self._subrequest(env, method, path, headers, body)
        try:
            return req.get_response(self.app)
        finally:
            # Requests and responses linger in reference cycles until the
            # garbage collector runs; closing the input frees the chunk it
            # holds now (without it, 256 MiB stored peaked at 46 MiB).
            close_if_possible(req.environ['wsgi.input'])

    @staticmethod
    def _subrequest(env, method, path, headers=None, body=None):
        # Swift's make_env copies the client request's QUERY_STRING into a
        # subrequest whose path has no query of its own: a client could then
        # choose e.g. ``multipart-manifest=put`` for our pre-authorized chunk
        # PUTs. An explicit empty query keeps every client parameter out.
        if '?' not in path:
            path += '?'
        req = make_pre_authed_request(env, method, path, headers=headers,
                                      body=body, swift_source=SWIFT_SOURCE)
        # We act as the installation account's owner: without swift_owner
        # the proxy silently drops X-Container-Read/-Write from our PUTs and
        # POSTs, and from HEAD responses.
        req.environ['swift_owner'] = True
        return req

    def _call(self, env, method, path, headers=None, body=None):
        """Send a subrequest whose body we do not need: (status, headers)."""
        resp = self._response(env, method, path, headers, body)
        drain_and_close(resp)
        return resp.status_int, resp.headers

    @staticmethod
    def _fail(method, path, status):
        raise StorageError('%s %s: Swift answered %s' % (method, path, status),
                           status)

    # -- containers --------------------------------------------------------

    def create_container(self, env, container, read_acl, write_acl):
        """Create a workspace container with its ACLs, or reset them.

        :returns: True when created, False when it existed (its ACLs are
            then set to the ones given, so a retry converges)
        """
        path = self._path(container)
        status, _ = self._call(env, 'PUT', path,
                               _acl_headers(read_acl, write_acl))
        if status not in (201, 202):
            self._fail('PUT', path, status)
        return status == 201

    def set_acls(self, env, container, read_acl, write_acl):
        """Replace the container's ACLs; ``None`` leaves one unchanged."""
        path = self._path(container)
        status, _ = self._call(env, 'POST', path,
                               _acl_headers(read_acl, write_acl))
        if status not in (200, 202, 204):
            self._fail('POST', path, status)

    def get_acls(self, env, container):
        """The container's ACLs as :class:`ContainerACLs` ('' when unset)."""
        path = self._path(container)
        status, headers = self._call(env, 'HEAD', path)
        if status // 100 != 2:
            self._fail('HEAD', path, status)
        return ContainerACLs(headers.get('X-Container-Read', ''),
                             headers.get('X-Container-Write', ''))

    def delete_container(self, env, container):
        """Delete every object, then the container; a missing one is fine."""
        path = self._path(container)
        self._known.forget(container)
        self._located.forget(container)
        for _round in range(DELETE_ROUNDS):
            self._delete_objects(env, container)
            status, _ = self._call(env, 'DELETE', path)
            if status in (204, 404):
                if self.index is not None:
                    self.index.forget_container(container)
                return
            if status != 409:
                self._fail('DELETE', path, status)
        self._fail('DELETE', path, 409)

    def _delete_objects(self, env, container):
        for name in self._iter_object_names(env, container):
            self._delete_object(env, container, name)

    def _delete_object(self, env, container, name):
        """DELETE one object; one already gone is fine."""
        path = self._path(container, name)
        status, _ = self._call(env, 'DELETE', path)
        if status not in (204, 404):
            self._fail('DELETE', path, status)

    def _iter_object_names(self, env, container):
        for entry in self._iter_listing(env, container):
            yield entry['name']

    def _iter_listing(self, env, container):
        """Every entry of the container listing, page by page."""
        marker = ''
        while True:
            page = self._list_page(env, container, marker)
            if not page:
                return
            yield from page
            marker = page[-1]['name']

    def _list_page(self, env, container, marker):
        path = '%s?format=json&limit=%d&marker=%s' % (
            self._path(container), LISTING_LIMIT, quote(marker, safe=''))
        resp = self._response(env, 'GET', path)
        with closing_if_possible(resp.app_iter):
            body = b''.join(resp.app_iter)
        if resp.status_int == 404:
            return []
        if resp.status_int // 100 != 2:
            self._fail('GET', path, resp.status_int)
        return json.loads(body) if body else []

    # -- chunks ------------------------------------------------------------

    # -- the chunk index ---------------------------------------------------

    def _locate(self, container, names, fresh=False, upload=False):
        """``{name: Location}`` of the ``names`` stored in packs.

        Locations this process has seen lately are remembered (a pack is
        never changed, and garbage collection deletes a pack it emptied
        only a grace period later, longer than a memory lasts: see
        :attr:`memory_seconds`); ``fresh`` asks the index about every name.
        ``upload`` (fresh too) is the question an upload asks before it
        leans on a stored chunk: one garbage collection condemned counts
        as missing, so the client sends it again. Otherwise condemned
        chunks are found: reads, and the size checks of a commit, which
        the metadata service confirms under the workspace's lock.
        """
        if self.index is None:
            return {}
        fresh = fresh or upload
        found, unknown = {}, []
        for name in names:
            location = None if fresh else self._located.get(container, name)
            if location is None:
                unknown.append(name)
            else:
                found[name] = location
        if unknown:
            for name, location in self.index.locate(
                    container, unknown, for_read=not upload).items():
                self._located.add(container, name, location)
                found[name] = location
        return found

    def chunk_exists(self, env, container, name):
        """Whether the chunk is stored: the index, else Swift (always)."""
        if self._locate(container, [name], upload=True):
            return True
        return self._head_chunk(env, container, name) is not None

    def chunk_size(self, env, container, name):
        """The stored chunk's size in bytes, or None when it is missing.

        Asks the index, then Swift, only about chunks this process has not
        seen stored.
        """
        location = self._locate(container, [name]).get(name)
        if location is not None:
            return location.length
        return self._object_size(env, container, name)

    def _object_size(self, env, container, name):
        """The size of chunk object ``name`` (stored one per object), or
        None; asks Swift unless this process has seen it stored."""
        size = self._known.get(container, name)
        if size is not None:
            return size
        return self._head_chunk(env, container, name)

    def _head_chunk(self, env, container, name):
        path = self._path(container, name)
        status, headers = self._call(env, 'HEAD', path + '?' + NO_FOLLOW)
        if status == 404:
            self._known.forget_one(container, name)
            return None
        if status != 200:
            return self._fail('HEAD', path, status)
        if _is_link(headers):
            self._remove_bad(env, container, name, 'a manifest or symlink')
            return None
        size = int(headers.get('Content-Length', 0))
        self._known.add(container, name, size)
        return size

    def _remove_bad(self, env, container, name, problem):
        """Delete an object that is not the chunk its name promises.

        Write-once storage must not keep it: every upload of the right
        bytes would be answered "already stored" and the damage would be
        permanent. A DELETE without ``multipart-manifest=delete`` removes a
        manifest or symlink itself, never its target.
        """
        path = self._path(container, name)
        self._known.forget_one(container, name)
        self.logger.error('removing %s: %s, not a chunk', path, problem)
        status, _ = self._call(env, 'DELETE', path)
        if status not in (204, 404):
            self.logger.error('could not remove %s: Swift answered %s',
                              path, status)

    def chunk_sizes(self, env, container, names, fresh=False, packed=None,
                    fallback=None):
        """Sizes of ``names`` in order (None for missing ones).

        Chunks in packs are found in the index, one query per
        :data:`~stacksync_swift.metadata.db.IN_LIST` names. The
        others (stored one per object) are asked about with HEADs, for
        the chunks not known yet, :attr:`concurrency` at a time; with
        ``fresh``, every chunk is looked up again (a restore asks the
        index and Swift themselves: a chunk may have been removed behind
        this process's back).

        :param packed: a set that receives the names found in packs, for
            the metadata service to confirm under the workspace's lock
            (garbage collection may drop a row after this answer)
        :param fallback: a container to ask about the chunks
            ``container`` lacks (reads of a shared folder whose history is
            still being copied; never for a commit)
        """
        located = self._locate(container, names, fresh=fresh)
        if fresh and located:
            located = self._in_stored_packs(env, container, located)
        if packed is not None:
            packed.update(located)
        others = [name for name in dict.fromkeys(names)
                  if name not in located]
        size_of = self._head_chunk if fresh else self._object_size
        pile = GreenPile(GreenPool(self.concurrency))
        for name in others:
            pile.spawn(size_of, env, container, name)
        sizes = dict(zip(others, pile))
        if fallback:
            lacking = [name for name in others if sizes[name] is None]
            sizes.update(zip(lacking, self.chunk_sizes(
                env, fallback, lacking, fresh=fresh) if lacking else ()))
        return [located[name].length if name in located else sizes[name]
                for name in names]

    def _in_stored_packs(self, env, container, located):
        """The ``located`` chunks whose pack Swift still has (one HEAD per
        pack): a pack removed behind the index's back (by hand, or lost)
        takes its chunks with it."""
        pack_names = sorted({location.pack for location in located.values()})
        pile = GreenPile(GreenPool(self.concurrency))
        for pack in pack_names:
            pile.spawn(self._pack_stored, env, container, pack)
        stored = {pack for pack, present in zip(pack_names, pile) if present}
        return {name: location for name, location in located.items()
                if location.pack in stored}

    def _pack_stored(self, env, container, pack):
        path = self._path(container, pack)
        status, _ = self._call(env, 'HEAD', path + '?' + NO_FOLLOW)
        if status == 404:
            self.logger.error('pack %s is missing from Swift', path)
            return False
        if status // 100 != 2:
            self._fail('HEAD', path, status)
        return True

    def missing_chunks(self, env, container, names):
        """The ``names`` that are not stored, in the order given.

        Chunks this process has seen stored are not asked about. Many
        unknown ones are looked up in one container listing when the
        container is small enough for it (see :data:`LISTING_PER_NAME`),
        the others with HEADs. A listing may lag behind a PUT (Swift
        updates it asynchronously under load): such a chunk is reported
        missing, the client sends it again and the write-once PUT answers
        412, which is deduplication. Never the other way round: chunks
        are not deleted while their workspace lives, and chunks in packs
        are asked about afresh (a chunk garbage collection condemned is
        missing: the client sends it again).
        """
        located = self._locate(container, names, upload=True)
        unknown = [name for name in names if name not in located
                   and self._known.get(container, name) is None]
        if len(unknown) >= LISTING_MIN_NAMES and \
                self._object_count(env, container) <= \
                LISTING_PER_NAME * len(unknown):
            listed = self._learn_listing(env, container)
            return [name for name in unknown if name not in listed]
        pile = GreenPile(GreenPool(self.concurrency))
        for name in unknown:
            pile.spawn(self._object_size, env, container, name)
        return [name for name, size in zip(unknown, pile) if size is None]

    def _object_count(self, env, container):
        path = self._path(container)
        status, headers = self._call(env, 'HEAD', path)
        if status == 404:
            return 0
        if status // 100 != 2:
            self._fail('HEAD', path, status)
        return int(headers.get('X-Container-Object-Count', 0))

    def _learn_listing(self, env, container):
        """The chunk names the listing shows; their sizes are remembered.
        """
        listed = set()
        for entry in self._iter_listing(env, container):
            # A listed symlink or manifest is no chunk (a chunk is never
            # empty either): leave it to a HEAD, which removes it.
            if chunking.is_chunk_name(entry['name']) and \
                    entry.get('bytes') and 'symlink_path' not in entry \
                    and 'slo_etag' not in entry:
                listed.add(entry['name'])
                self._known.add(container, entry['name'],
                                int(entry['bytes']))
        return listed

    def put_chunk(self, env, container, name, data, verify=True):
        """Store one chunk unless its name is already there.

        :param verify: check that ``name`` is ``chk-<sha256 of data>``
            (plain workspaces); False for encrypted ones
        :returns: True when written now, False when it existed (dedup)
        :raises ChunkNameMismatch: ``verify`` and the name is wrong
        """
        if not chunking.is_chunk_name(name):
            raise ChunkNameMismatch('invalid chunk name %r' % (name,))
        if verify and chunking.chunk_name(data) != name:
            raise ChunkNameMismatch('chunk bytes do not hash to %s' % name)
        if self.index is not None:
            if self._locate(container, [name], upload=True):
                return False
            packer = _Packer(self, env, container)
            packer.add(name, data)
            return name in packer.finish()
        return self._put_object(env, container, name, data)

    def _put_object(self, env, container, name, data):
        """Store a chunk as its own object (no chunk index)."""
        path = self._path(container, name)
        headers = {'If-None-Match': '*',
                   'Content-Length': str(len(data)),
                   'Content-Type': 'application/octet-stream'}
        if self.chunk_etag:
            headers['Etag'] = hashlib.md5(
                data, usedforsecurity=False).hexdigest()
        status, _ = self._call(env, 'PUT', path, headers, data)
        written = self._written(status, 'PUT', path)
        self._known.add(container, name, len(data))
        return written

    def _written(self, status, method, path):
        """Map a write-once PUT's status to True (written) / False (there).

        412: the name exists. 409: a concurrent write of the same name
        landed first on the object server (its timestamp is newer); the
        chunk is there either way.
        """
        if status == 201:
            return True
        if status in (409, 412):
            return False
        return self._fail(method, path, status)

    def store_stream(self, env, container, reader, length=None):
        """Chunk ``reader`` and store every chunk not already there.

        Each chunk is a PUT with ``If-None-Match: *``, never a HEAD first.
        On the all-in-one (``benchmarks/bench_chunking.py``) a PUT answered
        412 costs about what a HEAD does (3.1 vs 2.9 ms: the object server
        refuses at ``Expect: 100-continue``, before the body moves), while
        HEAD-then-PUT of a new 1 MiB chunk adds a round trip to the PUT
        (2.4 + 13.7 ms). Files are mostly new chunks, so the PUT wins.

        Up to :attr:`concurrency` PUTs are in flight while the next chunk is
        read; the pool's limit is the back pressure that bounds memory. The
        call returns only when every PUT has ended, so a caller that then
        commits never references a chunk that is not stored; the first
        failure is raised after the others have ended.

        With a chunk index (the proxy), new chunks go into packs instead
        (:class:`_Packer`): up to :attr:`packs_in_flight` pack PUTs run
        while the next pack fills, and a chunk the index already locates
        is not stored again.

        :param reader: file-like with ``read(n)`` (``wsgi.input``)
        :param length: the bytes it holds, when known (Content-Length); a
            shorter stream raises :class:`chunking.TruncatedStream`
        :returns: :class:`StoredContent`
        """
        # Each chunk is hashed in an OS thread (hashlib lets go of the GIL)
        # while the next is cut, and the hub sends the pack being stored,
        # which otherwise waited for a read of the request body to block.
        content = chunking.iter_chunks(reader, length, spawn=_hash_off_hub)
        if self.index is None:
            return self._store_objects(env, container, content)
        packer = _Packer(self, env, container)
        chunks = []
        try:
            for chunk in content:
                chunks.append((chunk.name, chunk.size))
                if not packer.holds(chunk.name) and \
                        not self._locate(container, [chunk.name],
                                         upload=True):
                    packer.add(chunk.name, chunk.data)
                del chunk
        except BaseException:
            packer.abandon()
            raise
        added = packer.finish()
        written, seen = [], set()
        for name, _size in chunks:
            written.append(name in added and name not in seen)
            seen.add(name)
        return StoredContent(
            chunks, content.size, content.sha256, sum(written),
            sum(size for (_name, size), new in zip(chunks, written) if new),
            tuple(written), frozenset(seen))

    def store_chunks(self, env, container, names, bodies):
        """Store many chunks whose names are known first (a client's batch).

        :param names: the names the batch announces, looked up in the
            index in one query so that chunks already stored are skipped
        :param bodies: ``(name, bytes)`` pairs, read as they are needed;
            the caller has checked each body against its name
        :returns: ``{name: size}`` of the chunks stored now (the others
            were there)
        """
        if self.index is None:
            return {name: len(data) for name, data in bodies
                    if self._put_object(env, container, name, data)}
        present = set(self._locate(container, names, upload=True))
        packer = _Packer(self, env, container)
        sizes = {}
        try:
            for name, data in bodies:
                if name not in present and not packer.holds(name):
                    packer.add(name, data)
                    sizes[name] = len(data)
                del data
        except BaseException:
            packer.abandon()
            raise
        return {name: sizes[name] for name in packer.finish()}

    def _store_objects(self, env, container, content):
        """store_stream without a chunk index: one object per chunk."""
        pool = GreenPool(self.concurrency)
        puts, failures = [], []
        try:
            for chunk in content:
                if failures:
                    break
                # The name was just computed from these bytes: no need to
                # hash them again.
                puts.append((chunk.name, chunk.size, pool.spawn(
                    self._put_noting_failure, failures, env, container,
                    chunk.name, chunk.data)))
                del chunk
        finally:
            pool.waitall()
        if failures:
            raise failures[0]
        chunks, written = [], []
        new_chunks = new_bytes = 0
        for name, size, put in puts:
            written.append(put.wait())
            if written[-1]:
                new_chunks += 1
                new_bytes += size
            chunks.append((name, size))
        return StoredContent(chunks, content.size, content.sha256,
                             new_chunks, new_bytes, tuple(written))

    def _put_noting_failure(self, failures, env, container, name, data):
        """put_chunk for a green thread: a failure is kept, not raised."""
        try:
            return self._put_object(env, container, name, data)
        except Exception as error:
            failures.append(error)
            return False

    def _put_pack(self, env, container, bodies, entries, record=None):
        """Store one pack, write-once, then record it in the chunk index.

        The index rows are written only after Swift answered 201: a chunk
        counts as stored from then on. A failure of either leaves at worst
        a pack no row points to, which garbage collection removes.

        :param record: ``record(container, pack, size, entries)`` writes
            the rows instead of :meth:`ChunkIndex.add_pack` (garbage
            collection moves rows to the copies of their chunks)
        :returns: the names the index took from this pack
        """
        tail = packs.encode_index(entries)
        size = sum(len(body) for body in bodies) + len(tail)
        name = packs.new_pack_name()
        path = self._path(container, name)
        headers = {'If-None-Match': '*', 'Content-Length': str(size),
                   'Content-Type': 'application/octet-stream'}
        if self.chunk_etag:
            md5 = hashlib.md5(usedforsecurity=False)
            for body in bodies:
                md5.update(body)
            md5.update(tail)
            headers['Etag'] = md5.hexdigest()
        req = self._subrequest(env, 'PUT', path, headers)
        req.environ['wsgi.input'] = _PiecesReader(bodies + [tail])
        resp = req.get_response(self.app)
        drain_and_close(resp)
        if resp.status_int != 201:
            self._fail('PUT', path, resp.status_int)
        added = (record or self.index.add_pack)(container, name, size,
                                                entries)
        for chunk, offset, length in entries:
            if chunk in added:
                self._located.add(container, chunk,
                                  chunkindex.Location(name, offset, length))
        return added

    # -- the chunk index from Swift alone ---------------------------------

    def read_pack_index(self, env, container, pack, size):
        """``[(name, offset, length), ...]`` as the pack's own index says.

        Two ranged GETs: the trailer, then the index it points to.

        :raises packs.BadPack: the object is not a whole pack
        """
        if size < packs.TRAILER_SIZE:
            raise packs.BadPack('%s has %d bytes, fewer than a pack trailer'
                                % (pack, size))
        with closing_if_possible(self._open_range(
                env, container, pack, size - packs.TRAILER_SIZE,
                size)) as body:
            length = packs.index_length(body.read(packs.TRAILER_SIZE))
        start = size - packs.TRAILER_SIZE - length
        if start < 0:
            raise packs.BadPack('%s has %d bytes, fewer than its index says'
                                % (pack, size))
        if length == 0:
            return packs.decode_index(b'', size)
        with closing_if_possible(self._open_range(
                env, container, pack, start, start + length)) as body:
            return packs.decode_index(body.read(length), size)

    def rebuild_index(self, env, container):
        """Record every pack of ``container`` in the chunk index from the
        packs' own indexes (rows already there are kept).

        :returns: ``{'packs': read, 'chunks': rows added, 'bad': objects
            named like packs that are not whole packs (logged, skipped)}``
        """
        report = {'packs': 0, 'chunks': 0, 'bad': 0}
        for entry in self._iter_listing(env, container):
            name = entry['name']
            if not packs.is_pack_name(name):
                continue
            size = int(entry['bytes'])
            try:
                entries = self.read_pack_index(env, container, name, size)
            except packs.BadPack as error:
                self.logger.error('%s/%s is not a pack: %s', container,
                                  name, error)
                report['bad'] += 1
                continue
            added = self.index.add_pack(container, name, size, entries)
            report['packs'] += 1
            report['chunks'] += len(added)
        return report

    # -- garbage collection (stacksync_swift.gc) ----------------------------

    def pack_objects(self, env, container):
        """``({name: (bytes, last modified as a Unix time)}, chunk objects)``
        of ``container``: its objects named like packs, and how many are
        chunks stored one per object."""
        found, chunk_objects = {}, 0
        for entry in self._iter_listing(env, container):
            if packs.is_pack_name(entry['name']):
                found[entry['name']] = (int(entry['bytes']), _listing_time(
                    entry.get('last_modified')))
            elif chunking.is_chunk_name(entry['name']):
                chunk_objects += 1
        return found, chunk_objects

    def container_created(self, env, container):
        """When the container was created (Unix time), or None: gone."""
        path = self._path(container)
        status, headers = self._call(env, 'HEAD', path)
        if status == 404:
            return None
        if status // 100 != 2:
            self._fail('HEAD', path, status)
        return float(headers.get('X-Timestamp') or 0)

    def delete_pack(self, env, container, pack):
        """Delete a pack object nothing is read from any more."""
        self._delete_object(env, container, pack)

    def rewrite_packs(self, env, container, old_packs, verify):
        """Copy every chunk the index locates in ``old_packs`` into new
        packs and point their rows at the copies.

        Each chunk is checked as a read checks it (``verify``: against its
        name) before it is copied; a damaged one leaves the index
        (:meth:`_check_packed`) and is not copied. The old packs stay in
        Swift: the caller retires them, and deletes them a grace period
        later, when no reader still holds their locations.

        :returns: ``(chunks moved, bytes moved)``
        """
        sources, moved = {}, {}

        def record(container_, pack, size, entries):
            names = self.index.move_chunks(container_, pack, size, entries,
                                           sources)
            moved.update((name, length) for name, _offset, length in entries
                         if name in names)
            return names

        packer = _Packer(self, env, container, record=record)
        try:
            for old in old_packs:
                for name, data in self._read_pack_rows(env, container, old,
                                                       verify):
                    if name not in sources:
                        sources[name] = old
                        packer.add(name, data)
        except BaseException:
            packer.abandon()
            raise
        packer.finish()
        return len(moved), sum(moved.values())

    def _read_pack_rows(self, env, container, pack, verify):
        """``(name, bytes)`` of every chunk the index locates in ``pack``,
        adjacent ones read in one ranged GET; a damaged chunk is left out
        (and its row dropped)."""
        run = None
        runs = []
        for name, offset, length in self.index.chunks_in(container, pack):
            location = chunkindex.Location(pack, offset, length)
            if run is None or not run.continued_by(location):
                run = _PackRun(pack, offset, container)
                runs.append(run)
            run.add(_Piece(name), location)
        for run in runs:
            body = run.open(self, env, container, verify)
            for piece, data in run.checked(self, container, body, verify,
                                           skip_damaged=True):
                yield piece.name, data

    def repack_objects(self, env, container, cutoff, verify):
        """Move chunks stored one per object into packs, then delete the
        objects.

        Only objects last modified before ``cutoff`` (a Unix time) are
        moved: a raw Swift client may be uploading the others. Each is
        read and checked as a read checks it (a damaged one is removed, as
        a read removes it); its object is deleted only once the chunk
        index locates the chunk in a pack. A proxy that remembers the
        object finds the chunk in the index first, so nothing it serves
        changes.

        :returns: ``{'chunks': moved into packs, 'objects': deleted,
            'bytes': their size, 'bad': damaged objects removed}``
        """
        names = [entry['name'] for entry in self._iter_listing(env, container)
                 if chunking.is_chunk_name(entry['name']) and _listing_time(
                     entry.get('last_modified')) < cutoff]
        report = {'chunks': 0, 'objects': 0, 'bytes': 0, 'bad': 0}
        for start in range(0, len(names), LOCATE_BATCH):
            batch = names[start:start + LOCATE_BATCH]
            present = self._locate(container, batch, upload=True)
            packer = _Packer(self, env, container)
            try:
                for name in batch:
                    if name in present:
                        continue
                    try:
                        data = self._fetch(env, container, _Piece(name),
                                           verify)
                    except CorruptChunk:
                        report['bad'] += 1
                        continue
                    except StorageError as error:
                        if error.status != 404:
                            raise
                        continue
                    packer.add(name, data)
            except BaseException:
                packer.abandon()
                raise
            report['chunks'] += len(packer.finish())
            located = self._locate(container, batch, upload=True)
            for name in batch:
                if name not in located:
                    continue
                self._delete_object(env, container, name)
                self._known.forget_one(container, name)
                report['objects'] += 1
                report['bytes'] += located[name].length
        return report

    def iter_containers(self, env):
        """The names of the installation account's containers."""
        marker = ''
        while True:
            path = '/v1/%s?format=json&limit=%d&marker=%s' % (
                quote(self.account), LISTING_LIMIT, quote(marker, safe=''))
            resp = self._response(env, 'GET', path)
            with closing_if_possible(resp.app_iter):
                body = b''.join(resp.app_iter)
            if resp.status_int // 100 != 2:
                self._fail('GET', path, resp.status_int)
            page = json.loads(body) if resp.status_int == 200 else []
            if not page:
                return
            for entry in page:
                yield entry['name']
            marker = page[-1]['name']

    def copy_chunks(self, env, src_container, dst_container, names):
        """Copy chunks into another workspace, server side.

        With a chunk index they are read (from packs or their own objects)
        and written into the destination's packs, so a shared folder's
        history costs one PUT per pack, not one per chunk; chunks the
        destination already holds are skipped.

        :returns: how many chunks were copied now
        """
        names = list(dict.fromkeys(names))
        if self.index is None:
            return sum(self.copy_chunk(env, src_container, dst_container,
                                       name) for name in names)
        present = self._locate(dst_container, names, upload=True)
        wanted = [name for name in names if name not in present]
        packer = _Packer(self, env, dst_container)
        try:
            # Encrypted chunks cannot be checked here and plain ones are
            # checked by every read from the destination: copy the bytes.
            bodies = self._stream(env, src_container,
                                  (_Piece(name) for name in wanted), False)
            with closing_if_possible(bodies):
                for name, data in zip(wanted, bodies):
                    packer.add(name, data)
        except BaseException:
            packer.abandon()
            raise
        return len(packer.finish())

    def copy_chunk(self, env, src_container, dst_container, name):
        """Copy a chunk into another workspace, server side, write-once.

        Swift's ``copy`` middleware cannot do a conditional copy: it sends
        the PUT's ``If-None-Match: *`` along on its GET of the source, which
        then answers 304. So the copy is done here the way ``copy`` does
        it, a GET of the source streamed into a PUT of the destination
        (bytes never leave the proxy), with ``If-None-Match: *`` and the
        source's Etag on the PUT. A HEAD first skips chunks already there.

        :returns: True when copied now, False when the name was there
        """
        if self.chunk_exists(env, dst_container, name):
            return False
        src_path = self._path(src_container, name)
        source = self._response(env, 'GET', src_path + '?' + NO_FOLLOW)
        with closing_if_possible(source.app_iter):
            if source.status_int != 200:
                self._fail('GET', src_path, source.status_int)
            if _is_link(source.headers):
                raise CorruptChunk('%s is a manifest or symlink, not a '
                                   'chunk' % src_path)
            return self._put_from(env, dst_container, name, source)

    def _put_from(self, env, container, name, source):
        path = self._path(container, name)
        headers = {'If-None-Match': '*', 'Etag': source.etag,
                   'Content-Length': str(source.content_length),
                   'Content-Type': 'application/octet-stream'}
        req = self._subrequest(env, 'PUT', path, headers)
        req.environ['wsgi.input'] = FileLikeIter(source.app_iter)
        resp = req.get_response(self.app)
        drain_and_close(resp)
        return self._written(resp.status_int, 'PUT', path)

    def iter_content(self, env, container, chunks, start=0, end=None,
                     verify=True, fallback=None):
        """Stream bytes ``[start, end)`` of the concatenated chunks.

        :param chunks: ``[(name, size), ...]`` in content order, as the
            metadata service records them
        :param start: first byte, counted from 0
        :param end: byte after the last one (Python slice semantics, not an
            HTTP range), None for the end of the content
        :param verify: check each chunk read whole against its
            ``chk-<sha256>`` name (plain workspaces)
        :param fallback: a container to read chunks ``container`` lacks
            from (a shared folder's history still being copied)

        Partial first and last chunks are read whole too, so that they are
        checked before any of their bytes is sent. A generator: nothing is
        requested before the first ``next()``; from then on the next
        :attr:`prefetch` chunks are fetched while the current one streams
        out (:meth:`_stream`). A corrupt or missing chunk raises
        :class:`StorageError` (:class:`CorruptChunk`) before any of its
        bytes is sent; after earlier chunks were sent, the client sees a
        response shorter than its Content-Length and never takes it for
        the file.
        """
        total = sum(size for _name, size in chunks)
        end = total if end is None else min(end, total)
        if start < 0 or end < start:
            raise ValueError('bad range [%r, %r)' % (start, end))
        if start == end:
            return
        yield from self._stream(env, container,
                                _pieces(chunks, start, end), verify,
                                fallback)

    def iter_chunks(self, env, container, names, verify=True,
                    fallback=None):
        """Stream whole chunks ``names`` one after another.

        Needs no sizes (a full download): each chunk is checked against its
        own Content-Length and, with ``verify``, its name. Like
        :meth:`iter_content`, a generator that opens the next chunks' GETs
        ahead and raises :class:`StorageError` where a chunk is missing or
        corrupt.
        """
        return self._stream(env, container,
                            (_Piece(name) for name in names), verify,
                            fallback)

    def read_chunk(self, env, container, name, verify=True, fallback=None):
        """Stream one whole chunk, checked as :meth:`iter_chunks` does."""
        return self._stream(env, container, [_Piece(name)], verify,
                            fallback)

    def _stream(self, env, container, pieces, verify, fallback=None):
        """The bytes of ``pieces`` (:class:`_Piece`) in order, one bytes
        object per piece.

        Pieces are grouped into runs (:meth:`_runs`): adjacent chunks of
        one pack are one ranged GET, a chunk stored as its own object is
        one GET. Up to :attr:`prefetch` runs are opened in green threads
        before their bytes are needed (a pack range's response waits with
        its first bytes in the socket buffers; an object chunk is fetched
        and checked whole). Every chunk is checked before any of its bytes
        is yielded. Closing the generator (a client gone) waits for the
        openings under way and closes them.
        """
        runs = self._runs(container, pieces, fallback)
        ahead = collections.deque()
        try:
            while True:
                while len(ahead) <= self.prefetch:
                    run = next(runs, None)
                    if run is None:
                        break
                    ahead.append((run, spawn(self._open_in_turn, env,
                                             run.container, run, verify)))
                if not ahead:
                    return
                run, opening = ahead.popleft()
                opened, error = opening.wait()
                if error is not None:
                    raise error
                yield from run.read(self, run.container, opened, verify)
                del opened
        finally:
            for _run, opening in ahead:
                _discard(opening)

    def _runs(self, container, pieces, fallback=None):
        """Group ``pieces`` into :class:`_PackRun` and :class:`_ObjectRun`,
        locating :data:`LOCATE_BATCH` chunks per index query. A chunk
        ``container`` lacks is looked for in ``fallback`` (the container a
        shared folder's history is still being copied from)."""
        pieces = iter(pieces)
        while True:
            batch = list(itertools.islice(pieces, LOCATE_BATCH))
            if not batch:
                return
            names = [p.name for p in batch]
            located = {name: (container, location) for name, location
                       in self._locate(container, names).items()}
            if fallback:
                elsewhere = self._locate(fallback, [
                    name for name in names if name not in located])
                located.update((name, (fallback, location))
                               for name, location in elsewhere.items())
            run = None
            for piece in batch:
                where, location = located.get(piece.name, (None, None))
                if run is not None and (where != run.container or
                                        not run.continued_by(location)):
                    yield run
                    run = None
                if location is None:
                    yield _ObjectRun(piece, container, fallback)
                    continue
                if run is None:
                    run = _PackRun(location.pack, location.offset, where)
                run.add(piece, location)
            if run is not None:
                yield run

    def _open_in_turn(self, env, container, run, verify):
        """``run.open`` for a green thread: ``(opened, None)`` or ``(None,
        error)``, raised when the run's turn comes (an error raised in the
        green thread would be reported there too)."""
        try:
            return run.open(self, env, container, verify), None
        except Exception as error:
            return None, error

    def _open_range(self, env, container, pack, start, end):
        """A :class:`_BodyReader` of bytes ``[start, end)`` of a pack."""
        path = self._path(container, pack)
        resp = self._response(env, 'GET', path + '?' + NO_FOLLOW,
                              {'Range': 'bytes=%d-%d' % (start, end - 1)})
        if resp.status_int not in (200, 206) or _is_link(resp.headers):
            close_if_possible(resp.app_iter)
            if resp.status_int // 100 == 2:
                raise StorageError('%s is a manifest or symlink, not a '
                                   'pack' % path)
            self._fail('GET', path, resp.status_int)
        # 200: Swift sent the whole object (a range it chose to ignore).
        return _BodyReader(resp.app_iter,
                           skip=start if resp.status_int == 200 else 0)

    def _check_packed(self, container, piece, location, data, verify):
        """Refuse a chunk read from a pack whose bytes are not the chunk.

        The pack cannot be changed (other chunks live in it): the chunk's
        row leaves the index instead, so the next upload of the chunk
        stores it again and reads find that copy.
        """
        problem = None
        if len(data) != location.length:
            # A short read is Swift's failure, not damage.
            raise StorageError('%s/%s: %d bytes of chunk %s instead of %d'
                               % (container, location.pack, len(data),
                                  piece.name, location.length))
        if piece.size is not None and location.length != piece.size:
            problem = '%d bytes instead of %d' % (location.length,
                                                  piece.size)
        elif verify and chunking.chunk_name(data) != piece.name:
            problem = 'content does not hash to its name'
        if problem is None:
            return
        self.logger.error('forgetting chunk %s in pack %s/%s: %s',
                          piece.name, container, location.pack, problem)
        self._located.forget_one(container, piece.name)
        self.index.forget_chunk(container, piece.name, location.pack)
        raise CorruptChunk('corrupt chunk %s in %s: %s; it was removed, '
                           'upload it again'
                           % (piece.name, container, problem))

    def _fetch(self, env, container, piece, verify):
        """One whole chunk's bytes, checked against its name and size.

        :raises StorageError: Swift's failure (404: the chunk is missing)
        :raises CorruptChunk: the object is a manifest or a symlink, or its
            bytes are not the chunk (it is then removed, see
            :meth:`_remove_bad`)
        """
        path = self._path(container, piece.name)
        resp = self._response(env, 'GET', path + '?' + NO_FOLLOW)
        with closing_if_possible(resp.app_iter):
            if resp.status_int != 200:
                self._fail('GET', path, resp.status_int)
            if _is_link(resp.headers):
                self._bad_chunk(env, container, piece.name,
                                'a manifest or symlink')
            length = resp.content_length
            if length is None or length > chunking.MAX_SIZE:
                self._bad_chunk(env, container, piece.name,
                                '%s bytes, more than a chunk may have'
                                % length)
            data = b''.join(resp.app_iter)
        if len(data) != length:
            # A short read is Swift's failure, not damage: keep the object.
            self.logger.error('short read of %s: %d bytes instead of %d',
                              path, len(data), length)
            raise StorageError('%s: %d bytes instead of %d'
                               % (path, len(data), length))
        if piece.size is not None and length != piece.size:
            self._bad_chunk(env, container, piece.name,
                            '%d bytes instead of %d' % (length, piece.size))
        if verify and chunking.chunk_name(data) != piece.name:
            self._bad_chunk(env, container, piece.name,
                            'content does not hash to its name')
        self._known.add(container, piece.name, length)
        return data

    def _bad_chunk(self, env, container, name, problem):
        self._remove_bad(env, container, name, problem)
        raise CorruptChunk('corrupt chunk %s in %s: %s; it was removed, '
                           'upload it again' % (name, container, problem))


def _hash_off_hub(function, data):
    """``spawn`` for :func:`chunking.iter_chunks`: hash in an OS thread."""
    return spawn(off_hub, function, data)


def _listing_time(value):
    """A container listing's ``last_modified`` as a Unix time (0 when
    absent or unreadable: the object then counts as old)."""
    try:
        moment = datetime.datetime.strptime(value, '%Y-%m-%dT%H:%M:%S.%f')
    except (TypeError, ValueError):
        return 0.0
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def _is_link(headers):
    """True when a response's headers mark a manifest or a symlink."""
    return any(name in headers for name in LINK_HEADERS)


class _Piece(NamedTuple):
    """Bytes ``[first, last)`` of chunk ``name`` of ``size`` bytes.

    ``size`` None: the whole chunk, whatever its size (``last`` unused).
    """

    name: str
    size: Optional[int] = None
    first: int = 0
    last: Optional[int] = None

    @property
    def whole(self):
        return self.size is None or (self.first == 0 and
                                     self.last == self.size)


def _discard(opening):
    """Wait for a run opened ahead and no longer wanted, and close it (its
    result, failure included, no longer matters to anyone)."""
    opened, _error = opening.wait()
    close_if_possible(opened)


class _ObjectRun:
    """One chunk stored as its own object, fetched and checked whole;
    from ``fallback`` if ``container`` does not have it."""

    def __init__(self, piece, container, fallback=None):
        self.piece = piece
        self.container = container
        self.fallback = fallback

    @staticmethod
    def continued_by(location):
        return False

    def open(self, store, env, container, verify):
        try:
            return store._fetch(env, container, self.piece, verify)
        except CorruptChunk:
            raise
        except StorageError as error:
            if error.status != 404 or not self.fallback:
                raise
        self.container = self.fallback
        return store._fetch(env, self.fallback, self.piece, verify)

    def read(self, store, container, data, verify):
        piece = self.piece
        yield data if piece.whole else data[piece.first:piece.last]


class _PackRun:
    """Adjacent chunks of one pack: one ranged GET, read chunk by chunk,
    each checked before its bytes are yielded."""

    def __init__(self, pack, start, container):
        self.pack = pack
        self.start = self.end = start
        self.container = container
        self.items = []

    def continued_by(self, location):
        return location is not None and location.pack == self.pack and \
            location.offset == self.end

    def add(self, piece, location):
        self.items.append((piece, location))
        self.end = location.offset + location.length

    def open(self, store, env, container, verify):
        return store._open_range(env, container, self.pack, self.start,
                                 self.end)

    def read(self, store, container, body, verify):
        for piece, data in self.checked(store, container, body, verify):
            if piece.whole:
                yield data
            else:
                yield data[piece.first:piece.last]
            del data

    def checked(self, store, container, body, verify, skip_damaged=False):
        """``(piece, bytes)`` of each whole chunk of the run, in order.

        A damaged chunk raises :class:`CorruptChunk` (its row is dropped
        first); with ``skip_damaged`` it is left out instead, and the run
        goes on (garbage collection copying the sound chunks of a pack).
        """
        with closing_if_possible(body):
            for piece, location in self.items:
                data = body.read(location.length)
                try:
                    store._check_packed(container, piece, location, data,
                                        verify)
                except CorruptChunk:
                    if skip_damaged:
                        continue
                    raise
                yield piece, data
                del data


class _Packer:
    """Fills packs with one upload's new chunks and stores each full one.

    :meth:`add` takes a chunk's bytes; a pack that would grow past the
    store's ``pack_size`` is sent first (:meth:`ChunkStore._put_pack` in
    a green thread, at most ``packs_in_flight`` at once: the pool's limit
    is the back pressure that bounds memory to ``packs_in_flight + 1``
    packs). :meth:`finish` sends the last pack, waits for every PUT and
    returns the names the index took from these packs; the first failure
    is raised after the other PUTs have ended.
    """

    # Bytes of pack index per chunk, reserved while a pack fills: a name
    # (68), two numbers and JSON's punctuation.
    INDEX_BYTES_PER_CHUNK = 100

    def __init__(self, store, env, container, record=None):
        self.store = store
        self.env = env
        self.container = container
        self.record = record
        self.pool = GreenPool(store.packs_in_flight)
        self.names = set()
        self.added = set()
        self.failures = []
        self._bodies, self._entries, self._size = [], [], 0

    def holds(self, name):
        return name in self.names

    def add(self, name, data):
        if self.failures:
            raise self.failures[0]
        index_bytes = self.INDEX_BYTES_PER_CHUNK * (len(self._entries) + 1)
        if self._bodies and self._size + len(data) + index_bytes + \
                packs.TRAILER_SIZE > self.store.pack_size:
            self._send()
        self._entries.append((name, self._size, len(data)))
        self._bodies.append(data)
        self._size += len(data)
        self.names.add(name)

    def _send(self):
        bodies, entries = self._bodies, self._entries
        self._bodies, self._entries, self._size = [], [], 0
        self.pool.spawn(self._store, bodies, entries)

    def _store(self, bodies, entries):
        try:
            self.added.update(self.store._put_pack(
                self.env, self.container, bodies, entries, self.record))
        except Exception as error:
            self.failures.append(error)

    def finish(self):
        if self._bodies and not self.failures:
            self._send()
        self.pool.waitall()
        if self.failures:
            raise self.failures[0]
        return self.added

    def abandon(self):
        """Drop the pack being filled and wait for the PUTs under way."""
        self._bodies, self._entries, self._size = [], [], 0
        self.pool.waitall()


class _PiecesReader:
    """``wsgi.input`` over a list of byte strings, without joining them."""

    def __init__(self, pieces):
        self._pieces = collections.deque(piece for piece in pieces if piece)
        self._offset = 0

    def read(self, size=-1):
        if size is None or size < 0:
            size = sum(len(piece) for piece in self._pieces) - self._offset
        out = []
        while size > 0 and self._pieces:
            piece = self._pieces[0]
            taken = piece[self._offset:self._offset + size]
            out.append(taken)
            size -= len(taken)
            self._offset += len(taken)
            if self._offset == len(piece):
                self._pieces.popleft()
                self._offset = 0
        return b''.join(out)

    def close(self):
        self._pieces.clear()


class _BodyReader:
    """Exact-length reads from a response's ``app_iter``."""

    def __init__(self, app_iter, skip=0):
        self._app_iter = app_iter
        self._parts = iter(app_iter)
        self._buffer = b''
        if skip:
            self.read(skip)

    def read(self, size):
        """``size`` bytes, or fewer where the body ends."""
        pieces, have = [self._buffer], len(self._buffer)
        while have < size:
            part = next(self._parts, None)
            if part is None:
                break
            pieces.append(part)
            have += len(part)
        data = b''.join(pieces)
        self._buffer = data[size:]
        return data[:size]

    def close(self):
        close_if_possible(self._app_iter)


def _pieces(chunks, start, end):
    """The :class:`_Piece` of each chunk overlapping [start, end)."""
    offset = 0
    for name, size in chunks:
        chunk_start, offset = offset, offset + size
        if offset <= start:
            continue
        if chunk_start >= end:
            return
        yield _Piece(name, size, max(start, chunk_start) - chunk_start,
                     min(end, offset) - chunk_start)


class _KnownChunks:
    """(container, chunk name) -> what is known of a stored chunk (its size
    or its :class:`~stacksync_swift.metadata.chunkindex.Location`).

    Bounded in number (the oldest entries go first) and in age: an entry
    is forgotten ``max_age`` seconds after it was learned, so that garbage
    collection, which waits a grace period before it deletes what it
    moved or dropped, never meets a memory older than that. Safe for
    green threads (plain dict operations, no switch in between).
    """

    def __init__(self, limit, max_age=None):
        self.limit = limit
        self.max_age = max_age
        self._sizes = collections.OrderedDict()

    def get(self, container, name):
        entry = self._sizes.get((container, name))
        if entry is None:
            return None
        value, learned = entry
        if self.max_age is not None and \
                time.monotonic() - learned > self.max_age:
            self._sizes.pop((container, name), None)
            return None
        return value

    def add(self, container, name, size):
        self._sizes[(container, name)] = (size, time.monotonic())
        self._sizes.move_to_end((container, name))
        while len(self._sizes) > self.limit:
            self._sizes.popitem(last=False)

    def forget_one(self, container, name):
        self._sizes.pop((container, name), None)

    def forget(self, container):
        for key in [key for key in self._sizes if key[0] == container]:
            del self._sizes[key]
