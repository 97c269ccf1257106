"""
=====================================
Raw Swift writes to workspace storage
=====================================

Workspace containers live in the installation account
(``storage_account``), and their ACLs list the workspace's members, so
members reach them with plain Swift requests too: signed with OAuth, or
with their Keystone token in Keystone mode. Reading that way is fine
(viewers read raw, as the original StackSync client did). Writing is not:
a member who could overwrite or delete a chunk would corrupt everyone's
files, and one who could store a DLO/SLO manifest or a symlink would plant
a pointer into any container whose name they have seen.

So ``stacksync_api`` stands in front of every raw write to the
installation account (any request without the API header, except our
own pre-authorized subrequests, tagged ``swift.source`` ``SS`` in the WSGI
environment, where no client can put it) and lets through only
what the original client did: the upload of a **new chunk**.

* ``PUT /v1/<storage_account>/<workspace container>/chk-<64 hex>``, with a
  body of at most one chunk (:data:`~stacksync_swift.chunking.MAX_SIZE`);
  in a plain workspace the body must hash to the name;
* no manifest, symlink, copy, expiry or versioning headers, and no query
  parameter but OAuth's;
* it is made write-once (``If-None-Match: *``, so an existing chunk
  answers ``412``), stored as ``application/octet-stream``, and counted
  against the workspace owner's quota before it is stored
  (:meth:`~stacksync_swift.metadata.service.MetadataService.reserve_chunk`;
  ``413`` when there is no room);
* Swift's own authorization still decides, after this check: the
  container ACL must name the user as a writer.

Everything else that would write to a workspace container -- object
``POST``, ``DELETE`` and ``COPY`` (and ``COPY`` from anywhere *into*
one), other object names, writes to the container itself -- and every
``bulk`` upload or delete in the installation account is answered ``403``
with a JSON error, whoever sends it, the account's own admin included:
the filters change workspace containers only through pre-authorized
subrequests, which do not pass here. An operator who must repair a
workspace container by hand does so through a proxy without the
StackSync filters. Containers of the installation account that are not
workspaces (an all-in-one admin's own ``swift upload``) are left to
Swift's usual rules.
"""

import io
from urllib.parse import parse_qsl

from swift.common import swob
from swift.common.utils import get_logger
from swift.common.utils import split_path
from swift.common.utils import unquote

from stacksync_swift import chunking
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.middleware import common
from stacksync_swift.middleware import errors

WRITE_METHODS = frozenset(('PUT', 'POST', 'DELETE', 'COPY'))
# Swift's bulk middleware (further down the pipeline) writes each path of
# an archive or a delete list with subrequests that never pass here.
BULK_QUERY = frozenset(('extract-archive', 'bulk-delete'))
# Headers that would make a stored object something other than plain bytes
# kept forever: a manifest or a symlink (served as its target), a server-side
# copy (of an object the guard never saw), an expiry (a chunk deleted
# later), or versioning.
REFUSED_HEADERS = (
    'X-Object-Manifest', 'X-Static-Large-Object', 'X-Symlink-Target',
    'X-Symlink-Target-Account', 'X-Symlink-Target-Etag', 'X-Copy-From',
    'X-Copy-From-Account', 'X-Delete-At', 'X-Delete-After',
    'X-Versions-Location', 'X-History-Location', 'Destination')
OCTET_STREAM = 'application/octet-stream'


class RawWriteGuard:
    """Lets only new, verified chunks be written raw into workspaces.

    :param app: the rest of the pipeline (Swift's auth filter decides
        after us whether the user may write the container)
    :param account: the installation account
    :param metadata: the metadata service (workspace lookup, quota)
    """

    def __init__(self, app, account, metadata, logger=None):
        self.app = app
        self.account = account
        self.metadata = metadata
        self.logger = logger or get_logger({}, log_route='stacksync_guard')

    def target(self, env):
        """``(container, object)`` a raw write would change in the
        installation account (either may be None), or None when it
        changes nothing there (so it is not ours to check)."""
        method = env.get('REQUEST_METHOD')
        if method not in WRITE_METHODS or \
                env.get('swift.source') == common.SWIFT_SOURCE:
            # Our own pre-authorized subrequests pass here only when a tool
            # sends them through the whole pipeline (the ACL reconciler).
            return None
        try:
            _version, account, container, obj = split_path(
                env.get('PATH_INFO', ''), 2, 4, True)
        except ValueError:
            return None
        if method == 'COPY':
            # Swift's copy middleware, further down, turns it into a PUT
            # of the Destination, which never passes here.
            account = env.get('HTTP_DESTINATION_ACCOUNT') or account
            container, _, obj = unquote(
                env.get('HTTP_DESTINATION', '')).lstrip('/').partition('/')
        if account != self.account:
            return None
        return container or None, obj or None

    def __call__(self, env, start_response, target):
        try:
            return self._check_and_forward(env, start_response, *target)
        except errors.APIError as err:
            return err(env, start_response)
        except metadata_errors.MetadataError as err:
            return errors.from_metadata(err)(env, start_response)
        except Exception:
            self.logger.exception('unhandled error checking a raw write')
            return errors.ServiceUnavailable(
                'internal error; see the proxy log')(env, start_response)

    def _check_and_forward(self, env, start_response, container, obj):
        req = swob.Request(env)
        if BULK_QUERY & {name for name, _ in parse_qsl(
                req.query_string or '', keep_blank_values=True)}:
            raise errors.Forbidden('bulk operations are refused in the '
                                   'StackSync storage account')
        workspace = self.metadata.workspace_by_container(container) \
            if container else None
        if workspace is None:
            return self.app(env, start_response)
        if req.method != 'PUT' or not obj:
            raise errors.Forbidden(
                'workspace storage is written through the StackSync API; '
                'raw Swift may only upload new chunks (PUT of chk-<sha256>)')
        if not chunking.is_chunk_name(obj):
            raise errors.Forbidden('only chunks (chk-<64 hex>) may be '
                                   'stored in a workspace container')
        self._check_request_shape(req)
        data = read_chunk_body(req)
        if not data:
            raise errors.BadRequest('a chunk is never empty')
        if not workspace['encrypted'] and chunking.chunk_name(data) != obj:
            raise errors.BadRequest('the body does not hash to %s' % obj)
        reserved = self.metadata.reserve_chunk(workspace['id'], obj,
                                               len(data))
        env['wsgi.input'] = io.BytesIO(data)
        env.pop('HTTP_TRANSFER_ENCODING', None)
        env['CONTENT_LENGTH'] = str(len(data))
        env['CONTENT_TYPE'] = OCTET_STREAM
        env['HTTP_IF_NONE_MATCH'] = '*'
        status = []

        def noting_start_response(status_line, headers, exc_info=None):
            status.append(int(status_line.split(' ', 1)[0]))
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(env, noting_start_response)
        except Exception:
            self._release(reserved, workspace, obj)
            raise
        # Swift's proxy calls start_response before it returns.
        if reserved and status and status[0] != 201:
            self._release(reserved, workspace, obj)
        return body

    def _release(self, reserved, workspace, obj):
        if reserved:
            try:
                self.metadata.release_chunk(workspace['id'], obj)
            except Exception:
                self.logger.exception('could not release the quota '
                                      'reservation of %s', obj)

    @staticmethod
    def _check_request_shape(req):
        for name in REFUSED_HEADERS:
            if name in req.headers:
                raise errors.Forbidden('%s is not allowed on a chunk' % name)
        for name, _value in parse_qsl(req.query_string or '',
                                      keep_blank_values=True):
            if not name.startswith('oauth_'):
                raise errors.Forbidden('query parameter %r is not allowed '
                                       'on a chunk upload' % name)


def read_chunk_body(req):
    """The request body, refused (413) past one chunk's
    :data:`~stacksync_swift.chunking.MAX_SIZE` or (400) when it ends before
    its ``Content-Length``; a chunk PUT through the API reads it so too."""
    try:
        length = req.content_length
    except ValueError:
        raise errors.BadRequest('invalid Content-Length')
    if length is not None and length > chunking.MAX_SIZE:
        raise errors.RequestEntityTooLarge(
            'a chunk has at most %d bytes' % chunking.MAX_SIZE)
    data = req.environ['wsgi.input'].read(
        chunking.MAX_SIZE + 1 if length is None else length)
    if len(data) > chunking.MAX_SIZE:
        raise errors.RequestEntityTooLarge(
            'a chunk has at most %d bytes' % chunking.MAX_SIZE)
    if length is not None and len(data) != length:
        raise errors.BadRequest('the body ended early')
    return data
