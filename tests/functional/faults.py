"""What the fault, load and bad-input tests share.

* :func:`running` starts an all-in-one of the test's own (so killing its
  servers never disturbs the session cluster) and stops it afterwards;
* :class:`Team` is an owner and members of one shared folder, each an
  OAuth-signed :class:`~tests.functional.apiclient.APIClient`;
* :class:`Ledger` records every answer the clients got, thread-safe, and
  the versions the server acknowledged;
* :func:`audit` checks the server's records against Swift: every version
  of every file names chunks that are stored, whose bytes hash to their
  names and, joined, to the version's content hash; every acknowledged
  version is still in the history with the same hash. Chunks are found
  as the proxy finds them: in the pack the chunk index names, else as an
  object of their own, fetched by name when the listing lacks it
  (:class:`StoredChunks`); every pack listed holds only chunks whose
  bytes hash to their names, and every row of the chunk index names a
  stored pack holding the chunk's bytes at its offset (nothing half
  written is indexed: :func:`check_index`).
"""

import collections
import contextlib
import hashlib
import os
import threading

from sqlalchemy import select
from swiftclient import client as swiftclient

from stacksync_swift import aio
from stacksync_swift import packs
from stacksync_swift.metadata import chunkindex
from stacksync_swift.metadata import db
from stacksync_swift.metadata.models import ChunkLocation
from tests.functional import apiclient

# Statuses a racing client may get besides 2xx: the item was deleted or
# changed under it.
RACE_STATUSES = (404, 409)


@contextlib.contextmanager
def running(tmp_path_factory, name, **options):
    """A started all-in-one of our own, stopped at the end."""
    cluster = aio.AllInOne(tmp_path_factory.mktemp(name), port=0,
                           **options)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def proxy_log(cluster):
    with open(os.path.join(cluster.log_dir, 'proxy.log'),
              errors='replace') as fp:
        return fp.read()


def unhandled_errors(cluster):
    """Lines of the proxy log where a filter caught an unexpected error."""
    return [line for line in proxy_log(cluster).splitlines()
            if 'unhandled error in stacksync' in line
            or 'Traceback' in line]


class Team:
    """An owner and members sharing the owner's folder as editors."""

    def __init__(self, cluster, stores, size, folder='shared'):
        self.owner = apiclient.APIClient(cluster, stores)
        self.members = [apiclient.APIClient(cluster, stores)
                        for _ in range(size - 1)]
        resp = self.owner.post('/v1/folder', json={'name': folder,
                                                   'parent': 0})
        assert resp.status_code == 201, resp.text
        self.folder = resp.json()
        self.parents = {self.owner: self.folder['id']}
        self.workspace = None
        if self.members:
            self._share()
        else:
            self.workspace = self.owner.workspace_id

    def _share(self):
        resp = self.owner.post(
            '/v1/folder/%d/share' % self.folder['id'], json={
                'users': [m.user['name'] for m in self.members],
                'role': 'editor'})
        assert resp.status_code == 201, resp.text
        for member in self.members:
            [proposal] = member.get('/v1/proposals').json()
            resp = member.post('/v1/proposal/%d/accept' % proposal['id'])
            assert resp.status_code == 200, resp.text
            self.parents[member] = resp.json()['mount']['id']
            self.workspace = resp.json()['workspace']['id']

    @property
    def clients(self):
        return [self.owner] + self.members

    def close(self):
        for client in self.clients:
            client.close()


class Ledger:
    """Every answer the clients got, and the versions acknowledged."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.failures = []
        # item id -> {version: content_hash or None (metadata-only)}
        self.acknowledged = collections.defaultdict(dict)
        self.live = []

    def note(self, what, resp, allowed=RACE_STATUSES):
        """Count the answer; keep a 2xx's item; remember odd answers."""
        with self.lock:
            self.statuses[resp.status_code] += 1
            if resp.status_code // 100 == 2:
                if not resp.headers.get('Content-Type', '').startswith(
                        'application/json'):
                    return None
                return self._acknowledge(resp.json())
            if resp.status_code not in allowed:
                self.failures.append((what, resp.status_code,
                                      resp.text[:300]))
        return None

    def _acknowledge(self, item):
        if item.get('is_folder') is False:
            hashes = self.acknowledged[item['id']]
            hashes[item['version']] = item.get('content_hash')
            if item['status'] == 'NEW':
                self.live.append(item['id'])
        return item

    def pick(self, rng):
        with self.lock:
            return rng.choice(self.live) if self.live else None

    def server_errors(self):
        return {status: count for status, count in self.statuses.items()
                if status >= 500}


def admin_swift(cluster):
    return swiftclient.Connection(cluster.auth_url, cluster.admin_user,
                                  cluster.admin_key, retries=2)


def stored_objects(cluster, container):
    """``{object name: bytes}`` of every object in the container listing."""
    conn = admin_swift(cluster)
    try:
        _headers, listing = conn.get_container(container, full_listing=True)
        return {entry['name']: conn.get_object(container, entry['name'])[1]
                for entry in listing}
    finally:
        conn.close()


def chunk_locations(cluster, container):
    """``{chunk: Location}`` of the container's chunk index rows."""
    engine = db.create_engine(cluster.database_url)
    try:
        with db.session(engine) as session:
            return {row.name: chunkindex.Location(row.pack, row.offset,
                                                  row.length)
                    for row in session.scalars(select(ChunkLocation).where(
                        ChunkLocation.container == container))}
    finally:
        engine.dispose()


class StoredChunks:
    """The chunks of one container, found the way the proxy finds them.

    A chunk the chunk index locates is read from its pack, at its offset
    (the pack fetched by name: :func:`check_packs` checks the listed
    ones). Any other chunk is an object of its own, and the listing alone
    is not the truth for those: an object server killed after it stored
    an object but before the container server heard of it leaves the
    object stored and unlisted (Swift writes an async pending only when
    the update fails, and a killed server writes nothing). So a name the
    listing lacks is fetched directly; only a 404 means missing.
    """

    def __init__(self, cluster, container):
        self.cluster = cluster
        self.container = container
        self.listed = stored_objects(cluster, container)
        self.locations = chunk_locations(cluster, container)
        self.found = {}

    def __contains__(self, name):
        return self.get(name) is not None

    def __getitem__(self, name):
        data = self.get(name)
        if data is None:
            raise KeyError(name)
        return data

    def get(self, name):
        if name not in self.found:
            self.found[name] = self._find(name)
        return self.found[name]

    def _find(self, name):
        location = self.locations.get(name)
        if location is not None:
            pack = self._object(location.pack)
            assert pack is not None, 'chunk %s: pack %s is gone' % (
                name, location.pack)
            data = pack[location.offset:location.offset + location.length]
        else:
            data = self._object(name)
            if data is None:
                return None
        check_chunk_name(name, data)
        return data

    def _object(self, name):
        if name in self.listed:
            return self.listed[name]
        conn = admin_swift(self.cluster)
        try:
            data = conn.get_object(self.container, name)[1]
        except swiftclient.ClientException as err:
            if err.http_status == 404:
                return None
            raise
        finally:
            conn.close()
        self.listed[name] = data
        return data


def check_objects(objects):
    """Every object of a plain workspace's container is a chunk named by
    its hash or a whole pack of such chunks."""
    for name, data in objects.items():
        if packs.is_pack_name(name):
            for chunk, body in packs.split(data):
                check_chunk_name(chunk, body)
        else:
            check_chunk_name(name, data)


def check_index(chunks):
    """Every chunk the index locates is in its pack, whole: a pack is
    indexed only once Swift stored all of it."""
    for name in chunks.locations:
        assert name in chunks, 'indexed chunk %s is not stored' % name


def audit_index(cluster, container):
    """Check a plain workspace's container against its chunk index: every
    object is a chunk or a pack of chunks named by their hashes, every
    indexed chunk is in its pack. Returns the number of indexed chunks."""
    chunks = StoredChunks(cluster, container)
    check_objects(chunks.listed)
    check_index(chunks)
    return len(chunks.locations)


def check_chunk_name(name, data):
    """A plain workspace's chunk is named by the SHA-256 of its bytes."""
    assert name == 'chk-' + hashlib.sha256(data).hexdigest(), name


def all_items(client, workspace_id):
    """The latest metadata of every item the workspace ever held."""
    items, cursor = {}, 0
    while True:
        resp = client.get('/v1/workspace/%d/changes' % workspace_id,
                          params={'cursor': cursor, 'limit': 1000})
        assert resp.status_code == 200, resp.text
        page = resp.json()
        for entry in page['entries']:
            items[entry['id']] = entry
        cursor = page['cursor']
        if not page['has_more']:
            return items


def audit(cluster, client, workspace_id, ledger=None):
    """Check every version of every file against the chunks in Swift.

    Returns the number of file versions checked.
    """
    workspace = client.get('/v1/workspace/%d' % workspace_id).json()
    chunks = StoredChunks(cluster, workspace['container'])
    check_objects(chunks.listed)
    check_index(chunks)
    checked = 0
    for item in all_items(client, workspace_id).values():
        if item['is_folder']:
            continue
        resp = client.get('/v1/file/%d/versions' % item['id'])
        assert resp.status_code == 200, resp.text
        history = {v['version']: v for v in resp.json()}
        assert sorted(history) == list(range(1, item['version'] + 1))
        for version in history.values():
            check_version(version, chunks)
            checked += 1
        if ledger is not None:
            for number, content_hash in ledger.acknowledged.get(
                    item['id'], {}).items():
                assert history[number]['content_hash'] == content_hash
    if ledger is not None:
        missing = set(ledger.acknowledged) - set(all_items(
            client, workspace_id))
        assert not missing, 'acknowledged files lost: %s' % missing
    return checked


def check_version(version, chunks):
    """The version's chunks are stored and hash to its content hash."""
    if version['status'] == 'DELETED' and not version.get('chunks'):
        return
    absent = [name for name in version['chunks'] if name not in chunks]
    assert not absent, 'version %s/%s names missing chunks %s' % (
        version['id'], version['version'], absent)
    data = b''.join(chunks[name] for name in version['chunks'])
    assert len(data) == version['size']
    assert hashlib.sha256(data).hexdigest() == version['content_hash']


def check_downloads(client, items):
    """The live files download with the bytes their hash names."""
    for item in items:
        if item['is_folder'] or item['status'] == 'DELETED':
            continue
        resp = client.get('/v1/file/%d/data' % item['id'])
        assert resp.status_code == 200, resp.text
        assert hashlib.sha256(resp.content).hexdigest() == \
            item['content_hash']
