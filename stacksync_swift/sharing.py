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
   alone in its ACLs and one metadata transaction moves the subtree into
   the new workspace at once, recording the owner's container as the new
   workspace's ``copy_source``. The answer does not wait for the folder's
   history: after it, a green thread copies every chunk of every version
   into the new container's packs (:meth:`ChunkStore.copy_chunks`, pack by
   pack; the bytes stay inside the proxy), then clears ``copy_source``
   (:meth:`Sharing.copy_history`). Meanwhile the share is usable: reads
   of a chunk the new container lacks fall back to ``copy_source``, and
   new files are uploaded into the new container as usual. Garbage
   collection keeps the source's chunks while a copy is pending, and
   resumes copies a stopped proxy left unfinished (so does
   ``sharing-reconcile``). Later accepts only add the member.
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

import eventlet
from swift.common.utils import get_logger

from stacksync_swift.metadata import models
from stacksync_swift.metadata import shares
from stacksync_swift.middleware.auth import acl_principal
from stacksync_swift.storage import StorageError

# Chunk names per copy round of a shared folder's history: each round's
# packs are recorded before the next begins, so a copy cut short resumes
# where it stopped.
COPY_BATCH = 1000
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
        # How work after a request is started: a green thread in a proxy.
        self.spawn = eventlet.spawn_n

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
        try:
            result = self.metadata.accept_proposal(user['id'], proposal_id)
        except shares.ChunksNotCopied as missing:
            # The first accept: the new workspace needs its container.
            container = self._new_container(env, missing)
            result = self.metadata.accept_proposal(
                user['id'], proposal_id, container, copy_later=True)
        unused = result.pop('unused_container')
        if unused:
            self._remove_container(env, unused)
        workspace = result['workspace']
        if workspace.get('copy_source'):
            self.start_copy(env, workspace['id'])
        result['acl_synced'] = self.after_membership_change(
            env, workspace['id'])
        return result

    def _new_container(self, env, missing):
        container = CONTAINER_PREFIX + uuid.uuid4().hex
        owner = acl_principal(missing.owner)
        self.storage.create_container(env, container, owner, owner)
        return container

    # -- copies of shared folders' histories -------------------------------

    def start_copy(self, env, workspace_id):
        """Copy a new shared workspace's history after the request ends.

        The green thread gets an environment of its own (the request's is
        finished with when the answer is sent) with the request's cache,
        so its subrequests share the proxy's container info.
        """
        own_env = {'swift.cache': env.get('swift.cache'),
                   'swift.trans_id': env.get('swift.trans_id', '')}
        self.spawn(self._copy_logging_failure, own_env, workspace_id)

    def _copy_logging_failure(self, env, workspace_id):
        try:
            self.copy_history(env, workspace_id)
        except Exception:
            # Reads still fall back to the source; gc or sharing-reconcile
            # resumes the copy.
            self.logger.exception('copying the history of workspace %d '
                                  'failed; it will be resumed',
                                  workspace_id)

    def copy_history(self, env, workspace_id):
        """Copy every chunk the workspace's versions reference from its
        ``copy_source``, pack by pack, then clear ``copy_source``.

        Safe to run again or concurrently (chunks already there are
        skipped). Versions committed during the copy reference chunks
        their commit found in the workspace's own container, and a restore
        reuses chunks of the moved history, so the one list taken here is
        complete.

        :returns: the number of chunks copied now
        """
        copied = 0
        for pending in self.metadata.pending_copies():
            if pending['id'] != workspace_id:
                continue
            wanted = self.metadata.copy_wanted(workspace_id)
            for start in range(0, len(wanted), COPY_BATCH):
                # Asked the way an upload asks: a chunk a member stored in
                # the new container by raw Swift counts as there.
                missing = self.storage.missing_chunks(
                    env, pending['container'],
                    wanted[start:start + COPY_BATCH])
                if missing:
                    copied += self.storage.copy_chunks(
                        env, pending['copy_source'], pending['container'],
                        missing)
            self.metadata.finish_copy(workspace_id, pending['copy_source'])
            self.logger.info('copied %d chunks of workspace %d from %s',
                             copied, workspace_id, pending['copy_source'])
        return copied

    def resume_copies(self, env, containers=None):
        """Finish every pending copy (or those into ``containers``);
        ``{workspace id: chunks copied}``."""
        return {pending['id']: self.copy_history(env, pending['id'])
                for pending in self.metadata.pending_copies()
                if containers is None or pending['container'] in containers}

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
    report = sharing.reconcile_acls({}, full=full)
    report['copied'] = sharing.resume_copies({})
    return report
