"""The three trees the planner compares, as plain immutable data.

``remote``
    What the server holds, kept by the engine as a mirror of item metadata
    by item id (:class:`RemoteItem`), updated from ``changes`` deltas and
    commit results; :func:`remote_paths` turns it into ``{path: item}``
    for the live items reachable from the workspace root.
``local``
    What the sync folder holds: ``{path: LocalEntry}`` from
    ``FileSystem.scan()`` (see :mod:`.interfaces`).
``base``
    The merge base: what both sides held the last time an entry was in
    sync, ``{path: BaseEntry}``, kept in the state database.

Paths are relative and ``/``-separated, the root being ``''``.
"""

import bisect
import dataclasses
import posixpath
from typing import Optional

DELETED = 'DELETED'


@dataclasses.dataclass(frozen=True)
class RemoteItem:
    """One item of the server's tree, as a delta entry describes it."""

    id: int
    parent_id: Optional[int]
    name: str
    is_folder: bool
    version: int
    status: str = 'NEW'
    content_hash: Optional[str] = None
    size: int = 0
    chunks: tuple = ()
    device: Optional[int] = None    # who made this version: device id
    user: Optional[int] = None      # and user id
    # A mount point: this folder's contents are the root of that
    # workspace (a shared folder); None for every other item.
    mount_workspace_id: Optional[int] = None

    @classmethod
    def from_meta(cls, meta):
        """The item of a metadata dict (delta entry or commit result)."""
        return cls(id=meta['id'], parent_id=meta.get('parent_id') or None,
                   name=meta['filename'], is_folder=bool(meta['is_folder']),
                   version=meta['version'], status=meta.get('status') or '',
                   content_hash=meta.get('content_hash'),
                   size=meta.get('size') or 0,
                   chunks=tuple(meta.get('chunks') or ()),
                   device=meta.get('device'), user=meta.get('user'),
                   mount_workspace_id=meta.get('mount_workspace_id'))

    @property
    def live(self):
        return self.status != DELETED


@dataclasses.dataclass(frozen=True)
class BaseEntry:
    """A synced entry: the server item and the content both sides had."""

    item_id: int
    version: int
    is_folder: bool
    content_hash: Optional[str] = None
    size: int = 0

    @classmethod
    def of(cls, item):
        return cls(item_id=item.id, version=item.version,
                   is_folder=item.is_folder, content_hash=item.content_hash,
                   size=item.size)


def parent(path):
    return posixpath.dirname(path)


def basename(path):
    return posixpath.basename(path)


def join(folder, name):
    return folder + '/' + name if folder else name


def ancestors(path):
    """Proper ancestors of ``path``, nearest first, without the root."""
    found = []
    path = parent(path)
    while path:
        found.append(path)
        path = parent(path)
    return found


def is_under(path, folder):
    """True if ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder + '/')


def rebase(path, old, new):
    """``path`` (``old`` or under it) moved to ``new``."""
    return new + path[len(old):]


def remote_paths(items):
    """``{path: item}`` of the live items reachable from the root.

    ``items`` is ``{id: RemoteItem}``; an item whose parent is unknown or
    deleted is left out (a delta can name a child before its parent).
    """
    paths = {}

    def path_of(item, depth=0):
        if item.id in paths:
            return paths[item.id]
        if not item.live or depth > 1000:
            return None
        if item.parent_id is None:
            found = item.name
        else:
            holder = items.get(item.parent_id)
            if holder is None or not holder.is_folder:
                return None
            above = path_of(holder, depth + 1)
            found = None if above is None else join(above, item.name)
        paths[item.id] = found
        return found

    result = {}
    for item_id in sorted(items):
        path = path_of(items[item_id])
        if path is not None and path not in result:
            result[path] = items[item_id]
    return result


class PathIndex:
    """Sorted paths of a tree, for "everything under this folder"."""

    def __init__(self, paths):
        self._paths = sorted(paths)

    def under(self, folder):
        """Paths strictly inside ``folder`` (not the folder itself)."""
        if not folder:
            return list(self._paths)
        start = bisect.bisect_left(self._paths, folder + '/')
        end = bisect.bisect_left(self._paths, folder + '0')  # '/' + 1
        return self._paths[start:end]
