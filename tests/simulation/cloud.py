"""The simulation as ``stacksync sync DIR`` runs: users, shares, the wire.

:class:`Cloud` extends the one-user :class:`~.sim.Simulation` to what a
real deployment runs. Each device is the real client stack: the
:class:`~stacksync_swift.client.mounts.MountedSync` orchestrator over a
:class:`~stacksync_swift.client.names.NameCipher` over the real HTTP
remote (:class:`~.wire.SimConnection`, whose requests go through the
faulty network to :class:`~.wire.ApiServer`), with the real codecs. A
seed's *profile* (:data:`PROFILES`, ``seed % 4``) picks the world:

``one``
    one user, three devices, a plain private workspace;
``shared``
    alice (two devices) and bob (one device), each syncing a private
    workspace; alice shares folders with bob mid-run, bob accepts, bob
    leaves, alice unshares (also while devices are offline or mid-pass);
``encrypted``
    one user syncing a client-side encrypted workspace (AES-GCM chunks,
    keyed content hashes, and in half the seeds AES-SIV file names);
``shared-encrypted``
    both: alice's folders are shared out of her encrypted workspace, and
    bob opens them with the same passphrase (its key container).

Some devices are *watchers*, as ``stacksync sync --watch`` runs: they
sync only when their folder changed or a long poll on one of the
workspaces the CLI watches (``cli._watched_workspaces``) woke them, never
on a timer, also while converging at the end. A long poll the server
holds lets other users act and other devices sync meanwhile.

Checked on top of :class:`~.sim.Simulation`'s properties (every device
equals its user's view of the server, nothing written is lost):

* the server view decodes: every live file's chunks are in its
  workspace's container and open with the workspace's codec to bytes
  whose keyed hash is the item's ``content_hash``;
* **deletes stay deleted**: a file deleted on a device while it was in
  sync everywhere (that device's merge base, the server's version, and no
  other device holding it anywhere else) is absent on every device and
  the server at the end, unless a device moved it (or the folder deleted
  with it) before the delete was sent, or its device deleted the mount
  folder holding it meanwhile, or moved it holding none of its synced
  files, not by a change of case alone (the share comes back afresh); a
  deleted path of a private folder that was the same on every device of
  its user and on the server, and that nothing was created, moved or
  edited at, under or above afterwards, is absent on that user's devices
  and view;
* **moves keep identity**: a synced file moved or renamed within its
  workspace is still the same server item at the end (its id, so its
  history), unless a user deleted that item; a move between workspaces
  (into or out of a shared folder) is a new item by design;
* the watchers converge without a periodic pass: a long poll wakes them
  for every change they have to fetch.

Viewer shares are left out: a viewer's local edit blocks its passes
(issue 26), which this simulation would report on every such seed.
"""

import dataclasses
import hashlib
import random

from stacksync_swift.client import api
from stacksync_swift.client import cli
from stacksync_swift.client import codec as codecs
from stacksync_swift.client import names
from stacksync_swift.client.engine import SyncOptions
from stacksync_swift.client.mounts import LEFT
from stacksync_swift.client.mounts import MountedSync
from stacksync_swift.client.mounts import live_mounts
from stacksync_swift.client.state import State
from stacksync_swift.client.tree import RemoteItem
from stacksync_swift.client.tree import ancestors
from stacksync_swift.client.tree import basename
from stacksync_swift.client.tree import is_under
from stacksync_swift.client.tree import join
from stacksync_swift.client.tree import parent
from stacksync_swift.client.tree import remote_paths
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import shares
from tests.simulation import sim
from tests.simulation.fakes import FOLDER
from tests.simulation.fakes import MemoryFS
from tests.simulation.fakes import SimulatedCrash
from tests.simulation.fakes import sha256
from tests.simulation.wire import ApiServer
from tests.simulation.wire import SimConnection

PROFILES = ('one', 'shared', 'encrypted', 'shared-encrypted')
Failure = sim.Failure


def profile_of(seed):
    return PROFILES[seed % len(PROFILES)]


@dataclasses.dataclass
class User:
    id: int
    name: str
    workspace_id: int           # the workspace its devices sync
    option: object = None       # SyncOptions.workspace_id (None: private)
    devices: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Node:
    """An entry of a user's view of the server."""

    item_id: int
    workspace_id: int
    sha: object                 # sha256 of the plaintext; None: a folder


class Device:
    """One device of a user: folder, state database, the client stack."""

    def __init__(self, cloud, user, name, watcher):
        self.cloud = cloud
        self.user = user
        self.name = name
        self.watcher = watcher
        self.fs = MemoryFS()
        self.state_db = State.open(':memory:').db
        self.changed = 0            # user actions on this folder
        self.seen = -1              # ``changed`` when the last pass began
        self.clean = -1             # and when the last converged one did
        self.mount_paths = set()    # every mount folder path seen here
        self.restart()

    def restart(self):
        """The process starts (again) from its state database."""
        if self.state_db.in_transaction:
            self.state_db.execute('ROLLBACK')
        self.conn = SimConnection(self.cloud.api, self.cloud.network,
                                  self.name, self.user.id, self.name,
                                  self.cloud.clock)
        self.codecs = {}
        remote = names.NameCipher(self.conn, self.codec)
        self.engine = MountedSync(
            self.fs, remote, lambda space: self.codec(space['id']),
            State(self.state_db), self.cloud.clock, self.name,
            SyncOptions(allow_mass_delete=True,
                        workspace_id=self.user.option))
        self.cursors = {}           # the long-poll threads die with it
        self.positions = {}         # and what the CLI told them
        self.woken = True

    def codec(self, workspace_id):
        if workspace_id not in self.codecs:
            try:
                self.codecs[workspace_id] = self.cloud.codec_of(
                    self.user.id, workspace_id)
            except errors.NotFound as error:
                # What the CLI's Session gets from GET /v1/workspace/N.
                raise api.NotFound('%s (HTTP 404)' % error, 404)
        return self.codecs[workspace_id]

    @property
    def mounts(self):
        """The mounts of the last pass (after a restart, the mirror's)."""
        if self.engine.mounts is not None:
            return dict(self.engine.mounts)
        return live_mounts(self.engine.state.remote_items(
            self.user.workspace_id))

    def synced(self):
        """``{path: (workspace id, BaseEntry)}``: the merge bases of the
        workspace and of the shares mounted in it, as paths here."""
        state = self.engine.state
        top = self.user.workspace_id
        found = {path: (top, entry) for path, entry
                 in state.base(top).items()}
        for mount in self.mounts.values():
            for path, entry in state.base(mount.workspace_id).items():
                found[join(mount.path, path)] = (mount.workspace_id, entry)
        return found

    def workspace_at(self, path):
        """The workspace a path here belongs to, and whether it is a
        mount folder or holds one."""
        holds = False
        for mount in self.mounts.values():
            if path == mount.path or is_under(mount.path, path):
                holds = True
            elif is_under(path, mount.path):
                return mount.workspace_id, False
        return self.user.workspace_id, holds

    def stored_hash(self, workspace_id, content):
        """``content``'s hash as the workspace stores it; None when this
        user left the workspace (its codec is not known then)."""
        try:
            return self.codec(workspace_id).content_hash(content)
        except api.NotFound:
            return None

    def dirty(self):
        return self.woken or self.changed != self.seen


class Cloud(sim.Simulation):
    def __init__(self, seed, steps=40, faults=True, profile=None):
        self.profile = profile or profile_of(seed)
        self.seed = seed
        self.rng = random.Random(seed)
        self.steps = steps
        self._setup_common(faults)
        self.api = ApiServer(self.server)
        self.api.hold = self._hold
        self.shared = 'shared' in self.profile
        self.encrypted = 'encrypted' in self.profile
        self.encrypt_names = self.encrypted and self.rng.random() < 0.5
        self.keys = {}      # key container -> its number in this run
        self.users = [self._user('alice')]
        if self.shared:
            self.users.append(self._user('bob'))
        counts = [2, 1] if self.shared else [3]
        self.devices = []
        for user, count in zip(self.users, counts):
            for number in range(count):
                device = Device(self, user, '%s-dev%d' % (user.name, number),
                                watcher=self.rng.random() < 0.5)
                user.devices.append(device)
                self.devices.append(device)
        self.clients = self.devices
        self.kept = set()           # contents a departed share trashed
        self.doomed = {}            # content -> (user, ws, item, what)
        self.doomed_paths = {}      # (user id, path) -> step
        self.moved = {}     # item id -> (content, ws, user id, what)
        self.unsent = {}    # item id -> (device, its ``changed`` then)
        self.deleted_ids = set()    # items a user deleted (or left)
        self.step = 0

    def _user(self, name):
        service = self.server.service
        user_id = service.create_user(name)['id']
        private = service.get_workspaces(user_id)[0]['id']
        if self.encrypted and name == 'alice':
            vault = service.create_workspace(user_id, 'vault',
                                             encrypted=True)['id']
            return User(user_id, name, vault, option=vault)
        return User(user_id, name, private)

    def codec_of(self, user_id, workspace_id):
        """The codec the user's client opens the workspace with: every
        member of an encrypted one knows its passphrase."""
        space = self.server.service.get_workspace(user_id, workspace_id)
        if not space['encrypted']:
            return codecs.PlainCodec()
        # The key container's name is random (a uuid), so it is numbered
        # here in the order keys are first asked for: a seed keyed by the
        # name sealed other names each run, and the member sees the
        # sealed name of their mount, which orders the paths drawn from.
        key = self.keys.setdefault(codecs.key_container(space),
                                   len(self.keys))
        master = hashlib.sha256(('%d:%d' % (self.seed, key)).encode()
                                ).digest()
        return codecs.EncryptedCodec(master, self.encrypt_names)

    def device_of(self, fs):
        for device in self.devices:
            if device.fs is fs:
                return device
        raise KeyError(fs)

    # -- the run

    def run(self):
        for step in range(self.steps):
            self.step = step
            device = self.rng.choice(self.devices)
            roll = self.rng.random()
            if roll < 0.42:
                self.user_action(device)
            elif roll < 0.86:
                self.turn(device)
            elif roll < 0.95 and self.shared:
                self.share_action()
            elif roll < 0.95:
                self.turn(device)
            else:
                self.log.append('crash %s' % device.name)
                device.restart()
        self.network.faults = False
        self.api.hold = None
        self.quiesce()
        self.check()

    def turn(self, device):
        """A device's turn: a pass, or for a watcher what watch mode
        does (a pass if something woke it, else a long poll)."""
        if not device.watcher or device.dirty():
            self.sync(device)
        else:
            self.long_poll(device)

    def sync(self, device, quiet=False):
        device.seen = started = device.changed
        device.woken = False
        self.active.add(device.name)
        engine = device.engine
        try:
            summary = engine.sync_once()
        except SimulatedCrash:
            self.log.append('crash %s mid-sync' % device.name)
            self._keep_departed(device, engine._events)
            device.restart()
            return None
        except (api.NotFound, api.Forbidden) as error:
            # A share went away between two requests of a pass; the CLI
            # prints it and the next pass settles the folder.
            if not self.network.faults:
                raise
            self.log.append('sync %s: %s' % (device.name, error))
            self._keep_departed(device, engine._events)
            device.woken = True
            return None
        finally:
            self.active.discard(device.name)
        mounts = device.mounts.values()
        device.mount_paths.update(mount.path for mount in mounts)
        device.positions.update(cli.synced_cursors(device.engine))
        self._keep_departed(device, summary.items)
        if summary.error or not summary.converged:
            device.woken = True     # watch mode retries after a pause
        else:
            device.clean = started  # what it changed before went up
        self.log.append('sync %s: %d rounds %s%s' % (
            device.name, summary.rounds, summary.error or '', ''.join(
                '\n    %s %s%s %s' % (item.kind, item.path, ' -> %s'
                                      % item.dest if item.dest else '',
                                      item.outcome)
                for item in summary.items)))
        return summary

    def _keep_departed(self, device, items):
        """The contents of the folders of departed shares, moved to the
        trash whole, count as kept. A pass cut short (a crash, a share
        gone between two requests) returns no summary, but what it did
        stays done and was notified (the CLI prints each event at once),
        so its events so far are read from the orchestrator."""
        for item in items:
            if item.kind == LEFT:
                self.kept.update(sha256(data) for _path, data, top
                                 in device.fs.trash
                                 if top == item.path and data is not FOLDER)

    def long_poll(self, device):
        """What the CLI's long-poll threads do, one wait each, from where
        the last pass left each workspace (``cli.synced_cursors``)."""
        watched = cli._watched_workspaces(device.engine)
        device.cursors = {space: cursor for space, cursor
                          in device.cursors.items() if space in watched}
        cursors = device.cursors
        for space in sorted(watched):
            try:
                if space not in cursors:
                    cursors[space] = device.positions.get(space, 0)
                answer = device.conn.wait(space, cursors[space], 25)
            except api.ClientError:
                continue
            except SimulatedCrash:
                self.log.append('crash %s waiting' % device.name)
                device.restart()
                return
            if cursors is not device.cursors:
                return      # the process died meanwhile, and its threads
            self.log.append('wait %s on %d from %d: %d' % (
                device.name, space, cursors[space], answer['cursor']))
            if answer['cursor'] > cursors[space]:
                cursors[space] = answer['cursor']
                device.woken = True

    def _meddle(self, caller):
        roll = self.rng.random()
        if roll < 0.6:
            self.user_action(self.rng.choice(self.devices))
            return
        if roll < 0.7 and self.shared:
            self.share_action()
            return
        others = [d for d in self.devices if d.name not in self.active]
        if others:
            self.sync(self.rng.choice(others))

    def _hold(self):
        """A long poll is held: something else happens meanwhile."""
        self._meddle(None)

    def quiesce(self):
        """Every device until nothing moves; watchers only when their
        folder changed or a long poll wakes them."""
        for _pass in range(sim.QUIET_PASSES):
            idle = True
            for device in self.devices:
                if device.watcher and not device.dirty():
                    self.long_poll(device)
                    if not device.dirty():
                        continue
                summary = self.sync(device)
                if summary.error or not summary.converged:
                    raise Failure('%s did not converge: %s' % (
                        device.name, summary.error or summary.items[-5:]))
                # (Each mounted share adds a round of its own even when
                # nothing is to do: what was done is what counts.)
                if summary.items:
                    idle = False
            if idle:
                return
        raise Failure('no quiescence after %d passes' % sim.QUIET_PASSES)

    # -- the server as each user sees it

    def view(self, user_id, workspace_id, prefix='', found=None):
        """``{path: Node}``: the workspace with its mounts filled in, names
        in clear, each file's bytes read from its container and decoded.
        """
        found = {} if found is None else found
        space = self.server.service.get_workspace(user_id, workspace_id)
        codec = self.codec_of(user_id, workspace_id)
        store = self.server.container(space['container'])
        for path, item in self._listing(user_id, workspace_id).items():
            path = join(prefix, path)
            if item.is_folder:
                found[path] = Node(item.id, workspace_id, None)
                if item.mount_workspace_id:
                    self.view(user_id, item.mount_workspace_id, path, found)
                continue
            try:
                data = b''.join(codec.decode(name, store[name])
                                for name in item.chunks)
            except KeyError as missing:
                raise Failure('%s: chunk %s is not in %s' % (
                    path, missing, space['container']))
            digest = sha256(data)
            if codec.content_hash(digest) != item.content_hash:
                raise Failure('%s: its chunks do not make its content_hash'
                              % path)
            found[path] = Node(item.id, workspace_id, digest)
        return found

    def tree_of(self, user):
        return {path: node.sha for path, node
                in self.view(user.id, user.workspace_id).items()}

    # -- invariants

    def check(self):
        if self.server.violations:
            raise Failure(self.server.violations[0])
        views = {user.id: self.view(user.id, user.workspace_id)
                 for user in self.users}
        everywhere = set()
        for user in self.users:
            tree = {path: node.sha for path, node
                    in views[user.id].items()}
            everywhere.update(tree.values())
            for device in user.devices:
                mine = device.fs.tree()
                if mine != tree:
                    raise Failure('%s differs from the server: %s' % (
                        device.name, sim._diff(mine, tree)))
                if set(device.synced()) != set(tree):
                    raise Failure('%s: merge base differs from the server'
                                  ': %s' % (device.name, sorted(
                                      set(device.synced()) ^ set(tree))[:5]))
        lost = (self.written - self.discarded - self.kept) - everywhere
        if lost:
            raise Failure('content lost: %s' % sorted(lost)[:3])
        self.check_deletes(views)
        self.check_moves(views)

    def check_deletes(self, views):
        held = {}
        for device in self.devices:
            for path, digest in device.fs.tree().items():
                held.setdefault(digest, '%s:%s' % (device.name, path))
        for view in views.values():
            for path, node in view.items():
                held.setdefault(node.sha, 'server:%s' % path)
        for content in sorted(self.doomed):
            if content in held:
                raise Failure('deleted content came back: %s (%s)'
                              % (held[content], self.doomed[content][3]))
        for (user_id, path), step in sorted(self.doomed_paths.items()):
            user = next(u for u in self.users if u.id == user_id)
            places = ['server'] if path in views[user_id] else []
            places += [device.name for device in user.devices
                       if path in device.fs.nodes]
            if places:
                raise Failure('%s deleted at step %d is back on %s'
                              % (path, step, ', '.join(places)))

    def check_moves(self, views):
        live = {}
        for view in views.values():
            for node in view.values():
                live[node.item_id] = node.sha
        contents = set(live.values())
        for item_id, (content, _space, _user, what) in sorted(
                self.moved.items()):
            if item_id in live or item_id in self.deleted_ids:
                continue
            if content in contents:
                raise Failure('%s: item %d is gone, its content lives on '
                              'in another item' % (what, item_id))

    # -- what users do, with what each action promises

    def fs_action_target(self, device):
        self.acting = device
        return device.fs

    def _synced_file(self, device, path, data):
        """The base entry of an unchanged, synced file whose server item
        is still that version; else None."""
        synced = device.synced().get(path)
        if synced is None:
            return None
        workspace_id, entry = synced
        if entry.is_folder or entry.content_hash != \
                device.stored_hash(workspace_id, sha256(data)):
            return None
        meta = self._item(device.user.id, entry.item_id)
        if meta.get('status') in (None, 'DELETED') or \
                meta['version'] != entry.version or \
                self.locate(device.user).get(entry.item_id) != path:
            return None     # changed, or moved (with a folder) there
        return workspace_id, entry

    def locate(self, user, workspace_id=None, prefix='', found=None):
        """``{item id: path}`` of the user's view (no chunks read)."""
        found = {} if found is None else found
        workspace_id = workspace_id or user.workspace_id
        for path, item in self._listing(user.id, workspace_id).items():
            path = join(prefix, path)
            found[item.id] = path
            if item.mount_workspace_id:
                self.locate(user, item.mount_workspace_id, path, found)
        return found

    def _listing(self, user_id, workspace_id):
        """``{path: RemoteItem}`` of a workspace, names in clear."""
        service = self.server.service
        codec = self.codec_of(user_id, workspace_id)
        cipher = codec if getattr(codec, 'encrypt_names', False) else None
        items, cursor = {}, 0
        while True:
            delta = service.get_changes(user_id, workspace_id, cursor)
            for meta in delta['entries']:
                if cipher is not None:
                    meta = names.clear_meta(cipher, meta)
                items[meta['id']] = RemoteItem.from_meta(meta)
            cursor = delta['cursor']
            if not delta['has_more']:
                break
        return remote_paths(items)

    def _moved_elsewhere(self, content, item_id, but):
        """Does another device hold ``content`` away from its item's
        synced place, or miss or have edited the item where it synced it
        (a local change not sent yet, which races this one)?"""
        for device in self.devices:
            if device is but:
                continue
            synced = device.synced()
            for path, (space, entry) in synced.items():
                if entry.item_id != item_id:
                    continue
                data = device.fs.nodes.get(path, 0)
                if data in (0, FOLDER) or entry.content_hash != \
                        device.stored_hash(space, sha256(data)):
                    return True     # moved, deleted or edited there
            for path, data in device.fs.nodes.items():
                if data is FOLDER or sha256(data) != content:
                    continue
                entry = synced.get(path)
                if entry is None or entry[1].item_id != item_id:
                    return True
        return False

    def _folders_moved_elsewhere(self, device, path, synced):
        """Has another device moved or deleted, not yet sent, the folder
        deleted here or one above it? A folder moved there beats its
        delete here (it comes back, with what it holds)."""
        folders = {synced[above][1].item_id
                   for above in [path] + ancestors(path)
                   if above in synced and synced[above][1].is_folder}
        for other in self.devices:
            if other is device:
                continue
            for where, (_space, entry) in other.synced().items():
                if entry.item_id in folders and \
                        other.fs.nodes.get(where, 0) is not FOLDER:
                    return True
        return False

    def _restored_shares(self, device, path, synced):
        """A mount folder deleted here, or a folder above one, is made
        again and its share downloaded afresh (see mounts.py): a delete
        made in a share here and not sent yet (its merge base still has
        the file) is undone, and promises no more. (The private files
        around it stay deleted: the private engine sends those.)"""
        self._spare({entry.item_id for inside, (space, entry)
                     in synced.items()
                     if is_under(inside, path) and
                     inside not in device.fs.nodes and
                     space != device.user.workspace_id})

    def _mounts_moved(self, device, src, dst, synced):
        """A mount folder moved here (or a folder above one) is found by
        the share's synced files inside, or by a rename that changes only
        the case of its name (see mounts.py). Holding neither, it is to a
        scanning client a deleted mount folder and a new folder: made
        again, its share comes afresh (:meth:`_restored_shares`)."""
        for mount in device.mounts.values():
            if not is_under(mount.path, src):
                continue
            if mount.path == src and parent(src) == parent(dst) and \
                    basename(src).casefold() == basename(dst).casefold():
                continue
            if not any(found[0] == mount.workspace_id for _path, _content,
                       found in self._unchanged_files(device, mount.path)):
                self._restored_shares(device, mount.path, synced)

    def _deletes_raced_by_move(self, device, src):
        """Another device deleted the synced folder moved here (or one
        above it) and has not sent that: the move beats the delete, the
        folder comes back there with what it holds (the race of
        :meth:`_folders_moved_elsewhere`, in the other order)."""
        entry = device.synced().get(src)
        if entry is None or not entry[1].is_folder:
            return
        for other in self.devices:
            if other is device:
                continue
            synced = other.synced()
            for where, (_space, found) in synced.items():
                if found.item_id == entry[1].item_id and \
                        other.fs.nodes.get(where, 0) is not FOLDER:
                    self._spare({below.item_id for inside, (_s, below)
                                 in synced.items()
                                 if is_under(inside, where)})

    def _spare(self, item_ids):
        """Deletes of these items promise no more."""
        for content, doom in list(self.doomed.items()):
            if doom[2] in item_ids:
                del self.doomed[content]

    def _subtree(self, fs, path):
        return {p[len(path):]: (None if fs.nodes[p] is FOLDER
                                else sha256(fs.nodes[p]))
                for p in fs.subtree(path)}

    def _touched(self, device, paths, moved=False):
        """User actions touching ``paths``: a move takes the contents it
        moves off the doomed list; any action there keeps the deleted
        paths at, under or above it from being claimed."""
        for (user_id, doomed) in list(self.doomed_paths):
            if user_id != device.user.id:
                continue
            if any(p == doomed or is_under(p, doomed) or
                   is_under(doomed, p) for p in paths):
                del self.doomed_paths[(user_id, doomed)]
        if moved:
            synced = device.synced()
            items = set()
            for path in paths:
                for inside in device.fs.subtree(path):
                    data = device.fs.nodes[inside]
                    if data is not FOLDER:
                        self.doomed.pop(sha256(data), None)
                    if inside in synced:
                        items.add(synced[inside][1].item_id)
            for content, doom in list(self.doomed.items()):
                if doom[2] in items:
                    del self.doomed[content]

    def _answers_lost(self):
        """Does a device wait on the answer of a commit it sent (a new
        file whose answer was lost, say)? Such a file is new to it: a
        delete elsewhere meanwhile does not stick, the file goes up again
        (see doc/design.md), and an edit and move of it there deletes an
        item another device may move: no delete or move promises then."""
        for device in self.devices:
            state = device.engine.state
            for space in {device.user.workspace_id} | set(device.mounts):
                if state.sent_changes(space) or state.sent_deletes(space):
                    return True
        return False

    def observe_delete(self, device, path):
        self._races(device)
        fs = device.fs
        synced = device.synced()
        for inside in fs.subtree(path):
            if inside in synced:
                self.deleted_ids.add(synced[inside][1].item_id)
        self._touched(device, [path])
        workspace_id, holds_mount = device.workspace_at(path)
        if holds_mount:
            self._restored_shares(device, path, synced)
        if holds_mount or self._holds_mount_now(device, path, synced) or \
                self._answers_lost() or \
                self._folders_moved_elsewhere(device, path, synced):
            return
        for inside, content, found in self._unchanged_files(device, path):
            if self._moved_elsewhere(content, found[1].item_id, device) or \
                    any(sha256(other) == content for here, other
                        in fs.nodes.items() if other is not FOLDER and
                        not is_under(here, path)):
                continue    # a copy lives on (here too)
            self.doomed[content] = (
                device.user.id, found[0], found[1].item_id,
                '%s deleted %s at step %d' % (device.name, inside,
                                              self.step))
        self._doom_path(device, path, workspace_id)

    def _unchanged_files(self, device, path):
        """``(path, content, (workspace, BaseEntry))`` of each file at or
        under ``path`` that :meth:`_synced_file` finds unchanged."""
        for inside in device.fs.subtree(path):
            data = device.fs.nodes[inside]
            if data is FOLDER:
                continue
            found = self._synced_file(device, inside, data)
            if found is not None:
                yield inside, sha256(data), found

    def _mounts_now(self, user):
        """The user's mount folders as the server has them now (the
        device may not know yet)."""
        return [path for path, item in self._listing(
            user.id, user.workspace_id).items() if item.mount_workspace_id]

    @staticmethod
    def _crosses_mount(mounts, src, dst):
        """Does a move from ``src`` to ``dst`` go into or out of one of
        the ``mounts``?"""
        def inside(path):
            return [m for m in mounts if is_under(path, m) and path != m]
        return inside(src) != inside(dst.rpartition('/')[0] + '/x')

    def _rearranged_elsewhere(self, device):
        """Has another device moved, made or deleted a folder it has not
        sent yet? Moves that cross (a folder into one moved into it) can
        not both be made; the one the server refuses is re-created."""
        for other in self.devices:
            if other is device:
                continue
            folders = {path for path, data in other.fs.nodes.items()
                       if data is FOLDER}
            synced = {path for path, (_space, entry)
                      in other.synced().items() if entry.is_folder}
            if folders != synced:
                return True
        return False

    def _races(self, device):
        """A move, delete or swap here while another device's recorded
        move is not sent yet: the two may cross; that move promises no
        more."""
        for item_id, (mover, changed) in list(self.unsent.items()):
            if mover is not device and mover.clean < changed:
                self.moved.pop(item_id, None)
                del self.unsent[item_id]

    def _holds_mount_now(self, device, path, synced):
        """Is a synced folder at or under ``path`` a mount on the server
        now (shared since this device's last pass)?"""
        for inside in device.fs.subtree(path):
            if inside in synced and synced[inside][1].is_folder and \
                    self._item(device.user.id, synced[inside][1].item_id
                               ).get('mount_workspace_id'):
                return True
        return False

    def _item(self, user_id, item_id):
        try:
            return self.server.service.get_item(user_id, item_id)
        except errors.MetadataError:
            return {}

    def _doom_path(self, device, path, workspace_id):
        if workspace_id != device.user.workspace_id or \
                any(is_under(path, m) for m in device.mount_paths):
            return
        mine = self._subtree(device.fs, path)
        for other in device.user.devices:
            if self._subtree(other.fs, path) != mine:
                return
            synced = other.synced()
            if any(below not in synced or synced[below][1].is_folder !=
                   (other.fs.nodes[below] is FOLDER)
                   for below in other.fs.subtree(path)):
                # Not synced there, or a file there became a folder (or
                # the other way) not yet sent: it goes up again.
                return
        view = self.view(device.user.id, device.user.workspace_id)
        theirs = {p[len(path):]: node.sha for p, node in view.items()
                  if p == path or is_under(p, path)}
        synced = device.synced()
        if any(p not in synced or synced[p][1].item_id != node.item_id
               for p, node in view.items() if is_under(p, path)):
            return      # not all synced here: the delete may not go up
        if theirs == mine:
            self.doomed_paths[(device.user.id, path)] = self.step

    def observe_move(self, device, src, dst):
        fs = device.fs
        self._touched(device, [src, dst], moved=True)
        self._deletes_raced_by_move(device, src)
        synced = device.synced()
        for inside in fs.subtree(src):
            data = fs.nodes[inside]
            if data is not FOLDER and inside in synced and \
                    self._synced_file(device, inside, data) is None:
                # Edited, then moved: the scan sees a delete and a new
                # file (see doc/design.md), for all it moves.
                self.deleted_ids.update(
                    synced[below][1].item_id for below in fs.subtree(src)
                    if below in synced)
                break
        self._races(device)
        source_space, source_holds = device.workspace_at(src)
        if source_holds:
            self._mounts_moved(device, src, dst, synced)
        target_space, _ = device.workspace_at(dst.rpartition('/')[0])
        mounts = self._mounts_now(device.user)
        if source_space != target_space or \
                self._crosses_mount(mounts, src, dst):
            # Into or out of a shared folder (another workspace): a new
            # item there, the one here deleted (see doc/design.md); an
            # earlier move of the same bytes promises no more either.
            self._unmoved(fs, src)
            return
        if any(is_under(path, dst) for path in synced):
            # Moved onto a synced entry the user deleted or moved away: a
            # scan sees the entry edited (or made a file) and the source
            # deleted (see doc/design.md); an earlier move of the same
            # bytes promises no more either. (Before the returns below,
            # which only make no new promise.)
            self._unmoved(fs, src)
            return
        if source_holds or any(is_under(m, src) for m in mounts) or \
                self._answers_lost() or self._rearranged_elsewhere(device):
            return
        for inside, content, found in self._unchanged_files(device, src):
            if not self._moved_elsewhere(content, found[1].item_id, device):
                what = '%s moved %s to %s at step %d' % (
                    device.name, inside, dst + inside[len(src):], self.step)
                self.moved[found[1].item_id] = (
                    content, found[0], device.user.id, what)
                self.unsent[found[1].item_id] = (device, device.changed)

    def user_action(self, device):
        device.changed += 1
        super().user_action(device)

    # The actions of sim.Simulation call these hooks with the fs they
    # act on (see there); the one-user simulation ignores them.

    def on_create(self, fs, path):
        self._did(fs, 'create', path)
        self._touched(self.device_of(fs), [path])

    def on_edit(self, fs, path):
        self._did(fs, 'edit', path)
        self._touched(self.device_of(fs), [path])
        self._unmoved(fs, path)

    def on_delete(self, fs, path):
        self._did(fs, 'delete', path)
        self.observe_delete(self.device_of(fs), path)
        self._unmoved(fs, path)

    def on_move(self, fs, src, dst):
        self._did(fs, 'move', src, dst)
        self.observe_move(self.device_of(fs), src, dst)

    def on_swap(self, fs, path):
        self._did(fs, 'swap', path)
        self.observe_delete(self.device_of(fs), path)
        self._touched(self.device_of(fs), [path])
        self._unmoved(fs, path)

    def _unmoved(self, fs, path):
        """A moved file edited or deleted before its move was sent: a
        scan sees its item deleted and a new file (see doc/design.md).
        The items synced with those bytes promise no identity either."""
        gone = {sha256(fs.nodes[inside]) for inside in fs.subtree(path)
                if fs.nodes[inside] is not FOLDER}
        for item_id, (content, _space, _user, _what) in list(
                self.moved.items()):
            if content in gone:
                del self.moved[item_id]
        device = self.device_of(fs)
        for _path, (space, entry) in device.synced().items():
            if entry.is_folder:
                continue
            if any(entry.content_hash == device.stored_hash(space, content)
                   for content in gone):
                self.deleted_ids.add(entry.item_id)

    def _did(self, fs, what, *paths):
        self.log.append('%s: %s %s' % (self.device_of(fs).name, what,
                                       ' -> '.join(paths)))

    # -- sharing, as the web site or the API does it

    def share_action(self):
        alice, bob = self.users
        action = self.rng.choice([self.propose, self.propose, self.accept,
                                  self.accept, self.leave, self.unshare])
        try:
            action(alice, bob)
        except errors.MetadataError as error:
            self.log.append('%s refused: %s' % (action.__name__, error))

    def propose(self, alice, bob):
        view = self.view(alice.id, alice.workspace_id)
        folders = sorted(path for path, node in view.items()
                         if node.sha is None and
                         node.workspace_id == alice.workspace_id)
        if not folders:
            return
        path = self.rng.choice(folders)
        self.server.service.propose_share(alice.id, view[path].item_id,
                                          [bob.name], 'editor')
        self.log.append('alice offers %s to bob' % path)

    def accept(self, alice, bob):
        service = self.server.service
        pending = service.list_proposals(bob.id)
        if not pending:
            return
        proposal = self.rng.choice(pending)['id']
        container, copied = None, set()
        for _round in range(3):
            try:
                service.accept_proposal(bob.id, proposal, container, copied)
                break
            except shares.ChunksNotCopied as missing:
                # What sharing.py does: copy the chunks, then again.
                container = container or 'ws-sim-%d' % len(
                    self.server.containers)
                source = self.server.container(missing.source)
                target = self.server.container(container)
                for name in missing.chunks:
                    if name not in source:
                        self.server.violations.append(
                            'history names chunk %s missing from %s'
                            % (name, missing.source))
                        continue
                    target[name] = source[name]
                    copied.add(name)
        else:
            return
        # The owner's moves and deletes inside the folder may now cross
        # into another workspace, or hit a mount: they promise no more.
        # (And bob's mount may take the name of a folder he deleted.)
        for key in list(self.doomed_paths):
            del self.doomed_paths[key]
        for content, doom in list(self.doomed.items()):
            if self._item(doom[0], doom[2]).get('workspace_id') != doom[1]:
                del self.doomed[content]
        for item_id, (_content, _space, user_id, _what) in list(
                self.moved.items()):
            if user_id == alice.id:
                del self.moved[item_id]
        self.log.append('bob accepts proposal %d' % proposal)

    def _mounts_of(self, user):
        view = self.view(user.id, user.workspace_id)
        spaces = {node.workspace_id for node in view.values()}
        found = []
        for space in spaces:
            mount = self.server.service.mount_of(user.id, space)
            if mount is not None and space != user.workspace_id:
                found.append((space, mount))
        return sorted(found, key=lambda pair: pair[0])

    def leave(self, alice, bob):
        self._remove(bob, bob, None)

    def unshare(self, alice, bob):
        self._remove(alice, bob, bob.name)

    def _remove(self, actor, member, member_name):
        service = self.server.service
        mounts = [pair for pair in self._mounts_of(member)]
        if not mounts:
            return
        space, mount = self.rng.choice(mounts)
        if actor is not member:
            owned = dict(self._mounts_of(actor))
            if space not in owned:
                return
            mount = owned[space]
        folder_id = mount['id'] if isinstance(mount, dict) else mount
        service.remove_member(actor.id, folder_id, member_name)
        self.deleted_ids.add(folder_id)
        # The member's deletes in the share may never reach it now.
        for content, (user_id, workspace_id, _item, _what) in list(
                self.doomed.items()):
            if user_id == member.id and workspace_id == space:
                del self.doomed[content]
        self.log.append('%s removes %s from workspace %d'
                        % (actor.name, member.name, space))


def run(seed, profile=None, **options):
    """Run one seed; raises :class:`Failure` (or any bug) on failure.

    ``profile`` ``classic`` is :class:`~.sim.Simulation` (one user, the
    engine alone over a direct remote), kept for the seeds it found bugs
    with; the others are :class:`Cloud`'s (default: by the seed).
    """
    profile = profile or profile_of(seed)
    if profile == 'classic':
        simulation = sim.Simulation(seed, **options)
    else:
        simulation = Cloud(seed, profile=profile, **options)
    try:
        simulation.run()
    except Failure as failure:
        failure.simulation = simulation
        raise
    except Exception as error:
        failure = Failure('%s: %s' % (type(error).__name__, error))
        failure.simulation = simulation
        raise failure from error
    return simulation


def replay_command(seed, profile=None):
    command = 'python -m tests.simulation.replay --seed %d' % seed
    if profile and profile != profile_of(seed):
        command += ' --profile %s' % profile
    return command
