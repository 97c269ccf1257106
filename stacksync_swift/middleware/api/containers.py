"""Workspace containers: found once, created with their ACLs on first use.

Every user's private workspace is a container in the installation account
whose ``X-Container-Read`` and ``X-Container-Write`` name exactly that user
(:func:`~stacksync_swift.middleware.auth.acl_principal`). The API makes sure
it exists on the user's first request to this proxy process: one PUT with
the ACLs (idempotent: it also repairs them), then the container is
remembered, so later requests cost nothing. Shared workspaces get their
containers and member ACLs from the sharing API when they are created.
"""

import collections

from stacksync_swift import storage
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.middleware.auth import acl_principal

# Users whose private workspace this process remembers.
REMEMBERED = 100000


class WorkspaceContainers:
    def __init__(self, metadata, store, logger, limit=REMEMBERED):
        self.metadata = metadata
        self.storage = store
        self.logger = logger
        self.limit = limit
        # user id -> the private workspace's unchanging fields
        self._private = collections.OrderedDict()
        # user id -> (name, created_at) of the user those fields are of:
        # SQLite hands a deleted user's id to the next user made.
        self._owners = {}
        self._existing = set()

    def private_workspace(self, user_id):
        """``{"id", "container", "encrypted"}`` of the user's own workspace.
        """
        found = self._private.get(user_id)
        if found is None:
            found = self._find_private(user_id)
            self._private[user_id] = found
            while len(self._private) > self.limit:
                self._private.popitem(last=False)
        return found

    def _find_private(self, user_id):
        for workspace in self.metadata.get_workspaces(user_id):
            if workspace['owner'] == user_id and not workspace['is_shared']:
                return {key: workspace[key]
                        for key in ('id', 'container', 'encrypted')}
        raise metadata_errors.NotFound('user %d has no private workspace'
                                       % user_id)

    def ensure_private(self, env, user):
        """Create the user's private container (with ACLs) if not known.

        Every signed request calls this first, so it is also where a
        remembered workspace of a deleted user that had the same id is
        forgotten.
        """
        owner = (user.get('name'), user.get('created_at'))
        if self._owners.get(user['id'], owner) != owner:
            self._private.pop(user['id'], None)
        if len(self._owners) >= self.limit:
            self._owners.clear()
        self._owners[user['id']] = owner
        container = self.private_workspace(user['id'])['container']
        if container in self._existing:
            return
        principal = acl_principal(user)
        try:
            self.storage.create_container(env, container, principal,
                                          principal)
        except storage.StorageError as error:
            # Not fatal here: reads of metadata still work, uploads fail
            # with Swift's error, and the next request tries again.
            self.logger.error('cannot create container %s: %s',
                              container, error)
            return
        if len(self._existing) >= self.limit:
            self._existing.clear()
        self._existing.add(container)
