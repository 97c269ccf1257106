"""Files: create, read, rename or move, delete, data, versions, restore.

``POST /v1/file?name=N&parent=P`` and ``PUT /v1/file/{id}/data`` stream
the request body into chunks of the folder's workspace (see
:mod:`.transfer`) and then record it with one service call; the version is
committed only after every chunk is stored. ``If-Match: <version>`` makes
a write conditional (409 with the current metadata when stale); without
it the last writer wins.
"""

from stacksync_swift.metadata import names
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import base
from stacksync_swift.middleware.api import dialects
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api import transfer
from stacksync_swift.middleware.api.items import items_json
from stacksync_swift.middleware.api.items import parent_for_service

ID = r'(?P<item_id>\d+)'


class FileController(base.ItemController):
    """Shared lookups of the file resources."""

    def file(self):
        """The file's current metadata; folders are not files (404)."""
        meta = self.api.metadata.get_item(self.user_id, self.item_id())
        if meta['is_folder']:
            raise errors.NotFound('item %d is a folder; see /v1/folder/%d'
                                  % (meta['id'], meta['id']))
        return meta

    def live_file(self):
        meta = self.file()
        if meta['status'] == 'DELETED':
            raise errors.NotFound('file %d is deleted; restore a version'
                                  % meta['id'])
        return meta


@router.route(r'/v1/file')
class Files(FileController):
    def POST(self):
        """Create a file from the body in folder ``parent`` (0: root)."""
        name = names.normalize_name(self.query_text('name'))
        parent_id = self.query_int('parent', default=0)
        workspace = self.folder_workspace(parent_id)
        stored = transfer.receive(self, workspace)
        meta = self.api.metadata.create_file(
            self.user_id, workspace['id'], parent_for_service(parent_id),
            name, stored.size, stored.sha256, stored.names,
            mimetype=transfer.mimetype(self.req, name),
            device_id=self.device_id(), chunk_sizes=dict(stored.chunks),
            packed=stored.packed)
        return self.item_response(meta, status=201)


@router.route(r'/v1/file/%s' % ID)
class File(FileController):
    def GET(self):
        """The file's current metadata (deleted files too)."""
        return self.item_response(self.file())

    def PUT(self):
        """Rename (``name``) and/or move (``parent``) the file."""
        self.live_file()
        return self.rename_or_move()

    def DELETE(self):
        """Delete the file (a new version with status DELETED)."""
        self.live_file()
        meta = self.api.metadata.delete_item(
            self.user_id, self.item_id(), base_version=self.base_version(),
            device_id=self.device_id())
        return self.item_response(meta)


@router.route(r'/v1/file/%s/data' % ID)
class FileData(FileController):
    def GET(self):
        """Download the current data; ``Range`` gives part of it."""
        meta = self.live_file()
        return transfer.send(self, self.workspace_of(meta), meta)

    def PUT(self):
        """Upload a new version of the data (``If-Match``: conditional)."""
        meta = self.live_file()
        base_version = self.check_base_version(meta)
        stored = transfer.receive(self, self.workspace_of(meta),
                                  freed=meta['size'])
        updated = self.api.metadata.update_file_data(
            self.user_id, meta['id'], stored.size, stored.sha256,
            stored.names, mimetype=transfer.mimetype(
                self.req, meta['filename']),
            base_version=base_version, device_id=self.device_id(),
            chunk_sizes=dict(stored.chunks), packed=stored.packed)
        return self.item_response(updated)


@router.route(r'/v1/file/%s/versions' % ID)
class FileVersions(FileController):
    def GET(self):
        """Every version of the file, oldest first (v2: the file with
        ``versions``, newest first)."""
        history = self.api.metadata.get_versions(self.user_id,
                                                 self.item_id())
        if not self.v2:
            return router.json_response(items_json(history))
        current = self.file()
        return router.json_response(dialects.versions(
            current, history, self.v2_parent(current)))


@router.route(r'/v1/file/%s/version/(?P<version>\d+)' % ID)
class FileVersion(FileController):
    def GET(self):
        """One version's metadata."""
        return self.item_response(self.version())

    def version(self):
        return self.api.metadata.get_version(
            self.user_id, self.item_id(),
            self.path_int('version') or _no_version_zero())


@router.route(r'/v1/file/%s/version/(?P<version>\d+)/data' % ID)
class FileVersionData(FileVersion):
    def GET(self):
        """Download one version's data (``Range`` supported); ``409``
        when its chunks are no longer all stored."""
        meta = self.version()
        workspace = self.workspace_of(meta)
        if not meta['is_folder']:
            transfer.check_stored(self, workspace, meta)
        return transfer.send(self, workspace, meta)


@router.route(r'/v1/file/%s/restore' % ID)
class FileRestore(FileController):
    def POST(self):
        """Make ``version`` (query or JSON body) the newest version;
        ``409`` when its chunks are no longer all stored (the restore
        would make a version nobody can read)."""
        version = self.requested_version()
        old = self.api.metadata.get_version(self.user_id, self.item_id(),
                                            version)
        if not old['is_folder']:
            transfer.check_stored(self, self.workspace_of(old), old)
        meta = self.api.metadata.restore_version(
            self.user_id, self.item_id(), version,
            device_id=self.device_id())
        return self.item_response(meta)

    def requested_version(self):
        if 'version' in self.params:
            return self.query_int('version', minimum=1)
        body = self.json_object()
        if 'version' not in body:
            raise errors.BadRequest('name the version to restore')
        return router.parse_int(body['version'], 'version', minimum=1)


def _no_version_zero():
    raise errors.NotFound('versions are numbered from 1')
