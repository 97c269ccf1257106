"""Fakes for the simulation: file system, clock, codec, server, network.

Everything draws from one seeded :class:`random.Random`, so a seed is a
run. The server is the real :class:`MetadataService` on an in-memory
SQLite database (copied from a migrated template, so a run starts in
microseconds) plus a dict as the chunk store.
"""

import datetime
import hashlib
import io
import json
import sqlite3

from sqlalchemy.util import LRUCache

from stacksync_swift.chunking import chunk_name
from stacksync_swift.client import api
from stacksync_swift.client.interfaces import LocalChanged
from stacksync_swift.client.interfaces import LocalEntry
from stacksync_swift.client.interfaces import RemoteError
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata.service import MetadataService

_TEMPLATE = []
# One statement cache for every run's engine: a run is short, and
# compiling the service's statements afresh each time was a tenth of it.
_STATEMENTS = LRUCache(2000)


class SimulatedCrash(BaseException):
    """The client process dies here (not an Exception: nothing catches
    it but the simulator, which restarts the client from its state)."""


class NetworkDown(RemoteError):
    """The fake network dropped a request or its response."""


class Refused(RemoteError):
    """The server answered 4xx (like the real client's errors)."""

    def __init__(self, message, status):
        super().__init__('%s (HTTP %d)' % (message, status))
        self.status = status


# -- the clock -------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.moment = datetime.datetime(2024, 1, 1,
                                        tzinfo=datetime.timezone.utc)

    def now(self):
        self.moment += datetime.timedelta(seconds=1)
        return self.moment

    def sleep(self, seconds):
        self.moment += datetime.timedelta(seconds=seconds)


# -- the codec -------------------------------------------------------------

class PlainCodec:
    def encode(self, plaintext):
        return chunk_name(plaintext), plaintext

    def decode(self, name, body):
        if chunk_name(body) != name:
            raise ValueError('chunk %s does not match its name' % name)
        return body

    def content_hash(self, sha256_hex):
        return sha256_hex


# -- the file system -------------------------------------------------------

FOLDER = None


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class MemoryFS:
    """A sync folder in a dict: path -> bytes, or FOLDER."""

    def __init__(self):
        self.nodes = {}
        self.mtimes = {}
        self.trash = []
        self.tick = 0
        self.vanished = False
        self.before_replace = None    # hook: (path) -> None

    def _touch(self, path):
        self.tick += 1
        self.mtimes[path] = self.tick

    def entry(self, path):
        data = self.nodes.get(path, 0)
        if data == 0:
            return None
        if data is FOLDER:
            return LocalEntry(True, 0, self.mtimes[path], None)
        return LocalEntry(False, len(data), self.mtimes[path], sha256(data))

    def scan(self):
        if self.vanished:
            return {}
        return {path: self.entry(path) for path in sorted(self.nodes)}

    def tree(self):
        """``{path: hash or None}`` for comparing trees."""
        return {path: None if data is FOLDER else sha256(data)
                for path, data in self.nodes.items()}

    def read(self, path):
        data = self.nodes.get(path)
        if data is None or data is FOLDER:
            raise LocalChanged('%s is not a file' % path)
        return io.BytesIO(data)

    def _parent_ok(self, path):
        above = path.rpartition('/')[0]
        return not above or self.nodes.get(above, 0) is FOLDER

    def write_atomic(self, path, chunks, expected):
        data = b''.join(chunks)
        if self.before_replace is not None:
            self.before_replace(path)
        if self.entry(path) != expected or self.vanished:
            raise LocalChanged('%s changed since it was scanned' % path)
        if not self._parent_ok(path):
            raise LocalChanged('no folder for %s' % path)
        self.nodes[path] = data
        self._touch(path)
        return self.entry(path)

    def mkdir(self, path):
        if path in self.nodes or not self._parent_ok(path):
            raise LocalChanged('cannot create %s' % path)
        self.nodes[path] = FOLDER
        self._touch(path)

    def subtree(self, path):
        return [p for p in self.nodes if p == path or
                p.startswith(path + '/')]

    def move(self, src, dst):
        if src not in self.nodes or dst in self.nodes or \
                not self._parent_ok(dst) or dst.startswith(src + '/'):
            raise LocalChanged('cannot move %s to %s' % (src, dst))
        for path in sorted(self.subtree(src)):
            new = dst + path[len(src):]
            self.nodes[new] = self.nodes.pop(path)
            self.mtimes[new] = self.mtimes.pop(path)

    def delete(self, path):
        """To the trash: ``(path, data, the path deleted)`` entries."""
        if path not in self.nodes:
            raise LocalChanged('%s is gone' % path)
        for gone in sorted(self.subtree(path)):
            self.trash.append((gone, self.nodes.pop(gone), path))
            self.mtimes.pop(gone)

    def exists(self, path):
        if path == '':
            return not self.vanished
        return path in self.nodes


# -- the server ------------------------------------------------------------

def _template():
    if not _TEMPLATE:
        connection = sqlite3.connect(':memory:', check_same_thread=False)
        engine = db.create_engine('sqlite://', creator=lambda: connection)
        db.upgrade(engine)
        _TEMPLATE.append((connection, engine))
    return _TEMPLATE[0][0]


class Server:
    """The real metadata service in memory plus a chunk store dict."""

    def __init__(self):
        self.connection = sqlite3.connect(':memory:',
                                          check_same_thread=False)
        _template().backup(self.connection)
        connection = self.connection
        self.service = MetadataService(db.create_engine(
            'sqlite://', creator=lambda: connection,
            execution_options={'compiled_cache': _STATEMENTS}))
        self.chunks = {}
        # The HTTP simulation's Swift: container name -> {chunk: body}.
        self.containers = {}
        self.violations = []

    def container(self, name):
        return self.containers.setdefault(name, {})

    def snapshot(self):
        copy = sqlite3.connect(':memory:', check_same_thread=False)
        self.connection.backup(copy)
        return copy

    def restore(self, copy):
        """The metadata database comes back from a backup (Swift not)."""
        copy.backup(self.connection)

    def tree(self, user_id, workspace_id):
        """``{path: hash or None}`` of the live items."""
        from stacksync_swift.client.tree import RemoteItem
        from stacksync_swift.client.tree import remote_paths
        items, cursor = {}, 0
        while True:
            delta = self.service.get_changes(user_id, workspace_id, cursor)
            for meta in delta['entries']:
                items[meta['id']] = RemoteItem.from_meta(meta)
            cursor = delta['cursor']
            if not delta['has_more']:
                break
        return {path: None if item.is_folder else item.content_hash
                for path, item in remote_paths(items).items()}


class Network:
    """Decides the fate of each call: fail, lose the answer, crash the
    caller, or let other things happen first (delay, reordering)."""

    def __init__(self, rng, faults=True):
        self.rng = rng
        self.faults = faults
        self.fail_rate = 0.04
        self.lose_rate = 0.04
        self.crash_rate = 0.01
        self.meddle_rate = 0.15
        # The HTTP simulation's 503 before and 504 after the server acts.
        self.busy_rate = 0.02
        self.meddle = None        # callback(client_name)
        self.calls = 0

    def call(self, client, fn):
        self.calls += 1
        rng = self.rng
        if self.faults:
            if rng.random() < self.crash_rate:
                raise SimulatedCrash('before a call')
            if rng.random() < self.fail_rate:
                raise NetworkDown('request dropped')
            if self.meddle is not None and rng.random() < self.meddle_rate:
                self.meddle(client)
        try:
            result = fn()
        except errors.Unavailable as error:
            raise NetworkDown(str(error))
        result = json.loads(json.dumps(result)) if result is not None \
            else None
        if self.faults:
            if rng.random() < self.lose_rate:
                raise NetworkDown('response lost')
            if rng.random() < self.crash_rate:
                raise SimulatedCrash('after a call')
        return result


    def exchange(self, client, fn):
        """One HTTP request, ``fn() -> (status, body)``, with faults: as
        :meth:`call`, plus 503 answers before the server acts and 504
        answers after it did."""
        self.calls += 1
        rng = self.rng
        if self.faults:
            if rng.random() < self.crash_rate:
                raise SimulatedCrash('before a request')
            if rng.random() < self.fail_rate:
                raise api.Offline('request dropped')
            if rng.random() < self.busy_rate:
                return 503, BUSY
            if self.meddle is not None and rng.random() < self.meddle_rate:
                self.meddle(client)
        answer = fn()
        if self.faults:
            if rng.random() < self.lose_rate:
                raise api.Offline('the answer was lost')
            if rng.random() < self.busy_rate:
                return 504, BUSY
            if rng.random() < self.crash_rate:
                raise SimulatedCrash('after a request')
        return answer


BUSY = json.dumps({'error': 'unavailable',
                   'description': 'try again'}).encode('utf-8')


class SimRemote:
    """One device's ``Remote``, calling the service through the network.
    """

    def __init__(self, server, network, client, user_id, device_id):
        self.server = server
        self.service = server.service
        self.network = network
        self.client = client
        self.user_id = user_id
        self.device_id = device_id

    def _call(self, fn):
        return self.network.call(self.client, fn)

    def workspaces(self):
        return self._call(lambda: self.service.get_workspaces(self.user_id))

    def changes(self, workspace_id, cursor, limit=1000):
        def changes():
            try:
                return self.service.get_changes(self.user_id, workspace_id,
                                                cursor, limit)
            except errors.BadRequest as error:
                raise Refused(str(error), 400)
        return self._call(changes)

    def wait(self, workspace_id, cursor, timeout):
        return self._call(lambda: {'changes': False, 'cursor': cursor})

    def commit(self, workspace_id, items):
        items = json.loads(json.dumps(items))
        return self._call(lambda: self._commit(workspace_id, items))

    def _commit(self, workspace_id, items):
        missing = {name for item in items for name in item.get('chunks')
                   or () if name not in self.server.chunks}
        if missing:
            self.server.violations.append(
                'commit names missing chunks %s' % sorted(missing))
        return self.service.commit(self.user_id, self.device_id,
                                   workspace_id, items)

    def missing_chunks(self, workspace_id, names):
        return self._call(lambda: sorted(
            name for name in names if name not in self.server.chunks))

    def put_chunk(self, workspace_id, name, body):
        def put():
            if chunk_name(body) != name:
                self.server.violations.append('chunk %s misnamed' % name)
            self.server.chunks.setdefault(name, bytes(body))
        return self._call(put)

    def put_chunks(self, workspace_id, chunks):
        """One call per chunk, in order: deterministic, and each may fail.
        """
        for name, body in chunks.items():
            self.put_chunk(workspace_id, name, body)

    def get_chunk(self, workspace_id, name):
        def get():
            if name not in self.server.chunks:
                raise NetworkDown('404 chunk %s' % name)
            return self.server.chunks[name].hex()
        return bytes.fromhex(self._call(get))
