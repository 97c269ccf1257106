"""Chunk transfer for sync clients: ``/v1/workspace/{wid}/chunk/{name}``.

``HEAD`` says whether a chunk is stored, ``GET`` streams it (checked
against its name in a plain workspace before the first byte is sent),
``PUT`` stores it write-once. In a plain workspace the body's SHA-256 must
match the name (``chk-<sha256>``); an encrypted workspace's names are HMACs
the server cannot check, so only the size (at most
:data:`~stacksync_swift.chunking.MAX_SIZE`) and write-once apply. Viewers
read; owners and editors write. A new chunk counts against the workspace
owner's quota from its upload on (``413`` when there is no room), not only
once a commit references it.

A client may send a plain workspace's chunk compressed, with
``X-StackSync-Chunk-Encoding: zstd``: the server decompresses it (never
to more than :data:`~stacksync_swift.chunking.MAX_SIZE` bytes), checks the
name against the plaintext and stores the plaintext, so downloads through
``/v1/file/{id}/data`` and sharing work as for any chunk. Compression
saves upload bandwidth only. Encrypted workspaces store what they are sent
(already compressed by the client before sealing), so the header is refused
there.

``POST /v1/workspace/{wid}/chunks`` stores many chunks in one request
(the sync client sends a round's small files this way): the body is one
line of JSON, ``{"chunks": [{"name": "chk-...", "size": N}, ...]}`` and a
newline, then the chunks' bytes back to back in that order
(``Content-Type: application/vnd.stacksync.chunks``). ``size`` counts the
bytes sent; an entry with ``"encoding": "zstd"`` carries a zstd frame of
the chunk, as ``X-StackSync-Chunk-Encoding`` does for one chunk (plain
workspaces only). At most
:data:`MAX_BATCH_CHUNKS` chunks and :data:`MAX_BATCH_BYTES` bytes of
bodies; the index line at most :data:`MAX_INDEX_LINE` bytes. The bodies
stream into packs as they arrive; each is checked against its name first
(plain workspaces) and a chunk that fails is not stored, the others are.
The answer has a result per chunk, in order: ``created``, ``exists``, or
``mismatch`` (its bytes do not hash to its name). The whole batch must fit
the owner's quota before a byte is stored (``413``); a body shorter than
the index announces is a ``400``.

``POST /v1/workspace/{wid}/chunks/missing`` with ``{"names": [...]}``
answers ``{"missing": [...]}``: the names not stored, in one request
instead of one ``HEAD`` per chunk (at most
:data:`~stacksync_swift.metadata.service.MAX_COMMIT_ITEMS` names).
"""

import io
import json

import zstandard
from swift.common import swob

from stacksync_swift import chunking
from stacksync_swift.metadata import models
from stacksync_swift.metadata import service
from stacksync_swift.middleware import errors
from stacksync_swift.middleware import guard
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api import transfer
from stacksync_swift.middleware.api import workspaces

ENCODING_HEADER = 'X-StackSync-Chunk-Encoding'
# Limits of one batch upload: the chunks of hundreds of small files, or a
# run of a large file's chunks.
MAX_BATCH_CHUNKS = 1000
MAX_BATCH_BYTES = 64 * chunking.MiB
MAX_INDEX_LINE = 256 * 1024


def decompress(frame, limit=chunking.MAX_SIZE):
    """A zstd frame's bytes, refusing more than ``limit`` of them."""
    try:
        data = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(frame)).read(limit + 1)
    except zstandard.ZstdError:
        raise errors.BadRequest('the body is not a zstd frame')
    if len(data) > limit:
        raise errors.RequestEntityTooLarge(
            'a chunk has at most %d bytes' % limit)
    return data


@router.route(workspaces.WID + r'/chunks')
class ChunkBatch(workspaces.WorkspaceController):
    def POST(self):
        """Store a batch of chunks: a JSON index line, then the bodies."""
        workspace = self.workspace()
        if workspace['role'] not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace['id'])
        reader = self.req.environ['wsgi.input']
        line = reader.readline(MAX_INDEX_LINE + 1)
        if not line.endswith(b'\n'):
            raise errors.BadRequest(
                'a batch starts with its index: one line of JSON of at '
                'most %d bytes' % MAX_INDEX_LINE)
        entries = _batch_index(line, workspace['encrypted'])
        total = sum(size for _name, size, _zstd in entries)
        length = self.req.content_length
        if length is not None and length != len(line) + total:
            raise errors.BadRequest(
                'the index announces %d bytes of chunks, the body has %d'
                % (total, length - len(line)))
        limit = transfer.upload_limit(self.api.metadata, workspace)
        if total > limit:
            raise errors.RequestEntityTooLarge(
                '%d bytes is more than the %d bytes allowed (quota)'
                % (total, limit))
        verify = not workspace['encrypted']
        mismatched = set()
        stored = self.api.storage.store_chunks(
            self.req.environ, workspace['container'],
            [name for name, _size, _zstd in entries],
            _checked_bodies(reader, entries, verify, mismatched))
        # Counted until a version references them, as for single PUTs.
        self.api.metadata.record_chunks(
            workspace['id'], [(name, stored[name]) for name in stored])
        return router.json_response({'results': [
            {'name': name,
             'result': 'mismatch' if name in mismatched else
             'created' if name in stored else 'exists'}
            for name, _size, _zstd in entries]})


def _batch_index(line, encrypted):
    """``[(name, size sent, zstd?), ...]`` from a batch's index line,
    checked."""
    try:
        document = json.loads(line)
        chunks = document['chunks']
        entries = [(chunk['name'], chunk['size'],
                    _is_zstd(chunk.get('encoding'), encrypted))
                   for chunk in chunks]
    except (ValueError, TypeError, KeyError, AttributeError):
        raise errors.BadRequest(
            'the index line is {"chunks": [{"name": ..., "size": ...}, '
            '...]}')
    if not 0 < len(entries) <= MAX_BATCH_CHUNKS:
        raise errors.BadRequest('a batch has 1 to %d chunks'
                                % MAX_BATCH_CHUNKS)
    for name, size, _zstd in entries:
        if not isinstance(name, str) or not chunking.is_chunk_name(name):
            raise errors.BadRequest('%r is not a chunk name (chk- and 64 '
                                    'lowercase hex digits)' % (name,))
        if type(size) is not int or not 0 < size <= chunking.MAX_SIZE:
            raise errors.BadRequest('chunk %s: a size is 1 to %d bytes'
                                    % (name, chunking.MAX_SIZE))
    if len({entry[0] for entry in entries}) != len(entries):
        raise errors.BadRequest('a batch names each chunk once')
    if sum(entry[1] for entry in entries) > MAX_BATCH_BYTES:
        raise errors.RequestEntityTooLarge(
            'a batch carries at most %d bytes of chunks' % MAX_BATCH_BYTES)
    return entries


def _is_zstd(encoding, encrypted):
    """Whether an index entry's ``encoding`` says zstd (else identity)."""
    if encoding in (None, 'identity'):
        return False
    if encoding != 'zstd':
        raise errors.BadRequest('a chunk\'s encoding is zstd or identity')
    if encrypted:
        raise errors.BadRequest('an encrypted workspace stores chunks as '
                                'they are sent; compress before sealing')
    return True


def _checked_bodies(reader, entries, verify, mismatched):
    """``(name, bytes)`` of each chunk as it arrives, decompressed; with
    ``verify``, one whose bytes do not hash to its name is noted in
    ``mismatched`` and skipped."""
    for name, size, zstd in entries:
        data = reader.read(size)
        if len(data) != size:
            raise errors.BadRequest('the body ended inside chunk %s' % name)
        if zstd:
            data = decompress(data)
        if verify and chunking.chunk_name(data) != name:
            mismatched.add(name)
            continue
        yield name, data


@router.route(workspaces.WID + r'/chunks/missing')
class MissingChunks(workspaces.WorkspaceController):
    def POST(self):
        """``{"missing": [...]}``: which of ``names`` are not stored."""
        body = self.json_object()
        names = body.get('names')
        if not isinstance(names, list) or \
                len(names) > service.MAX_COMMIT_ITEMS or \
                not all(chunking.is_chunk_name(name) for name in names):
            raise errors.BadRequest('names is a list of at most %d chunk '
                                    'names' % service.MAX_COMMIT_ITEMS)
        workspace = self.workspace()
        return router.json_response({
            'missing': self.api.storage.missing_chunks(
                self.req.environ, workspace['container'],
                sorted(set(names)))})


@router.route(workspaces.WID + r'/chunk/(?P<name>[^/]+)')
class Chunk(workspaces.WorkspaceController):
    def chunk_name(self):
        name = self.path_args['name']
        if not chunking.is_chunk_name(name):
            raise errors.BadRequest('a chunk name is chk- and 64 lowercase '
                                    'hex digits')
        return name

    def HEAD(self):
        """200 with the size when the chunk is stored, else 404."""
        name = self.chunk_name()
        workspace = self.workspace()
        size = self.api.storage.chunk_size(
            self.req.environ, workspace['container'], name)
        if size is None:
            raise errors.NotFound('no chunk %s' % name)
        return swob.Response(status=200, content_length=size,
                             content_type=transfer.OCTET_STREAM)

    def GET(self):
        """The chunk's bytes."""
        name = self.chunk_name()
        workspace = self.workspace()
        # A shared folder whose history is still being copied reads the
        # chunks its container lacks from where they are copied from.
        pieces = self.api.storage.read_chunk(
            self.req.environ, workspace['container'], name,
            verify=not workspace['encrypted'],
            fallback=workspace.get('copy_source'))
        try:
            stream = transfer.PrimedStream(pieces, self.req.environ,
                                           self.api.logger)
        except transfer.ChunksMissing:
            raise errors.NotFound('no chunk %s' % name)
        return swob.Response(status=200, app_iter=stream,
                             content_type=transfer.OCTET_STREAM)

    def PUT(self):
        """Store the chunk: 201 when new, 200 when it was already there."""
        name = self.chunk_name()
        workspace = self.workspace()
        if workspace['role'] not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace['id'])
        data = self.decoded(guard.read_chunk_body(self.req), workspace)
        if not workspace['encrypted'] and chunking.chunk_name(data) != name:
            raise errors.BadRequest('the body does not hash to %s' % name)
        metadata = self.api.metadata
        reserved = metadata.reserve_chunk(workspace['id'], name, len(data))
        try:
            written = self.api.storage.put_chunk(
                self.req.environ, workspace['container'], name, data,
                verify=False)
        except Exception:
            if reserved:
                metadata.release_chunk(workspace['id'], name)
            raise
        if reserved and not written:
            # Already stored: counted by a version, or by its own upload.
            metadata.release_chunk(workspace['id'], name)
        return router.json_response(
            {'name': name, 'size': len(data), 'created': written},
            status=201 if written else 200)

    def decoded(self, data, workspace):
        """The chunk's bytes from a body sent with a chunk encoding."""
        encoding = self.req.headers.get(ENCODING_HEADER, '').strip().lower()
        if not encoding or encoding == 'identity':
            return data
        if encoding != 'zstd':
            raise errors.BadRequest('%s is zstd or identity'
                                    % ENCODING_HEADER)
        if workspace['encrypted']:
            raise errors.BadRequest('an encrypted workspace stores chunks '
                                    'as they are sent; compress before '
                                    'sealing')
        return decompress(data)
