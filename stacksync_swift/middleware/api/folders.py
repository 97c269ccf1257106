"""Folders: create, read, list, rename or move, delete.

Folder ``0`` is the root of the user's private workspace (``GET
/v1/folder/0/contents``); ``?workspace=W`` lists the root of another
workspace the user belongs to. Deleting a folder deletes its live subtree,
one new version per item. In API v2 the root renders as the spec shows
it (``is_root``) and listed items name the listed folder as their parent
(:mod:`.dialects`).
"""

from stacksync_swift.metadata import names
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import base
from stacksync_swift.middleware.api import dialects
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api.items import item_json
from stacksync_swift.middleware.api.items import parent_for_service

ID = r'(?P<item_id>\d+)'


class FolderController(base.ItemController):
    def folder(self):
        """The folder's metadata; files are not folders (404)."""
        meta = self.api.metadata.get_item(self.user_id, self.item_id())
        if not meta['is_folder']:
            raise errors.NotFound('item %d is a file; see /v1/file/%d'
                                  % (meta['id'], meta['id']))
        return meta

    def changeable_folder(self):
        if self.item_id() == 0:
            raise errors.Forbidden('the root folder cannot change')
        meta = self.folder()
        if meta['status'] == 'DELETED':
            raise errors.NotFound('folder %d is deleted' % meta['id'])
        return meta

    def listing(self):
        """The folder with its ``contents`` (one service call)."""
        workspace_id = None
        if self.item_id() == 0 and 'workspace' in self.params:
            workspace_id = self.query_int('workspace')
        elif self.item_id() != 0:
            self.folder()
        return self.api.metadata.list_folder(
            self.user_id, parent_for_service(self.item_id()), workspace_id,
            include_deleted=self.query_flag('include_deleted'))


@router.route(r'/v1/folder')
class Folders(FolderController):
    def POST(self):
        """Create folder ``name`` in folder ``parent`` (JSON or query)."""
        body = self.json_object()
        name = names.normalize_name(
            self.params.get('name', body.get('name')))
        parent_id = router.parse_int(
            self.params.get('parent', body.get('parent', 0)), 'parent')
        workspace = self.folder_workspace(parent_id)
        meta = self.api.metadata.create_folder(
            self.user_id, workspace['id'], parent_for_service(parent_id),
            name, device_id=self.device_id())
        return self.item_response(meta, status=201)


@router.route(r'/v1/folder/%s' % ID)
class Folder(FolderController):
    def GET(self):
        """The folder's metadata (folder 0: the root)."""
        if self.item_id() == 0:
            meta = self.listing()
            del meta['contents']
        else:
            meta = self.folder()
        return self.item_response(meta)

    def PUT(self):
        """Rename (``name``) and/or move (``parent``) the folder."""
        self.changeable_folder()
        return self.rename_or_move()

    def DELETE(self):
        """Delete the folder and everything in it."""
        self.changeable_folder()
        meta = self.api.metadata.delete_item(
            self.user_id, self.item_id(), base_version=self.base_version(),
            device_id=self.device_id())
        return self.item_response(meta)


@router.route(r'/v1/folder/%s/contents' % ID)
class FolderContents(FolderController):
    def GET(self):
        """The folder with its ``contents`` (``include_deleted``)."""
        meta = self.listing()
        if not self.v2:
            return router.json_response(item_json(meta))
        return router.json_response(dialects.listing(
            meta, self.item_id(), self.v2_parent(meta)))
