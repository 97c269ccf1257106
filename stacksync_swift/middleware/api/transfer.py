"""File data in and out: request bodies to chunks, chunks to responses.

Uploads stream the request body through
:meth:`~stacksync_swift.storage.ChunkStore.store_stream` (content-defined
chunks, each stored once per workspace), bounded by the owner's quota
before and while reading. Downloads stream the chunks in order and honour
a single-range ``Range`` header. Every chunk is checked before its first
byte is sent (:mod:`stacksync_swift.storage`), and the first one is
fetched before the response starts, so a missing or damaged first chunk is
a JSON error (``409``), never a ``200`` cut short. A later chunk that
fails ends the response early: its headers are out, so the connection is
closed (the client sees fewer bytes than ``Content-Length``), the failure
is logged with the transaction id, and no traceback reaches the client.
Uploads count against the workspace owner's quota, chunks not yet
committed included (:meth:`~stacksync_swift.metadata.service.
MetadataService.upload_allowance`).
"""

import mimetypes

from swift.common import swob

from stacksync_swift import storage
from stacksync_swift.metadata import models
from stacksync_swift.metadata import service
from stacksync_swift.middleware import errors

# Content types clients send by default for any body: not the file's type.
GENERIC_TYPES = ('', 'application/x-www-form-urlencoded')
OCTET_STREAM = 'application/octet-stream'


class RangeNotSatisfiable(errors.APIError):
    """The requested range is outside the file."""
    status_int = 416


class _LimitedInput:
    """``wsgi.input`` that refuses to deliver more than ``limit`` bytes."""

    def __init__(self, reader, limit):
        self._read = reader.read
        self.limit = limit
        self.received = 0

    def read(self, size=-1):
        data = self._read(size)
        self.received += len(data)
        if self.received > self.limit:
            raise errors.RequestEntityTooLarge(
                'the data is larger than the %d bytes allowed (quota)'
                % self.limit)
        return data


def upload_limit(metadata, workspace, freed=0):
    """Bytes a new file (or version, freeing ``freed``) may have: what is
    left of the workspace owner's quota, whoever uploads."""
    allowance = metadata.upload_allowance(workspace['id'])
    if allowance is None:
        return service.MAX_SIZE
    return allowance + freed


def receive(controller, workspace, freed=0):
    """Store the request body as chunks of ``workspace``.

    :returns: :class:`~stacksync_swift.storage.StoredContent`
    """
    if workspace['encrypted']:
        raise errors.BadRequest(
            'workspace %d is encrypted: upload chunks and commit them'
            % workspace['id'])
    if workspace.get('role', models.OWNER) not in models.WRITER_ROLES:
        # Refused before a byte is stored (a viewer of a shared folder).
        raise errors.Forbidden('you may only read workspace %d'
                               % workspace['id'])
    req = controller.req
    limit = upload_limit(controller.api.metadata, workspace, freed)
    if req.content_length is not None and req.content_length > limit:
        raise errors.RequestEntityTooLarge(
            '%d bytes is more than the %d bytes allowed (quota)'
            % (req.content_length, limit))
    reader = _LimitedInput(req.environ['wsgi.input'], limit)
    stored = controller.api.storage.store_stream(
        req.environ, workspace['container'], reader, req.content_length)
    # Counted until the version that follows references them; if it never
    # comes (a conflict, a crash), they stay counted.
    controller.api.metadata.record_chunks(
        workspace['id'], [chunk for chunk, written in
                          zip(stored.chunks, stored.written) if written])
    return stored


def check_stored(controller, workspace, meta):
    """Refuse (409) data whose chunks are not all stored any more (Swift
    is asked about each one: no remembered answer)."""
    sizes = controller.api.storage.chunk_sizes(
        controller.req.environ, workspace['container'], meta['chunks'],
        fresh=True, fallback=workspace.get('copy_source'))
    if None in sizes:
        raise ChunksMissing(
            'version %d of item %d cannot be read: %d of its chunks are '
            'missing from storage' % (meta['version'], meta['id'],
                                      sizes.count(None)),
            code='chunks_missing')


def mimetype(req, name):
    """The Content-Type the client gave, or one guessed from ``name``."""
    given = (req.headers.get('Content-Type') or '').split(';')[0].strip()
    if given.lower() not in GENERIC_TYPES:
        return given[:service.MAX_TEXT]
    return mimetypes.guess_type(name)[0]


def send(controller, workspace, meta):
    """The response streaming the data of ``meta`` (a file or version)."""
    if meta['is_folder']:
        raise errors.NotFound('item %d is a folder: it has no data'
                              % meta['id'])
    req = controller.req
    size = meta['size']
    headers = {'Accept-Ranges': 'bytes',
               'X-StackSync-Version': str(meta['version']),
               'Content-Type': meta.get('mimetype') or OCTET_STREAM}
    if meta.get('content_hash'):
        headers['Etag'] = '"%s"' % meta['content_hash']
    ranges = req.range.ranges_for_length(size) if req.range else None
    if ranges == []:
        raise RangeNotSatisfiable(
            'the file has %d bytes' % size,
            headers={'Content-Range': 'bytes */%d' % size})
    if ranges and len(ranges) == 1:
        start, end = ranges[0]
        pieces = _range_pieces(controller, workspace, meta, start, end)
        headers['Content-Range'] = 'bytes %d-%d/%d' % (start, end - 1, size)
        return swob.Response(status=206, headers=headers,
                             app_iter=PrimedStream(pieces, req.environ,
                                                  controller.api.logger),
                             content_length=end - start)
    # No range, or several (which a server may answer with everything).
    pieces = controller.api.storage.iter_chunks(
        req.environ, workspace['container'], meta['chunks'],
        verify=not workspace['encrypted'],
        fallback=workspace.get('copy_source'))
    return swob.Response(status=200, headers=headers,
                         app_iter=PrimedStream(pieces, req.environ,
                                                  controller.api.logger),
                         content_length=size)


def _range_pieces(controller, workspace, meta, start, end):
    storage = controller.api.storage
    env = controller.req.environ
    fallback = workspace.get('copy_source')
    sizes = storage.chunk_sizes(env, workspace['container'], meta['chunks'],
                                fallback=fallback)
    if None in sizes:
        raise ChunksMissing(
            'a chunk of item %d is missing from storage' % meta['id'],
            code='chunks_missing')
    return storage.iter_content(
        env, workspace['container'], list(zip(meta['chunks'], sizes)),
        start, end, verify=not workspace['encrypted'], fallback=fallback)


class PrimedStream:
    """An app_iter whose first piece was fetched before the response.

    Building it raises the storage error of a missing or damaged first
    chunk as a JSON ``409``, so the client gets an error status instead of
    a ``200`` cut short. The WSGI server is told to send the headers with
    the first bytes (eventlet otherwise holds back up to 4 KiB, and an
    exception before anything went out would become a ``500`` carrying
    the traceback): a later failure is logged with the transaction id and
    ends the connection. Closing it closes the chunk reads still open.
    """

    def __init__(self, pieces, env, logger):
        self._pieces = pieces
        self._env = env
        self._logger = logger
        try:
            self._first = next(pieces, b'')
        except storage.StorageError as error:
            raise unreadable(error)
        env['eventlet.minimum_write_chunk_size'] = 0

    def __iter__(self):
        first, self._first = self._first, None
        if first:
            yield first
        try:
            yield from self._pieces
        except Exception as error:
            self._logger.error('response of %s %s cut short (%s): %s',
                               self._env.get('REQUEST_METHOD'),
                               self._env.get('PATH_INFO'),
                               self._env.get('swift.trans_id'), error)
            # The headers are out: only closing the connection tells the
            # client the body is incomplete, and raising is how a WSGI app
            # asks the server to do it.
            raise ResponseCutShort(str(error)) from None

    def close(self):
        self._pieces.close()


class ChunksMissing(errors.Conflict):
    """The data cannot be read: a chunk of it is not stored."""


class ResponseCutShort(Exception):
    """A response body failed after its headers were sent."""


def unreadable(error):
    """The API error for data a chunk of which cannot be read (a storage
    error that is not Swift failing)."""
    if isinstance(error, storage.CorruptChunk):
        return errors.Conflict(
            'the data cannot be read: a chunk of it was damaged in storage '
            'and has been removed; upload the file again',
            code='chunk_damaged')
    if error.status == 404:
        return ChunksMissing('the data cannot be read: a chunk of it is '
                             'missing from storage', code='chunks_missing')
    return error
