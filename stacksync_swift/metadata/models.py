"""The metadata schema: users, workspaces, items and their versions.

One SQL database is shared by every Swift proxy (SQLite for the all-in-one,
PostgreSQL in production); Alembic migrations in :mod:`.migrations` create
and evolve it, and ``tests/unit/metadata`` checks that they match these
classes.

The tables, and the queries their indexes serve:

``users``, ``devices``
    Accounts (password hash, quota) and the sync clients they use.
``workspaces``, ``workspace_members``
    A workspace is one Swift container (``container``). ``seq`` is its
    sequence: every change takes the next number, and a cursor is a
    position in it. ``key_container`` is set on a shared workspace made
    from a folder of an encrypted one: the container whose name salts
    the key its chunks are sealed with (the origin's), since the copied
    chunks keep that key; NULL means the workspace's own container.
    ``copy_source`` is the container its chunks are still being copied
    from, after a shared folder's first accept (reads fall back to it).
``items``
    The current state of every file and folder: one row per item, updated
    in place, with ``seq`` the sequence number of its last change. A delta
    is ``WHERE workspace_id = ? AND seq > ? ORDER BY seq`` on the unique
    index ``(workspace_id, seq)``: its cost grows with the changes, never
    with the tree. A listing, and the check that a name is free, read
    ``(workspace_id, parent_id, name)``. ``parent_id`` NULL means the
    workspace's root.
``item_versions``, ``version_chunks``
    The history: one row per version (deletes included), never updated,
    and the ordered chunk names of each version.
``share_proposals``
    An offer to share a folder with a user (``pending`` until the
    addressee accepts or declines). The addressee's inbox reads
    ``(addressee_id, status)``.
``mounts``
    Folder items that stand for the root of a shared workspace: the
    owner's shared folder and a mount in each member's root (see
    :mod:`stacksync_swift.sharing`). ``workspaces.acl_version`` counts the
    workspace's membership changes and ``acl_synced`` is the version last
    written to the container's ACLs; they differ while Swift owes an update.
``chunk_uploads``
    Chunks stored in a workspace's container that no version references
    yet: uploaded by a sync client (API or raw Swift) before its commit,
    or left behind by a commit that never came. Their bytes count against
    the workspace owner's quota (:meth:`~.service.MetadataService.
    reserve_chunk`) until a version references them, when the file's size
    takes over.
``packs``, ``chunk_locations``
    The chunk index (DESIGN.md "Chunks and packs"): every pack object in a
    container, and where each chunk stored in a pack lies,
    (container, chunk) -> (pack, offset, length). Keyed by container, not
    workspace: a shared folder's first accept fills its new container
    before the workspace row exists. A row is written only after its
    pack's PUT succeeded, so a located chunk is stored. Chunks stored one
    per object (``chk-...`` objects, from before packs or written by raw
    Swift) have no row and are found in Swift. ``condemned_at`` and
    ``retired_at`` are garbage collection's marks
    (:mod:`stacksync_swift.gc`).
``outbox``
    Events written in the transaction of the change they announce and
    published after it (DESIGN.md section 6); ``published`` is the order
    the relay published them in, which the embedded transport reads by.

Ids are integers: 64-bit on PostgreSQL, SQLite's ``INTEGER PRIMARY KEY``
(its rowid, the only column type it autoincrements) there. Timestamps are
stored as naive UTC and read back timezone-aware, the same on both
backends.
"""

import datetime
from typing import Optional

from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import MetaData
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import TypeDecorator
from sqlalchemy import UniqueConstraint
from sqlalchemy import func
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

Id = BigInteger().with_variant(Integer(), 'sqlite')

# Item and version states, DESIGN.md section 4.
NEW = 'NEW'
CHANGED = 'CHANGED'
RENAMED = 'RENAMED'
MOVED = 'MOVED'
DELETED = 'DELETED'
STATUSES = (NEW, CHANGED, RENAMED, MOVED, DELETED)

OWNER = 'owner'
EDITOR = 'editor'
VIEWER = 'viewer'
ROLES = (OWNER, EDITOR, VIEWER)
WRITER_ROLES = (OWNER, EDITOR)

# Constraint names Alembic can find again on every backend.
NAMING_CONVENTION = {
    'ix': 'ix_%(column_0_label)s',
    'uq': 'uq_%(table_name)s_%(column_0_N_name)s',
    'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s',
    'pk': 'pk_%(table_name)s',
}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime, stored naive (the same everywhere)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc)
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    __tablename__ = 'users'

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[Optional[str]] = mapped_column(String(255))
    # "scrypt$n$r$p$salt$hash"; NULL when another system (Keystone)
    # checks the password.
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    # The Keystone user id of a user made in Keystone mode, else NULL.
    keystone_id: Mapped[Optional[str]] = mapped_column(
        String(64), unique=True, index=True)
    quota_limit: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_used: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class Device(Base):
    __tablename__ = 'devices'
    __table_args__ = (UniqueConstraint('user_id', 'name'),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    last_seen: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)


class Workspace(Base):
    __tablename__ = 'workspaces'

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    container: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    is_shared: Mapped[bool] = mapped_column(Boolean, default=False)
    encrypted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Whose container name salts the client-side key; NULL: our own.
    key_container: Mapped[Optional[str]] = mapped_column(String(64))
    # The container this workspace's chunks are still being copied from
    # (a shared folder's first accept); NULL when there is nothing to copy.
    copy_source: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    # Membership changes so far, and the one the container's ACLs show.
    acl_version: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default='0')
    acl_synced: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default='0')


class WorkspaceMember(Base):
    __tablename__ = 'workspace_members'

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey('workspaces.id', ondelete='CASCADE'), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), primary_key=True,
        index=True)
    role: Mapped[str] = mapped_column(String(16))
    joined_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class Item(Base):
    __tablename__ = 'items'
    __table_args__ = (
        UniqueConstraint('workspace_id', 'seq'),
        Index('ix_items_workspace_id_parent_id_name',
              'workspace_id', 'parent_id', 'name'),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey('workspaces.id', ondelete='CASCADE'))
    # Indexed on its own for the foreign key: deleting a workspace must
    # not scan the table once per item.
    parent_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('items.id', ondelete='CASCADE'), index=True)
    name: Mapped[str] = mapped_column(String(255))
    is_folder: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[Optional[str]] = mapped_column(String(64))
    mimetype: Mapped[Optional[str]] = mapped_column(String(255))
    modified_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('devices.id', ondelete='SET NULL'))
    user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('users.id', ondelete='SET NULL'))


# A backstop for the live-name check the service makes under the workspace
# lock: deleted items do not hold their name, and NULL parents (the root)
# compare equal here.
Index('uq_items_live_name', Item.workspace_id,
      func.coalesce(Item.parent_id, 0), Item.name, unique=True,
      sqlite_where=text("status != 'DELETED'"),
      postgresql_where=text("status != 'DELETED'"))


class ItemVersion(Base):
    __tablename__ = 'item_versions'
    __table_args__ = (UniqueConstraint('item_id', 'version'),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey('items.id', ondelete='CASCADE'))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    # History, not a reference: the parent may be gone since.
    parent_id: Mapped[Optional[int]] = mapped_column(Id)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_hash: Mapped[Optional[str]] = mapped_column(String(64))
    mimetype: Mapped[Optional[str]] = mapped_column(String(255))
    modified_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)
    device_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('devices.id', ondelete='SET NULL'))
    user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('users.id', ondelete='SET NULL'))
    seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class VersionChunk(Base):
    __tablename__ = 'version_chunks'

    version_id: Mapped[int] = mapped_column(
        ForeignKey('item_versions.id', ondelete='CASCADE'),
        primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(68))


class ChunkUpload(Base):
    __tablename__ = 'chunk_uploads'

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey('workspaces.id', ondelete='CASCADE'), primary_key=True)
    name: Mapped[str] = mapped_column(String(68), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class Pack(Base):
    __tablename__ = 'packs'

    container: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    # Set when garbage collection copied its live chunks into a new pack;
    # the object goes a grace period later (stacksync_swift.gc).
    retired_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)


class ChunkLocation(Base):
    __tablename__ = 'chunk_locations'
    __table_args__ = (
        # A pack's chunks, for garbage collection and for dropping a pack.
        Index('ix_chunk_locations_pack', 'container', 'pack'),
    )

    container: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(68), primary_key=True)
    pack: Mapped[str] = mapped_column(String(40))
    offset: Mapped[int] = mapped_column(BigInteger)
    length: Mapped[int] = mapped_column(Integer)
    # Set when garbage collection found no version referencing the chunk;
    # its row goes if that still holds a grace period later. Uploads and
    # lookups treat a condemned chunk as missing, reads still find it.
    condemned_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)


class Outbox(Base):
    __tablename__ = 'outbox'
    __table_args__ = (
        # The relay's "what is left to publish", oldest first.
        Index('ix_outbox_unsent', 'id',
              sqlite_where=text('sent_at IS NULL'),
              postgresql_where=text('sent_at IS NULL')),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # No foreign keys: an event outlives what it announces (a deletion).
    workspace_id: Mapped[Optional[int]] = mapped_column(Id)
    user_id: Mapped[Optional[int]] = mapped_column(Id)
    routing_key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    sent_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)
    # The relay's publication order, gap-free across the database: the
    # embedded event transport reads the outbox by it (see events.py).
    published: Mapped[Optional[int]] = mapped_column(
        BigInteger, unique=True, index=True)


# Proposal states.
PENDING = 'pending'
ACCEPTED = 'accepted'
DECLINED = 'declined'


class ShareProposal(Base):
    __tablename__ = 'share_proposals'
    __table_args__ = (
        Index('ix_share_proposals_addressee_id_status',
              'addressee_id', 'status'),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # The owner's folder: the one that becomes (or is) the shared one.
    folder_id: Mapped[int] = mapped_column(
        ForeignKey('items.id', ondelete='CASCADE'), index=True)
    sender_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True)
    addressee_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'))
    role: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    answered_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)


class Mount(Base):
    __tablename__ = 'mounts'

    # A folder item whose contents are the root of ``workspace_id``.
    item_id: Mapped[int] = mapped_column(
        ForeignKey('items.id', ondelete='CASCADE'), primary_key=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey('workspaces.id', ondelete='CASCADE'), index=True)
