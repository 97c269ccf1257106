"""
=======
Sharing
=======

Proposals, membership, container ACLs and their repair: the operations that
need both the metadata service and Swift. The API's sharing controllers make
one call here per request; the rules of proposals, shared workspaces and
mount points live in :mod:`stacksync_swift.metadata.shares`.

Sharing a folder, step by step:

1. ``share``: the owner proposes the folder to users by name, as
   ``editor`` (read and write) or ``viewer`` (read only). Each addressee
   gets a ``share_proposal`` event on ``user.<id>`` and finds it in
   ``proposals``.
2. ``accept`` (the first one): a new container is created with the owner
   alone in its ACLs, every chunk of every version of the folder's subtree
   is copied into it server side (:meth:`ChunkStore.copy_chunks`: the bytes
   stay inside the proxy), and only then does one metadata transaction move
   the subtree into the new workspace. Chunks written into the folder
   meanwhile are reported missing by that transaction, copied, and the
   transaction retried, so the shared workspace never references a chunk
   its container lacks. Later accepts only add the member.
3. After every membership change (accept, unshare, leave) the container's
   ACLs are rewritten from the membership: owner and editors in
   ``X-Container-Write`` and ``X-Container-Read``, viewers in
   ``X-Container-Read`` only, each as
   :func:`~stacksync_swift.middleware.auth.acl_principal` spells them.
   ``stacksync_auth`` evaluates those ACLs for signed raw Swift requests,
   so raw access follows the membership.

ACL state and repair
--------------------

Each shared workspace counts its membership changes in ``acl_version``,
bumped in the membership change's own transaction, and records in
``acl_synced`` the version whose ACLs Swift last accepted. After a change
:meth:`Sharing.sync_acls` writes the ACLs and marks the version synced
only if the membership did not change meanwhile (otherwise it writes
again), so a slow writer can never leave older ACLs marked as current.
If Swift is unreachable, the change still stands (API access follows the
database at once) and the workspace stays unsynced until
:meth:`Sharing.reconcile_acls` repairs it. The reconciler runs:

* after every membership change, for every workspace still owing an
  update (a cheap query, usually empty);
* on demand, ``stacksync-swift sharing-reconcile`` (a full pass: it also
  reads every shared container's ACLs and rewrites any that drifted, for
  instance changed by hand, and recreates a missing container).

Revocation is immediate through the API. Through raw Swift it is as
immediate as the ACL update: the proxy that sends the POST clears the
container's cached info, in memcached too, so every proxy sharing that
memcached sees the new ACLs at once. A proxy with a cache of its own (the
all-in-one's in-process one) sees an update made by another process (the
command) after ``recheck_container_existence`` seconds (default 60).

Running the reconciler outside a proxy: :func:`reconcile_from_proxy_config`
loads the proxy pipeline from ``proxy-server.conf`` and sends its
subrequests through it, as ``stacksync-swift sharing-reconcile`` does.
"""

import uuid

from swift.common.utils import get_logger

from stacksync_swift.metadata import models
from stacksync_swift.metadata import shares
from stacksync_swift.middleware.auth import acl_principal
from stacksync_swift.storage import StorageError

# Copy-then-commit rounds before an accept gives up (each round copies
# what was written into the folder during the previous one).
COPY_ROUNDS = 5
# Attempts to write ACLs that stay current while membership changes.
ACL_ROUNDS = 3
CONTAINER_PREFIX = 'ws-'


def expected_acls(members):
    """``(read, write)`` ACL strings for an :meth:`acl_state` member list.

    Everyone reads; the owner and editors write. Principals keep the
    member list's order (owner first), without duplicates.
    """
    readers = [acl_principal(person['user']) for person in members]
    writers = [acl_principal(person['user']) for person in members
               if person['role'] in models.WRITER_ROLES]
    return (','.join(dict.fromkeys(readers)),
            ','.join(dict.fromkeys(writers)))


def same_acls(actual, expected):
    """Compare ACL strings as sets of principals."""
    def principals(acl):
        return {part.strip() for part in acl.split(',') if part.strip()}
    return all(principals(have) == principals(want)
               for have, want in zip(actual, expected))


class Sharing:
    """Sharing operations over a metadata service and a chunk store.

    Every method takes ``env``, the WSGI environment of the request being
    served (the store's subrequests inherit it), and ``user``, the acting
    user's dict. Errors of the metadata service propagate as they are;
    a failed Swift update of ACLs is logged and left to the reconciler,
    while a failure while creating or filling a new workspace's container
    raises :class:`~stacksync_swift.storage.StorageError` and changes no
    metadata.
    """

    def __init__(self, metadata, storage, logger=None):
        self.metadata = metadata
        self.storage = storage
        self.logger = logger or get_logger({}, log_route='stacksync_sharing')

    # -- proposals ---------------------------------------------------------

    def share(self, env, user, folder_id, addressees, role):
        """Propose ``folder_id`` to ``addressees`` (user names)."""
        return self.metadata.propose_share(user['id'], folder_id,
                                           addressees, role)

    def proposals(self, env, user):
        return self.metadata.list_proposals(user['id'])

    def decline(self, env, user, proposal_id):
        return self.metadata.decline_proposal(user['id'], proposal_id)

    def accept(self, env, user, proposal_id):
        """Accept; the first accept makes the shared workspace.

        Returns the metadata's answer (``proposal``, ``workspace``,
        ``mount``) with ``acl_synced``.
        """
        container, copied = None, set()
        for _round in range(COPY_ROUNDS):
            try:
                result = self.metadata.accept_proposal(
                    user['id'], proposal_id, container, copied)
                break
            except shares.ChunksNotCopied as missing:
                container = container or self._new_container(env, missing)
                self._copy(env, missing, container, copied)
        else:
            raise StorageError('the folder kept changing while it was '
                               'being shared; try again', 503)
        unused = result.pop('unused_container')
        if unused:
            self._remove_container(env, unused)
        result['acl_synced'] = self.after_membership_change(
            env, result['workspace']['id'])
        return result

    def _new_container(self, env, missing):
        container = CONTAINER_PREFIX + uuid.uuid4().hex
        owner = acl_principal(missing.owner)
        self.storage.create_container(env, container, owner, owner)
        return container

    def _copy(self, env, missing, container, copied):
        self.storage.copy_chunks(env, missing.source, container,
                                 missing.chunks)
        copied.update(missing.chunks)

    def _remove_container(self, env, container):
        try:
            self.storage.delete_container(env, container)
        except StorageError as error:
            self.logger.warning('could not remove unused container %s: '
                                '%s', container, error)

    # -- membership --------------------------------------------------------

    def unshare(self, env, user, folder_id, member_name):
        """The owner removes a member (or cancels a pending proposal)."""
        result = self.metadata.remove_member(user['id'], folder_id,
                                             member_name)
        return self._synced(env, result)

    def leave(self, env, user, folder_id):
        """A member leaves the shared folder they mounted."""
        result = self.metadata.remove_member(user['id'], folder_id)
        return self._synced(env, result)

    def members(self, env, user, folder_id):
        return self.metadata.share_members(user['id'], folder_id)

    def _synced(self, env, result):
        if result.get('workspace_id') is not None:
            result['acl_synced'] = self.after_membership_change(
                env, result['workspace_id'])
        return result

    # -- container ACLs ----------------------------------------------------

    def after_membership_change(self, env, workspace_id):
        """Write this workspace's ACLs, then repair any others owing.

        True when this workspace's ACLs are current in Swift.
        """
        synced = self.sync_acls(env, workspace_id)
        self.reconcile_acls(env, full=False)
        return synced

    def sync_acls(self, env, workspace_id):
        """Make the container's ACLs the membership's; True on success."""
        for _round in range(ACL_ROUNDS):
            state = self.metadata.acl_state(workspace_id)
            try:
                self._write_acls(env, state)
            except StorageError as error:
                self.logger.warning(
                    'ACLs of workspace %d (container %s) not updated, left '
                    'to the reconciler: %s', workspace_id,
                    state['container'], error)
                return False
            if self.metadata.mark_acls_synced(workspace_id,
                                              state['version']):
                return True
        return False

    def _write_acls(self, env, state):
        read, write = expected_acls(state['members'])
        try:
            self.storage.set_acls(env, state['container'], read, write)
        except StorageError as error:
            if error.status != 404:
                raise
            # The container is gone (or was never made): make it again.
            self.storage.create_container(env, state['container'], read,
                                          write)

    def reconcile_acls(self, env, full=True):
        """Repair shared containers whose ACLs differ from the membership.

        ``full=False`` looks only at workspaces whose last ACL update did
        not reach Swift; ``full=True`` also reads every shared container's
        ACLs and rewrites those that drifted. Returns ``{"checked": n,
        "repaired": [workspace ids], "failed": [workspace ids]}``.
        """
        report = {'checked': 0, 'repaired': [], 'failed': []}
        for workspace_id in self.metadata.acl_workspaces(
                pending_only=not full):
            report['checked'] += 1
            outcome = self._reconcile_one(env, workspace_id)
            if outcome is not None:
                report[outcome].append(workspace_id)
        return report

    def _reconcile_one(self, env, workspace_id):
        """'repaired', 'failed' or None (already right)."""
        state = self.metadata.acl_state(workspace_id)
        if state['synced'] == state['version'] and \
                self._acls_match(env, state):
            return None
        if self.sync_acls(env, workspace_id):
            self.logger.info('repaired the ACLs of workspace %d',
                             workspace_id)
            return 'repaired'
        return 'failed'

    def _acls_match(self, env, state):
        try:
            actual = self.storage.get_acls(env, state['container'])
        except StorageError:
            return False
        return same_acls(actual, expected_acls(state['members']))


def reconcile_from_proxy_config(conf_path, full=True, logger=None):
    """Run :meth:`Sharing.reconcile_acls` outside a proxy (the CLI).

    Loads the proxy pipeline from ``conf_path`` (the proxy server's
    config) and sends the store's pre-authorized subrequests through it.
    """
    from stacksync_swift import services

    found, store = services.store_from_proxy_config(conf_path, logger)
    sharing = Sharing(found.metadata, store, logger)
    return sharing.reconcile_acls({}, full=full)
