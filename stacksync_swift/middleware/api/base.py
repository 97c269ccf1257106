"""What the file and folder controllers share: lookups and moves."""

from stacksync_swift.metadata import names
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api.items import item_json
from stacksync_swift.middleware.api.items import parent_for_service


class ItemController(router.Controller):
    """A controller of ``/v1/file/{item_id}`` or ``/v1/folder/{item_id}``.
    """

    def item_id(self):
        return self.path_int('item_id')

    def workspace_of(self, meta):
        return self.api.metadata.get_workspace(self.user_id,
                                               meta['workspace_id'])

    def folder_workspace(self, parent_id):
        """The workspace of the live folder ``parent_id`` (0: my root)."""
        if not parent_id:
            return self.api.containers.private_workspace(self.user_id)
        folder = self.api.metadata.get_item(self.user_id, parent_id)
        if not folder['is_folder'] or folder['status'] == 'DELETED':
            raise errors.BadRequest('item %d is not a live folder'
                                    % parent_id)
        # A shared folder's contents are the root of its own workspace.
        return self.api.metadata.get_workspace(
            self.user_id, folder.get('mount_workspace_id',
                                     folder['workspace_id']))

    def check_base_version(self, meta):
        """A stale ``If-Match`` fails before any data is read."""
        base_version = self.base_version()
        if base_version is not None and base_version != meta['version']:
            raise errors.Conflict(
                'item %d is at version %d, not %d'
                % (meta['id'], meta['version'], base_version),
                item=item_json(meta))
        return base_version

    def rename_or_move(self):
        """Apply ``name`` and/or ``parent`` (JSON body or query)."""
        changes = dict(self.json_object())
        for key in ('name', 'parent'):
            if key in self.req.params:
                changes[key] = self.req.params[key]
        if 'name' not in changes and 'parent' not in changes:
            raise errors.BadRequest('give a new name and/or parent')
        name = changes.get('name')
        if name is not None:
            name = names.normalize_name(name)
        metadata = self.api.metadata
        common = dict(base_version=self.base_version(),
                      device_id=self.device_id())
        if 'parent' in changes:
            parent_id = router.parse_int(changes['parent'], 'parent')
            meta = metadata.move_item(
                self.user_id, self.item_id(), parent_for_service(parent_id),
                name=name, **common)
        else:
            meta = metadata.rename_item(self.user_id, self.item_id(), name,
                                        **common)
        return router.json_response(item_json(meta))
