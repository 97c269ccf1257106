"""The chunk index: where each chunk stored in a pack lies.

(container, chunk) -> (pack, offset, length), plus the list of each
container's packs (DESIGN.md "Chunks and packs", :mod:`stacksync_swift.
packs`). :class:`~stacksync_swift.storage.ChunkStore` writes a pack's rows
only after Swift stored the pack, in one transaction per pack, so a chunk
with a row is stored; a commit that finds its chunks here needs no Swift
request to know it. Every call is one short transaction.

Two uploads may store the same new chunk at once, each in its own pack.
The first pack whose rows commit owns the chunk; the other's copy stays
as dead bytes in its pack (garbage collection reclaims them) and
:meth:`ChunkIndex.add_pack` reports it as not added, so the upload that
stored it does not count it against the quota twice.

Garbage collection (:mod:`stacksync_swift.gc`) *condemns* rows no version
references (``condemned_at``) and removes them a grace period later. A
condemned chunk is missing to every question an upload or a commit asks
(:meth:`ChunkIndex.locate`): the client sends it again, and the new pack's
row replaces the condemned one. Reads still find it (``for_read``): a
commit that referenced it just before it was condemned must stay readable,
and the collector's re-check under the workspace lock clears the mark.
"""

import collections

from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ChunkLocation
from stacksync_swift.metadata.models import Pack
from stacksync_swift.metadata.models import utcnow

# Attempts at a pack's rows when concurrent uploads of the same chunks
# keep winning the race to insert them.
ADD_ATTEMPTS = 5

Location = collections.namedtuple('Location', 'pack offset length')
# A pack as garbage collection sees it: the ``rows`` that lie in it and
# their bytes (``live``), condemned ones included (``condemned`` of them).
PackUsage = collections.namedtuple(
    'PackUsage', 'name size created_at retired_at rows live condemned')


class ChunkIndex:
    """The chunk index of every container, in the metadata database."""

    def __init__(self, engine):
        self.engine = engine
        self.read_engine = db.reader(engine)

    def locate(self, container, names, for_read=False):
        """``{name: Location}`` for the ``names`` stored in packs.

        :param for_read: also condemned chunks (a read of a version that
            references one); otherwise they count as missing, so an upload
            stores them again rather than lean on bytes about to go
        """
        found = {}
        unique = sorted(set(names))
        with db.session(self.read_engine) as session:
            for batch in db.batches(unique):
                query = (select(ChunkLocation.name, ChunkLocation.pack,
                                ChunkLocation.offset, ChunkLocation.length)
                         .where(ChunkLocation.container == container,
                                ChunkLocation.name.in_(batch)))
                if not for_read:
                    query = query.where(ChunkLocation.condemned_at.is_(None))
                for name, pack, offset, length in session.execute(query):
                    found[name] = Location(pack, offset, length)
        return found

    def add_pack(self, container, pack, size, entries):
        """Record a pack Swift has stored, and its chunks not yet located.

        A condemned row counts as not located: this pack's copy replaces
        it (the chunk is wanted again).

        :param entries: ``[(name, offset, length), ...]`` as in the pack's
            own index
        :returns: the set of names this pack now holds for the index
            (the others were located in another pack first)
        """
        return self._retrying(self._add_pack, container, pack, size, entries)

    @staticmethod
    def _retrying(write, *args):
        for attempt in range(ADD_ATTEMPTS):
            try:
                return write(*args)
            except Exception as error:
                # Another pack's rows took one of these names between our
                # check and our insert: look again.
                if not db.is_race(error) or attempt == ADD_ATTEMPTS - 1:
                    raise

    def _add_pack(self, container, pack, size, entries):
        by_name = {}
        for name, offset, length in entries:
            by_name.setdefault(name, (offset, length))
        with db.session(self.engine) as session:
            if session.get(Pack, (container, pack)) is None:
                session.add(Pack(container=container, name=pack, size=size,
                                 chunk_count=len(entries)))
            names = sorted(by_name)
            taken = set()
            for batch in db.batches(names):
                # Condemned rows make way for this pack's copy.
                session.execute(delete(ChunkLocation).where(
                    ChunkLocation.container == container,
                    ChunkLocation.name.in_(batch),
                    ChunkLocation.condemned_at.is_not(None)))
                taken.update(session.scalars(
                    select(ChunkLocation.name).where(
                        ChunkLocation.container == container,
                        ChunkLocation.name.in_(batch))))
            added = [name for name in names if name not in taken]
            if added:
                session.execute(insert(ChunkLocation), [
                    {'container': container, 'name': name, 'pack': pack,
                     'offset': by_name[name][0],
                     'length': by_name[name][1]} for name in added])
        return set(added)

    # -- garbage collection (stacksync_swift.gc) ----------------------------

    def move_chunks(self, container, pack, size, entries, sources):
        """Record a pack of chunks copied out of older packs, and point
        each chunk's row at its copy.

        :param entries: the new pack's ``[(name, offset, length), ...]``
        :param sources: ``{name: old pack}``; a row is moved only if it
            still lies there (an upload may have replaced a condemned
            row meanwhile)
        :returns: the names moved
        """
        moved = set()
        with db.session(self.engine) as session:
            session.add(Pack(container=container, name=pack, size=size,
                             chunk_count=len(entries)))
            for name, offset, length in entries:
                result = session.execute(
                    update(ChunkLocation).where(
                        ChunkLocation.container == container,
                        ChunkLocation.name == name,
                        ChunkLocation.pack == sources[name])
                    .values(pack=pack, offset=offset, length=length))
                if result.rowcount:
                    moved.add(name)
        return moved

    def usage(self, container):
        """:class:`PackUsage` of every recorded pack of the container."""
        with db.session(self.read_engine) as session:
            packs = {name: [name, size, created, retired, 0, 0, 0]
                     for name, size, created, retired in session.execute(
                         select(Pack.name, Pack.size, Pack.created_at,
                                Pack.retired_at)
                         .where(Pack.container == container))}
            for pack, length, condemned in session.execute(
                    select(ChunkLocation.pack, ChunkLocation.length,
                           ChunkLocation.condemned_at)
                    .where(ChunkLocation.container == container)):
                row = packs.get(pack)
                if row is None:
                    continue
                row[4] += 1
                row[5] += length
                if condemned is not None:
                    row[6] += 1
        return [PackUsage(*row) for row in packs.values()]

    def chunks_in(self, container, pack):
        """``[(name, offset, length)]`` of the rows in ``pack``, in pack
        order."""
        with db.session(self.read_engine) as session:
            return [tuple(row) for row in session.execute(
                select(ChunkLocation.name, ChunkLocation.offset,
                       ChunkLocation.length)
                .where(ChunkLocation.container == container,
                       ChunkLocation.pack == pack)
                .order_by(ChunkLocation.offset))]

    def located_names(self, container):
        """``{name: condemned_at}`` of every row of the container."""
        with db.session(self.read_engine) as session:
            return dict(session.execute(
                select(ChunkLocation.name, ChunkLocation.condemned_at)
                .where(ChunkLocation.container == container)).all())

    def retire(self, container, pack_names):
        """Mark packs whose chunks now live elsewhere."""
        now = utcnow()
        with db.session(self.engine) as session:
            for batch in db.batches(sorted(pack_names)):
                session.execute(update(Pack).where(
                    Pack.container == container, Pack.name.in_(batch),
                    Pack.retired_at.is_(None)).values(retired_at=now))

    def drop_pack(self, container, pack):
        """Forget a pack no row lies in; False (kept) when rows do."""
        with db.session(self.engine) as session:
            if session.scalar(select(ChunkLocation.name).where(
                    ChunkLocation.container == container,
                    ChunkLocation.pack == pack).limit(1)) is not None:
                return False
            session.execute(delete(Pack).where(Pack.container == container,
                                               Pack.name == pack))
        return True

    def containers(self):
        """Every container the index has packs or rows of."""
        with db.session(self.read_engine) as session:
            return set(session.scalars(select(Pack.container).distinct())) \
                | set(session.scalars(
                    select(ChunkLocation.container).distinct()))

    def forget_chunk(self, container, name, pack):
        """Drop a chunk's row when its bytes in ``pack`` proved damaged, so
        that the next upload of the chunk stores it again."""
        with db.session(self.engine) as session:
            session.execute(delete(ChunkLocation).where(
                ChunkLocation.container == container,
                ChunkLocation.name == name, ChunkLocation.pack == pack))

    def forget_container(self, container):
        """Drop every row of a container being deleted."""
        with db.session(self.engine) as session:
            session.execute(delete(ChunkLocation).where(
                ChunkLocation.container == container))
            session.execute(delete(Pack).where(Pack.container == container))

    def packs(self, container):
        """``{pack name: size}`` of the container's recorded packs."""
        with db.session(self.read_engine) as session:
            return dict(session.execute(
                select(Pack.name, Pack.size)
                .where(Pack.container == container)).all())

    def counts(self):
        """``(packs, located chunks)`` in the whole index (operators)."""
        with db.session(self.read_engine) as session:
            packs = session.query(Pack).count()
            chunks = session.query(ChunkLocation).count()
        return packs, chunks

