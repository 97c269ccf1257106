"""The local state database: merge base, remote mirror and cursors.

One SQLite file (stdlib :mod:`sqlite3`, WAL journal, ``synchronous=FULL``)
per sync folder. Every method is one transaction, so a process killed at
any point leaves either the old or the new state, never a mix:

``workspaces``  the cursor of each workspace's delta (``changes``)
``remote``      the mirror of the server's items (id -> metadata), built
                from deltas and commit results
``base``        the merge base: per path, the item, version and content
                both sides held when it was last in sync
``sent_deletes`` the paths of server deletes sent whose answer has not
                come yet (see :meth:`State.note_sent_deletes`)
``sent_changes`` the same for the other commits (new items, edits,
                moves): what was sent (see :meth:`State.note_sent_changes`)

There is no journal of uploads in flight: after a crash the engine cuts
the files again and asks the server which chunks it lacks
(``missing_chunks``), which is right even when a journal would be stale
(a server restored from a backup, chunks collected since). Databases of
earlier versions lose their ``uploads`` table when opened.

A lost state database is not dangerous: with an empty base every local
and remote entry is "new" on both sides, equal contents are recorded as
synced and different ones end as conflicted copies; nothing is deleted.
"""

import json
import sqlite3

from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import RemoteItem

SCHEMA = """
CREATE TABLE IF NOT EXISTS workspaces (
    ws INTEGER PRIMARY KEY, cursor INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS remote (
    ws INTEGER, id INTEGER, meta TEXT NOT NULL, PRIMARY KEY (ws, id));
CREATE TABLE IF NOT EXISTS base (
    ws INTEGER, path TEXT, item_id INTEGER, version INTEGER,
    is_folder INTEGER, content_hash TEXT, size INTEGER,
    PRIMARY KEY (ws, path));
CREATE TABLE IF NOT EXISTS sent_deletes (
    ws INTEGER, path TEXT, PRIMARY KEY (ws, path));
CREATE TABLE IF NOT EXISTS sent_changes (
    ws INTEGER, path TEXT, dest TEXT, item_id INTEGER, is_folder INTEGER,
    content_hash TEXT, PRIMARY KEY (ws, path));
DROP TABLE IF EXISTS uploads;
"""


_RESETS = tuple('DELETE FROM %s WHERE ws = ?' % table  # noqa: S608
                for table in ('workspaces', 'remote', 'base',
                              'sent_deletes', 'sent_changes'))


class State:
    """The state database over one ``sqlite3`` connection."""

    def __init__(self, connection):
        self.db = connection
        self.db.isolation_level = None     # explicit BEGIN ... COMMIT
        self.db.executescript(SCHEMA)

    @classmethod
    def open(cls, path):
        connection = sqlite3.connect(path)
        if path != ':memory:':
            connection.execute('PRAGMA journal_mode = WAL')
            connection.execute('PRAGMA synchronous = FULL')
        return cls(connection)

    def close(self):
        self.db.close()

    def _transaction(self):
        return _Transaction(self.db)

    # -- reading

    def cursor(self, ws):
        row = self.db.execute('SELECT cursor FROM workspaces WHERE ws = ?',
                              (ws,)).fetchone()
        return row[0] if row else 0

    def remote_items(self, ws):
        rows = self.db.execute('SELECT meta FROM remote WHERE ws = ?',
                               (ws,))
        items = (_item_of(json.loads(meta)) for (meta,) in rows)
        return {item.id: item for item in items}

    def remote_ids(self, ws):
        """The ids of the mirror's items (no metadata decoded)."""
        rows = self.db.execute('SELECT id FROM remote WHERE ws = ?', (ws,))
        return {item_id for (item_id,) in rows}

    def base(self, ws):
        rows = self.db.execute(
            'SELECT path, item_id, version, is_folder, content_hash, size '
            'FROM base WHERE ws = ?', (ws,))
        return {path: BaseEntry(item_id, version, bool(is_folder), digest,
                                size)
                for path, item_id, version, is_folder, digest, size in rows}

    def sent_deletes(self, ws):
        rows = self.db.execute('SELECT path FROM sent_deletes WHERE ws = ?',
                               (ws,))
        return {path for (path,) in rows}

    # -- writing (each call one transaction)

    def note_sent_deletes(self, ws, paths):
        """Remember deletes about to be sent, until :meth:`settle_deletes`.

        If the answer is lost, the next round learns from the server that
        the entry is gone, and must know the delete was this client's: a
        file put back meanwhile is then new, not "unchanged since the
        base" (which would delete it to follow the server).
        """
        with self._transaction():
            self.db.executemany(
                'INSERT OR IGNORE INTO sent_deletes VALUES (?, ?)',
                [(ws, path) for path in paths])

    def sent_changes(self, ws):
        rows = self.db.execute(
            'SELECT path, dest, item_id, is_folder, content_hash FROM '
            'sent_changes WHERE ws = ? ORDER BY path', (ws,))
        return [(path, dest, item_id, bool(is_folder), content_hash)
                for path, dest, item_id, is_folder, content_hash in rows]

    def note_sent_changes(self, ws, changes):
        """Remember commits about to be sent, until :meth:`settle_changes`:
        ``(path, dest, item id, is_folder, content_hash)`` each (``dest``
        for a move, ``item id`` None for a new item).

        If the answer is lost, the next round sees the change on the
        server and must know it was this client's own: a local delete or
        edit made since then applies to what was sent, where a change
        "made by someone else" would beat it and bring the file back.
        """
        with self._transaction():
            self.db.executemany(
                'INSERT OR REPLACE INTO sent_changes VALUES '
                '(?, ?, ?, ?, ?, ?)',
                [(ws, path, dest, item_id, int(is_folder), content_hash)
                 for path, dest, item_id, is_folder, content_hash
                 in changes])

    def settle_changes(self, ws, puts=(), deletes=()):
        """Forget the sent changes; apply their base changes, at once."""
        with self._transaction():
            self.db.execute('DELETE FROM sent_changes WHERE ws = ?', (ws,))
            self._update_base(ws, puts, deletes)

    def settle_deletes(self, ws, forget=()):
        """Forget the sent deletes, and the base entries in ``forget``."""
        with self._transaction():
            self.db.execute('DELETE FROM sent_deletes WHERE ws = ?', (ws,))
            for path in forget:
                self.db.execute('DELETE FROM base WHERE ws = ? AND path = ?',
                                (ws, path))

    def save_remote(self, ws, items, cursor=None):
        """Store newer item metadata and, if given, the new cursor."""
        with self._transaction():
            for item in items:
                self._put_item(ws, item)
            if cursor is not None:
                self.db.execute(
                    'INSERT INTO workspaces (ws, cursor) VALUES (?, ?) '
                    'ON CONFLICT (ws) DO UPDATE SET cursor = excluded.cursor',
                    (ws, cursor))

    def _put_item(self, ws, item):
        row = self.db.execute('SELECT meta FROM remote WHERE ws = ? AND '
                              'id = ?', (ws, item.id)).fetchone()
        if row and json.loads(row[0])['version'] > item.version:
            return
        self.db.execute('INSERT OR REPLACE INTO remote (ws, id, meta) '
                        'VALUES (?, ?, ?)', (ws, item.id, _meta_of(item)))

    def drop_remote(self, ws, item_ids):
        """Forget items of the mirror (they left the workspace)."""
        with self._transaction():
            self.db.executemany('DELETE FROM remote WHERE ws = ? AND id = ?',
                                [(ws, item_id) for item_id in item_ids])

    def update_base(self, ws, puts=(), deletes=(), items=()):
        """Delete base paths, then put ``(path, BaseEntry)`` pairs, and
        store item metadata, all at once."""
        with self._transaction():
            self._update_base(ws, puts, deletes)
            for item in items:
                self._put_item(ws, item)

    def _update_base(self, ws, puts, deletes):
        for path in deletes:
            self.db.execute('DELETE FROM base WHERE ws = ? AND path = ?',
                            (ws, path))
        for path, entry in puts:
            self.db.execute(
                'INSERT OR REPLACE INTO base VALUES (?, ?, ?, ?, ?, ?, ?)',
                (ws, path, entry.item_id, entry.version,
                 int(entry.is_folder), entry.content_hash, entry.size))

    def reset(self, ws):
        """Forget the mirror, the cursor and the merge base of ``ws``."""
        with self._transaction():
            for statement in _RESETS:
                self.db.execute(statement, (ws,))


class _Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute('BEGIN IMMEDIATE')

    def __exit__(self, kind, value, traceback):
        self.db.execute('ROLLBACK' if kind else 'COMMIT')


def _meta_of(item):
    return json.dumps({
        'id': item.id, 'parent_id': item.parent_id, 'filename': item.name,
        'is_folder': item.is_folder, 'version': item.version,
        'status': item.status, 'content_hash': item.content_hash,
        'size': item.size, 'chunks': list(item.chunks),
        'device': item.device, 'user': item.user,
        'mount_workspace_id': item.mount_workspace_id}, sort_keys=True)


def _item_of(meta):
    return RemoteItem.from_meta(meta)
