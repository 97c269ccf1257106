"""The account and its workspaces: ``getAccount`` and ``getWorkspaces``."""

from stacksync_swift.middleware.api import router


@router.route(r'/v1/account')
class Account(router.Controller):
    def GET(self):
        """The user, quota and usage, and workspaces."""
        return router.json_response(
            self.api.metadata.get_account(self.user_id))


@router.route(r'/v1/workspaces')
class Workspaces(router.Controller):
    def GET(self):
        """The workspaces the user belongs to, with role and cursor."""
        return router.json_response(
            self.api.metadata.get_workspaces(self.user_id))
