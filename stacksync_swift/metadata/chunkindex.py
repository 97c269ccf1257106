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
"""

import collections

from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ChunkLocation
from stacksync_swift.metadata.models import Pack

# Names per IN (...) list: well under every backend's parameter limit.
BATCH = 500
# Attempts at a pack's rows when concurrent uploads of the same chunks
# keep winning the race to insert them.
ADD_ATTEMPTS = 5

Location = collections.namedtuple('Location', 'pack offset length')


class ChunkIndex:
    """The chunk index of every container, in the metadata database."""

    def __init__(self, engine):
        self.engine = engine
        self.read_engine = db.reader(engine)

    def locate(self, container, names):
        """``{name: Location}`` for the ``names`` stored in packs."""
        found = {}
        unique = sorted(set(names))
        with db.session(self.read_engine) as session:
            for start in range(0, len(unique), BATCH):
                rows = session.execute(
                    select(ChunkLocation.name, ChunkLocation.pack,
                           ChunkLocation.offset, ChunkLocation.length)
                    .where(ChunkLocation.container == container,
                           ChunkLocation.name.in_(
                               unique[start:start + BATCH])))
                for name, pack, offset, length in rows:
                    found[name] = Location(pack, offset, length)
        return found

    def add_pack(self, container, pack, size, entries):
        """Record a pack Swift has stored, and its chunks not yet located.

        :param entries: ``[(name, offset, length), ...]`` as in the pack's
            own index
        :returns: the set of names this pack now holds for the index
            (the others were located in another pack first)
        """
        for attempt in range(ADD_ATTEMPTS):
            try:
                return self._add_pack(container, pack, size, entries)
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
            for start in range(0, len(names), BATCH):
                taken.update(session.scalars(
                    select(ChunkLocation.name).where(
                        ChunkLocation.container == container,
                        ChunkLocation.name.in_(names[start:start + BATCH]))))
            added = [name for name in names if name not in taken]
            if added:
                session.execute(insert(ChunkLocation), [
                    {'container': container, 'name': name, 'pack': pack,
                     'offset': by_name[name][0],
                     'length': by_name[name][1]} for name in added])
        return set(added)

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
