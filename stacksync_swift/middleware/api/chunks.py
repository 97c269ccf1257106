"""Chunk transfer for sync clients: ``/v1/workspace/{wid}/chunk/{name}``.

``HEAD`` says whether a chunk is stored, ``GET`` streams it (checked
against its name in a plain workspace), ``PUT`` stores it write-once. In a
plain workspace the body's SHA-256 must match the name (``chk-<sha256>``);
an encrypted workspace's names are HMACs the server cannot check, so only
the size (at most :data:`~stacksync_swift.chunking.MAX_SIZE`) and
write-once apply. Viewers read; owners and editors write.
"""

from swift.common import swob

from stacksync_swift import chunking
from stacksync_swift import storage
from stacksync_swift.metadata import models
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api import transfer
from stacksync_swift.middleware.api import workspaces


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
            stream = transfer.PrimedStream(pieces)
        except storage.StorageError as error:
            if error.status == 404:
                raise errors.NotFound('no chunk %s' % name)
            raise
        return swob.Response(status=200, app_iter=stream,
                             content_type=transfer.OCTET_STREAM)

    def PUT(self):
        """Store the chunk: 201 when new, 200 when it was already there."""
        name = self.chunk_name()
        workspace = self.workspace()
        if workspace['role'] not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace['id'])
        data = self.body()
        if not workspace['encrypted'] and chunking.chunk_name(data) != name:
            raise errors.BadRequest('the body does not hash to %s' % name)
        written = self.api.storage.put_chunk(
            self.req.environ, workspace['container'], name, data,
            verify=False)
        return router.json_response(
            {'name': name, 'size': len(data), 'created': written},
            status=201 if written else 200)

    def body(self):
        length = self.req.content_length
        if length is not None and length > chunking.MAX_SIZE:
            raise errors.RequestEntityTooLarge(
                'a chunk has at most %d bytes' % chunking.MAX_SIZE)
        data = self.req.environ['wsgi.input'].read(
            chunking.MAX_SIZE + 1 if length is None else length)
        if len(data) > chunking.MAX_SIZE:
            raise errors.RequestEntityTooLarge(
                'a chunk has at most %d bytes' % chunking.MAX_SIZE)
        if length is not None and len(data) != length:
            raise errors.BadRequest('the body ended early')
        return data
