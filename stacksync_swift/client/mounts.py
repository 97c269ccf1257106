"""
===================================
Shared folders in the sync folder
===================================

On the server a shared folder is a workspace of its own; in each member's
private workspace a *mount item*, a folder whose metadata carries
``mount_workspace_id``, stands for it (:mod:`stacksync_swift.metadata.shares`).
:class:`MountedSync` makes the sync folder look the way the person expects:
the private workspace at the top, and each shared folder's contents inside
the folder of its mount item::

    syncer = MountedSync(fs, remote, codec_for_workspace, state, clock,
                         device_name, options, notify=print)
    summary = syncer.sync_once()

It runs one :class:`~.engine.SyncEngine` for the private workspace over
the whole folder, told by ``SyncOptions.exclude`` to leave the contents of
the mount folders alone (it still syncs the folders themselves), then one
engine per shared workspace over a :class:`FolderView` rooted at its mount
folder, with that workspace's codec. They share the state database, which
keeps each workspace's mirror, cursor and merge base apart; their results
come back as one :class:`~.engine.SyncSummary` whose paths start at the
top of the sync folder.

The mounts are read from the private workspace's mirror each round, right
after its fetch and before its scan (the ``exclude`` call), so the folder
is put in order before anything is planned. Each case has one outcome,
and none loses a file:

A share is accepted
    The mount item arrives in the private workspace's changes; the private
    engine creates its folder, and the shared workspace's engine fills it
    from the server. A local folder that already held the name with
    contents of its own (made while the share was pending, or a copy from
    elsewhere) is first renamed ``NAME (local copy)`` and stays private:
    it syncs into the private workspace, never into the share. (On the
    server the name cannot clash: a taken name gives the mount
    ``NAME (OWNER)``, so then the share simply arrives under that name.)
    The owner's own folder, already synced here, is the mount item itself
    and is kept as it is; its merge base moves with its items to the
    shared workspace, so what members changed meanwhile arrives as
    changes, not as conflicted copies.

A share goes away (the member left, or the owner removed them)
    The mount item is deleted. Its local folder is moved to
    ``.stacksync/trash/`` whole, local edits that never reached the
    server included, and the shared workspace's state is forgotten: the
    files are kept but no longer synced, and nothing of the share leaks
    into the private workspace. If the person is invited again, the share
    arrives afresh.

The person renames or moves a mount folder here
    Found by its contents (the synced files, at the same paths inside),
    or, holding none of them any more, by a name that differs only in
    case in the same folder (``_moved_to``), the move is sent as a move
    of the mount item, which the server allows within the private tree;
    the share's merge base goes along, so deletes made inside before
    the move are sent. Where the server cannot follow (the new
    parent folder is not on the server yet, or the move is refused) the
    folder is moved back and a notice says why.

The person deletes a mount folder here
    A live mount cannot be deleted (the server refuses, 400): the folder
    is made again and the share downloaded afresh, with a notice that
    leaving or unsharing is the way to stop syncing it. Nothing is
    deleted on the server, and the next pass finds nothing to do. (A
    mount folder moved, not by a change of case alone, and holding none
    of its synced files is to a scan just that: a delete, and a new
    folder, which stays private.) The
    same holds for a folder above a mount (an owner's shared folder may
    be deep in the tree): it is made again around the mount folder, and a
    file put in its place is renamed ``NAME (local copy)``. A mount
    folder moved or deleted while a pass syncs it ends that share's pass
    unconverged; the next pass settles it.

A mount item renamed or moved on the server
    The private engine moves the local folder like any other, and the
    shared workspace's engine follows it to its new place. A mount folder
    that appears where the private workspace has no record of it starts
    its workspace's state afresh, so a stale merge base can never turn an
    empty new folder into deletes on the server.

A state database written before mounts were followed has a mirror
without ``mount_workspace_id``; the first pass of a process notices a
share the person is a member of but has no mount for, and fetches the
private workspace again from the start (``_mirror_is_stale``).

``notify(text)`` receives one line per such event (the CLI prints it);
the summary also carries an :class:`~.engine.ItemResult` of one of the
kinds in :data:`KINDS` for each. A problem that stops one shared folder's
engine (:class:`~.engine.SyncStopped`) lets the others finish first, then
stops the pass, naming the folder.
"""

import dataclasses

from stacksync_swift.client.engine import ItemResult
from stacksync_swift.client.engine import SyncEngine
from stacksync_swift.client.engine import SyncOptions
from stacksync_swift.client.engine import SyncStopped
from stacksync_swift.client.interfaces import RemoteError
from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import PathIndex
from stacksync_swift.client.tree import ancestors
from stacksync_swift.client.tree import basename
from stacksync_swift.client.tree import is_under
from stacksync_swift.client.tree import join
from stacksync_swift.client.tree import parent
from stacksync_swift.client.tree import remote_paths

# The kinds of ItemResult the orchestrator adds to a summary.
LEFT = 'mount_left'                 # a share went away: folder to trash
MOVED = 'mount_moved'               # a local move sent to the server
MOVED_BACK = 'mount_moved_back'     # a local move the server can't follow
RESTORED = 'mount_restored'         # a deleted mount folder made again
SET_ASIDE = 'mount_set_aside'       # a clashing local folder renamed
KINDS = (LEFT, MOVED, MOVED_BACK, RESTORED, SET_ASIDE)

LOCAL_COPY = '%s (local copy)'


class FolderView:
    """The :class:`~.interfaces.FileSystem` of one folder of another.

    Paths are relative to ``prefix`` (a folder of ``fs``); ``''`` is the
    folder itself, so the engine's "does the sync folder exist" check
    asks for it.
    """

    def __init__(self, fs, prefix):
        self.fs = fs
        self.prefix = prefix

    def _full(self, path):
        return join(self.prefix, path) if path else self.prefix

    def scan(self):
        inside = self.prefix + '/'
        return {path[len(inside):]: entry
                for path, entry in self.fs.scan().items()
                if path.startswith(inside)}

    def read(self, path):
        return self.fs.read(self._full(path))

    def write_atomic(self, path, chunks, expected, **kwargs):
        return self.fs.write_atomic(self._full(path), chunks, expected,
                                    **kwargs)

    def mkdir(self, path):
        self.fs.mkdir(self._full(path))

    def move(self, src, dst):
        self.fs.move(self._full(src), self._full(dst))

    def delete(self, path):
        self.fs.delete(self._full(path))

    def exists(self, path):
        return self.fs.exists(self._full(path))


@dataclasses.dataclass(frozen=True)
class Mount:
    """A live mount point of the private workspace, as the mirror has it.
    """

    workspace_id: int
    path: str           # where the server has it
    item: object        # the mount's RemoteItem


def live_mounts(items):
    """``{workspace id: Mount}`` of the live mount items of a mirror."""
    found = {}
    for path, item in sorted(remote_paths(items).items()):
        space = item.mount_workspace_id
        if space and item.is_folder and space not in found:
            found[space] = Mount(space, path, item)
    return found


class MountedSync:
    """A workspace at the top of ``fs`` (the private one unless
    ``options.workspace_id`` names another), shares inside it.

    The arguments are :class:`~.engine.SyncEngine`'s (``options`` serves
    every engine; the shares' ``workspace_id`` and everyone's ``exclude``
    are set here), plus ``notify(text)`` for the events of the module
    docstring.
    """

    def __init__(self, fs, remote, codec_for_workspace, state, clock,
                 device_name, options=None, notify=None):
        self.fs = fs
        self.remote = remote
        self.codec_for_workspace = codec_for_workspace
        self.state = state
        self.clock = clock
        self.device_name = device_name
        self.options = options or SyncOptions()
        self.notify = notify or (lambda text: None)
        self.root = SyncEngine(
            fs, remote, codec_for_workspace, state, clock, device_name,
            dataclasses.replace(self.options, exclude=self._settle))
        self.engines = {}       # workspace id -> SyncEngine
        self.mounts = None      # settled this pass: {workspace id: Mount}
        self._events = []
        self._mirror_checked = False

    @property
    def workspace(self):
        """The private workspace (the one to long-poll), once known."""
        return self.root.workspace

    @property
    def ws(self):
        return self.root.ws

    # -- the pass ---------------------------------------------------------

    def sync_once(self):
        """The private workspace, then each share; one summary."""
        combined = self._pass()
        if combined.error or not self._departed_elsewhere():
            return combined
        # A share's fetch this pass showed items the private mirror still
        # has outside the share's folder (moved into it elsewhere before
        # it was shared; see :meth:`_drop_departed_items`): the private
        # engine ran first and kept them. It runs again so they leave in
        # this pass; a watcher makes no other until something changes.
        again = self._pass()
        return dataclasses.replace(again, items=combined.items + again.items,
                                   rounds=combined.rounds + again.rounds)

    def _pass(self):
        self.mounts, self._events = None, []
        summary = self._sync_private()
        combined = dataclasses.replace(summary, items=list(self._events) +
                                       summary.items)
        if self.mounts is None:     # the private pass failed early
            return combined
        stopped = []
        for mount in sorted(self.mounts.values(), key=lambda m: m.path):
            self._sync_mount(mount, combined, stopped)
        if stopped:
            raise stopped[0]
        return combined

    def _sync_mount(self, mount, combined, stopped):
        if not self._recorded_at(mount.item.id, mount.path):
            combined.converged = False  # its folder is not made yet
            return
        engine = self._engine(mount)
        try:
            summary = engine.sync_once()
        except SyncStopped as error:
            if not self._is_folder(mount.path):
                # Moved or deleted here during the pass: the next pass
                # settles it (see the module docstring), nothing stops.
                combined.converged = False
                return
            stopped.append(SyncStopped('shared folder %s: %s'
                                       % (mount.path, error)))
            return
        _merge(combined, summary, mount.path)

    def _engine(self, mount):
        engine = self.engines.get(mount.workspace_id)
        if engine is None:
            engine = SyncEngine(
                None, self.remote, self.codec_for_workspace, self.state,
                self.clock, self.device_name,
                dataclasses.replace(self.options,
                                    workspace_id=mount.workspace_id,
                                    exclude=None))
            self.engines[mount.workspace_id] = engine
        engine.fs = FolderView(self.fs, mount.path)  # it may have moved
        return engine

    def _recorded_at(self, item_id, path):
        entry = self.state.base(self.ws).get(path)
        return entry is not None and entry.item_id == item_id and \
            entry.is_folder and self.fs.exists(path)

    def _sync_private(self):
        """The private engine's pass; again from cursor 0 if the mirror
        turns out to be too old (:meth:`_mirror_is_stale`)."""
        summary = self.root.sync_once()
        # Members' mount items live in their private workspaces only.
        if self.options.workspace_id is not None:
            self._mirror_checked = True
        if self._mirror_checked or not summary.converged or \
                not self._mirror_is_stale():
            return summary
        self.state.save_remote(self.ws, [], cursor=0)
        again = self.root.sync_once()
        return dataclasses.replace(again, items=summary.items + again.items,
                                   rounds=summary.rounds + again.rounds)

    def _mirror_is_stale(self):
        """Does the private mirror predate ``mount_workspace_id``?

        A mirror written before mounts were followed kept none. Every
        share the person is a member of (not its owner) has a live mount
        item, so one missing from an up-to-date mirror means the mirror is
        stale; fetched again from cursor 0, items equal to the mirror's
        are not "older", and nothing else changes. Asked once a process.
        """
        try:
            spaces = self.remote.workspaces()
        except RemoteError:
            return False    # asked again after the next pass
        self._mirror_checked = True
        mounted = {item.mount_workspace_id for item
                   in self.state.remote_items(self.ws).values()
                   if item.live}
        return any(space.get('is_shared') and space.get('role') != 'owner'
                   and space['id'] not in mounted for space in spaces)

    # -- settling the folder, each round of the private engine -------------

    def _settle(self):
        """Put the mount folders in order; the folders to leave alone.

        The private engine calls this after each fetch; see the module
        docstring for the cases.
        """
        items = self._drop_departed_items(self.state.remote_items(self.ws))
        live = live_mounts(items)
        self._leave_departed(items, live)
        base = self.state.base(self.ws)
        at = {entry.item_id: path for path, entry in base.items()}
        for space, mount in list(live.items()):
            live[space] = self._check_mount(mount, at.get(mount.item.id),
                                            base)
        self.mounts = live
        excluded = {mount.path for mount in live.values()}
        # A folder the server moved is still at its old path here until
        # the private engine moves it: its contents are the share's too.
        excluded.update(at[mount.item.id] for mount in live.values()
                        if mount.item.id in at)
        return sorted(excluded)

    def _drop_departed_items(self, items):
        """The private mirror's ``items`` without those a share took away.

        Sharing a folder moves its subtree into the new workspace, keeping
        ids, and the private workspace's delta does not announce that. A
        mirror that had such an item elsewhere than under the shared
        folder (it was moved into it meanwhile) kept it there for good:
        a file no longer in the workspace, never synced. An id seen in a
        share's mirror is no longer the private workspace's (items never
        leave a share), so the private engine now sees it gone.
        """
        gone = self._departed(items)
        if gone:
            self.state.drop_remote(self.ws, gone)
        return {item_id: item for item_id, item in items.items()
                if item_id not in gone}

    def _departed(self, items):
        """The ids of the private mirror's ``items`` a share's mirror
        holds."""
        shared = set()
        for space in {item.mount_workspace_id for item in items.values()
                      if item.mount_workspace_id}:
            shared.update(self.state.remote_ids(space))
        return [item_id for item_id, item in items.items()
                if item_id in shared and not item.mount_workspace_id]

    def _departed_elsewhere(self):
        """Does the private mirror have an item a share holds, alive
        outside the mount folders? (Inside one it is left alone anyway.)
        """
        items = self.state.remote_items(self.ws)
        gone = set(self._departed(items))
        folders = [mount.path for mount in live_mounts(items).values()]
        return any(item.id in gone and
                   not any(is_under(path, folder) for folder in folders)
                   for path, item in remote_paths(items).items())

    def _leave_departed(self, items, live):
        """Trash the folders of mounts gone from the private workspace."""
        base = self.state.base(self.ws)
        for path, entry in sorted(base.items()):
            item = items.get(entry.item_id)
            if item is None or item.live or not item.mount_workspace_id \
                    or not entry.is_folder:
                continue
            if self.fs.exists(path):
                self.fs.delete(path)
            self.state.update_base(self.ws, deletes=[
                below for below in base if is_under(below, path)])
            self._event(LEFT, path, '%s is no longer shared with you: its '
                        'files were moved to .stacksync/trash' % path)
            if item.mount_workspace_id not in live:
                self._forget(item.mount_workspace_id)
        for item in items.values():
            space = item.mount_workspace_id
            if space and not item.live and space not in live and \
                    self._has_state(space):
                self._forget(space)

    def _check_mount(self, mount, synced_at, base):
        """The mount, after settling its local folder; maybe moved."""
        if synced_at is None:
            self._arriving(mount)
        elif self._is_folder(synced_at):
            self._adopt_base(mount, synced_at, base)
        elif synced_at == mount.path:
            return self._missing(mount, base)
        else:
            # Moved on the server, gone here: the private engine makes
            # the folder at its new place, and the share comes afresh.
            self._forget(mount.workspace_id)
        return mount

    def _adopt_base(self, mount, synced_at, base):
        """Give a share with no state the merge base of its folder.

        Only the owner's folder, synced before it was shared, has one in
        the private workspace: its items moved to the shared workspace
        keeping their ids and versions, so the entries stay true there,
        and the changes made in the share meanwhile merge as changes, not
        as conflicts with the owner's unchanged copies.
        """
        inside = {path[len(synced_at) + 1:]: entry
                  for path, entry in base.items()
                  if path.startswith(synced_at + '/')}
        if not inside or self._has_state(mount.workspace_id):
            return
        self.state.update_base(mount.workspace_id, puts=inside.items())
        self.state.update_base(self.ws, deletes=[
            join(synced_at, path) for path in inside])

    def _arriving(self, mount):
        """A mount folder new here: fresh state, no private files in it.
        """
        if self._has_state(mount.workspace_id):
            self._forget(mount.workspace_id)
        if not self._is_folder(mount.path) or \
                not PathIndex(self.fs.scan()).under(mount.path):
            return
        self._set_aside(mount.path)

    def _set_aside(self, path):
        """Rename a local entry that holds a mount's place; it stays
        private (the private engine syncs it under its new name)."""
        aside = self._free_name(LOCAL_COPY % path)
        self.fs.move(path, aside)
        self._event(SET_ASIDE, path, 'a shared folder takes the place of '
                    'your %s here: yours was renamed %s and stays private'
                    % (path, aside), dest=aside)

    def _missing(self, mount, base):
        """The synced mount folder is gone here: moved, or deleted."""
        if self.fs.exists(mount.path):     # a file took its place
            self._set_aside(mount.path)
        moved_to = self._moved_to(mount, base)
        if moved_to is None:
            self._make_folders_above(mount.path)
            self.fs.mkdir(mount.path)
            self._forget(mount.workspace_id)
            self._event(RESTORED, mount.path, (
                '%s is a shared folder: deleting it here does not delete '
                'it, so it is downloaded again; to stop syncing it, leave '
                'it (POST /v1/folder/%d/unshare) or ask its owner to '
                'unshare it') % (mount.path, mount.item.id))
            return mount
        moved = self._send_move(mount, moved_to)
        if moved is not None:
            self._event(MOVED, mount.path, 'shared folder %s moved to %s'
                        % (mount.path, moved_to), dest=moved_to)
            return moved
        self._make_folders_above(mount.path)
        self.fs.move(moved_to, mount.path)
        self._event(MOVED_BACK, moved_to, (
            '%s is a shared folder and the server cannot move it to %s '
            '(a shared folder moves only into folders already synced, '
            'never into another shared folder): it was moved back')
            % (mount.path, moved_to), dest=mount.path)
        return mount

    def _make_folders_above(self, path):
        """Make the folders a mount folder goes back into: an owner's
        shared folder may sit deep in the tree, and a folder above it
        cannot be deleted on the server while it holds a live mount (a
        file in one's place is set aside first)."""
        for above in reversed(ancestors(path)):
            if self._is_folder(above):
                continue
            if self.fs.exists(above):
                self._set_aside(above)
            self.fs.mkdir(above)

    def _moved_to(self, mount, base):
        """The one new local folder the missing mount folder moved to.

        Found by its contents: the topmost new folder holding some of the
        share's synced files, at the same paths inside. A folder holding
        none of them (each deleted before the move, or a share with no
        files yet) is found only by its name, when the move changed
        nothing but the case of the name (``Team`` to ``team``, in the
        same folder). Otherwise there is nothing to tell the move from a
        delete: the mount folder is made again and the share comes
        afresh, and deletes made in it here before the move are undone.
        """
        scanned = self.fs.scan()
        return self._moved_with_files(mount, base, scanned) or \
            self._renamed_in_case(mount, base, scanned)

    def _moved_with_files(self, mount, base, scanned):
        synced = {(path, entry.content_hash) for path, entry
                  in self.state.base(mount.workspace_id).items()
                  if not entry.is_folder}
        if not synced:
            return None
        codec = self._codec(mount.workspace_id)
        index = PathIndex(scanned)
        found = []
        for folder, entry in scanned.items():
            if not entry.is_folder or folder in base:
                continue
            inside = {(path[len(folder) + 1:],
                       codec.content_hash(scanned[path].content_hash))
                      for path in index.under(folder)
                      if not scanned[path].is_folder}
            if inside & synced:
                found.append(folder)
        topmost = [folder for folder in found
                   if not any(is_under(folder, other) and folder != other
                              for other in found)]
        return topmost[0] if len(topmost) == 1 else None

    @staticmethod
    def _renamed_in_case(mount, base, scanned):
        """The one new folder beside the mount folder whose name differs
        from its name only in case: a rename (deleting a shared folder
        and making a new one of that name but for case, in one pass, is
        not what anyone does; and that folder would take the share's
        files only if it held none of them)."""
        above, name = parent(mount.path), basename(mount.path).casefold()
        found = [folder for folder, entry in scanned.items()
                 if entry.is_folder and folder not in base and
                 parent(folder) == above and
                 basename(folder).casefold() == name]
        return found[0] if len(found) == 1 else None

    def _send_move(self, mount, dest):
        """Commit the mount item's move to ``dest``; the moved Mount."""
        tree = remote_paths(self.state.remote_items(self.ws))
        above = parent(dest)
        holder = tree.get(above)
        if above and (holder is None or not holder.is_folder or
                      any(is_under(above, other.path)
                          for other in live_mounts(
                              self.state.remote_items(self.ws)).values())):
            return None
        answer = self.remote.commit(self.ws, [{
            'id': mount.item.id, 'base_version': mount.item.version,
            'parent_id': holder.id if above else None,
            'filename': basename(dest)}])
        result = answer['results'][0]
        if result.get('result') != 'committed':
            return None
        item = type(mount.item).from_meta(result['item'])
        self.state.update_base(self.ws, deletes=[mount.path],
                               puts=[(dest, BaseEntry.of(item))],
                               items=[item])
        return Mount(mount.workspace_id, dest, item)

    # -- helpers ----------------------------------------------------------

    def _codec(self, space):
        engine = self.engines.get(space)
        if engine is not None and engine.codec is not None:
            return engine.codec
        for workspace in self.remote.workspaces():
            if workspace['id'] == space:
                return self.codec_for_workspace(workspace)
        raise SyncStopped('workspace %d is not visible' % space)

    def _has_state(self, space):
        return self.state.cursor(space) > 0 or bool(self.state.base(space))

    def _forget(self, space):
        """Drop a share's state: it starts afresh if it comes back."""
        self.state.reset(space)
        self.engines.pop(space, None)

    def _is_folder(self, path):
        """Is ``path`` a folder here? Asks the file system's ``entry``
        when it has one (the real one and the simulation's do): a scan
        of the whole folder each round would double the cost of a pass.
        """
        if not self.fs.exists(path):
            return False
        entry = getattr(self.fs, 'entry', None)
        found = entry(path) if entry is not None else \
            self.fs.scan().get(path)
        return found is not None and found.is_folder

    def _free_name(self, wanted):
        taken = self.fs.scan()
        candidate, number = wanted, 1
        while candidate in taken:
            number += 1
            candidate = '%s %d)' % (wanted[:-1], number)
        return candidate

    def _event(self, kind, path, text, dest=None):
        self._events.append(ItemResult(kind=kind, path=path, outcome='done',
                                       detail=text, dest=dest))
        self.notify(text)


def _merge(combined, summary, folder):
    """Add a share's summary, its paths made relative to the top."""
    for item in summary.items:
        combined.items.append(dataclasses.replace(
            item, path=join(folder, item.path),
            dest=join(folder, item.dest) if item.dest else item.dest))
    combined.rounds += summary.rounds
    combined.converged = combined.converged and summary.converged
    combined.time_travel = combined.time_travel or summary.time_travel
    if summary.error:
        mine = 'shared folder %s: %s' % (folder, summary.error)
        combined.error = mine if not combined.error else \
            combined.error + '; ' + mine

