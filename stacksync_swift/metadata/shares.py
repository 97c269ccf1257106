"""Sharing in the metadata: proposals, shared workspaces and mount points.

The database side of :mod:`stacksync_swift.sharing`, as functions over an
open session that :class:`~.service.MetadataService` wraps in one
transaction each. Nothing here talks to Swift; the orchestration copies
chunks and writes container ACLs around these calls.

A folder's life when it is shared:

1. **Proposal.** The owner of folder F (in their private workspace)
   proposes it to users by name with a role, ``editor`` or ``viewer``
   (:func:`propose`): a ``share_proposals`` row per addressee and a
   ``share_proposal`` event on ``user.<addressee>``.
2. **First accept.** F's whole subtree, deleted items and history
   included, moves into a new shared workspace W owned by F's owner
   (:func:`accept`). The items keep their ids and versions; they take new
   sequence numbers in W (W's delta from 0 lists them, parents first) and
   F's children become W's root items. F itself stays where it was in the
   owner's tree and becomes a *mount point*: a ``mounts`` row maps F to W,
   and F gets a new version (``CHANGED``) in the owner's workspace, whose
   metadata now carries ``mount_workspace_id``. Before the move commits,
   every chunk of every version in the subtree must already be in W's
   container: otherwise :class:`ChunksNotCopied` names the missing ones,
   nothing changes, and the caller copies them and tries again.
3. **Every accept.** The addressee becomes a member of W with the
   proposed role, and a mount item (a folder named after F; if the name is
   taken, ``"<name> (<owner>)"``) appears in the root of their private
   workspace, a ``NEW`` entry in its delta. ``acl_version`` of W grows by
   one: its container's ACLs owe an update.
4. **Unshare / leave** (:func:`remove_member`). The membership row goes
   (API access ends with this commit), the member's mount items get a
   ``DELETED`` version, ``acl_version`` grows. The owner cannot leave; W
   stays a shared workspace even with the owner alone, and F stays a mount.

Mount semantics, for clients and the API:

* A mount item is a folder of one workspace whose contents are the root of
  another. Listing it (``list_folder``) lists W's root; its metadata has
  ``mount_workspace_id``. :func:`resolve_folder` turns any folder id into
  the ``(workspace, parent)`` where new children go.
* Each workspace keeps its own delta: a client follows its private
  workspace's changes, and for every live mount item it sees there, the
  changes of ``mount_workspace_id`` from cursor 0.
* A mount item holds no children in its own workspace: creating or
  moving an item into it is refused (write into W's root instead), and so
  is deleting it or a folder above it (unshare or leave instead). It may
  be renamed and moved within its tree.
* Sharing a folder inside a shared folder's workspace, or a folder that
  holds a mount point, is refused: workspaces do not nest. A workspace
  created whole (``POST /v1/workspaces``) is no shared folder: its owner
  may share its folders, which then hold mount points as a private
  workspace's do.
"""

from sqlalchemy import select

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from stacksync_swift.metadata import names
from stacksync_swift.metadata import service as svc
from stacksync_swift.metadata.models import DELETED
from stacksync_swift.metadata.models import Item
from stacksync_swift.metadata.models import ItemVersion
from stacksync_swift.metadata.models import Mount
from stacksync_swift.metadata.models import ShareProposal
from stacksync_swift.metadata.models import User
from stacksync_swift.metadata.models import VersionChunk
from stacksync_swift.metadata.models import Workspace
from stacksync_swift.metadata.models import WorkspaceMember

SHARE_ROLES = (models.EDITOR, models.VIEWER)
MAX_ADDRESSEES = 100
CANCELLED = 'cancelled'
_BATCH = 500


class ChunksNotCopied(errors.Unavailable):
    """The shared workspace's container lacks chunks of the folder.

    Raised by :func:`accept` before anything changes: copy ``chunks`` from
    ``source`` (the owner's container) into a container for the new
    workspace, then accept again naming it and the chunks copied. ``owner``
    is the owner's user dict, for the new container's first ACLs.
    """

    def __init__(self, source, chunks, owner):
        super().__init__('%d chunks still to copy' % len(chunks))
        self.source = source
        self.chunks = chunks
        self.owner = owner


# -- proposals ---------------------------------------------------------------

def propose(session, user_id, folder_id, addressees, role):
    """Offer folder ``folder_id`` to users named ``addressees``."""
    role = _role(role)
    addressees = _addressee_names(addressees)
    sender = svc._user(session, user_id)
    folder, shared = _shareable_folder(session, user_id, folder_id)
    members = set() if shared is None else set(session.scalars(
        select(WorkspaceMember.user_id).where(
            WorkspaceMember.workspace_id == shared.id)))
    users = [_addressee(session, name, sender, members)
             for name in addressees]
    return [_proposal_dict(session, _offer(session, folder, sender, user,
                                           role))
            for user in users]


def _offer(session, folder, sender, addressee, role):
    """The pending proposal to ``addressee`` (a new one, or updated)."""
    proposal = session.scalar(select(ShareProposal).where(
        ShareProposal.folder_id == folder.id,
        ShareProposal.addressee_id == addressee.id,
        ShareProposal.status == models.PENDING))
    if proposal is None:
        proposal = ShareProposal(folder_id=folder.id, sender_id=sender.id,
                                 addressee_id=addressee.id,
                                 status=models.PENDING)
        session.add(proposal)
    proposal.role = role
    session.flush()
    session.add(svc._user_event(addressee.id, 'share_proposal', {
        'proposal': proposal.id, 'folder': folder.name,
        'from': sender.name, 'role': role}))
    return proposal


def _addressee(session, name, sender, members):
    user = svc._user_named(session, name)
    if user is None:
        raise errors.NotFound('no user named %r' % name)
    if user.id == sender.id:
        raise errors.BadRequest('you cannot share a folder with yourself')
    if user.id in members:
        raise errors.Conflict('%s is already a member of this folder'
                              % name)
    return user


def list_proposals(session, user_id):
    """The pending proposals addressed to the user, oldest first."""
    svc._user(session, user_id)
    proposals = session.scalars(select(ShareProposal).where(
        ShareProposal.addressee_id == user_id,
        ShareProposal.status == models.PENDING).order_by(ShareProposal.id))
    return [_proposal_dict(session, proposal) for proposal in proposals]


def decline(session, user_id, proposal_id):
    proposal = _pending_proposal(session, user_id, proposal_id)
    proposal.status = models.DECLINED
    proposal.answered_at = models.utcnow()
    session.add(svc._user_event(proposal.sender_id, 'share_declined', {
        'proposal': proposal.id, 'by': user_id}))
    return _proposal_dict(session, proposal)


def _pending_proposal(session, user_id, proposal_id):
    """The proposal if ``user_id`` is its addressee and it is pending."""
    proposal_id = svc._id(proposal_id, 'proposal id')
    proposal = session.scalar(
        select(ShareProposal).where(ShareProposal.id == proposal_id)
        .with_for_update().execution_options(populate_existing=True))
    if proposal is None or user_id not in (proposal.addressee_id,
                                           proposal.sender_id):
        raise errors.NotFound('no proposal %d' % proposal_id)
    if proposal.addressee_id != user_id:
        raise errors.Forbidden('only the addressee answers proposal %d'
                               % proposal_id)
    if proposal.status != models.PENDING:
        raise errors.Conflict('proposal %d is already %s'
                              % (proposal.id, proposal.status))
    return proposal


# -- accepting ---------------------------------------------------------------

def accept(session, user_id, proposal_id, container=None, copied=(),
           copy_later=False):
    """Accept a proposal; see the module docstring, steps 2 and 3.

    ``container`` names the new workspace's container (already created)
    and ``copied`` the chunks already in it; both matter only on the first
    accept. With ``copy_later``, chunks not copied yet do not stop it: the
    new workspace records the owner's container as its ``copy_source``,
    which reads fall back to until the caller has copied them
    (:meth:`~.service.MetadataService.finish_copy`). Returns
    ``{"proposal", "workspace", "mount", "unused_container"}``: the last
    is ``container`` when another accept made the workspace first, so the
    caller can remove it.
    """
    proposal = _pending_proposal(session, user_id, proposal_id)
    folder = session.get(Item, proposal.folder_id)
    owner = svc._user(session, proposal.sender_id)
    owner_ws, member_ws = _lock_private_workspaces(
        session, folder.workspace_id, user_id)
    session.refresh(folder)
    if folder.status == DELETED:
        raise errors.NotFound('the folder of proposal %d is deleted'
                              % proposal.id)
    shared = _mounted_workspace(session, folder.id, lock=True)
    unused = container
    if shared is None:
        subtree = _subtree(session, owner_ws.id, folder.id)
        _check_still_shareable(session, folder, owner_ws, subtree)
        shared = _make_shared(session, owner, owner_ws, folder, subtree,
                              container, set(copied), copy_later)
        unused = None
    _join(session, shared, user_id, proposal.role)
    mount = _mount_in_root(session, member_ws, user_id, shared, folder.name,
                           owner.name)
    proposal.status = models.ACCEPTED
    proposal.answered_at = models.utcnow()
    session.add(svc._user_event(proposal.sender_id, 'share_accepted', {
        'proposal': proposal.id, 'by': user_id, 'workspace': shared.id}))
    return {'proposal': _proposal_dict(session, proposal),
            'workspace': svc._workspace_dict(shared, proposal.role),
            'mount': mount, 'unused_container': unused}


def _lock_private_workspaces(session, owner_ws_id, member_id):
    """Lock the owner's and the member's workspaces, in id order."""
    member_ws_id = svc._private_workspace(session, member_id).id
    rows = session.scalars(
        select(Workspace).where(Workspace.id.in_([owner_ws_id,
                                                  member_ws_id]))
        .order_by(Workspace.id).with_for_update()
        .execution_options(populate_existing=True)).all()
    by_id = {workspace.id: workspace for workspace in rows}
    return by_id[owner_ws_id], by_id[member_ws_id]


def _make_shared(session, owner, owner_ws, folder, subtree, container,
                 copied, copy_later=False):
    """Move ``folder``'s subtree into a new workspace; F becomes a mount."""
    missing = sorted(_chunks_of_history(session, subtree) - copied)
    if container is None or (missing and not copy_later):
        raise ChunksNotCopied(owner_ws.container, missing,
                              svc._user_dict(owner))
    shared = Workspace(name=folder.name, owner_id=owner.id, seq=0,
                       container=container, is_shared=True,
                       encrypted=owner_ws.encrypted,
                       key_container=_key_container(owner_ws),
                       copy_source=owner_ws.container if missing else None,
                       acl_version=0, acl_synced=0)
    session.add(shared)
    session.flush()
    session.add(WorkspaceMember(workspace_id=shared.id, user_id=owner.id,
                                role=models.OWNER))
    _move(session, subtree, folder, shared)
    session.add(Mount(item_id=folder.id, workspace_id=shared.id))
    owner_change = svc._Change(session, owner_ws, owner.id, None)
    owner_change._new_version(folder, models.CHANGED, svc.FOLDER_CONTENT)
    owner_change.finish()
    return shared


def _key_container(origin):
    """The key container a workspace made from ``origin``'s folder keeps.

    The copied chunks stay sealed with the origin's key, whose salt is
    the origin's own key container; a plain origin has no key to keep.
    """
    if not origin.encrypted:
        return None
    return origin.key_container or origin.container


def _move(session, subtree, folder, shared):
    """Re-home ``subtree`` (parents first) in ``shared``, ids unchanged."""
    for item in subtree:
        shared.seq += 1
        item.workspace_id = shared.id
        item.seq = shared.seq
        if item.parent_id == folder.id:
            item.parent_id = None
    session.flush()
    if subtree:
        announce = svc._Change(session, shared, shared.owner_id, None)
        announce.touched = list(subtree)
        announce.finish()


def _join(session, shared, user_id, role):
    member = session.get(WorkspaceMember, (shared.id, user_id))
    if member is not None:
        raise errors.Conflict('you are already a member of this folder')
    session.add(WorkspaceMember(workspace_id=shared.id, user_id=user_id,
                                role=role))
    shared.acl_version += 1
    session.add(svc._user_event(user_id, 'membership', {
        'workspace': shared.id, 'role': role, 'by': shared.owner_id}))


def _mount_in_root(session, member_ws, user_id, shared, name, owner_name):
    """A mount item for ``shared`` in the root of ``member_ws``."""
    change = svc._Change(session, member_ws, user_id, None)
    item = change.create(None, _free_root_name(change, name, owner_name),
                         True, svc.FOLDER_CONTENT)
    session.add(Mount(item_id=item.id, workspace_id=shared.id))
    session.flush()
    return change.finish(item)


def _free_root_name(change, name, owner_name):
    candidates = [name, '%s (%s)' % (name, owner_name)]
    candidates += ['%s (%s %d)' % (name, owner_name, number)
                   for number in range(2, 100)]
    for candidate in candidates:
        if not names.is_valid_name(candidate):
            continue
        candidate = names.normalize_name(candidate)
        try:
            change.check_name_free(None, candidate)
            return candidate
        except errors.Conflict:
            continue
    raise errors.Conflict('no free name for the shared folder %r' % name)


# -- membership --------------------------------------------------------------

def remove_member(session, user_id, folder_id, member_name=None):
    """Unshare (the owner removes ``member_name``) or leave (a member).

    ``folder_id`` is the acting user's own item for the shared folder: the
    owner's shared folder or a member's mount. A member passes no name, or
    their own. A name with only a pending proposal cancels it.
    """
    if member_name is not None:
        member_name = svc._user_name(member_name)
    folder = svc._visible_item(session, user_id, _folder_id(folder_id))
    shared = _mounted_workspace(session, folder.id)
    if shared is None:
        return _cancel_proposals(session, user_id, folder, member_name)
    member_id = _member_to_remove(session, user_id, shared, member_name)
    if member_id is None:
        return _cancel_proposals(session, user_id, folder, member_name)
    member_ws = svc._private_workspace(session, member_id)
    session.scalars(
        select(Workspace).where(Workspace.id.in_([shared.id,
                                                  member_ws.id]))
        .order_by(Workspace.id).with_for_update()
        .execution_options(populate_existing=True)).all()
    member = session.get(WorkspaceMember, (shared.id, member_id))
    if member is None:
        raise errors.NotFound('user %d is not a member' % member_id)
    session.delete(member)
    shared.acl_version += 1
    _unmount(session, member_ws, shared, user_id)
    session.add(svc._user_event(member_id, 'membership', {
        'workspace': shared.id, 'role': None, 'by': user_id}))
    session.flush()
    return {'workspace_id': shared.id, 'removed': member_id,
            'members': svc.MetadataService._members(session, shared)}


def _member_to_remove(session, user_id, shared, member_name):
    """The member's id, or None when the name has no membership."""
    if shared.owner_id != user_id:
        if member_name is not None and \
                member_name != svc._user(session, user_id).name:
            raise errors.Forbidden('only the owner removes other members')
        return user_id
    if member_name is None:
        raise errors.BadRequest('name the member to remove')
    member = svc._user_named(session, member_name)
    if member is None:
        raise errors.NotFound('no user named %r' % member_name)
    if member.id == user_id:
        raise errors.BadRequest('the owner cannot leave a shared folder')
    if session.get(WorkspaceMember, (shared.id, member.id)) is None:
        return None
    return member.id


def _unmount(session, member_ws, shared, acting_id):
    """Give each live mount of ``shared`` in ``member_ws`` a deletion."""
    mounts = session.scalars(
        select(Item).join(Mount, Mount.item_id == Item.id)
        .where(Mount.workspace_id == shared.id,
               Item.workspace_id == member_ws.id,
               Item.status != DELETED)).all()
    if mounts:
        change = svc._Change(session, member_ws, acting_id, None)
        for item in mounts:
            change._new_version(item, DELETED, svc.FOLDER_CONTENT)
        change.finish()


def _cancel_proposals(session, user_id, folder, member_name):
    if member_name is None:
        raise errors.BadRequest('folder %d is not shared' % folder.id)
    member = svc._user_named(session, member_name)
    proposals = [] if member is None else session.scalars(
        select(ShareProposal).where(
            ShareProposal.folder_id == folder.id,
            ShareProposal.sender_id == user_id,
            ShareProposal.addressee_id == member.id,
            ShareProposal.status == models.PENDING)).all()
    if not proposals:
        raise errors.NotFound('%r is neither a member of folder %d nor '
                              'invited to it' % (member_name, folder.id))
    for proposal in proposals:
        proposal.status = CANCELLED
        proposal.answered_at = models.utcnow()
    return {'workspace_id': None, 'removed': member.id,
            'cancelled': [proposal.id for proposal in proposals]}


def members(session, user_id, folder_id):
    """Members and roles of the shared folder ``folder_id``.

    A folder that is not shared lists its owner alone.
    """
    folder = svc._visible_item(session, user_id, _folder_id(folder_id))
    if not folder.is_folder:
        raise errors.BadRequest('item %d is not a folder' % folder.id)
    shared = _mounted_workspace(session, folder.id)
    workspace = shared or session.get(Workspace, folder.workspace_id)
    if shared is not None:
        svc._visible_workspace(session, user_id, shared.id,
                               missing='no item %d' % folder.id)
    return svc.MetadataService._members(session, workspace)


# -- mount points ------------------------------------------------------------

def resolve_folder(session, user_id, folder_id):
    """``{"workspace_id", "parent_id"}`` where children of a folder go.

    The root (None or 0) is the user's private workspace's root; a mount
    is the root of its workspace; any other folder is itself.
    """
    if folder_id in svc._ROOT_ALIASES:
        workspace = svc._private_workspace(session, user_id)
        return {'workspace_id': workspace.id, 'parent_id': None}
    folder = svc._visible_item(session, user_id, folder_id)
    if not folder.is_folder:
        raise errors.BadRequest('item %d is not a folder' % folder.id)
    shared = _mounted_workspace(session, folder.id)
    if shared is not None:
        svc._visible_workspace(session, user_id, shared.id,
                               missing='no item %d' % folder.id)
        return {'workspace_id': shared.id, 'parent_id': None}
    return {'workspace_id': folder.workspace_id, 'parent_id': folder.id}


def mounted_workspace_id(session, item_id):
    return session.scalar(select(Mount.workspace_id).where(
        Mount.item_id == item_id))


def mounts_of(session, items):
    """``{item id: workspace id}`` for the mount points among ``items``."""
    folders = [item.id for item in items if item.is_folder]
    found = {}
    for start in range(0, len(folders), _BATCH):
        found.update(session.execute(
            select(Mount.item_id, Mount.workspace_id).where(
                Mount.item_id.in_(folders[start:start + _BATCH]))).all())
    return found


def check_no_live_mount(session, items):
    """Refuse to delete live mount points (unshare or leave instead)."""
    live = [item for item in items if item.status != DELETED]
    mounted = mounts_of(session, live)
    if mounted:
        raise errors.BadRequest(
            'folder %d is a shared folder: unshare or leave it instead of '
            'deleting it' % min(mounted))


def _mounted_workspace(session, item_id, lock=False):
    workspace_id = mounted_workspace_id(session, item_id)
    if workspace_id is None:
        return None
    query = select(Workspace).where(Workspace.id == workspace_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query.execution_options(populate_existing=True))


# -- container ACLs ----------------------------------------------------------

def acl_state(session, workspace_id):
    """What a shared workspace's container ACLs must say.

    ``{"workspace_id", "container", "version", "synced", "members": [
    {"user": <user dict>, "role"}]}``, owner first.
    """
    workspace = session.get(Workspace, svc._id(workspace_id,
                                                'workspace id'))
    if workspace is None:
        raise errors.NotFound('no workspace %d' % workspace_id)
    rows = session.execute(
        select(User, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.user_id == User.id)
        .where(WorkspaceMember.workspace_id == workspace.id)
        .order_by(User.id)).all()
    people = [{'user': svc._user_dict(user), 'role': role}
              for user, role in rows]
    people.sort(key=lambda person: person['role'] != models.OWNER)
    return {'workspace_id': workspace.id, 'container': workspace.container,
            'version': workspace.acl_version,
            'synced': workspace.acl_synced, 'members': people}


def mark_acls_synced(session, workspace_id, version):
    """Record that the ACLs of membership ``version`` are in Swift.

    True if that is still the newest membership; False if it changed
    meanwhile (the caller writes the ACLs again).
    """
    workspace = session.scalar(
        select(Workspace).where(Workspace.id == workspace_id)
        .with_for_update().execution_options(populate_existing=True))
    if workspace is None or workspace.acl_version != version:
        return False
    workspace.acl_synced = version
    return True


def acl_workspaces(session, pending_only=True):
    """Ids of shared workspaces (only those owing an ACL update if asked).
    """
    query = select(Workspace.id).where(Workspace.is_shared.is_(True))
    if pending_only:
        query = query.where(Workspace.acl_synced != Workspace.acl_version)
    return list(session.scalars(query.order_by(Workspace.id)))


# -- helpers -----------------------------------------------------------------

def _shareable_folder(session, user_id, folder_id):
    """The owner's folder and its shared workspace (None if not yet)."""
    folder = svc._visible_item(session, user_id, _folder_id(folder_id))
    if not folder.is_folder:
        raise errors.BadRequest('only folders can be shared')
    if folder.status == DELETED:
        raise errors.NotFound('folder %d is deleted' % folder.id)
    workspace = session.get(Workspace, folder.workspace_id)
    if _is_folder_share(session, workspace):
        raise errors.Conflict('folder %d is inside a shared folder; share '
                              'that one instead' % folder.id)
    if workspace.owner_id != user_id:
        raise errors.Forbidden('only the owner of workspace %d shares its '
                               'folders' % workspace.id)
    shared = _mounted_workspace(session, folder.id)
    if shared is not None:
        if shared.owner_id != user_id:
            raise errors.Forbidden('only the owner of a shared folder '
                                   'invites others to it')
        return folder, shared
    subtree = _subtree(session, workspace.id, folder.id)
    if mounts_of(session, subtree):
        raise errors.Conflict('folder %d holds a shared folder; shared '
                              'folders do not nest' % folder.id)
    return folder, None


def _check_still_shareable(session, folder, workspace, subtree):
    """What :func:`_shareable_folder` checked when the folder was offered
    may have changed since: another offer accepted meanwhile made a folder
    above it, or below it, a shared folder. Shares do not nest."""
    if _is_folder_share(session, workspace):
        raise errors.Conflict('folder %d is inside a shared folder now; '
                              'share that one instead' % folder.id)
    if mounts_of(session, subtree):
        raise errors.Conflict('folder %d holds a shared folder now; '
                              'shared folders do not nest' % folder.id)


def _is_folder_share(session, workspace):
    """True for a workspace made by sharing a folder (mounts stand for it).

    A workspace created whole (``POST /v1/workspaces``, an encrypted
    one for instance) is shared too, but is mounted nowhere: its owner
    shares its folders as from a private workspace.
    """
    return workspace.is_shared and session.scalar(
        select(Mount.item_id).where(Mount.workspace_id == workspace.id)
        .limit(1)) is not None


def _subtree(session, workspace_id, folder_id):
    """Every item below the folder, deleted ones too, parents first."""
    found, frontier = [], [folder_id]
    while frontier:
        batch, frontier = frontier[:_BATCH], frontier[_BATCH:]
        children = session.scalars(
            select(Item).where(Item.workspace_id == workspace_id,
                               Item.parent_id.in_(batch))
            .order_by(Item.id)).all()
        found.extend(children)
        frontier.extend(child.id for child in children if child.is_folder)
    return found


def chunks_of_workspace(session, workspace_id):
    """Chunk names of every version of every item of a workspace."""
    return set(session.scalars(
        select(VersionChunk.name).distinct()
        .join(ItemVersion, ItemVersion.id == VersionChunk.version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(Item.workspace_id == workspace_id)))


def _chunks_of_history(session, items):
    """Chunk names of every version of ``items``."""
    ids = [item.id for item in items if not item.is_folder]
    found = set()
    for start in range(0, len(ids), _BATCH):
        found.update(session.scalars(
            select(VersionChunk.name).distinct()
            .join(ItemVersion, ItemVersion.id == VersionChunk.version_id)
            .where(ItemVersion.item_id.in_(ids[start:start + _BATCH]))))
    return found


def _folder_id(folder_id):
    if folder_id in svc._ROOT_ALIASES:
        raise errors.BadRequest('the root folder cannot be shared')
    return svc._id(folder_id, 'folder id')


def _role(role):
    if role not in SHARE_ROLES:
        raise errors.BadRequest('role must be one of %s'
                                % ', '.join(SHARE_ROLES))
    return role


def _addressee_names(addressees):
    if isinstance(addressees, str):
        addressees = [addressees]
    if not isinstance(addressees, (list, tuple)) or not addressees:
        raise errors.BadRequest('name at least one user to share with')
    if len(addressees) > MAX_ADDRESSEES:
        raise errors.BadRequest('share with at most %d users at once'
                                % MAX_ADDRESSEES)
    for name in addressees:
        svc._user_name(name)
    return list(dict.fromkeys(addressees))


def _proposal_dict(session, proposal):
    folder = session.get(Item, proposal.folder_id)
    sender = session.get(User, proposal.sender_id)
    addressee = session.get(User, proposal.addressee_id)
    return {'id': proposal.id, 'folder_id': proposal.folder_id,
            'folder_name': folder.name, 'role': proposal.role,
            'status': proposal.status, 'sender': sender.name,
            'sender_id': sender.id, 'addressee': addressee.name,
            'addressee_id': addressee.id,
            'created_at': svc._iso(proposal.created_at),
            'answered_at': svc._iso(proposal.answered_at)}
