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

``POST /v1/workspace/{wid}/chunks/missing`` with ``{"names": [...]}``
answers ``{"missing": [...]}``: the names not stored, in one request
instead of one ``HEAD`` per chunk (at most
:data:`~stacksync_swift.metadata.service.MAX_COMMIT_ITEMS` names).
"""

import io

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
        pieces = self.api.storage.read_chunk(
            self.req.environ, workspace['container'], name,
            verify=not workspace['encrypted'])
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
