"""File data in and out: request bodies to chunks, chunks to responses.

Uploads stream the request body through
:meth:`~stacksync_swift.storage.ChunkStore.store_stream` (content-defined
chunks, each stored once per workspace), bounded by the owner's quota
before and while reading. Downloads stream the chunks in order and honour
a single-range ``Range`` header; the first bytes are fetched before the
response starts, so a missing chunk is an error status, never a truncated
``200``.
"""

import mimetypes

from swift.common import swob

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


def upload_limit(user, workspace, freed=0):
    """Bytes a new file (or version, freeing ``freed``) may have."""
    if workspace.get('owner', user['id']) != user['id'] or \
            not user['quota_limit']:
        return service.MAX_SIZE
    return max(user['quota_limit'] - user['quota_used'] + freed, 0)


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
    limit = upload_limit(controller.user, workspace, freed)
    if req.content_length is not None and req.content_length > limit:
        raise errors.RequestEntityTooLarge(
            '%d bytes is more than the %d bytes allowed (quota)'
            % (req.content_length, limit))
    reader = _LimitedInput(req.environ['wsgi.input'], limit)
    return controller.api.storage.store_stream(
        req.environ, workspace['container'], reader, req.content_length)


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
                             app_iter=PrimedStream(pieces),
                             content_length=end - start)
    # No range, or several (which a server may answer with everything).
    pieces = controller.api.storage.iter_chunks(
        req.environ, workspace['container'], meta['chunks'],
        verify=not workspace['encrypted'])
    return swob.Response(status=200, headers=headers,
                         app_iter=PrimedStream(pieces), content_length=size)


def _range_pieces(controller, workspace, meta, start, end):
    storage = controller.api.storage
    env = controller.req.environ
    sizes = storage.chunk_sizes(env, workspace['container'], meta['chunks'])
    if None in sizes:
        raise errors.ServiceUnavailable(
            'a chunk of item %d is missing from storage' % meta['id'])
    return storage.iter_content(
        env, workspace['container'], list(zip(meta['chunks'], sizes)),
        start, end, verify=not workspace['encrypted'])


class PrimedStream:
    """An app_iter whose first piece was fetched before the response.

    Building it raises the storage error of a missing first chunk, so the
    client gets an error status instead of a ``200`` cut short. Closing it
    closes the chunk reads still open.
    """

    def __init__(self, pieces):
        self._pieces = pieces
        self._first = next(pieces, b'')

    def __iter__(self):
        first, self._first = self._first, None
        if first:
            yield first
        yield from self._pieces

    def close(self):
        self._pieces.close()
