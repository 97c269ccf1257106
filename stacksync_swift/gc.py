"""Garbage collection and history retention: ``stacksync-swift gc``.

Chunks are write-once and shared by every version that contains them, so
nothing is deleted when a file changes or goes to the trash. What no
version needs any more is reclaimed here, by a command the operator runs
as Swift's own background daemons are run: from cron or a systemd timer,
on one machine that holds the proxy's configuration file::

    # /etc/cron.d/stacksync-swift: every night at 03:17
    17 3 * * *  swift  stacksync-swift --config /etc/swift/proxy-server.conf gc

It loads the proxy pipeline from that file (as ``chunk-index rebuild``
does), so it talks to the cluster through the same filters, account and
database as the proxies. Run one at a time: two collectors would not lose
data, but they would copy the same packs twice.

What one run does: first it finishes the copies of newly shared folders
that a stopped proxy left undone
(:meth:`stacksync_swift.sharing.Sharing.resume_copies`; a source's chunks
are kept while a copy from it is pending), then, for each workspace's
container:

1. **History** (``keep_versions_days``, 0 = forever, the default): versions
   replaced more than that many days ago are deleted; every item keeps its
   current version, deletions included.
2. **Abandoned uploads**: chunks that waited for a commit longer than the
   grace period leave the owner's quota and become garbage.
3. **Condemn, then sweep** (:mod:`stacksync_swift.metadata.garbage`):
   chunks no version references, in packs older than the grace period,
   are marked; marked chunks still unreferenced a grace period later lose
   their index rows, under the workspace's lock, which every commit takes.
4. **Packs**: a pack no row lies in (older than the grace period) is
   deleted; a pack whose chunks fill less than half of it
   (:data:`REWRITE_BELOW`) has them copied into new packs, checked as a
   read checks them, and is *retired*; retired packs are deleted a grace
   period later, when no proxy's memory can still point into them
   (``storage.MEMORY_SECONDS``); pack objects the index never recorded
   (a proxy that died between a pack's PUT and its rows) are deleted once
   older than the grace period.

Then **containers of deleted workspaces** (``ws-...`` containers of the
installation account without a workspace, created more than the grace
period ago) are emptied and deleted with their index rows.

The grace period (``gc_grace``, 24 h by default) is what keeps a
concurrent upload safe: a chunk stored a moment ago is not referenced yet
but will be by the commit that follows. Chunks stored one per object
(``chk-...``, from before packs or written by raw Swift) are counted but
not removed: nothing records when they were last wanted.
``stacksync-swift chunk-index repack`` moves them into packs, where the
next runs collect them like any other chunk.

The report says what was freed; :meth:`Collector.run` returns it as a
dict and the command prints it.
"""

import datetime
import re
import time

from stacksync_swift import sharing
from stacksync_swift.metadata import garbage
from stacksync_swift.metadata import service
from stacksync_swift.metadata.models import utcnow

# A pack is rewritten when the chunks it still holds fill less than this
# share of it.
REWRITE_BELOW = 0.5
WORKSPACE_CONTAINER = re.compile(r'^ws-[0-9a-f]{32}$')
REPORT_KEYS = (
    'workspaces', 'versions_purged', 'uploads_expired', 'uploads_bytes',
    'chunks_condemned', 'chunks_dropped', 'chunks_bytes', 'chunks_kept',
    'packs_deleted', 'packs_bytes', 'packs_rewritten', 'bytes_copied',
    'orphan_packs', 'containers_deleted', 'chunk_objects', 'copies_finished')


class Collector:
    """One garbage collection over the installation account.

    :param store: a :class:`~stacksync_swift.storage.ChunkStore` with a
        chunk index
    :param engine: the metadata database's engine
    :param grace: seconds anything new is left alone
    :param keep_versions_days: days a replaced version is kept; 0 forever
    """

    def __init__(self, store, engine, grace, keep_versions_days=0,
                 logger=None, clock=time.time):
        self.store = store
        self.index = store.index
        self.garbage = garbage.Garbage(engine)
        self.sharing = sharing.Sharing(service.MetadataService(engine), store,
                                       logger)
        self.grace = grace
        self.keep_versions_days = keep_versions_days
        self.logger = logger or store.logger
        self.clock = clock

    def run(self, env=None, containers=None):
        """Collect everything (or the named containers); the report."""
        env = {} if env is None else env
        report = dict.fromkeys(REPORT_KEYS, 0)
        # Copies a stopped proxy left unfinished: their sources' chunks
        # are kept until they are done, so finish them first.
        report['copies_finished'] = len(self.sharing.resume_copies(
            env, containers))
        workspaces = self.garbage.workspaces()
        wanted = containers or sorted(workspaces)
        for container in wanted:
            if container in workspaces:
                self.collect_workspace(env, container, workspaces[container],
                                       report)
                report['workspaces'] += 1
        if not containers:
            self.collect_orphans(env, workspaces, report)
        return report

    def _cutoff(self):
        """(now, the moment before which things are old enough)."""
        now = utcnow()
        return now, now - datetime.timedelta(seconds=self.grace)

    def collect_workspace(self, env, container, workspace, report):
        now, cutoff = self._cutoff()
        wid = workspace['id']
        if self.keep_versions_days:
            report['versions_purged'] += self.garbage.purge_versions(
                wid, self.keep_versions_days, now)
        count, size = self.garbage.expire_uploads(wid, cutoff)
        report['uploads_expired'] += count
        report['uploads_bytes'] += size
        condemned, _spared = self.garbage.condemn(wid, container, cutoff,
                                                  now)
        report['chunks_condemned'] += condemned
        dropped, freed, kept = self.garbage.sweep(wid, container, cutoff)
        report['chunks_dropped'] += dropped
        report['chunks_bytes'] += freed
        report['chunks_kept'] += kept
        self.collect_packs(env, container, not workspace['encrypted'],
                           cutoff.timestamp(), report)

    def collect_packs(self, env, container, verify, cutoff, report):
        usage = {pack.name: pack for pack in self.index.usage(container)}
        objects, chunk_objects = self.store.pack_objects(env, container)
        rewrite = []
        for pack in usage.values():
            if pack.created_at.timestamp() >= cutoff:
                continue
            if pack.retired_at is not None:
                if pack.retired_at.timestamp() < cutoff:
                    self._delete(env, container, pack, report)
            elif pack.rows == 0:
                self._delete(env, container, pack, report)
            elif pack.live < REWRITE_BELOW * pack.size:
                rewrite.append(pack.name)
        for name, (size, modified) in sorted(objects.items()):
            if name not in usage and modified < cutoff:
                # Stored, never recorded: its upload died before its rows.
                self.store.delete_pack(env, container, name)
                report['orphan_packs'] += 1
                report['packs_bytes'] += size
        if rewrite:
            moved, size = self.store.rewrite_packs(env, container, rewrite,
                                                   verify)
            self.index.retire(container, rewrite)
            report['packs_rewritten'] += len(rewrite)
            report['bytes_copied'] += size
            self.logger.info('gc: %s: %d packs rewritten, %d chunks '
                             '(%d bytes) copied', container, len(rewrite),
                             moved, size)
        report['chunk_objects'] += chunk_objects

    def _delete(self, env, container, pack, report):
        if not self.index.drop_pack(container, pack.name):
            return      # rows lie in it again (an index rebuild): keep it
        self.store.delete_pack(env, container, pack.name)
        report['packs_deleted'] += 1
        report['packs_bytes'] += pack.size

    def collect_orphans(self, env, workspaces, report):
        """Containers (and index rows) of workspaces that are gone."""
        cutoff = self.clock() - self.grace
        sources = {ws['copy_source'] for ws in workspaces.values()}
        for container in list(self.store.iter_containers(env)):
            if container in workspaces or container in sources or \
                    not WORKSPACE_CONTAINER.match(container):
                continue
            created = self.store.container_created(env, container)
            if created is None or created >= cutoff:
                continue
            self.store.delete_container(env, container)
            report['containers_deleted'] += 1
            self.logger.info('gc: deleted %s: its workspace is gone',
                             container)
        for container in self.index.containers():
            if container not in workspaces and \
                    self.store.container_created(env, container) is None:
                self.index.forget_container(container)


def format_report(report):
    """The report as the lines ``stacksync-swift gc`` prints."""
    return [
        'Collected %(workspaces)d workspaces.' % report,
        'History: %(versions_purged)d old versions deleted.' % report,
        'Uploads never committed: %(uploads_expired)d chunks '
        '(%(uploads_bytes)d bytes) released from quotas.' % report,
        'Chunks: %(chunks_condemned)d newly unreferenced (kept one more '
        'grace period), %(chunks_dropped)d dropped (%(chunks_bytes)d '
        'bytes), %(chunks_kept)d taken back by a version.' % report,
        'Packs: %(packs_deleted)d deleted and %(orphan_packs)d never '
        'recorded deleted (%(packs_bytes)d bytes freed); %(packs_rewritten)d '
        'rewritten (%(bytes_copied)d live bytes copied), to be deleted '
        'after the grace period.' % report,
        'Containers of deleted workspaces removed: '
        '%(containers_deleted)d.' % report,
        'Chunks stored one per object, left alone: %(chunk_objects)d '
        '(chunk-index repack moves them into packs).' % report,
        'Copies of shared folders finished: %(copies_finished)d.' % report,
    ]
