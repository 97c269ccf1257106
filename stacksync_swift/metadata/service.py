"""The metadata and sync service: every operation on users and items.

:class:`MetadataService` is what the original StackSync sync server did
(getAccount, getWorkspaces, getChanges, commit) plus the operations of the
REST API and the operator's command, as plain Python over SQLAlchemy. It
knows nothing of WSGI or Swift: callers pass ids and values, get dicts (the
JSON the API sends) and catch :mod:`~stacksync_swift.metadata.errors`.

Rules every operation follows (DESIGN.md section 5):

* **Who.** Operations take the acting user's id. Owners and editors of a
  workspace write, viewers only read; to anyone else a workspace and its
  items do not exist (:class:`~.errors.NotFound`).
* **One transaction, one lock.** A write locks its workspace's row first
  (``SELECT ... FOR UPDATE``; on SQLite ``BEGIN IMMEDIATE`` already holds
  the database's write lock), then reads, checks and writes. Writes to one
  workspace therefore run one after another, in the order of their
  sequence numbers, and a commit batch is all-or-nothing at the database
  level.
* **Sequence.** Every new version takes the next number of its
  workspace's sequence and stamps it on the version and on the item row.
  Numbers are gap-free and never reused, and no transaction can commit a
  smaller number after a larger one is visible, so a cursor (the last
  number a client saw) never skips a change.
* **Optimistic concurrency.** A write may name the version it is based on;
  if the item has moved on, it is refused with
  :class:`~.errors.Conflict` carrying the current metadata. The first
  writer wins. The loser keeps its data as a conflicted copy
  (:func:`~.names.conflicted_copy_name`); the server only refuses.
* **History.** Versions are never changed or removed; deletes and
  restores are new versions. Deleting a folder deletes its live subtree,
  one new version per item.
* **Names** follow :mod:`~.names`; two live items of one folder never
  share a name (deleted ones do not hold theirs). A folder cannot move into
  its own subtree.
* **Quota.** A workspace's files count against its owner: usage is the
  size of the current, live files of the workspaces a user owns, kept in
  ``users.quota_used`` by every write, plus the chunks stored in them that
  no version references yet (:mod:`.uploads`; ``quota_waiting`` in the
  account). A write that would pass a non-zero limit raises
  :class:`~.errors.QuotaExceeded` and changes nothing.
* **Sizes are the server's.** A caller that stored a file's chunks passes
  their stored sizes (``chunk_sizes``); a file's ``size`` must then be
  their sum (plain workspaces), or lie between their sum less the sealing
  overhead and what the chunks may hold (encrypted ones, whose plaintext
  the server never sees), else :class:`~.errors.BadRequest`.
* **Events.** Each write adds one outbox row (routing key
  ``workspace.<id>``) in its own transaction; the events relay publishes
  it later.
* **Sharing.** A shared folder is a workspace of its own, reached through
  mount items (metadata key ``mount_workspace_id``): listing a mount lists
  that workspace's root, and nothing is created in, moved into or deleted
  with a mount. :mod:`.shares` has the rules.

The root folder of a workspace is ``parent_id`` None (0 is accepted as a
synonym, the original API's name for the root).
"""

import base64
import dataclasses
import datetime
import json
import os
import re
import uuid
from typing import Optional

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from stacksync_swift import chunking
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from stacksync_swift.metadata import names
from stacksync_swift.metadata import shares
from stacksync_swift.metadata import uploads
from stacksync_swift.metadata.models import DELETED
from stacksync_swift.metadata.models import ChunkLocation
from stacksync_swift.metadata.models import Device
from stacksync_swift.metadata.models import Item
from stacksync_swift.metadata.models import ItemVersion
from stacksync_swift.metadata.models import Mount
from stacksync_swift.metadata.models import Outbox
from stacksync_swift.metadata.models import User
from stacksync_swift.metadata.models import VersionChunk
from stacksync_swift.metadata.models import Workspace
from stacksync_swift.metadata.models import WorkspaceMember

DEFAULT_CHANGES_LIMIT = 1000
MAX_CHANGES_LIMIT = 10000
MAX_COMMIT_ITEMS = 1000
MAX_CHUNKS = 100000
MAX_SIZE = 2 ** 62
MAX_TEXT = 255
DEFAULT_MIMETYPE = 'application/octet-stream'
# An outbox event lists at most this many items; a consumer that needs the
# rest reads the delta (the event always carries the new cursor).
MAX_EVENT_ITEMS = 1000

CHUNK_NAME = re.compile(r'\Achk-[0-9a-f]{64}\Z')
SHA256_HEX = re.compile(r'\A[0-9a-f]{64}\Z')
_CONTROL = re.compile('[\x00-\x1f\x7f]')

# scrypt cost: about 16 MiB and a few tens of milliseconds per check.
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_LENGTH = 32
MAX_PASSWORD = 1024

_ROOT_ALIASES = (None, 0)
_KEEP = object()


@dataclasses.dataclass(frozen=True)
class Content:
    """What a file version holds: its chunks and what describes them."""

    size: int
    content_hash: Optional[str]
    chunks: tuple
    mimetype: Optional[str]
    modified_at: datetime.datetime

    def same_data(self, other):
        return (self.size, self.content_hash, self.chunks, self.mimetype) \
            == (other.size, other.content_hash, other.chunks,
                other.mimetype)


FOLDER_CONTENT = None


class MetadataService:
    """The operations, over one SQLAlchemy engine shared by threads."""

    def __init__(self, engine):
        self.engine = engine
        self._reader = db.reader(engine)

    @classmethod
    def from_url(cls, url, upgrade=False, **engine_kwargs):
        """A service on ``url``, migrated to the newest schema if asked."""
        engine = db.create_engine(url, **engine_kwargs)
        if upgrade:
            db.upgrade(engine)
        return cls(engine)

    def close(self):
        self.engine.dispose()

    # -- transactions -----------------------------------------------------

    def _writing(self):
        return db.session(self.engine)

    def _reading(self):
        return db.session(self._reader)

    # -- users and devices ------------------------------------------------

    def create_user(self, name, password=None, email=None, quota_limit=0):
        """Create a user and their private workspace; returns the user.

        ``password`` None means another system (Keystone) authenticates
        the user. A taken name raises :class:`~.errors.Conflict`.
        """
        name = _user_name(name)
        email = _optional_text(email, 'email')
        quota_limit = _count(quota_limit, 'quota_limit')
        password_hash = None
        if password is not None:
            password_hash = hash_password(password)
        try:
            with self._writing() as session:
                if _user_named(session, name) is not None:
                    raise errors.Conflict('user %r already exists' % name)
                user = User(name=name, email=email, quota_limit=quota_limit,
                            quota_used=0, password_hash=password_hash)
                session.add(user)
                session.flush()
                _new_workspace(session, user, name, is_shared=False)
                return _user_dict(user)
        except errors.Unavailable as error:
            if db.is_race(error):
                # Someone created the same name between check and insert.
                raise errors.Conflict('user %r already exists' % name)
            raise

    def keystone_user(self, keystone_id, name, email=None, quota_limit=0):
        """The user for a Keystone identity, created on first use.

        Keystone names are unique per domain only: a name already taken
        here gets the first characters of the Keystone id appended. The
        e-mail is refreshed when Keystone gives one.
        """
        keystone_id = _text(keystone_id, 'keystone id')[:64]
        email = _optional_text(email, 'email')
        for attempt in range(3):
            with self._writing() as session:
                user = session.scalar(select(User).where(
                    User.keystone_id == keystone_id))
                if user is not None:
                    if email and user.email != email:
                        user.email = email
                    return _user_dict(user)
            candidate = _user_name(name if attempt == 0 else '%s-%s' % (
                name, keystone_id[:8 * attempt]))
            try:
                with self._writing() as session:
                    if _user_named(session, candidate) is not None:
                        continue
                    user = User(name=candidate, email=email,
                                keystone_id=keystone_id, quota_used=0,
                                quota_limit=_count(quota_limit,
                                                   'quota_limit'))
                    session.add(user)
                    session.flush()
                    _new_workspace(session, user, candidate, is_shared=False)
                    return _user_dict(user)
            except errors.Unavailable as error:
                # Another proxy created the same identity meanwhile.
                if not db.is_race(error):
                    raise
        raise errors.Conflict('no free user name for Keystone user %r'
                              % name)

    def get_user(self, user_id):
        with self._reading() as session:
            return _user_dict(_user(session, user_id))

    def get_user_by_name(self, name):
        if not isinstance(name, str):
            raise errors.BadRequest('a user name must be a string')
        with self._reading() as session:
            user = _user_named(session, name)
            if user is None:
                raise errors.NotFound('no user named %r' % name)
            return _user_dict(user)

    def list_users(self):
        with self._reading() as session:
            users = session.scalars(select(User).order_by(User.id))
            return [_user_dict(user) for user in users]

    def delete_user(self, user_id):
        """Delete a user, their devices and the workspaces they own.

        Returns ``{"user": ..., "containers": [...]}``: the Swift
        containers of the deleted workspaces, which the caller removes.
        Versions the user made in other workspaces stay, without author.
        """
        with self._writing() as session:
            user = _user(session, user_id, lock=True)
            owned = session.scalars(
                select(Workspace).where(Workspace.owner_id == user.id)).all()
            result = {'user': _user_dict(user),
                      'containers': [ws.container for ws in owned]}
            for workspace in owned:
                session.delete(workspace)
            session.flush()
            session.delete(user)
            return result

    def set_password(self, user_id, password):
        """Set (or with None, remove) a user's password."""
        password_hash = None if password is None else hash_password(password)
        with self._writing() as session:
            _user(session, user_id, lock=True).password_hash = password_hash

    def check_password(self, name, password):
        """The user if ``password`` is theirs, else None.

        Takes as long for an unknown user or one without a password as
        for a wrong password, so timing does not reveal which names exist.
        """
        stored = None
        user = None
        if isinstance(name, str) and isinstance(password, str):
            with self._reading() as session:
                user = _user_named(session, name)
                stored = user.password_hash if user is not None else None
        matches = password_matches(stored or _dummy_hash(), password)
        if user is None or stored is None or not matches:
            return None
        return _user_dict(user)

    def set_quota(self, user_id, quota_limit):
        """Set a user's quota in bytes (0: no limit)."""
        quota_limit = _count(quota_limit, 'quota_limit')
        with self._writing() as session:
            user = _user(session, user_id, lock=True)
            user.quota_limit = quota_limit
            return _user_dict(user)

    def recalculate_quota(self, user_id):
        """Recount a user's usage from their live files (a repair tool)."""
        with self._writing() as session:
            user = _user(session, user_id, lock=True)
            used = session.scalar(
                select(func.coalesce(func.sum(Item.size), 0))
                .join(Workspace, Workspace.id == Item.workspace_id)
                .where(Workspace.owner_id == user.id,
                       Item.status != DELETED,
                       Item.is_folder.is_(False)))
            user.quota_used = int(used)
            return _user_dict(user)

    def get_or_create_device(self, user_id, name):
        """The user's device called ``name``, created on first use."""
        name = _text(name, 'device name')
        for _attempt in range(2):
            try:
                with self._writing() as session:
                    _user(session, user_id)
                    device = session.scalar(select(Device).where(
                        Device.user_id == user_id, Device.name == name))
                    if device is None:
                        device = Device(user_id=user_id, name=name)
                        session.add(device)
                        session.flush()
                    return _device_dict(device)
            except errors.Unavailable as error:
                # Two first uses at once: the second finds the first's row.
                if not db.is_race(error):
                    raise
        raise errors.Unavailable()

    def list_devices(self, user_id):
        with self._reading() as session:
            _user(session, user_id)
            devices = session.scalars(select(Device).where(
                Device.user_id == user_id).order_by(Device.id))
            return [_device_dict(device) for device in devices]

    # -- account and workspaces -------------------------------------------

    def get_account(self, user_id):
        """The user, their quota and usage, and their workspaces."""
        with self._reading() as session:
            account = _user_dict(_user(session, user_id))
            waiting = uploads.pending_bytes(session, account['id'])
            account['quota_used'] += waiting
            account['quota_waiting'] = waiting
            account['workspaces'] = _workspaces_of(session, user_id)
            return account

    def get_workspaces(self, user_id):
        """The workspaces the user belongs to, with role and cursor."""
        with self._reading() as session:
            _user(session, user_id)
            return _workspaces_of(session, user_id)

    def get_workspace(self, user_id, workspace_id):
        with self._reading() as session:
            workspace, role = _visible_workspace(session, user_id,
                                                 workspace_id)
            return _workspace_dict(workspace, role)

    def create_workspace(self, owner_id, name, encrypted=False,
                         is_shared=True):
        """A new workspace (e.g. for a shared folder) owned by a user."""
        name = _text(name, 'workspace name')
        encrypted = _flag(encrypted, 'encrypted')
        is_shared = _flag(is_shared, 'is_shared')
        with self._writing() as session:
            owner = _user(session, owner_id)
            workspace = _new_workspace(session, owner, name, is_shared,
                                       encrypted)
            return _workspace_dict(workspace, models.OWNER)

    def workspace_by_container(self, container):
        """The workspace stored in ``container`` (owner's view), or None.
        """
        with self._reading() as session:
            workspace = session.scalar(select(Workspace).where(
                Workspace.container == container))
            if workspace is None:
                return None
            return _workspace_dict(workspace, models.OWNER)

    # -- chunks waiting for a commit (the rules are in uploads.py) ---------

    def reserve_chunk(self, workspace_id, name, size):
        """Count a chunk about to be stored against the owner's quota.

        :returns: True when counted now (release it if its PUT then finds
            it stored, or fails), False when it was counted already
        :raises QuotaExceeded: the owner has no room for it
        """
        name, size = _chunk_name(name), _count(size, 'size')
        with self._writing() as session:
            # The workspace first, then its owner: the order every write
            # takes its locks in (a commit locks the workspace, then charges
            # the owner), so that no two transactions wait on each other.
            workspace = _workspace(session, workspace_id, lock=True)
            owner = _user(session, workspace.owner_id, lock=True)
            return uploads.reserve(session, owner, workspace.id, name, size)

    def release_chunk(self, workspace_id, name):
        """Forget a reservation whose chunk was not stored by it."""
        with self._writing() as session:
            uploads.release(session, _id(workspace_id, 'workspace id'),
                            _chunk_name(name))

    def record_chunks(self, workspace_id, chunks):
        """Count chunks ``[(name, size), ...]`` just stored by the server.
        """
        chunks = [(_chunk_name(name), _count(size, 'size'))
                  for name, size in chunks]
        if not chunks:
            return
        with self._writing() as session:
            workspace = _workspace(session, workspace_id, lock=True)
            _user(session, workspace.owner_id, lock=True)
            uploads.record(session, workspace.id, chunks)

    def upload_allowance(self, workspace_id):
        """Bytes the workspace's owner may still store; None: no limit."""
        with self._reading() as session:
            workspace = _workspace(session, workspace_id)
            owner = _user(session, workspace.owner_id)
            if not owner.quota_limit:
                return None
            return max(owner.quota_limit - owner.quota_used -
                       uploads.pending_bytes(session, owner.id), 0)

    def set_member(self, user_id, workspace_id, member_id, role):
        """Give ``member_id`` a ``role`` in the workspace, or None: remove.

        Only the owner may, and the owner's own role never changes.
        Announced on ``user.<member_id>``.
        """
        if role is not None and role not in (models.EDITOR, models.VIEWER):
            raise errors.BadRequest('role must be editor, viewer or None')
        with self._writing() as session:
            workspace, acting_role = _visible_workspace(
                session, user_id, workspace_id, lock=True)
            if acting_role != models.OWNER:
                raise errors.Forbidden('only the owner manages members')
            _user(session, member_id)
            if member_id == workspace.owner_id:
                raise errors.BadRequest("the owner's role cannot change")
            member = session.get(WorkspaceMember, (workspace.id, member_id))
            if role is None and member is not None:
                session.delete(member)
            elif role is not None and member is None:
                session.add(WorkspaceMember(workspace_id=workspace.id,
                                            user_id=member_id, role=role))
            elif role is not None:
                member.role = role
            session.add(_user_event(member_id, 'membership', {
                'workspace': workspace.id, 'role': role, 'by': user_id}))
            return self._members(session, workspace)

    def list_members(self, user_id, workspace_id):
        with self._reading() as session:
            workspace, _role = _visible_workspace(session, user_id,
                                                  workspace_id)
            return self._members(session, workspace)

    @staticmethod
    def _members(session, workspace):
        rows = session.execute(
            select(WorkspaceMember, User.name, User.email)
            .join(User, User.id == WorkspaceMember.user_id)
            .where(WorkspaceMember.workspace_id == workspace.id)
            .order_by(WorkspaceMember.joined_at, User.id))
        return [{'user_id': member.user_id, 'name': name, 'email': email,
                 'role': member.role,
                 'joined_at': _iso(member.joined_at)}
                for member, name, email in rows]

    # -- reading items ----------------------------------------------------

    def get_item(self, user_id, item_id):
        """An item's current metadata (deleted items too)."""
        with self._reading() as session:
            item = _visible_item(session, user_id, item_id)
            return _metas(session, [item])[0]

    def list_folder(self, user_id, folder_id=None, workspace_id=None,
                    include_deleted=False):
        """A folder's metadata with its ``contents``, sorted by name.

        ``folder_id`` None (or 0) is the root of ``workspace_id``, by
        default the user's private workspace.
        """
        with self._reading() as session:
            if folder_id in _ROOT_ALIASES:
                workspace = _private_workspace(session, user_id) \
                    if workspace_id is None else \
                    _visible_workspace(session, user_id, workspace_id)[0]
                folder, meta = None, _root_meta(workspace)
            else:
                folder = _visible_item(session, user_id, folder_id)
                if not folder.is_folder:
                    raise errors.BadRequest('item %d is not a folder'
                                            % folder.id)
                meta = _metas(session, [folder])[0]
                place = shares.resolve_folder(session, user_id, folder.id)
                workspace = session.get(Workspace, place['workspace_id'])
                if place['parent_id'] is None:
                    folder = None
            query = select(Item).where(
                Item.workspace_id == workspace.id,
                _parent_is(folder.id if folder else None)).order_by(
                    Item.name, Item.id)
            if not include_deleted:
                query = query.where(Item.status != DELETED)
            meta['contents'] = _metas(session, session.scalars(query).all())
            return meta

    def get_versions(self, user_id, item_id):
        """An item's history, oldest first, each with its chunks."""
        with self._reading() as session:
            item = _visible_item(session, user_id, item_id)
            versions = session.scalars(
                select(ItemVersion).where(ItemVersion.item_id == item.id)
                .order_by(ItemVersion.version)).all()
            chunks = _chunks_of_versions(session, versions)
            return [_version_meta(item, version, chunks[version.id])
                    for version in versions]

    def get_version(self, user_id, item_id, version):
        """One version of an item (for history views and downloads)."""
        version = _positive(version, 'version')
        with self._reading() as session:
            item = _visible_item(session, user_id, item_id)
            row = _version_row(session, item.id, version)
            chunks = _chunks_of_versions(session, [row])
            return _version_meta(item, row, chunks[row.id])

    def get_changes(self, user_id, workspace_id, cursor=0,
                    limit=DEFAULT_CHANGES_LIMIT):
        """The delta of a workspace since ``cursor`` (getChanges).

        Returns ``{"entries": [...], "cursor": C, "has_more": bool}``:
        the current metadata of every item changed after ``cursor``, in
        sequence order, deleted items included (status DELETED), at most
        ``limit`` of them. Pass ``C`` back to continue; a client that
        applies every page from cursor 0 has the current tree. An entry's
        parent may come later in the same delta (it changed after its
        child), so apply whole deltas before resolving paths. The cost is
        that of the entries returned, whatever the size of the tree.
        """
        cursor = _count(cursor, 'cursor')
        limit = _positive(limit, 'limit')
        if limit > MAX_CHANGES_LIMIT:
            raise errors.BadRequest('limit may be at most %d'
                                    % MAX_CHANGES_LIMIT)
        with self._reading() as session:
            workspace, _role = _visible_workspace(session, user_id,
                                                  workspace_id)
            if cursor > workspace.seq:
                raise errors.BadRequest(
                    'cursor %d is ahead of the workspace (%d): start over '
                    'from 0' % (cursor, workspace.seq))
            items = session.scalars(
                select(Item).where(Item.workspace_id == workspace.id,
                                   Item.seq > cursor)
                .order_by(Item.seq).limit(limit + 1)).all()
            has_more = len(items) > limit
            items = items[:limit]
            return {'entries': _metas(session, items),
                    'cursor': items[-1].seq if items else cursor,
                    'has_more': has_more}

    # -- writing items ----------------------------------------------------

    def create_folder(self, user_id, workspace_id, parent_id, name,
                      device_id=None):
        """A new folder; a live item of that name raises Conflict."""
        with self._writing() as session:
            change = _Change.begin(session, user_id, workspace_id,
                                   device_id)
            item = change.create(parent_id, name, True, FOLDER_CONTENT)
            return change.finish(item)

    def create_file(self, user_id, workspace_id, parent_id, name, size,
                    content_hash, chunks, mimetype=None, modified_at=None,
                    device_id=None, chunk_sizes=None, packed=None):
        """A new file made of already stored chunks.

        ``chunk_sizes`` (name -> stored size) makes ``size`` checked
        against them (module docstring, "Sizes are the server's");
        ``packed`` names the chunks the caller found in packs, checked
        against the chunk index here (:meth:`_Change.check_packed`).
        """
        with self._writing() as session:
            change = _Change.begin(session, user_id, workspace_id,
                                   device_id, chunk_sizes=chunk_sizes,
                                   packed=packed)
            content = change.content(size, content_hash, chunks, mimetype,
                                     modified_at)
            item = change.create(parent_id, name, False, content)
            return change.finish(item)

    def update_file_data(self, user_id, item_id, size, content_hash,
                         chunks, mimetype=None, modified_at=None,
                         base_version=None, device_id=None,
                         chunk_sizes=None, packed=None):
        """A new version of a file's data (PUT with optional If-Match)."""
        def update(change, item):
            if item.is_folder:
                raise errors.BadRequest('item %d is a folder' % item.id)
            content = change.content(size, content_hash, chunks,
                                     mimetype or item.mimetype, modified_at)
            return change.update(item, content=content)
        return self._modify(user_id, item_id, base_version, device_id,
                            update, chunk_sizes=chunk_sizes, packed=packed)

    def rename_item(self, user_id, item_id, name, base_version=None,
                    device_id=None):
        return self._modify(
            user_id, item_id, base_version, device_id,
            lambda change, item: change.update(item, name=name))

    def move_item(self, user_id, item_id, parent_id, name=None,
                  base_version=None, device_id=None):
        """Move into ``parent_id`` (None: the root), renaming if asked."""
        return self._modify(
            user_id, item_id, base_version, device_id,
            lambda change, item: change.update(item, name=name,
                                               parent_id=parent_id))

    def delete_item(self, user_id, item_id, base_version=None,
                    device_id=None):
        """Delete an item; a folder takes its live subtree with it."""
        return self._modify(user_id, item_id, base_version, device_id,
                            lambda change, item: change.delete(item))

    def restore_version(self, user_id, item_id, version, device_id=None):
        """Make an old version's content the newest version.

        Revives a deleted item in its last place (its folder must be live
        and the name free); a folder can only be revived.
        """
        version = _positive(version, 'version')

        def restore(change, item):
            return change.restore(item, version)
        return self._modify(user_id, item_id, None, device_id, restore,
                            allow_deleted=True)

    def _modify(self, user_id, item_id, base_version, device_id, operation,
                allow_deleted=False, chunk_sizes=None, packed=None):
        item_id = _id(item_id, 'item id')
        if base_version is not None:
            base_version = _positive(base_version, 'base_version')
        with self._writing() as session:
            workspace_id = _workspace_of_item(session, item_id)
            change = _Change.begin(session, user_id, workspace_id,
                                   device_id, missing='no item %d' % item_id,
                                   chunk_sizes=chunk_sizes, packed=packed)
            item = change.item(item_id)
            if base_version is not None and base_version != item.version:
                raise errors.Conflict(
                    'item %d is at version %d, not %d'
                    % (item.id, item.version, base_version),
                    item=change.meta(item))
            if item.status == DELETED and not allow_deleted:
                raise errors.NotFound('item %d is deleted' % item.id)
            return change.finish(operation(change, item))

    def commit(self, user_id, device_id, workspace_id, items,
               chunk_sizes=None, packed=None):
        """Apply a sync client's batch in one transaction (commit).

        Each element of ``items`` is a dict: ``id`` (None for a new item,
        then ``client_id`` is echoed back), ``base_version``, and the
        desired state ``parent_id``, ``filename``, ``is_folder``,
        ``status`` (DELETED deletes; the server derives the others),
        ``size``, ``content_hash``, ``chunks``, ``mimetype``,
        ``modified_at``; a key left out keeps the current value. A
        deletion with ``if_empty: true`` is a conflict while the folder
        still holds live items (a client deletes only what it has seen).

        Returns ``{"results": [...], "cursor": C}`` with, per item and in
        order, ``{"result": "committed", "item": meta}``, ``{"result":
        "conflict", "item": <the server's current meta>}`` (the base
        version is stale, or a live item holds the name) or ``{"result":
        "error", "error": code, "description": ...}``. Only a malformed
        batch raises. An unchanged item is committed without a new version,
        so a retried batch is harmless. ``chunk_sizes`` (name -> stored
        size) makes each item's ``size`` checked against its chunks; an
        item naming one of the ``packed`` chunks that garbage collection
        has since dropped from the chunk index fails with
        ``missing_chunks``.
        """
        if not isinstance(items, (list, tuple)):
            raise errors.BadRequest('a commit is a list of items')
        if len(items) > MAX_COMMIT_ITEMS:
            raise errors.BadRequest('a commit has at most %d items'
                                    % MAX_COMMIT_ITEMS)
        if device_id is None:
            raise errors.BadRequest('a commit names its device')
        with self._writing() as session:
            change = _Change.begin(session, user_id, workspace_id,
                                   device_id, chunk_sizes=chunk_sizes,
                                   packed=packed)
            results = [_commit_one(change, request) for request in items]
            change.finish()
            return {'results': results, 'cursor': change.workspace.seq}

    # -- sharing (the rules are in shares.py) -------------------------------

    def propose_share(self, user_id, folder_id, addressees, role):
        """Offer a folder to users by name; returns the proposals."""
        with self._writing() as session:
            return shares.propose(session, user_id, folder_id, addressees,
                                  role)

    def list_proposals(self, user_id):
        """The pending proposals addressed to the user."""
        with self._reading() as session:
            return shares.list_proposals(session, user_id)

    def decline_proposal(self, user_id, proposal_id):
        with self._writing() as session:
            return shares.decline(session, user_id, proposal_id)

    def accept_proposal(self, user_id, proposal_id, container=None,
                        copied=(), copy_later=False):
        """Join the shared folder; see :func:`.shares.accept`."""
        with self._writing() as session:
            return shares.accept(session, user_id, proposal_id, container,
                                 copied, copy_later)

    # -- copies of shared folders' histories (stacksync_swift.sharing) ------

    def pending_copies(self):
        """``[{"id", "container", "copy_source", "encrypted"}]`` of the
        workspaces whose chunks are still being copied."""
        with self._reading() as session:
            return [{'id': ws.id, 'container': ws.container,
                     'copy_source': ws.copy_source,
                     'encrypted': ws.encrypted}
                    for ws in session.scalars(select(Workspace).where(
                        Workspace.copy_source.is_not(None))
                        .order_by(Workspace.id))]

    def copy_wanted(self, workspace_id):
        """Every chunk a version of the workspace references, sorted."""
        with self._reading() as session:
            return sorted(shares.chunks_of_workspace(
                session, _id(workspace_id, 'workspace id')))

    def finish_copy(self, workspace_id, source):
        """The copy from ``source`` is complete: reads stop falling back.
        """
        with self._writing() as session:
            workspace = _workspace(session, workspace_id, lock=True)
            if workspace.copy_source == source:
                workspace.copy_source = None

    def remove_member(self, user_id, folder_id, member_name=None):
        """Unshare a folder with a member, or leave it."""
        with self._writing() as session:
            return shares.remove_member(session, user_id, folder_id,
                                        member_name)

    def share_members(self, user_id, folder_id):
        with self._reading() as session:
            return shares.members(session, user_id, folder_id)

    def users_by_email(self, addresses):
        """``{address: user}`` for the addresses that name a user.

        Addresses compare without case and surrounding spaces; unknown
        ones are left out. When several users have one address, the
        oldest account answers for it.
        """
        if not isinstance(addresses, (list, tuple)) or \
                len(addresses) > shares.MAX_ADDRESSEES or \
                not all(isinstance(a, str) for a in addresses):
            raise errors.BadRequest('give at most %d e-mail addresses'
                                    % shares.MAX_ADDRESSEES)
        wanted = {address.strip().lower(): address for address in addresses
                  if address.strip()}
        found = {}
        with self._reading() as session:
            users = session.scalars(
                select(User).where(func.lower(User.email).in_(list(wanted)))
                .order_by(User.id)) if wanted else []
            for user in users:
                address = wanted.get(user.email.strip().lower())
                if address is not None:
                    found.setdefault(address, _user_dict(user))
        return found

    def mount_of(self, user_id, workspace_id):
        """The id of the user's live folder that shows ``workspace_id``.

        None when the user has no such mount (or the workspace is their
        private one).
        """
        with self._reading() as session:
            private = _private_workspace(session, user_id)
            return session.scalar(
                select(Item.id).join(Mount, Mount.item_id == Item.id)
                .where(Mount.workspace_id == _id(workspace_id, 'workspace'),
                       Item.workspace_id == private.id,
                       Item.status != DELETED).order_by(Item.id))

    def resolve_folder(self, user_id, folder_id):
        """``{"workspace_id", "parent_id"}`` for children of a folder."""
        with self._reading() as session:
            return shares.resolve_folder(session, user_id, folder_id)

    def acl_state(self, workspace_id):
        with self._reading() as session:
            return shares.acl_state(session, workspace_id)

    def mark_acls_synced(self, workspace_id, version):
        with self._writing() as session:
            return shares.mark_acls_synced(session, workspace_id, version)

    def acl_workspaces(self, pending_only=True):
        with self._reading() as session:
            return shares.acl_workspaces(session, pending_only)


def _commit_one(change, request):
    """One element of a commit batch, as its result dict."""
    client_id = request.get('client_id') if isinstance(request, dict) \
        else None
    try:
        item = _apply_commit_request(change, request)
        result = {'result': 'committed', 'item': change.meta(item)}
    except errors.Conflict as conflict:
        result = {'result': 'conflict', 'item': conflict.item,
                  'description': conflict.description}
    except errors.MetadataError as error:
        result = dict(error.as_dict(), result='error')
    if isinstance(client_id, (str, int)) and not isinstance(client_id, bool):
        result['client_id'] = client_id
    return result


def _apply_commit_request(change, request):
    if not isinstance(request, dict):
        raise errors.BadRequest('a commit item is an object')
    status = request.get('status')
    if status is not None and status not in models.STATUSES:
        raise errors.BadRequest('status must be one of %s'
                                % ', '.join(models.STATUSES))
    base_version = request.get('base_version')
    if base_version is not None:
        base_version = _count(base_version, 'base_version')
    is_folder = request.get('is_folder')
    if is_folder is not None:
        is_folder = _flag(is_folder, 'is_folder')
    if request.get('id') is None:
        return _commit_new_item(change, request, status, base_version,
                                bool(is_folder))
    item = change.item(_id(request['id'], 'id'))
    if base_version is None:
        raise errors.BadRequest('changing item %d needs its base_version'
                                % item.id)
    if base_version != item.version:
        raise errors.Conflict('item %d is at version %d, not %d'
                              % (item.id, item.version, base_version),
                              item=change.meta(item))
    if is_folder is not None and is_folder != item.is_folder:
        raise errors.BadRequest('a file cannot become a folder, nor the '
                                'reverse')
    if status == DELETED:
        if request.get('if_empty') is True and item.status != DELETED \
                and change.live_children(item):
            raise errors.Conflict('folder %d is not empty' % item.id,
                                  item=change.meta(item))
        return change.delete(item)
    content = None
    if not item.is_folder and _has_content(request):
        content = change.content(
            request.get('size'), request.get('content_hash'),
            request.get('chunks'), request.get('mimetype', item.mimetype),
            request.get('modified_at'))
    return change.update(
        item, name=request.get('filename'),
        parent_id=request.get('parent_id', _KEEP), content=content,
        revive=True)


def _commit_new_item(change, request, status, base_version, is_folder):
    if status == DELETED:
        raise errors.BadRequest('a new item cannot be deleted')
    if base_version:
        raise errors.BadRequest('a new item has no base_version')
    content = FOLDER_CONTENT
    if not is_folder:
        content = change.content(
            request.get('size'), request.get('content_hash'),
            request.get('chunks'), request.get('mimetype'),
            request.get('modified_at'))
    return change.create(request.get('parent_id'), request.get('filename'),
                         is_folder, content)


def _has_content(request):
    return any(key in request for key in ('size', 'content_hash', 'chunks',
                                          'mimetype'))


class _Change:
    """One write transaction on one workspace, holding its lock.

    Every check comes before the first write of an item, so an item that
    fails leaves nothing behind and the rest of a commit batch goes on.
    """

    def __init__(self, session, workspace, user_id, device_id,
                 chunk_sizes=None, packed=None):
        self.session = session
        self.workspace = workspace
        self.user_id = user_id
        self.device_id = device_id
        # name -> stored size, when the caller stored or checked them.
        self.chunk_sizes = chunk_sizes
        # Names the caller found in packs, before this transaction.
        self.packed = frozenset(packed or ())
        self.touched = []
        self._owner = None
        # Bytes of the owner's chunks waiting for a commit (uploads.py),
        # read on first need and kept current as versions take them.
        self._waiting = None

    @classmethod
    def begin(cls, session, user_id, workspace_id, device_id,
              missing=None, chunk_sizes=None, packed=None):
        workspace, role = _visible_workspace(session, user_id,
                                             workspace_id, lock=True,
                                             missing=missing)
        if role not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace.id)
        if device_id is not None:
            device = session.get(Device, _id(device_id, 'device id'))
            if device is None or device.user_id != user_id:
                raise errors.BadRequest('no device %r of this user'
                                        % (device_id,))
            device.last_seen = models.utcnow()
        return cls(session, workspace, user_id, device_id, chunk_sizes,
                   packed)

    # -- reads under the lock

    def item(self, item_id):
        item = self.session.get(Item, item_id, populate_existing=True)
        if item is None or item.workspace_id != self.workspace.id:
            raise errors.NotFound('no item %d in workspace %d'
                                  % (item_id, self.workspace.id))
        return item

    def meta(self, item):
        return _metas(self.session, [item])[0]

    def live_folder(self, folder_id):
        """Check that ``folder_id`` can hold items; returns its id."""
        if folder_id in _ROOT_ALIASES:
            return None
        folder_id = _id(folder_id, 'parent_id')
        if shares.mounted_workspace_id(self.session, folder_id) == \
                self.workspace.id:
            return None     # a mount of this workspace: its root
        folder = self.item(folder_id)
        if not folder.is_folder:
            raise errors.BadRequest('item %d is not a folder' % folder.id)
        if folder.status == DELETED:
            raise errors.BadRequest('folder %d is deleted; restore it first'
                                    % folder.id)
        mounted = shares.mounted_workspace_id(self.session, folder.id)
        if mounted is not None:
            raise errors.BadRequest(
                'folder %d is a shared folder: its contents are the root '
                'of workspace %d' % (folder.id, mounted))
        return folder.id

    def check_name_free(self, parent_id, name, item_id=None):
        holder = self.session.scalar(
            select(Item).where(Item.workspace_id == self.workspace.id,
                               _parent_is(parent_id), Item.name == name,
                               Item.status != DELETED))
        if holder is not None and holder.id != item_id:
            raise errors.Conflict('%r already exists in this folder' % name,
                                  item=self.meta(holder))

    def check_not_into_itself(self, folder, parent_id):
        """Refuse to move ``folder`` under itself or its descendants."""
        while parent_id is not None:
            if parent_id == folder.id:
                raise errors.BadRequest('a folder cannot move into itself '
                                        'or one of its subfolders')
            parent_id = self.session.scalar(
                select(Item.parent_id).where(Item.id == parent_id))

    def charge(self, delta, chunks=()):
        """Count ``delta`` bytes against the owner's quota, or refuse.

        The owner's chunks waiting for a commit count too, less those among
        ``chunks`` (the new content's), which this version takes over.
        """
        if delta == 0:
            return
        owner = self._lock_owner()
        if delta > 0 and owner.quota_limit:
            waiting = self._waiting_bytes()
            if waiting:
                waiting -= uploads.waiting(self.session, self.workspace.id,
                                           chunks)
            uploads.check_room(owner, waiting, delta)
        owner.quota_used = max(owner.quota_used + delta, 0)

    def _lock_owner(self):
        if self._owner is None:
            self._owner = self.session.scalar(
                select(User).where(User.id == self.workspace.owner_id)
                .with_for_update().execution_options(populate_existing=True))
        return self._owner

    def _waiting_bytes(self):
        if self._waiting is None:
            self._waiting = uploads.pending_bytes(self.session,
                                                  self.workspace.owner_id)
        return self._waiting

    def take_waiting(self, chunks):
        """A new version references ``chunks``: they wait no longer."""
        if chunks and self._waiting_bytes():
            self._waiting -= uploads.waiting(self.session, self.workspace.id,
                                             chunks)
            uploads.take_referenced(self.session, self.workspace.id, chunks)

    def check_size(self, size, chunks):
        """Refuse a size its stored chunks cannot hold (see "Sizes")."""
        if self.chunk_sizes is None:
            return
        stored = 0
        for name in chunks:
            if self.chunk_sizes.get(name) is None:
                raise errors.BadRequest('chunk %s is not stored' % name)
            stored += self.chunk_sizes[name]
        if not self.workspace.encrypted:
            if size != stored:
                raise errors.BadRequest(
                    'size is %d but the chunks hold %d bytes'
                    % (size, stored))
            return
        least = stored - chunking.SEALED_OVERHEAD * len(chunks)
        most = chunking.MAX_SIZE * len(chunks)
        if not least <= size <= most:
            raise errors.BadRequest(
                'size %d cannot be the plaintext of %d sealed chunks of '
                '%d bytes' % (size, len(chunks), stored))

    def check_packed(self, chunks):
        """Refuse chunks the caller found in packs whose index rows are
        gone since (garbage collection dropped them).

        Garbage collection drops a row only under this workspace's lock,
        after checking that no version references the chunk: a commit
        before it keeps the chunk, a commit after it is refused here and
        the client uploads the chunk again (DESIGN.md "Chunks and packs").
        A condemned row still counts: its bytes are there, and the
        collector's re-check will see this version.
        """
        wanted = sorted(self.packed.intersection(chunks))
        if not wanted:
            return
        found = set()
        for batch in db.batches(wanted):
            found.update(self.session.scalars(
                select(ChunkLocation.name).where(
                    ChunkLocation.container == self.workspace.container,
                    ChunkLocation.name.in_(batch))))
        gone = [name for name in wanted if name not in found]
        if gone:
            raise errors.MissingChunks(
                'chunks not stored in the workspace: ' + ', '.join(gone))

    def content(self, size, content_hash, chunks, mimetype, modified_at):
        """Validate a file's data description into a :class:`Content`."""
        size = _count(size, 'size')
        if size > MAX_SIZE:
            raise errors.BadRequest('size is too large')
        if content_hash is None and not self.workspace.encrypted:
            raise errors.BadRequest('a file needs its content_hash')
        if content_hash is not None:
            if not isinstance(content_hash, str) or \
                    not SHA256_HEX.match(content_hash.lower()):
                raise errors.BadRequest('content_hash must be a SHA-256 '
                                        'in hex')
            content_hash = content_hash.lower()
        chunks = _chunk_names(chunks)
        self.check_size(size, chunks)
        self.check_packed(chunks)
        return Content(size=size, content_hash=content_hash,
                       chunks=chunks,
                       mimetype=_optional_text(mimetype, 'mimetype')
                       or DEFAULT_MIMETYPE,
                       modified_at=_timestamp(modified_at))

    def current_content(self, item):
        if item.is_folder:
            return FOLDER_CONTENT
        return Content(size=item.size, content_hash=item.content_hash,
                       chunks=tuple(_chunks_of_items(
                           self.session, [item]).get(item.id, ())),
                       mimetype=item.mimetype, modified_at=item.modified_at)

    # -- writes

    def create(self, parent_id, name, is_folder, content):
        name = names.normalize_name(name)
        parent_id = self.live_folder(parent_id)
        self.check_name_free(parent_id, name)
        if not is_folder:
            self.charge(content.size, content.chunks)
        item = Item(workspace_id=self.workspace.id, parent_id=parent_id,
                    name=name, is_folder=is_folder, version=0)
        return self._new_version(item, models.NEW, content)

    def update(self, item, name=None, parent_id=_KEEP, content=None,
               revive=False):
        """Rename, move and/or change the data of ``item``.

        Nothing changing is not an error: the item comes back as it is.
        A deleted item comes back to life only if ``revive``.
        """
        name = item.name if name is None else names.normalize_name(name)
        if parent_id is _KEEP:
            parent_id = item.parent_id
        elif parent_id is not None:
            parent_id = _id(parent_id, 'parent_id') or None
        deleted = item.status == DELETED
        if deleted and not revive:
            raise errors.NotFound('item %d is deleted' % item.id)
        moved = parent_id != item.parent_id
        renamed = name != item.name
        old = self.current_content(item)
        changed = content is not None and not content.same_data(old)
        if not (moved or renamed or changed or deleted):
            return item
        if moved or deleted:
            parent_id = self.live_folder(parent_id)
            if item.is_folder:
                self.check_not_into_itself(item, parent_id)
        self.check_name_free(parent_id, name, item.id)
        new = content if changed else old
        if not item.is_folder:
            self.charge(new.size - (0 if deleted else old.size), new.chunks)
        item.name, item.parent_id = name, parent_id
        status = models.CHANGED if changed or deleted else \
            models.MOVED if moved else models.RENAMED
        return self._new_version(item, status, new)

    def delete(self, item):
        """Delete ``item`` and, for a folder, its live subtree."""
        if item.status == DELETED:
            return item
        subtree = [item] + self._live_descendants(item)
        shares.check_no_live_mount(self.session, subtree)
        self.charge(-sum(node.size for node in subtree
                         if not node.is_folder))
        chunks = _chunks_of_items(self.session, subtree)
        for node in subtree:
            # A deletion keeps the last state, so history shows what went.
            content = FOLDER_CONTENT if node.is_folder else Content(
                size=node.size, content_hash=node.content_hash,
                chunks=tuple(chunks.get(node.id, ())),
                mimetype=node.mimetype, modified_at=node.modified_at)
            self._new_version(node, DELETED, content)
        return item

    def restore(self, item, version):
        row = _version_row(self.session, item.id, version)
        if item.is_folder:
            if item.status != DELETED:
                raise errors.BadRequest('folder %d is not deleted'
                                        % item.id)
            return self.update(item, revive=True)
        if item.status != DELETED and version == item.version:
            raise errors.BadRequest('version %d is already the current one'
                                    % version)
        chunks = _chunks_of_versions(self.session, [row])[row.id]
        content = Content(size=row.size, content_hash=row.content_hash,
                          chunks=tuple(chunks), mimetype=row.mimetype,
                          modified_at=row.modified_at)
        before = item.version
        self.update(item, content=content, revive=True)
        if item.version == before:
            # The same data as now: still a new version, so that the
            # history shows the restore.
            self._new_version(item, models.CHANGED, content)
        return item

    def live_children(self, folder):
        """True if ``folder`` holds a live item (a sync client deleting
        with ``if_empty`` never takes along what it has not seen)."""
        return folder.is_folder and self.session.scalar(
            select(Item.id).where(Item.workspace_id == self.workspace.id,
                                  Item.parent_id == folder.id,
                                  Item.status != DELETED).limit(1)) \
            is not None

    def _live_descendants(self, folder):
        found, frontier = [], [folder.id]
        while frontier:
            batch, frontier = frontier[:500], frontier[500:]
            children = self.session.scalars(
                select(Item).where(Item.workspace_id == self.workspace.id,
                                   Item.parent_id.in_(batch),
                                   Item.status != DELETED)
                .order_by(Item.id)).all()
            found.extend(children)
            frontier.extend(child.id for child in children
                            if child.is_folder)
        return found

    def _new_version(self, item, status, content):
        """Record the next version of ``item`` at the next sequence."""
        self.workspace.seq += 1
        item.version += 1
        item.status = status
        item.seq = self.workspace.seq
        item.device_id = self.device_id
        item.user_id = self.user_id
        if content is FOLDER_CONTENT:
            item.size, item.content_hash, item.mimetype = 0, None, None
            item.modified_at = models.utcnow()
            chunks = ()
        else:
            item.size = content.size
            item.content_hash = content.content_hash
            item.mimetype = content.mimetype
            item.modified_at = content.modified_at
            chunks = content.chunks
        self.session.add(item)
        # Flushed at once: the next checks of a batch must see this row,
        # and the live-name index must see renames before creations.
        self.session.flush()
        version = ItemVersion(
            item_id=item.id, version=item.version, status=status,
            name=item.name, parent_id=item.parent_id, size=item.size,
            content_hash=item.content_hash, mimetype=item.mimetype,
            modified_at=item.modified_at, device_id=self.device_id,
            user_id=self.user_id, seq=item.seq)
        self.session.add(version)
        self.session.flush()
        if chunks:
            self.session.execute(insert(VersionChunk), [
                {'version_id': version.id, 'position': position,
                 'name': name} for position, name in enumerate(chunks)])
            if status != DELETED:
                self.take_waiting(chunks)
        self.touched.append(item)
        return item

    def finish(self, result=None):
        """Write the outbox event; returns ``result``'s metadata if given.
        """
        if self.touched:
            self.session.add(self._event())
        if result is not None:
            return self.meta(result)
        return None

    def _event(self):
        touched = self.touched[:MAX_EVENT_ITEMS]
        payload = {
            'type': 'commit',
            'workspace': self.workspace.id,
            'cursor': self.workspace.seq,
            'items': [{'id': item.id, 'version': item.version,
                       'status': item.status} for item in touched],
            'more': len(self.touched) > len(touched),
            'device': self.device_id,
            'user': self.user_id,
        }
        return Outbox(workspace_id=self.workspace.id,
                      routing_key='workspace.%d' % self.workspace.id,
                      payload=json.dumps(payload, sort_keys=True))


# -- lookups --------------------------------------------------------------

def _user(session, user_id, lock=False):
    query = select(User).where(User.id == _id(user_id, 'user id'))
    if lock:
        query = query.with_for_update()
    user = session.scalar(query)
    if user is None:
        raise errors.NotFound('no user %r' % (user_id,))
    return user


def _user_named(session, name):
    return session.scalar(select(User).where(User.name == name))


def _visible_workspace(session, user_id, workspace_id, lock=False,
                       missing=None):
    """The workspace and the user's role in it, or NotFound."""
    workspace_id = _id(workspace_id, 'workspace id')
    user_id = _id(user_id, 'user id')
    # One statement: this runs on every request of every client.
    query = select(Workspace, WorkspaceMember.role).join(
        WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id).where(
        Workspace.id == workspace_id, WorkspaceMember.user_id == user_id)
    if lock:
        # The lock that serializes writes to this workspace.
        query = query.with_for_update(of=Workspace)
    row = session.execute(
        query.execution_options(populate_existing=True)).first()
    if row is None:
        raise errors.NotFound(missing or 'no workspace %d' % workspace_id)
    return row[0], row[1]


def _workspace(session, workspace_id, lock=False):
    query = select(Workspace).where(
        Workspace.id == _id(workspace_id, 'workspace id'))
    if lock:
        query = query.with_for_update()
    workspace = session.scalar(query.execution_options(
        populate_existing=True))
    if workspace is None:
        raise errors.NotFound('no workspace %r' % (workspace_id,))
    return workspace


def _chunk_name(name):
    if not isinstance(name, str) or not CHUNK_NAME.match(name):
        raise errors.BadRequest('%r is not a chunk name (chk-<64 hex>)'
                                % (name,))
    return name


def _private_workspace(session, user_id):
    workspace = session.scalar(
        select(Workspace).where(Workspace.owner_id == _id(user_id, 'user'),
                                Workspace.is_shared.is_(False))
        .order_by(Workspace.id))
    if workspace is None:
        raise errors.NotFound('no user %r' % (user_id,))
    return workspace


def _visible_item(session, user_id, item_id):
    item = session.get(Item, _id(item_id, 'item id'))
    if item is None:
        raise errors.NotFound('no item %d' % item_id)
    _visible_workspace(session, user_id, item.workspace_id,
                       missing='no item %d' % item_id)
    return item


def _workspace_of_item(session, item_id):
    workspace_id = session.scalar(
        select(Item.workspace_id).where(Item.id == item_id))
    if workspace_id is None:
        raise errors.NotFound('no item %d' % item_id)
    return workspace_id


def _version_row(session, item_id, version):
    row = session.scalar(select(ItemVersion).where(
        ItemVersion.item_id == item_id, ItemVersion.version == version))
    if row is None:
        raise errors.NotFound('item %d has no version %d'
                              % (item_id, version))
    return row


def _parent_is(parent_id):
    if parent_id is None:
        return Item.parent_id.is_(None)
    return Item.parent_id == parent_id


def _workspaces_of(session, user_id):
    rows = session.execute(
        select(Workspace, WorkspaceMember.role)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
        .order_by(Workspace.id))
    return [_workspace_dict(workspace, role) for workspace, role in rows]


def _new_workspace(session, owner, name, is_shared, encrypted=False):
    workspace = Workspace(name=name, owner_id=owner.id, seq=0,
                          container='ws-%s' % uuid.uuid4().hex,
                          is_shared=is_shared, encrypted=encrypted)
    session.add(workspace)
    session.flush()
    session.add(WorkspaceMember(workspace_id=workspace.id, user_id=owner.id,
                                role=models.OWNER))
    return workspace


def _chunks_of_items(session, items):
    """Chunk names of the current versions of ``items``, by item id."""
    files = [item for item in items if not item.is_folder]
    found = {}
    for start in range(0, len(files), 500):
        batch = files[start:start + 500]
        # Keyed on (item, version) as read, not on the item row now: a
        # write committed meanwhile must not mix its chunks in.
        wanted = {(item.id, item.version) for item in batch}
        rows = session.execute(
            select(ItemVersion.item_id, ItemVersion.version,
                   VersionChunk.name)
            .join(VersionChunk, VersionChunk.version_id == ItemVersion.id)
            .where(ItemVersion.item_id.in_([item.id for item in batch]))
            .where(ItemVersion.version.in_(
                {item.version for item in batch}))
            .order_by(ItemVersion.item_id, VersionChunk.position))
        for item_id, version, name in rows:
            if (item_id, version) in wanted:
                found.setdefault(item_id, []).append(name)
    return found


def _chunks_of_versions(session, versions):
    found = {version.id: [] for version in versions}
    if found:
        rows = session.execute(
            select(VersionChunk.version_id, VersionChunk.name)
            .where(VersionChunk.version_id.in_(list(found)))
            .order_by(VersionChunk.version_id, VersionChunk.position))
        for version_id, name in rows:
            found[version_id].append(name)
    return found


# -- what the API sends ----------------------------------------------------

def _metas(session, items):
    chunks = _chunks_of_items(session, items)
    mounts = shares.mounts_of(session, items)
    metas = [_item_meta(item, chunks.get(item.id, [])) for item in items]
    for meta in metas:
        if meta['id'] in mounts:
            meta['mount_workspace_id'] = mounts[meta['id']]
    return metas


def _item_meta(item, chunks):
    meta = {
        'id': item.id,
        'parent_id': item.parent_id,
        'filename': item.name,
        'is_folder': item.is_folder,
        'status': item.status,
        'version': item.version,
        'workspace_id': item.workspace_id,
        'modified_at': _iso(item.modified_at),
        'device': item.device_id,
        'user': item.user_id,
    }
    if not item.is_folder:
        meta.update(size=item.size, checksum=item.content_hash,
                    content_hash=item.content_hash, mimetype=item.mimetype,
                    chunks=list(chunks))
    return meta


def _version_meta(item, version, chunks):
    meta = {
        'id': item.id,
        'version': version.version,
        'status': version.status,
        'parent_id': version.parent_id,
        'filename': version.name,
        'is_folder': item.is_folder,
        'workspace_id': item.workspace_id,
        'modified_at': _iso(version.modified_at),
        'created_at': _iso(version.created_at),
        'device': version.device_id,
        'user': version.user_id,
        'seq': version.seq,
    }
    if not item.is_folder:
        meta.update(size=version.size, checksum=version.content_hash,
                    content_hash=version.content_hash,
                    mimetype=version.mimetype, chunks=list(chunks))
    return meta


def _root_meta(workspace):
    return {'id': None, 'parent_id': None, 'filename': workspace.name,
            'is_folder': True, 'status': None, 'version': None,
            'workspace_id': workspace.id}


def _user_dict(user):
    return {'id': user.id, 'name': user.name, 'email': user.email,
            'keystone_id': user.keystone_id,
            'quota_limit': user.quota_limit, 'quota_used': user.quota_used,
            'has_password': user.password_hash is not None,
            'created_at': _iso(user.created_at)}


def _device_dict(device):
    return {'id': device.id, 'user_id': device.user_id, 'name': device.name,
            'created_at': _iso(device.created_at),
            'last_seen': _iso(device.last_seen)}


def _workspace_dict(workspace, role):
    """A workspace as the API shows it.

    ``key_container`` is the container name whose salt derives the
    client-side key: the workspace's own, except for a folder shared out
    of an encrypted workspace, which keeps its origin's.
    """
    return {'id': workspace.id, 'name': workspace.name,
            'owner': workspace.owner_id, 'role': role,
            'is_shared': workspace.is_shared,
            'encrypted': workspace.encrypted,
            'container': workspace.container,
            'key_container': workspace.key_container or workspace.container,
            'copy_source': workspace.copy_source,
            'cursor': workspace.seq}


def _user_event(user_id, kind, body):
    payload = dict(body, type=kind, user=user_id)
    return Outbox(user_id=user_id, routing_key='user.%d' % user_id,
                  payload=json.dumps(payload, sort_keys=True))


def _iso(moment):
    if moment is None:
        return None
    return moment.astimezone(datetime.timezone.utc).isoformat().replace(
        '+00:00', 'Z')


# -- input validation -----------------------------------------------------

def _id(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or \
            value < 0 or value >= 2 ** 63:
        raise errors.BadRequest('%s must be an id, not %r' % (what, value))
    return value


def _count(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.BadRequest('%s must be a whole number >= 0, not %r'
                                % (what, value))
    return value


def _positive(value, what):
    if _count(value, what) == 0:
        raise errors.BadRequest('%s must be at least 1' % what)
    return value


def _flag(value, what):
    if not isinstance(value, bool):
        raise errors.BadRequest('%s must be true or false' % what)
    return value


def _text(value, what):
    if not isinstance(value, str) or not value.strip() or \
            len(value) > MAX_TEXT or _CONTROL.search(value):
        raise errors.BadRequest('%s must be text of 1 to %d printable '
                                'characters' % (what, MAX_TEXT))
    return value


def _optional_text(value, what):
    return None if value is None else _text(value, what)


def _user_name(name):
    return _text(name, 'a user name')


def _chunk_names(chunks):
    if not isinstance(chunks, (list, tuple)):
        raise errors.BadRequest('chunks must be a list of chunk names')
    if len(chunks) > MAX_CHUNKS:
        raise errors.BadRequest('a file has at most %d chunks' % MAX_CHUNKS)
    return tuple(_chunk_name(name) for name in chunks)


def _timestamp(value):
    """A UTC datetime from a datetime (naive means UTC) or ISO 8601."""
    if value is None:
        return models.utcnow()
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise errors.BadRequest('modified_at must be ISO 8601, not %r'
                                    % value)
    if not isinstance(value, datetime.datetime):
        raise errors.BadRequest('modified_at must be a date and time')
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return value.astimezone(datetime.timezone.utc)


# -- passwords --------------------------------------------------------------

def hash_password(password):
    """``scrypt$n$r$p$salt$hash`` for ``password`` with a random salt.

    scrypt runs off the eventlet hub in the proxy (:func:`db.off_hub`).
    """
    if not isinstance(password, str) or not password or \
            len(password) > MAX_PASSWORD:
        raise errors.BadRequest('a password is 1 to %d characters'
                                % MAX_PASSWORD)
    salt = os.urandom(16)
    key = db.off_hub(_scrypt(salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive,
                     password.encode('utf-8'))
    return 'scrypt$%d$%d$%d$%s$%s' % (SCRYPT_N, SCRYPT_R, SCRYPT_P,
                                      _b64(salt), _b64(key))


def password_matches(stored, password):
    """True if ``password`` hashes to ``stored`` (constant time).

    scrypt runs off the eventlet hub in the proxy (:func:`db.off_hub`).
    """
    try:
        scheme, n, r, p, salt, key = stored.split('$')
        if scheme != 'scrypt':
            return False
        kdf = _scrypt(base64.b64decode(salt), int(n), int(r), int(p),
                      len(base64.b64decode(key)))
        db.off_hub(kdf.verify, password.encode('utf-8'),
                   base64.b64decode(key))
        return True
    except (InvalidKey, ValueError, TypeError, AttributeError):
        return False


_DUMMY_HASH = []


def _dummy_hash():
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(os.urandom(16).hex()))
    return _DUMMY_HASH[0]


def _scrypt(salt, n, r, p, length=SCRYPT_LENGTH):
    return Scrypt(salt=salt, length=length, n=n, r=r, p=p)


def _b64(data):
    return base64.b64encode(data).decode('ascii')
