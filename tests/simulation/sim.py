"""One deterministic run of several sync clients against one server.

``run(seed)`` builds a server (the real metadata service), one user and
``clients`` devices, each with its own in-memory sync folder, state
database and :class:`~stacksync_swift.client.engine.SyncEngine`. Then,
for ``steps`` steps, a seeded random picks a client and makes its user
edit the folder (create, edit, delete, rename, move, folder moves, file
<-> folder, case-only renames) or runs a sync pass or crashes and
restarts the client from its state database. The network drops requests
and answers, crashes the caller before or after a call, and delays calls
by letting users act and other clients sync first. Finally faults stop
and every client syncs until nothing is left to do.

Checked (:class:`Failure` on the first one broken):

* nothing raises but the engine's documented outcomes;
* quiescence comes within a fixed number of passes, each within the
  engine's round limit;
* every client's folder equals the server's tree, and so does its base;
* every content a user wrote is on the server at the end unless a user
  deleted or overwrote it (a conflicted copy counts as kept);
* no commit names a chunk the store lacks.
"""

import random

from stacksync_swift.client.engine import SyncEngine
from stacksync_swift.client.engine import SyncOptions
from stacksync_swift.client.state import State
from stacksync_swift.client.tree import remote_paths
from tests.simulation.fakes import FOLDER
from tests.simulation.fakes import FakeClock
from tests.simulation.fakes import MemoryFS
from tests.simulation.fakes import Network
from tests.simulation.fakes import PlainCodec
from tests.simulation.fakes import Server
from tests.simulation.fakes import SimRemote
from tests.simulation.fakes import SimulatedCrash
from tests.simulation.fakes import sha256

NAMES = ['a', 'b', 'c', 'A', 'doc.txt', 'Doc.txt', 'x y', 'é']
QUIET_PASSES = 12


class Failure(AssertionError):
    pass


class Client:
    def __init__(self, sim, name):
        self.sim = sim
        self.name = name
        self.fs = MemoryFS()
        self.state_db = State.open(':memory:').db
        device = sim.server.service.get_or_create_device(sim.user, name)
        self.remote = SimRemote(sim.server, sim.network, name, sim.user,
                                device['id'])
        self.restart()

    def restart(self):
        if self.state_db.in_transaction:
            self.state_db.execute('ROLLBACK')
        self.engine = SyncEngine(
            self.fs, self.remote, lambda ws: PlainCodec(),
            State(self.state_db), self.sim.clock, self.name,
            SyncOptions(allow_mass_delete=True))


class Simulation:
    def __init__(self, seed, clients=3, steps=40, faults=True):
        self.seed = seed
        self.rng = random.Random(seed)
        self.steps = steps
        self._setup_common(faults)
        self.user = self.server.service.create_user('alice')['id']
        self.workspace = self.server.service.get_workspaces(
            self.user)[0]['id']
        self.clients = [Client(self, 'dev%d' % n) for n in range(clients)]

    def _setup_common(self, faults):
        self.clock = FakeClock()
        self.server = Server()
        self.network = Network(self.rng, faults)
        self.network.meddle = self._meddle
        self.active = set()
        self.counter = 0
        self.written = set()
        self.discarded = set()
        self.log = []

    # -- the run

    def run(self):
        for _step in range(self.steps):
            client = self.rng.choice(self.clients)
            roll = self.rng.random()
            if roll < 0.45:
                self.user_action(client)
            elif roll < 0.95:
                self.sync(client)
            else:
                self.log.append('crash %s' % client.name)
                client.restart()
        self.network.faults = False
        self.quiesce()
        self.check()

    def sync(self, client, quiet=False):
        self.active.add(client.name)
        try:
            summary = client.engine.sync_once()
        except SimulatedCrash:
            self.log.append('crash %s mid-sync' % client.name)
            client.restart()
            return None
        finally:
            self.active.discard(client.name)
        self.log.append('sync %s: %d rounds %s' % (
            client.name, summary.rounds, summary.error or ''))
        return summary

    def _meddle(self, caller):
        if self.rng.random() < 0.7:
            self.user_action(self.rng.choice(self.clients))
            return
        others = [c for c in self.clients if c.name not in self.active]
        if others:
            self.sync(self.rng.choice(others))

    def quiesce(self):
        for _pass in range(QUIET_PASSES):
            idle = True
            for client in self.clients:
                summary = self.sync(client)
                if summary.error or not summary.converged:
                    raise Failure('%s did not converge: %s' % (
                        client.name, summary.error or summary.items[-5:]))
                if summary.rounds > 1:
                    idle = False
            if idle:
                return
        raise Failure('no quiescence after %d passes' % QUIET_PASSES)

    # -- invariants

    def check(self):
        if self.server.violations:
            raise Failure(self.server.violations[0])
        tree = self.server.tree(self.user, self.workspace)
        for client in self.clients:
            mine = client.fs.tree()
            if mine != tree:
                raise Failure('%s differs from the server: %s' % (
                    client.name, _diff(mine, tree)))
            base = client.engine.state.base(self.workspace)
            items = client.engine.state.remote_items(self.workspace)
            if set(base) != set(tree) or \
                    set(remote_paths(items)) != set(tree):
                raise Failure('%s base/mirror differ from the server'
                              % client.name)
        lost = (self.written - self.discarded) - set(tree.values())
        if lost:
            raise Failure('content lost: %s' % sorted(lost)[:3])

    # -- what users do

    def user_action(self, client):
        fs = self.fs_action_target(client)
        actions = [self.create, self.create, self.edit, self.edit,
                   self.delete, self.rename, self.move, self.mkdir,
                   self.swap_kind, self.case_rename]
        action = self.rng.choice(actions)
        action(fs)

    def fs_action_target(self, client):
        return client.fs

    # Hooks called before an action changes ``fs``: a subclass that checks
    # what actions promise (cloud.py) records it there.

    def on_create(self, fs, path):
        pass

    def on_edit(self, fs, path):
        pass

    def on_delete(self, fs, path):
        pass

    def on_move(self, fs, src, dst):
        pass

    def on_swap(self, fs, path):
        pass

    def _files(self, fs):
        return sorted(p for p, d in fs.nodes.items() if d is not FOLDER)

    def _folders(self, fs):
        return [''] + sorted(p for p, d in fs.nodes.items() if d is FOLDER)

    def _new_path(self, fs):
        folder = self.rng.choice(self._folders(fs))
        name = self.rng.choice(NAMES)
        path = folder + '/' + name if folder else name
        return None if path in fs.nodes else path

    def _content(self):
        self.counter += 1
        data = ('%d-%d' % (self.seed, self.counter)).encode()
        self.written.add(sha256(data))
        return data

    def _discard(self, fs, path):
        for gone in fs.subtree(path):
            data = fs.nodes[gone]
            if data is not FOLDER:
                self.discarded.add(sha256(data))

    def create(self, fs):
        path = self._new_path(fs)
        if path:
            self.on_create(fs, path)
            fs.nodes[path] = self._content()
            fs._touch(path)

    def mkdir(self, fs):
        path = self._new_path(fs)
        if path:
            self.on_create(fs, path)
            fs.nodes[path] = FOLDER
            fs._touch(path)

    def edit(self, fs):
        files = self._files(fs)
        if files:
            path = self.rng.choice(files)
            self.on_edit(fs, path)
            self._discard(fs, path)
            fs.nodes[path] = self._content()
            fs._touch(path)

    def delete(self, fs):
        paths = sorted(fs.nodes)
        if paths:
            path = self.rng.choice(paths)
            self.on_delete(fs, path)
            self._discard(fs, path)
            for gone in fs.subtree(path):
                del fs.nodes[gone]
                del fs.mtimes[gone]

    def rename(self, fs):
        paths = sorted(fs.nodes)
        if paths:
            path = self.rng.choice(paths)
            folder = path.rpartition('/')[0]
            name = self.rng.choice(NAMES)
            self._move(fs, path, folder + '/' + name if folder else name)

    def move(self, fs):
        paths = sorted(fs.nodes)
        if paths:
            path = self.rng.choice(paths)
            folder = self.rng.choice(self._folders(fs))
            name = path.rpartition('/')[2]
            self._move(fs, path, folder + '/' + name if folder else name)

    def case_rename(self, fs):
        paths = sorted(fs.nodes)
        if paths:
            path = self.rng.choice(paths)
            folder, _, name = path.rpartition('/')
            name = name.swapcase()
            self._move(fs, path, folder + '/' + name if folder else name)

    def _move(self, fs, src, dst):
        if dst in fs.nodes or dst == src or dst.startswith(src + '/'):
            return
        self.on_move(fs, src, dst)
        for path in sorted(fs.subtree(src)):
            new = dst + path[len(src):]
            fs.nodes[new] = fs.nodes.pop(path)
            fs.mtimes[new] = fs.mtimes.pop(path)

    def swap_kind(self, fs):
        paths = sorted(fs.nodes)
        if paths:
            path = self.rng.choice(paths)
            self.on_swap(fs, path)
            self._discard(fs, path)
            was_folder = fs.nodes[path] is FOLDER
            for gone in fs.subtree(path):
                del fs.nodes[gone]
                del fs.mtimes[gone]
            fs.nodes[path] = self._content() if was_folder else FOLDER
            fs._touch(path)


def _diff(mine, theirs):
    keys = sorted(set(mine) | set(theirs))
    return [(k, mine.get(k, '-'), theirs.get(k, '-')) for k in keys
            if mine.get(k, '-') != theirs.get(k, '-')][:5]

