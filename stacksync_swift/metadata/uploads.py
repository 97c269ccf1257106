"""Chunks stored but not yet part of any version: the quota's other half.

A sync client stores a file's chunks first (``PUT …/chunk/{name}``, or a
raw Swift PUT into the workspace container) and commits the file after.
Until the commit, and forever if it never comes, those bytes sit in Swift
and no file size counts them. ``chunk_uploads`` lists them, with their
sizes, and the workspace owner's quota counts them:

* a chunk is *reserved* before its PUT (:func:`reserve`): refused when the
  owner's live files plus the chunks already waiting plus this one would
  pass a non-zero limit; a reservation whose PUT found the chunk already
  stored, or failed, is *released* (:func:`release`);
* chunks a server-side upload stored are *recorded* after the fact
  (:func:`record`; the upload was bounded by :func:`allowance` before it
  began);
* a version that references a waiting chunk takes it off the list
  (:func:`take_referenced`): from then on the file's size counts it.

These are functions on an open session, called by
:class:`~stacksync_swift.metadata.service.MetadataService` inside its
transactions; callers lock the workspace's row and then the owner's
``users`` row (the order of every write, commits included, so none waits
on another in a cycle), so two reservations of one owner never both pass
the check.
"""

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import insert
from sqlalchemy import select

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata.models import ChunkUpload
from stacksync_swift.metadata.models import Workspace


def pending_bytes(session, owner_id):
    """Bytes of waiting chunks in all the workspaces ``owner_id`` owns."""
    return int(session.scalar(
        select(func.coalesce(func.sum(ChunkUpload.size), 0))
        .join(Workspace, Workspace.id == ChunkUpload.workspace_id)
        .where(Workspace.owner_id == owner_id)))


def check_room(owner, pending, size):
    """Refuse ``size`` more bytes when the owner's quota has no room."""
    if owner.quota_limit and \
            owner.quota_used + pending + size > owner.quota_limit:
        raise errors.QuotaExceeded(
            'this needs %d more bytes; %d of the %d bytes of the owner\'s '
            'quota are used (%d of them by chunks not yet committed)'
            % (size, owner.quota_used + pending, owner.quota_limit,
               pending))


def reserve(session, owner, workspace_id, name, size):
    """Count a chunk about to be stored; True if it was not counted yet.

    :raises QuotaExceeded: the owner's quota has no room for it
    """
    if session.get(ChunkUpload, (workspace_id, name)) is not None:
        return False
    check_room(owner, pending_bytes(session, owner.id), size)
    session.add(ChunkUpload(workspace_id=workspace_id, name=name,
                            size=size))
    return True


def release(session, workspace_id, name):
    session.execute(delete(ChunkUpload).where(
        ChunkUpload.workspace_id == workspace_id, ChunkUpload.name == name))


def record(session, workspace_id, chunks):
    """Count stored chunks ``[(name, size), ...]`` not counted yet."""
    wanted = dict(chunks)
    for batch in db.batches(sorted(wanted)):
        known = set(session.scalars(select(ChunkUpload.name).where(
            ChunkUpload.workspace_id == workspace_id,
            ChunkUpload.name.in_(batch))))
        rows = [{'workspace_id': workspace_id, 'name': name,
                 'size': wanted[name]} for name in batch
                if name not in known]
        if rows:
            session.execute(insert(ChunkUpload), rows)


def waiting(session, workspace_id, names):
    """Bytes of the waiting chunks among ``names`` of one workspace."""
    total = 0
    for batch in db.batches(sorted(set(names))):
        total += int(session.scalar(
            select(func.coalesce(func.sum(ChunkUpload.size), 0)).where(
                ChunkUpload.workspace_id == workspace_id,
                ChunkUpload.name.in_(batch))))
    return total


def take_referenced(session, workspace_id, names):
    """Take chunks a new version references off the list."""
    for batch in db.batches(sorted(set(names))):
        session.execute(delete(ChunkUpload).where(
            ChunkUpload.workspace_id == workspace_id,
            ChunkUpload.name.in_(batch)))

