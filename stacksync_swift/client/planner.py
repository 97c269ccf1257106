"""The planner: a pure function from three trees to operations.

``plan(remote, local, base, who, when)`` compares the local tree with the
merge base (local changes) and the remote tree with the base (remote
changes) and returns the :class:`Op` list of one round. The engine runs
the operations, rescans, refetches and plans again until a plan is empty;
anything an operation could not do (a file changed meanwhile, a commit
lost a race) is simply planned again from fresher trees. Nothing here does
I/O, reads a clock or draws a random number.

Rules, in order:

1. **Moves.** An item whose id sits at another path on the server than in
   the base moved remotely: the local entry is moved the same way. A base
   entry missing locally whose content (a file's hash; a folder's
   descendants) turns up at exactly one new local path moved locally: it
   is sent as a move of the same item. Only the topmost of nested moves is
   an operation; entries below a move wait for the next round. When a move
   cannot be made cleanly (its destination is taken, its parent does not
   exist yet) it waits, or it falls back to rule 2, which is always safe.
   When every move of a round waits on another and nothing else is to
   do, the round is planned by rule 2 alone, so no wait lasts forever.
2. **Path by path**, parents first. With ``b``, ``l``, ``r`` the base,
   local and remote entries of a path:

   * only the local side changed: upload, create the folder, or delete
     the server item (naming the base version);
   * only the remote side changed: download, create the local folder, or
     delete the local entry (to the trash);
   * both changed to the same content: record it as the new base;
   * both changed differently: **the server's version wins the path** and
     the local entry is first renamed to its conflicted copy
     (``names.conflicted_copy_name``), which later uploads as a new file;
   * an edit beats a delete: a file edited on one side and deleted on the
     other comes back (on the server as a new file), and a folder is
     deleted only once it is empty, so anything new inside it survives.

The server still checks every write against the base version (first
writer wins), so a plan made from a stale remote tree is harmless: the
refused write is replanned next round with the winner's data.
"""

import dataclasses
import datetime
from typing import Optional

from stacksync_swift.client.interfaces import LocalEntry
from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import PathIndex
from stacksync_swift.client.tree import RemoteItem
from stacksync_swift.client.tree import ancestors
from stacksync_swift.client.tree import basename
from stacksync_swift.client.tree import is_under
from stacksync_swift.client.tree import join
from stacksync_swift.client.tree import parent
from stacksync_swift.metadata import names

# Operation kinds.
LOCAL_MKDIR = 'local_mkdir'        # path, item: create the local folder
LOCAL_MOVE = 'local_move'          # path -> dest; base moves along
LOCAL_DELETE = 'local_delete'      # path (to the trash), expected
CONFLICT_COPY = 'conflict_copy'    # path -> dest: keep the local entry
DOWNLOAD = 'download'              # path, item, expected local entry
REMOTE_MKDIR = 'remote_mkdir'      # path: a new server folder
UPLOAD = 'upload'                  # path, expected, base (None: new)
REMOTE_MOVE = 'remote_move'        # path -> dest, base, item
REMOTE_DELETE = 'remote_delete'    # path, base
RECORD_BASE = 'record_base'        # path, item: both sides hold it
FORGET_BASE = 'forget_base'        # path: no longer synced
REKEY_BASE = 'rekey_base'          # path -> dest: both sides moved it

LOCAL_KINDS = (LOCAL_MKDIR, LOCAL_MOVE, LOCAL_DELETE, CONFLICT_COPY,
               DOWNLOAD)
REMOTE_KINDS = (REMOTE_MKDIR, UPLOAD, REMOTE_MOVE, REMOTE_DELETE)


@dataclasses.dataclass(frozen=True)
class Op:
    kind: str
    path: str
    dest: Optional[str] = None
    item: Optional[RemoteItem] = None
    expected: Optional[LocalEntry] = None
    base: Optional[BaseEntry] = None


def plan(remote, local, base, who='unknown', when=None):
    """The operations of one round; see the module docstring.

    :param remote: ``{path: RemoteItem}`` (live items)
    :param local: ``{path: LocalEntry}``
    :param base: ``{path: BaseEntry}``
    :param who: the device name used in conflicted-copy names
    :param when: the datetime used in conflicted-copy names
    """
    when = when or datetime.datetime(2000, 1, 1,
                                     tzinfo=datetime.timezone.utc)
    local = {path: entry for path, entry in local.items()
             if _valid_path(path)}
    return _Planner(remote, local, base, who, when).run()


def _valid_path(path):
    return all(names.is_valid_name(part) and
               names.normalize_name(part) == part
               for part in path.split('/'))


class _Planner:
    def __init__(self, remote, local, base, who, when):
        self.remote, self.local, self.base = remote, local, base
        self.who, self.when = who, when
        self.remote_by_id = {item.id: path for path, item in remote.items()}
        self.local_index = PathIndex(local)
        self.remote_index = PathIndex(remote)
        self.base_index = PathIndex(base)
        self.ops = []
        # Folders that leave the merge base, planned last (see run).
        self.forgotten_folders = []
        self.reserved = []
        self.taken = set(local) | set(remote)

    def run(self):
        self._plan_moves()
        self._plan_paths()
        if not self.ops and not self.forgotten_folders and self.reserved:
            # Every waiting move waits on another (a folder to be created
            # where the server has a file that is itself held back, say):
            # nothing would ever happen. Rule 2 alone, always safe, does.
            self.reserved = []
            self._plan_paths()
        # A folder leaves the base after the operations on its contents,
        # the deepest first: a round cut short in between (a download
        # failing) must not leave synced entries below a folder the base
        # no longer has. Next round that folder would be new here, set
        # aside as a conflicted copy with them, and files the server
        # deleted would go up again as new.
        return self.ops + self.forgotten_folders[::-1]

    def _plan_paths(self):
        for path in sorted(set(self.base) | set(self.local) |
                           set(self.remote)):
            if not any(is_under(path, held) for held in self.reserved):
                self._plan_path(path)

    # -- rule 1: moves ----------------------------------------------------

    def _plan_moves(self):
        remote_moves = self._remote_moves()
        local_moves = self._local_moves()
        moving = set(remote_moves) | set(local_moves)
        for path in sorted(moving):
            if self._implied(path, remote_moves) and \
                    self._implied(path, local_moves):
                continue
            rdest, ldest = remote_moves.get(path), local_moves.get(path)
            if any(dest and is_under(dest, path) for dest in (rdest, ldest)):
                continue    # a file became a folder holding it: rule 2
            if any(above in moving for above in ancestors(path)):
                self._reserve(path, rdest, ldest)   # after the parent
            elif rdest and ldest:
                self._both_moved(path, rdest, ldest)
            elif rdest:
                self._remote_moved(path, rdest)
            else:
                self._local_moved(path, ldest)

    def _remote_moves(self):
        moves = {}
        for path, entry in self.base.items():
            there = self.remote_by_id.get(entry.item_id)
            if there is not None and there != path and \
                    self.remote[there].is_folder == entry.is_folder:
                moves[path] = there
        return moves

    def _implied(self, path, moves):
        """True when the move of ``path`` is its parent's move."""
        dest = moves.get(path)
        above = parent(path)
        if dest is None:
            return True
        return bool(above) and above in moves and \
            join(moves[above], basename(path)) == dest

    def _local_moves(self):
        gone = [path for path, entry in self.base.items()
                if not self._same_kind(self.local.get(path), entry)]
        new = [path for path in self.local if path not in self.base]
        moves = self._match(
            [p for p in gone if not self.base[p].is_folder],
            [p for p in new if not self.local[p].is_folder],
            lambda p: {self.base[p].content_hash},
            lambda p: {self.local[p].content_hash})
        moves.update(self._match(
            [p for p in gone if self.base[p].is_folder],
            [p for p in new if self.local[p].is_folder],
            lambda p: self._signature(p, self.base, self.base_index),
            lambda p: self._signature(p, self.local, self.local_index)))
        return moves

    @staticmethod
    def _same_kind(local_entry, base_entry):
        return local_entry is not None and \
            local_entry.is_folder == base_entry.is_folder

    @staticmethod
    def _signature(folder, tree, index):
        return {(path[len(folder):], tree[path].content_hash)
                for path in index.under(folder)
                if not tree[path].is_folder}

    @staticmethod
    def _match(sources, targets, source_key, target_key):
        """Pairs whose keys overlap, where each side has one candidate."""
        keys = {t: target_key(t) for t in targets}
        by_source = {}
        by_target = {}
        for source in sources:
            mine = source_key(source)
            if not mine:
                continue
            for target in targets:
                if mine & keys[target]:
                    by_source.setdefault(source, []).append(target)
                    by_target.setdefault(target, []).append(source)
        return {source: found[0] for source, found in by_source.items()
                if len(found) == 1 and len(by_target[found[0]]) == 1}

    def _reserve(self, *paths):
        self.reserved.extend(path for path in paths if path)

    def _both_moved(self, path, rdest, ldest):
        if rdest == ldest:
            self._add(REKEY_BASE, path, dest=rdest,
                      item=self.remote[rdest])
            self._reserve(path, rdest)
        elif self._place(ldest, rdest):
            self._add(REKEY_BASE, path, dest=rdest, item=self.remote[rdest])
            self._reserve(path, ldest)

    def _remote_moved(self, path, dest):
        entry = self.local.get(path)
        if not self._same_kind(entry, self.base[path]):
            return      # deleted here, moved there: rule 2 brings it back
        self._place(path, dest)

    def _place(self, source, dest):
        """Move local ``source`` where the server has it, if possible.

        True when moved; otherwise the destination is freed first (a
        local entry there that is not synced becomes a conflicted copy)
        or its folder created first, and the move waits; if a synced
        entry holds it, rule 2 sorts both out.
        """
        if self._can_place_locally(dest):
            self._add(LOCAL_MOVE, source, dest=dest, item=self.remote[dest],
                      base=self.base.get(source))
            self._reserve(source, dest)
            return True
        if dest in self.local and dest not in self.base:
            self._conflict_copy(dest)
            self._reserve(source, dest)
        elif dest not in self.local:
            self._reserve(source, dest)     # its folder comes first
        return False

    def _can_place_locally(self, dest):
        above = parent(dest)
        return dest not in self.local and (
            not above or (above in self.local and
                          self.local[above].is_folder))

    def _local_moved(self, path, dest):
        entry = self.base[path]
        item = self.remote.get(path)
        if item is None or item.id != entry.item_id:
            return      # gone or replaced there: rule 2 keeps both safe
        if dest in self.remote:
            # Taken on the server by something else: the moved entry
            # steps aside as a conflicted copy, and next round its move is
            # sent to that name, so the item keeps its id and history
            # (rule 2 would delete it and upload a new file).
            if dest not in self.base and \
                    self._local_differs(BaseEntry.of(self.remote[dest]),
                                        self.local[dest]):
                self._conflict_copy(dest)
                self._reserve(path, dest)
            elif entry.is_folder and dest not in self.base:
                # A folder of that name was made there too: the two merge
                # (recorded as synced) this round, and what moved into it
                # goes up as moves the next (keeping ids), not as deletes
                # and uploads.
                self._add(RECORD_BASE, dest, item=self.remote[dest])
                self._reserve(path, dest)
            return
        above = parent(dest)
        if above and not (above in self.remote and
                          self.remote[above].is_folder):
            self._reserve(path, dest)       # its folder is created first
            return
        self._add(REMOTE_MOVE, path, dest=dest, item=item, base=entry)
        self._reserve(path, dest)

    # -- rule 2: path by path ---------------------------------------------

    def _plan_path(self, path):
        b = self.base.get(path)
        loc = self.local.get(path)
        r = self.remote.get(path)
        if b is not None and r is not None and r.id == b.item_id and \
                r.version != b.version and not self._remote_differs(b, r):
            self._add(RECORD_BASE, path, item=r)  # renamed and back etc.
            return
        local_changed = self._local_differs(b, loc)
        remote_changed = b is None and r is not None or \
            b is not None and self._remote_differs(b, r)
        if local_changed and remote_changed:
            self._both_changed(path, b, loc, r)
        elif local_changed:
            self._local_changed(path, b, loc, r)
        elif remote_changed:
            self._remote_changed(path, b, loc, r)

    @staticmethod
    def _local_differs(b, loc):
        if b is None or loc is None:
            return (b is None) != (loc is None)
        return loc.is_folder != b.is_folder or (
            not loc.is_folder and loc.content_hash != b.content_hash)

    @staticmethod
    def _remote_differs(b, r):
        if r is None:
            return True
        return r.id != b.item_id or r.is_folder != b.is_folder or (
            not r.is_folder and r.content_hash != b.content_hash)

    def _local_changed(self, path, b, loc, r):
        if loc is None:
            self._local_deleted(path, b, r)
        elif b is None:
            kind = REMOTE_MKDIR if loc.is_folder else UPLOAD
            self._add(kind, path, expected=loc)
        elif loc.is_folder != b.is_folder:
            self._local_kind_changed(path, b, loc, r)
        else:
            self._add(UPLOAD, path, expected=loc, base=b, item=r)

    def _local_deleted(self, path, b, r):
        if not b.is_folder:
            self._add(REMOTE_DELETE, path, base=b, item=r)
        elif self._remote_news(path):
            self._add(LOCAL_MKDIR, path, item=r)    # new content inside
        elif not self.remote_index.under(path):
            self._add(REMOTE_DELETE, path, base=b, item=r)
        # else: its contents are deleted first, the folder next round

    def _local_kind_changed(self, path, b, loc, r):
        if not b.is_folder:
            self._add(REMOTE_DELETE, path, base=b, item=r)
        elif self._remote_news(path):
            self._conflict_copy(path)
        elif not self.remote_index.under(path):
            self._add(REMOTE_DELETE, path, base=b, item=r)

    def _remote_changed(self, path, b, loc, r):
        if r is None:
            self._remote_deleted(path, b, loc)
        elif loc is None:
            self._fetch(path, r, None)
        elif r.is_folder and loc.is_folder:
            self._add(RECORD_BASE, path, item=r)
        elif not r.is_folder and not loc.is_folder:
            self._add(DOWNLOAD, path, item=r, expected=loc)
        elif not loc.is_folder:
            self._add(LOCAL_DELETE, path, expected=loc, base=b)
        else:
            self._remote_deleted(path, b, loc)

    def _remote_deleted(self, path, b, loc):
        if not loc.is_folder:
            self._add(LOCAL_DELETE, path, expected=loc, base=b)
        elif self._local_survivors(path):
            # Uploads again as new; its synced contents go first.
            self.forgotten_folders.append(Op(FORGET_BASE, path))
        elif not self.local_index.under(path):
            self._add(LOCAL_DELETE, path, expected=loc, base=b)

    def _both_changed(self, path, b, loc, r):
        if loc is None and r is None:
            self._add(FORGET_BASE, path)
        elif loc is None:
            self._fetch(path, r, None)      # an edit beats a delete
        elif r is None:
            self._add(FORGET_BASE, path)    # uploads again as new
        elif loc.is_folder and r.is_folder:
            self._add(RECORD_BASE, path, item=r)
        elif not loc.is_folder and not r.is_folder and \
                loc.content_hash == r.content_hash:
            self._add(RECORD_BASE, path, item=r)
        else:
            self._conflict_copy(path)
            self._fetch(path, r, None)

    def _fetch(self, path, item, expected):
        if item.is_folder:
            self._add(LOCAL_MKDIR, path, item=item)
        else:
            self._add(DOWNLOAD, path, item=item, expected=expected)

    def _conflict_copy(self, path):
        dest = self._conflict_name(path)
        self.taken.add(dest)
        self._add(CONFLICT_COPY, path, dest=dest, expected=self.local[path])
        self._reserve(dest)

    def _conflict_name(self, path):
        for seconds in range(100000):
            when = self.when + datetime.timedelta(seconds=seconds)
            name = names.conflicted_copy_name(basename(path), self.who, when)
            dest = join(parent(path), name)
            if dest not in self.taken:
                return dest
        raise RuntimeError('no free conflicted-copy name')  # not reached

    def _remote_news(self, folder):
        """Something under ``folder`` on the server that is not synced."""
        for path in self.remote_index.under(folder):
            entry, item = self.base.get(path), self.remote[path]
            if entry is None or entry.version != item.version or \
                    self._remote_differs(entry, item):
                return True
        return False

    def _local_survivors(self, folder):
        """Something under ``folder`` locally that is not synced."""
        return any(self._local_differs(self.base.get(path), self.local[path])
                   for path in self.local_index.under(folder))

    def _add(self, kind, path, **fields):
        self.ops.append(Op(kind, path, **fields))
