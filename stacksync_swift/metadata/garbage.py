"""What garbage collection may take, decided in the metadata database.

The database half of ``stacksync-swift gc`` (:mod:`stacksync_swift.gc`
does the Swift half). Plain SQLAlchemy: no WSGI, no Swift.

A chunk of a workspace is *live* while a version of one of the
workspace's items references it, or while it waits for a commit
(``chunk_uploads``) that is younger than the grace period. Everything
else in the workspace's chunk index is garbage, collected in two steps a
grace period apart, so that nothing an upload or a commit under way could
still lean on is ever removed:

1. :meth:`Garbage.condemn` marks the rows of unreferenced chunks whose
   pack is older than the grace period (``condemned_at``). From then on
   uploads see them as missing (:meth:`~.chunkindex.ChunkIndex.locate`)
   and store them again if they want them; reads still find them.
2. :meth:`Garbage.sweep`, on a later run (or the same one with a grace of
   0), takes the workspace's row lock, the lock every commit takes first,
   looks again which condemned rows a version now references (they keep
   their rows, unmarked) and deletes the others. A commit that found a
   chunk in a pack confirms its row under the same lock
   (``_Change.check_packed`` in :mod:`.service`): it either comes first
   and is seen here, or comes after and is refused with
   ``missing_chunks``.

History retention (:meth:`Garbage.purge_versions`) deletes versions that
were replaced more than ``keep_versions_days`` ago; every item keeps its
current version, deletions included, so a device that comes back late
still learns of a delete.
"""

import datetime

from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ChunkLocation
from stacksync_swift.metadata.models import ChunkUpload
from stacksync_swift.metadata.models import Item
from stacksync_swift.metadata.models import ItemVersion
from stacksync_swift.metadata.models import Pack
from stacksync_swift.metadata.models import VersionChunk
from stacksync_swift.metadata.models import Workspace
from stacksync_swift.metadata.models import utcnow


class Garbage:
    """The collector's questions and changes, one transaction each."""

    def __init__(self, engine):
        self.engine = engine

    def workspaces(self):
        """``{container: {'id', 'encrypted', 'copy_source'}}`` of every
        workspace."""
        with db.session(self.engine) as session:
            return {container: {'id': wid, 'encrypted': bool(encrypted),
                                'copy_source': source}
                    for wid, container, encrypted, source in session.execute(
                        select(Workspace.id, Workspace.container,
                               Workspace.encrypted, Workspace.copy_source))}

    def purge_versions(self, workspace_id, keep_days, now=None):
        """Delete versions replaced more than ``keep_days`` days ago.

        A version is replaced when the item's next version was committed;
        the current version of each item always stays.

        :returns: the number of versions deleted
        """
        now = now or utcnow()
        cutoff = now - datetime.timedelta(days=keep_days)
        with db.session(self.engine) as session:
            _lock_workspace(session, workspace_id)
            rows = session.execute(
                select(ItemVersion.id, ItemVersion.item_id,
                       ItemVersion.version, ItemVersion.created_at,
                       Item.version)
                .join(Item, Item.id == ItemVersion.item_id)
                .where(Item.workspace_id == workspace_id)
                .order_by(ItemVersion.item_id, ItemVersion.version)).all()
            doomed = []
            for row, following in zip(rows, rows[1:]):
                version_id, item_id, version, _created, current = row
                replaced_at = following[3]
                if following[1] == item_id and version < current and \
                        replaced_at < cutoff:
                    doomed.append(version_id)
            for batch in db.batches(doomed):
                session.execute(delete(VersionChunk).where(
                    VersionChunk.version_id.in_(batch)))
                session.execute(delete(ItemVersion).where(
                    ItemVersion.id.in_(batch)))
        return len(doomed)

    def expire_uploads(self, workspace_id, cutoff):
        """Forget chunks that waited longer than the grace period for a
        commit that never came; their bytes leave the owner's quota.

        :returns: ``(chunks, bytes)`` released
        """
        with db.session(self.engine) as session:
            _lock_workspace(session, workspace_id)
            old = (ChunkUpload.workspace_id == workspace_id,
                   ChunkUpload.created_at < cutoff)
            count, size = session.execute(
                select(func.count(), func.coalesce(func.sum(
                    ChunkUpload.size), 0)).where(*old)).one()
            session.execute(delete(ChunkUpload).where(*old))
        return int(count), int(size)

    def condemn(self, workspace_id, container, cutoff, now=None):
        """Mark the unreferenced chunks of packs older than ``cutoff``.

        Rows a version references again lose their mark.

        :returns: ``(condemned now, unmarked)``
        """
        now = now or utcnow()
        with db.session(self.engine) as session:
            live = _live_names(session, workspace_id, cutoff)
            rows = session.execute(
                select(ChunkLocation.name, ChunkLocation.condemned_at,
                       Pack.created_at)
                .join(Pack, (Pack.container == ChunkLocation.container) &
                      (Pack.name == ChunkLocation.pack), isouter=True)
                .where(ChunkLocation.container == container)).all()
            doomed, spared = [], []
            for name, condemned_at, pack_created in rows:
                if name in live:
                    if condemned_at is not None:
                        spared.append(name)
                elif condemned_at is None and \
                        (pack_created is None or pack_created < cutoff):
                    doomed.append(name)
            _mark(session, container, doomed, now)
            _mark(session, container, spared, None)
        return len(doomed), len(spared)

    def sweep(self, workspace_id, container, cutoff):
        """Delete the rows condemned before ``cutoff`` that are still
        unreferenced, under the workspace's lock.

        :returns: ``(rows deleted, their bytes, rows a version took back)``
        """
        with db.session(self.engine) as session:
            _lock_workspace(session, workspace_id)
            rows = session.execute(
                select(ChunkLocation.name, ChunkLocation.length)
                .where(ChunkLocation.container == container,
                       ChunkLocation.condemned_at.is_not(None),
                       ChunkLocation.condemned_at <= cutoff)).all()
            names = sorted(name for name, _length in rows)
            wanted = _referenced(session, workspace_id, names) | \
                _waiting(session, workspace_id, names, cutoff)
            doomed = [name for name in names if name not in wanted]
            for batch in db.batches(doomed):
                session.execute(delete(ChunkLocation).where(
                    ChunkLocation.container == container,
                    ChunkLocation.name.in_(batch),
                    ChunkLocation.condemned_at.is_not(None)))
            _mark(session, container, sorted(wanted), None)
            freed = sum(length for name, length in rows
                        if name not in wanted)
        return len(doomed), freed, len(wanted)


def _lock_workspace(session, workspace_id):
    """The workspace's row lock: the one every commit takes first."""
    session.scalar(select(Workspace.id).where(Workspace.id == workspace_id)
                   .with_for_update())


def _readers(session, workspace_id):
    """The workspace and those still copying their chunks from it (a
    shared folder's first accept, stacksync_swift.sharing): the versions
    whose chunks must stay in its container."""
    container = session.scalar(select(Workspace.container).where(
        Workspace.id == workspace_id))
    return [workspace_id] + list(session.scalars(
        select(Workspace.id).where(Workspace.copy_source == container)))


def _live_names(session, workspace_id, cutoff):
    """Every chunk the workspace's versions reference (and the versions
    of workspaces copying from it), and its chunks waiting for a commit
    since ``cutoff`` or later."""
    live = set(session.scalars(
        select(VersionChunk.name).distinct()
        .join(ItemVersion, ItemVersion.id == VersionChunk.version_id)
        .join(Item, Item.id == ItemVersion.item_id)
        .where(Item.workspace_id.in_(_readers(session, workspace_id)))))
    live.update(session.scalars(
        select(ChunkUpload.name).where(
            ChunkUpload.workspace_id == workspace_id,
            ChunkUpload.created_at >= cutoff)))
    return live


def _referenced(session, workspace_id, names):
    readers = _readers(session, workspace_id)
    found = set()
    for batch in db.batches(names):
        found.update(session.scalars(
            select(VersionChunk.name).distinct()
            .join(ItemVersion, ItemVersion.id == VersionChunk.version_id)
            .join(Item, Item.id == ItemVersion.item_id)
            .where(Item.workspace_id.in_(readers),
                   VersionChunk.name.in_(batch))))
    return found


def _waiting(session, workspace_id, names, cutoff):
    found = set()
    for batch in db.batches(names):
        found.update(session.scalars(
            select(ChunkUpload.name).where(
                ChunkUpload.workspace_id == workspace_id,
                ChunkUpload.created_at >= cutoff,
                ChunkUpload.name.in_(batch))))
    return found


def _mark(session, container, names, moment):
    for batch in db.batches(names):
        session.execute(update(ChunkLocation).where(
            ChunkLocation.container == container,
            ChunkLocation.name.in_(batch)).values(condemned_at=moment))

