"""The account, its devices and workspaces: ``getAccount``,
``listDevices`` and ``getWorkspaces``.

``GET /v1/devices`` lists the devices the user's clients named in the
``X-StackSync-Device`` header (id and name): the ``device`` of an item or
version is one of these ids, so a client can say "you (on laptop)".

``POST /v1/workspaces`` with ``{"name": N, "encrypted": true}`` creates a
workspace of one's own besides the private one, with its container and
the owner's ACLs: the way to get a client-side encrypted workspace (the
flag is fixed at creation). A sync client syncs it into a folder of its
own; sharing it works like sharing any folder's workspace.
"""

from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.auth import acl_principal


@router.route(r'/v1/account')
class Account(router.Controller):
    def GET(self):
        """The user, quota and usage, and workspaces."""
        return router.json_response(
            self.api.metadata.get_account(self.user_id))


@router.route(r'/v1/devices')
class Devices(router.Controller):
    def GET(self):
        """The user's devices: id, name, first and last seen."""
        return router.json_response(
            self.api.metadata.list_devices(self.user_id))


@router.route(r'/v1/workspaces')
class Workspaces(router.Controller):
    def GET(self):
        """The workspaces the user belongs to, with role and cursor."""
        return router.json_response(
            self.api.metadata.get_workspaces(self.user_id))

    def POST(self):
        """Create a workspace (``encrypted``: client-side encrypted)."""
        body = self.json_object()
        encrypted = body.get('encrypted', False)
        if not isinstance(encrypted, bool):
            raise errors.BadRequest('encrypted must be true or false')
        workspace = self.api.metadata.create_workspace(
            self.user_id, body.get('name'), encrypted=encrypted)
        principal = acl_principal(self.user)
        self.api.storage.create_container(
            self.req.environ, workspace['container'], principal, principal)
        return router.json_response(workspace, status=201)
