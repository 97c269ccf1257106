"""The sync engine: rounds of fetch, scan, plan and execute.

``SyncEngine(fs, remote, codec_for_workspace, state, clock, device_name,
options)`` syncs one workspace (by default the user's own, non-shared one)
with the root of ``fs``. Everything it touches goes through the interfaces
of :mod:`.interfaces`, so the simulation of ``tests/simulation`` runs it
unchanged against fakes.

``sync_once()`` runs rounds until a plan is empty (or
``options.max_rounds``) and returns a :class:`SyncSummary`. One round:

1. **Guards.** The root of the sync folder must exist
   (``fs.exists('')``), and a scan that comes back empty while the base
   is not means an unmounted folder: :class:`RootVanished`, nothing sent
   (unless ``options.allow_mass_delete``).
2. **Fetch.** If the server refuses our cursor as ahead of its own
   (400, confirmed by the workspace's cursor), or a delta brings an item
   older than our mirror's, the server went back in time (restored from
   a backup): the mirror, cursor and merge base are dropped, so every
   entry is "new" on both sides; equal entries are recorded, different
   ones become conflicted copies, nothing is deleted or overwritten.
   Then the delta since the cursor is applied to the mirror.
3. **Scan and plan** (:func:`.planner.plan`). If the plan would delete on
   the server more than ``options.mass_delete_share`` of the synced
   entries (and at least ``options.mass_delete_min``),
   :class:`MassDeleteRefused` is raised before anything is done, unless
   ``options.allow_mass_delete``.
4. **Execute.** Local operations first, in plan order. A download is
   written with ``fs.write_atomic(..., expected=<the scanned entry>)``,
   so a file created or edited since the scan is never replaced
   (:class:`.interfaces.LocalChanged`: planned again next round); a local
   file is deleted only after re-reading it shows the synced content.
   Then new server folders, level by level, one commit each; then file
   contents (see *Uploads*); then the deletes, moves and files, committed
   in batches of :data:`COMMIT_BATCH`.

Each finished operation updates the state database in its own
transaction; a process killed anywhere restarts from there, and a commit
that landed but whose answer was lost is recognised next round (the server
already holds what the base lacks: recorded, not sent again).
:class:`.interfaces.RemoteError` and ``LocalChanged`` end the round early
(``summary.error``); any other exception is a bug and propagates.

Uploads
-------

The files of a round are read one at a time and their chunks queued,
deduplicated, until :data:`MISSING_BATCH` names or :data:`UPLOAD_BUFFER`
bytes wait; then one ``missing_chunks`` call asks which of them the server
lacks and one ``put_chunks`` call sends those (the HTTP remote in batch
requests, several in parallel). Every queued chunk has landed
before the first commit names it. A crashed upload needs no journal of its
own: the next round cuts the files again and ``missing_chunks``, the
server's word on what it holds, leaves out every chunk that landed.
"""

import dataclasses
import functools
import itertools
from collections.abc import Callable
from collections.abc import Iterable
from typing import Optional

from stacksync_swift import chunking
from stacksync_swift.client import planner
from stacksync_swift.client.interfaces import LocalChanged
from stacksync_swift.client.interfaces import RemoteError
from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import PathIndex
from stacksync_swift.client.tree import RemoteItem
from stacksync_swift.client.tree import basename
from stacksync_swift.client.tree import is_under
from stacksync_swift.client.tree import parent
from stacksync_swift.client.tree import rebase
from stacksync_swift.client.tree import remote_paths

COMMIT_BATCH = 500
# The server's bound on one missing-chunks check (MAX_COMMIT_ITEMS), and
# the encoded bytes held back at most before they are sent: many small
# files share a request, big ones do not fill the memory.
MISSING_BATCH = 1000
UPLOAD_BUFFER = 32 * chunking.MiB
CHANGES_LIMIT = 1000


class SyncStopped(Exception):
    """The engine refuses to go on; the user has to decide."""


class RootVanished(SyncStopped):
    """The sync folder is missing or empty: unmounted? Nothing was sent."""


class MassDeleteRefused(SyncStopped):
    """The plan would delete too much on the server; confirm first."""

    def __init__(self, deletes, synced):
        super().__init__('this sync would delete %d of %d synced entries '
                         'on the server; run again with allow_mass_delete '
                         '(--allow-mass-delete) to confirm'
                         % (deletes, synced))
        self.deletes = deletes
        self.synced = synced


@dataclasses.dataclass
class SyncOptions:
    workspace_id: Optional[int] = None    # None: the user's own workspace
    allow_mass_delete: bool = False
    mass_delete_share: float = 0.5
    mass_delete_min: int = 10
    max_rounds: int = 12
    # Called each round after the fetch, before the scan: the folders
    # whose contents this engine leaves alone, in both trees (the folders
    # themselves it syncs). The shared folders mounted in the tree use
    # it: their contents are other workspaces, synced by engines of their
    # own (see :mod:`.mounts`, which also settles the folder in the call).
    exclude: Optional[Callable[[], Iterable[str]]] = None


@dataclasses.dataclass
class ItemResult:
    kind: str
    path: str
    outcome: str            # done, conflict, changed, skipped, error
    detail: str = ''
    dest: Optional[str] = None      # where a move or conflicted copy went
    # Who made the server change a local operation brings here (user and
    # device ids of the item's version); None for our own changes.
    user: Optional[int] = None
    device: Optional[int] = None


@dataclasses.dataclass
class SyncSummary:
    workspace_id: Optional[int] = None
    rounds: int = 0
    converged: bool = False
    items: list = dataclasses.field(default_factory=list)
    error: Optional[str] = None
    time_travel: bool = False

    def count(self, outcome='done'):
        return sum(1 for item in self.items if item.outcome == outcome)


class SyncEngine:
    def __init__(self, fs, remote, codec_for_workspace, state, clock,
                 device_name, options=None):
        self.fs = fs
        self.remote = remote
        self.codec_for_workspace = codec_for_workspace
        self.state = state
        self.clock = clock
        self.device_name = device_name
        self.options = options or SyncOptions()
        self.workspace = None
        self.codec = None
        # The last scan, with the file system's own (plain) hashes.
        self.scanned = {}

    # -- the loop ---------------------------------------------------------

    def sync_once(self):
        """Rounds until nothing is left to do; a :class:`SyncSummary`."""
        summary = SyncSummary()
        try:
            self._choose_workspace()
            summary.workspace_id = self.ws
            for _round in range(self.options.max_rounds):
                summary.rounds += 1
                if not self._round(summary):
                    summary.converged = True
                    break
        except (RemoteError, LocalChanged) as error:
            summary.error = '%s: %s' % (type(error).__name__, error)
        return summary

    def watch(self, rounds=None, interval=30.0, wait_timeout=None,
              on_summary=None):
        """Sync, then wait for a change (long poll) or ``interval``.

        Runs ``rounds`` passes (forever if None); ``on_summary`` gets each
        :class:`SyncSummary`. Local changes are picked up every pass; the
        CLI may call :meth:`sync_once` itself from a file watcher instead.
        """
        for count in itertools.count():
            if rounds is not None and count >= rounds:
                return
            summary = self.sync_once()
            if on_summary is not None:
                on_summary(summary)
            if summary.error or not summary.converged:
                self.clock.sleep(min(interval, 5.0))
                continue
            self._wait(wait_timeout or interval)

    def _wait(self, timeout):
        try:
            self.remote.wait(self.ws, self.state.cursor(self.ws), timeout)
        except RemoteError:
            self.clock.sleep(timeout)

    @property
    def ws(self):
        return self.workspace['id']

    def _choose_workspace(self):
        if self.workspace is not None:
            return
        spaces = self.remote.workspaces()
        wanted = self.options.workspace_id
        for space in spaces:
            if space['id'] == wanted or wanted is None and \
                    not space.get('is_shared'):
                self.workspace = space
                self.codec = self.codec_for_workspace(space)
                return
        raise RemoteError('no workspace %r for this user' % (wanted,))

    # -- one round --------------------------------------------------------

    def _round(self, summary):
        """One round; False when there was nothing to do."""
        self._check_root()
        self._fetch(summary)
        self._settle_sent_deletes()
        self._settle_sent_changes()
        excluded = list(self.options.exclude()) if self.options.exclude \
            else []
        self.scanned = _outside(self.fs.scan(), excluded)
        local = {path: self._as_stored(entry)
                 for path, entry in self.scanned.items()}
        base = self.state.base(self.ws)
        if not local and base and not self.options.allow_mass_delete:
            raise RootVanished('the sync folder is empty but %d entries '
                               'were synced: is it unmounted?' % len(base))
        remote = _outside(remote_paths(self.state.remote_items(self.ws)),
                          excluded)
        ops = planner.plan(remote, local, base, who=self.device_name,
                           when=self.clock.now())
        if not ops:
            return False
        self._check_mass_delete(ops, base)
        _Round(self, remote, base, summary).execute(ops)
        return True

    def _as_stored(self, entry):
        """A local entry with its hash as the server keeps it.

        The codec decides: a plain workspace stores the SHA-256 itself, an
        encrypted one a keyed hash of it, so the server never learns a
        content hash. Trees, base and server copy all compare that form.
        """
        if entry.content_hash is None:
            return entry
        return dataclasses.replace(
            entry, content_hash=self.codec.content_hash(entry.content_hash))

    def _check_root(self):
        if not self.fs.exists(''):
            raise RootVanished('the sync folder does not exist')

    def _check_mass_delete(self, ops, base):
        deletes = sum(1 for op in ops if op.kind == planner.REMOTE_DELETE)
        if self.options.allow_mass_delete or not base or \
                deletes < self.options.mass_delete_min:
            return
        if deletes > self.options.mass_delete_share * len(base):
            raise MassDeleteRefused(deletes, len(base))

    def _fetch(self, summary):
        cursor = self.state.cursor(self.ws)
        while True:
            delta = self._changes(cursor)
            if delta is None:
                summary.time_travel = True
                self.state.reset(self.ws)
                cursor = 0
                continue
            items = [RemoteItem.from_meta(meta)
                     for meta in delta['entries']]
            if self._went_back(items):
                summary.time_travel = True
                self.state.reset(self.ws)
                cursor = 0
                continue
            cursor = delta['cursor']
            self.state.save_remote(self.ws, items, cursor)
            if not delta.get('has_more'):
                return

    def _settle_sent_deletes(self):
        """Deletes sent last time whose answer never came: an item the
        server no longer has at that path was deleted by us (or anyone:
        the same), so its base entry goes. A file put back under that
        path since is then a new file to send, not one to delete to
        follow the server."""
        sent = self.state.sent_deletes(self.ws)
        if not sent:
            return
        remote = remote_paths(self.state.remote_items(self.ws))
        gone = [path for path, entry in self.state.base(self.ws).items()
                if any(is_under(path, top) for top in sent) and
                (path not in remote or remote[path].id != entry.item_id)]
        self.state.settle_deletes(self.ws, forget=gone)

    def _settle_sent_changes(self):
        """Commits sent last time whose answer never came (a new item, an
        edit, a move): where the server holds just what was sent, the
        change was ours, so the merge base takes it. A local delete or
        edit made since then is a change of what was sent; otherwise the
        server's version would count as someone else's change, beat a
        local delete and bring the file back."""
        sent = self.state.sent_changes(self.ws)
        if not sent:
            return
        remote = remote_paths(self.state.remote_items(self.ws))
        base = self.state.base(self.ws)
        puts, deletes = [], []
        for path, dest, item_id, is_folder, content_hash in sent:
            target = dest or path
            there, entry = remote.get(target), base.get(path)
            if there is None or there.is_folder != is_folder or \
                    item_id is not None and there.id != item_id or \
                    not is_folder and there.content_hash != content_hash \
                    or entry is not None and entry.item_id != there.id or \
                    target in base and base[target].item_id != there.id:
                continue    # not applied, or changed since by another
            if dest:
                moved, gone = rekeyed(base, path, dest)
                puts.extend(moved)
                deletes.extend(gone)
            puts.append((target, BaseEntry.of(there)))
        self.state.settle_changes(self.ws, puts=puts, deletes=deletes)

    def _changes(self, cursor):
        """The delta since ``cursor``, or None if the server is behind it.

        The server refuses (400) a cursor ahead of its own; only then is
        the workspace's cursor read, so a normal round costs one request.
        """
        try:
            return self.remote.changes(self.ws, cursor, CHANGES_LIMIT)
        except Exception as error:
            if getattr(error, 'status', None) != 400:
                raise
            server = self._server_cursor()
            if server is None or server >= cursor:
                raise
            return None

    def _server_cursor(self):
        for space in self.remote.workspaces():
            if space['id'] == self.ws:
                return space.get('cursor')
        raise RemoteError('workspace %d is gone' % self.ws)

    def _went_back(self, items):
        """An item older than the mirror's: the server lost history."""
        known = self.state.remote_items(self.ws)
        return any(item.id in known and item.version < known[item.id].version
                   for item in items)


def _outside(tree, folders):
    """``tree`` without the paths strictly inside any of ``folders``.

    A base entry left there (a folder shared since it was synced) is on
    neither side any more: the planner forgets it, and sends nothing.
    """
    if not folders:
        return tree
    inside = tuple(folder + '/' for folder in folders)
    return {path: entry for path, entry in tree.items()
            if not path.startswith(inside)}


class _Round:
    """The execution of one plan."""

    def __init__(self, engine, remote, base, summary):
        self.engine = engine
        self.fs = engine.fs
        self.remote = engine.remote
        self.state = engine.state
        self.ws = engine.ws
        self.codec = engine.codec
        self.summary = summary
        self.base = dict(base)
        self.ids = {path: item.id for path, item in remote.items()}
        self.ids[''] = None
        self.chunks = _ChunkSender(self.remote, self.ws)

    def execute(self, ops):
        for op in ops:
            if op.kind not in planner.REMOTE_KINDS:
                self._local(op)
        remote_ops = [op for op in ops if op.kind in planner.REMOTE_KINDS]
        self._remote_folders([op for op in remote_ops
                              if op.kind == planner.REMOTE_MKDIR])
        rest = self._prepare([op for op in remote_ops
                              if op.kind != planner.REMOTE_MKDIR])
        self.chunks.flush()
        for start in range(0, len(rest), COMMIT_BATCH):
            self._commit(rest[start:start + COMMIT_BATCH])

    def _note(self, op, outcome, detail=''):
        self.summary.items.append(
            planner_result(op, outcome, detail, self._author(op)))

    def _author(self, op):
        """The server item whose change a local operation brings here.

        None for the operations that send our own changes. A download, a
        new folder or a move carries its item; a delete has only the base,
        so the mirror's (deleted) version of that item names who deleted
        it; a conflicted copy is made for the item that holds the path.
        """
        if op.kind not in planner.LOCAL_KINDS:
            return None
        if op.item is not None:
            return op.item
        item_id = op.base.item_id if op.base is not None else \
            self.ids.get(op.path)
        return self._mirror.get(item_id)

    @functools.cached_property
    def _mirror(self):
        return self.state.remote_items(self.ws)

    # -- local operations

    def _local(self, op):
        try:
            getattr(self, '_' + op.kind)(op)
        except LocalChanged as error:
            self._note(op, 'changed', str(error))
        else:
            self._note(op, 'done')

    def _local_mkdir(self, op):
        if not self.fs.exists(op.path):
            self._need_parent(op.path)
            self.fs.mkdir(op.path)
        self._put_base(op.path, BaseEntry.of(op.item))

    def _local_move(self, op):
        self._need_parent(op.dest)
        if self.fs.exists(op.dest):
            raise LocalChanged('%s appeared' % op.dest)
        self.fs.move(op.path, op.dest)
        self._rekey(op.path, op.dest, op.item)

    def _conflict_copy(self, op):
        if self.fs.exists(op.dest):
            raise LocalChanged('%s appeared' % op.dest)
        self.fs.move(op.path, op.dest)

    def _rekey_base(self, op):
        self._rekey(op.path, op.dest, op.item)

    def _record_base(self, op):
        self._put_base(op.path, BaseEntry.of(op.item))

    def _forget_base(self, op):
        self.base.pop(op.path, None)
        self.state.update_base(self.ws, deletes=[op.path])

    def _download(self, op):
        self._need_parent(op.path)
        item = op.item
        chunks = (self.codec.decode(name, self.remote.get_chunk(self.ws,
                                                                name))
                  for name in item.chunks)
        # The file system checks its own (plain) hash of what it replaces.
        expected = None if op.expected is None else \
            self.engine.scanned.get(op.path)
        self.fs.write_atomic(op.path, chunks, expected)
        self._put_base(op.path, BaseEntry.of(item))

    def _local_delete(self, op):
        if op.expected.is_folder:
            now = self.fs.scan()
            if not now.get(op.path, op.expected).is_folder or \
                    PathIndex(now).under(op.path):
                raise LocalChanged('%s is not empty' % op.path)
        elif self._content_hash(op.path) != op.expected.content_hash:
            raise LocalChanged('%s changed' % op.path)
        if self.fs.exists(op.path):
            self.fs.delete(op.path)
        self._forget_tree(op.path)

    def _content_hash(self, path):
        if not self.fs.exists(path):
            return None
        with self.fs.read(path) as source:
            content = chunking.iter_chunks(source)
            for _chunk in content:
                pass
            return self.codec.content_hash(content.sha256)

    def _need_parent(self, path):
        above = parent(path)
        if above and not self.fs.exists(above):
            raise LocalChanged('the folder %s is missing' % above)

    # -- base bookkeeping

    def _put_base(self, path, entry, items=()):
        self.base[path] = entry
        self.state.update_base(self.ws, puts=[(path, entry)], items=items)

    def _left_workspace(self, op):
        """The server has no such item here: it left the workspace (a
        folder holding it was shared, and the share's changes have not
        come yet; or it went with its share). The mirror and the merge
        base forget it, so next round what is local goes up as new and
        nothing is lost."""
        self.state.drop_remote(self.ws, [op.base.item_id])
        self._forget_tree(op.path)

    def _rekey(self, old, new, item=None):
        """Move the base entries at and under ``old`` to ``new``.

        ``item`` is the server's item at ``new`` when the move is the
        server's, made here: the moved entry takes its version if the
        move was all that changed (the same item, kind and content).
        Kept at the version before the move, the entry would count as
        "not synced" until a later round recorded it, and a delete of
        its folder made before that round re-created the folder.
        """
        puts, deletes = rekeyed(self.base, old, new)
        if not deletes:
            return
        if item is not None:
            puts = [(path, _moved_entry(entry, item) if path == new
                     else entry) for path, entry in puts]
        for path in deletes:
            del self.base[path]
        self.base.update(puts)
        self.state.update_base(self.ws, puts=puts, deletes=deletes)

    def _forget_tree(self, top):
        gone = [path for path in self.base if is_under(path, top)]
        for path in gone:
            del self.base[path]
        self.state.update_base(self.ws, deletes=gone)

    # -- remote operations

    def _remote_folders(self, ops):
        by_depth = {}
        for op in ops:
            by_depth.setdefault(op.path.count('/'), []).append(op)
        for depth in sorted(by_depth):
            ready = [(op, self._new_item(op, {'is_folder': True}))
                     for op in by_depth[depth]]
            self._commit([(op, request) for op, request in ready
                          if request is not None])

    def _new_item(self, op, fields):
        above = parent(op.path)
        if above not in self.ids:
            self._note(op, 'skipped', 'no server folder for %s' % above)
            return None
        return dict(fields, id=None, client_id=op.path,
                    parent_id=self.ids[above], filename=basename(op.path))

    def _prepare(self, ops):
        """Commit requests, in order: deletes, moves, then files."""
        order = {planner.REMOTE_DELETE: 0, planner.REMOTE_MOVE: 1,
                 planner.UPLOAD: 2}
        ready = []
        for op in sorted(ops, key=lambda op: order[op.kind]):
            request = getattr(self, '_request_' + op.kind)(op)
            if request is not None:
                ready.append((op, request))
        return ready

    def _request_remote_delete(self, op):
        request = {'id': op.base.item_id, 'base_version': op.base.version,
                   'status': 'DELETED'}
        if op.base.is_folder:
            request['if_empty'] = True
        return request

    def _request_remote_move(self, op):
        above = parent(op.dest)
        if above not in self.ids:
            self._note(op, 'skipped', 'no server folder for %s' % above)
            return None
        return {'id': op.item.id, 'base_version': op.item.version,
                'parent_id': self.ids[above],
                'filename': basename(op.dest)}

    def _request_upload(self, op):
        try:
            fields = self._send_content(op)
        except LocalChanged as error:
            self._note(op, 'changed', str(error))
            return None
        if op.base is None:
            return self._new_item(op, fields)
        return dict(fields, id=op.base.item_id,
                    base_version=op.base.version)

    def _send_content(self, op):
        """Queue the file's chunks for sending; the commit fields.

        The chunks land by the time :meth:`execute` commits (the sender
        is flushed first); a file that changed while it was read raises
        :class:`LocalChanged` and is not committed.
        """
        if not self.fs.exists(op.path):
            raise LocalChanged('%s is gone' % op.path)
        names = []
        with self.fs.read(op.path) as source:
            content = chunking.iter_chunks(source, namer=self._chunk_name)
            for chunk in content:
                name, body = self.codec.encode(chunk.data)
                names.append(name)
                self.chunks.add(name, body)
        stored_hash = self.codec.content_hash(content.sha256)
        if stored_hash != op.expected.content_hash:
            raise LocalChanged('%s changed while it was read' % op.path)
        return {'is_folder': False, 'size': content.size,
                'content_hash': stored_hash, 'chunks': names,
                'modified_at': None}

    def _chunk_name(self, data):
        return 'pending'    # the codec names chunks; see _send_content

    def _commit(self, batch):
        if not batch:
            return
        deletes = [op.path for op, _request in batch
                   if op.kind == planner.REMOTE_DELETE]
        changes = [_sent_change(op, request) for op, request in batch
                   if op.kind != planner.REMOTE_DELETE]
        if deletes:
            self.state.note_sent_deletes(self.ws, deletes)
        if changes:
            self.state.note_sent_changes(self.ws, changes)
        answer = self.remote.commit(self.ws, [request
                                              for _op, request in batch])
        for (op, request), result in zip(batch, answer['results']):
            self._committed(op, _as_asked(request, result))
        if deletes:
            self.state.settle_deletes(self.ws)
        if changes:
            self.state.settle_changes(self.ws)

    def _committed(self, op, result):
        outcome = result.get('result')
        if outcome != 'committed':
            detail = result.get('description') or result.get('error') or ''
            self._note(op, 'conflict' if outcome == 'conflict' else 'error',
                       detail)
            if result.get('error') == 'not_found' and op.base is not None:
                self._left_workspace(op)
            return
        item = RemoteItem.from_meta(result['item'])
        if op.kind == planner.REMOTE_DELETE:
            self._forget_tree(op.path)
            self.state.save_remote(self.ws, [item])
        elif op.kind == planner.REMOTE_MOVE:
            self._rekey(op.path, op.dest)
            entry = BaseEntry.of(item)
            if not item.is_folder and \
                    item.content_hash != op.base.content_hash:
                entry = dataclasses.replace(
                    entry, content_hash=op.base.content_hash)
            self._put_base(op.dest, entry, items=[item])
            self.ids[op.dest] = item.id
        else:
            self._put_base(op.path, BaseEntry.of(item), items=[item])
            self.ids[op.path] = item.id
        self._note(op, 'done')


def rekeyed(base, old, new):
    """``(puts, deletes)`` that move the base entries at and under ``old``
    to ``new``."""
    moved = [(path, entry) for path, entry in base.items()
             if is_under(path, old)]
    return ([(rebase(path, old, new), entry) for path, entry in moved],
            [path for path, _entry in moved])


def _moved_entry(entry, item):
    """The base entry of ``item`` if only its place changed since
    ``entry``; otherwise ``entry``, so its other change is still seen."""
    if entry.item_id != item.id or entry.is_folder != item.is_folder or \
            not item.is_folder and entry.content_hash != item.content_hash:
        return entry
    return BaseEntry.of(item)


def _as_asked(request, result):
    """The result, as committed when a conflict's item already is what
    the request asked for: the request was applied before and its answer
    lost, then sent again (the HTTP remote retries a 504), or another
    device made the same change. Its base version is older, so the server
    says conflict; taking the item keeps this client from treating its
    own change as someone else's."""
    item = result.get('item')
    if result.get('result') != 'conflict' or not isinstance(item, dict) \
            or item.get('status') == 'DELETED' or \
            request.get('status') == 'DELETED':
        return result
    if request.get('id') is not None and item.get('id') != request['id']:
        return result
    for key in ('filename', 'is_folder', 'content_hash'):
        if key in request and item.get(key) != request[key]:
            return result
    if 'parent_id' in request and \
            (item.get('parent_id') or None) != (request['parent_id'] or None):
        return result
    return dict(result, result='committed')


def _sent_change(op, request):
    """What :meth:`State.note_sent_changes` keeps of a commit request."""
    if op.kind == planner.REMOTE_MOVE:
        return (op.path, op.dest, op.base.item_id, op.base.is_folder,
                op.base.content_hash)
    folder = bool(request.get('is_folder'))
    return (op.path, None, request.get('id'), folder,
            None if folder else request.get('content_hash'))


class _ChunkSender:
    """Sends a round's chunks in batches: only those the server lacks.

    :meth:`add` queues a chunk (once per name and round); a full queue
    (:data:`MISSING_BATCH` names or :data:`UPLOAD_BUFFER` bytes) is sent
    at once, the rest by :meth:`flush`, which must come before a commit
    names them. A failed call raises ``RemoteError`` and ends the round;
    whatever landed is left out next round by ``missing_chunks``.
    """

    def __init__(self, remote, ws):
        self.remote = remote
        self.ws = ws
        self.queued = {}
        self.queued_bytes = 0
        self.landed = set()

    def add(self, name, body):
        if name in self.landed or name in self.queued:
            return
        self.queued[name] = body
        self.queued_bytes += len(body)
        if len(self.queued) >= MISSING_BATCH or \
                self.queued_bytes >= UPLOAD_BUFFER:
            self.flush()

    def flush(self):
        """Send the queued chunks the server lacks; wait until they land.
        """
        if not self.queued:
            return
        queued = self.queued
        self.queued, self.queued_bytes = {}, 0
        missing = set(self.remote.missing_chunks(self.ws, sorted(queued)))
        self.remote.put_chunks(self.ws, {name: body
                                         for name, body in queued.items()
                                         if name in missing})
        self.landed.update(queued)


def planner_result(op, outcome, detail='', author=None):
    """The :class:`ItemResult` of an operation; ``author`` is the
    :class:`RemoteItem` whose change it applies locally, if any."""
    return ItemResult(kind=op.kind, path=op.path, outcome=outcome,
                      detail=detail, dest=op.dest,
                      user=None if author is None else author.user,
                      device=None if author is None else author.device)
