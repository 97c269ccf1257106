"""What the file and folder controllers share: lookups, moves, answers.

:meth:`ItemController.item_response` renders an item in the request's
dialect (v1, or v2 through :mod:`.dialects`).
"""

from stacksync_swift.metadata import names
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import dialects
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
        if self.v2:
            # v2 apps send null for what stays as it is.
            changes = {key: value for key, value in changes.items()
                       if value is not None}
        for key in ('name', 'parent'):
            if key in self.params:
                changes[key] = self.params[key]
        if changes.get('name') is None and 'parent' not in changes:
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
        return self.item_response(meta)

    def item_response(self, meta, status=200):
        """The item as JSON in the request's dialect.

        In v2 a creation (201) also names the new item in ``Location``.
        """
        if not self.v2:
            return router.json_response(item_json(meta), status=status)
        headers = None
        if status == 201:
            headers = {'Location': '%s%s/v1/%s/%d' % (
                self.req.host_url, self.req.script_name,
                'folder' if meta['is_folder'] else 'file', meta['id'])}
        return router.json_response(
            dialects.item(meta, self.v2_parent(meta)), status=status,
            headers=headers)

    def v2_parent(self, meta):
        """The item's ``parent_id`` in v2: None for the user's root.

        At the root of a shared workspace, the parent is the user's own
        folder for that workspace (the owner's shared folder or a
        member's mount).
        """
        if meta.get('parent_id') is not None or meta.get('id') is None:
            return meta.get('parent_id')
        private = self.api.containers.private_workspace(self.user_id)
        if meta['workspace_id'] == private['id']:
            return None
        return self.api.metadata.mount_of(self.user_id,
                                          meta['workspace_id'])
