"""
=================
The local folder
=================

:class:`LocalFileSystem` is the real
:class:`~stacksync_swift.client.interfaces.FileSystem`: the sync folder on
disk, seen through ``/``-separated relative paths.

``.stacksync/`` at the top of the folder belongs to the client and is
never synced: ``tmp/`` holds downloads being written, ``trash/`` what a
sync deleted (nothing is ever hard-deleted; empty it by hand), and
``hashes.json`` the hash cache. Symbolic links and special files are
skipped.

Scanning hashes a file only when its size, mtime or inode changed since
the cached hash was taken, so a pass over an unchanged tree reads no data.

Writing never loses a local edit: :meth:`LocalFileSystem.write_atomic`
writes the new content to a temporary file in ``.stacksync/tmp`` (same
file system), ``fsync``\\ s it, then checks that the file it replaces is
still what the engine scanned (size, mtime and, if they match, the
SHA-256 again) and only then renames over it and ``fsync``\\ s the folder.
A file that changed in the meantime raises
:class:`~stacksync_swift.client.interfaces.LocalChanged`; the next pass
sees the edit.

:class:`Watcher` reports changes under the folder with watchdog
(inotify, FSEvents, ReadDirectoryChangesW, or polling), ignoring
``.stacksync/``.
"""

import datetime
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import time

from watchdog.events import FileSystemEventHandler
from watchdog.observers import Observer

from stacksync_swift.client.interfaces import LocalChanged
from stacksync_swift.client.interfaces import LocalEntry

CONTROL = '.stacksync'
READ_SIZE = 1024 * 1024


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as source:
        for block in iter(lambda: source.read(READ_SIZE), b''):
            digest.update(block)
    return digest.hexdigest()


class LocalFileSystem:
    """The sync folder at ``root``."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.control = os.path.join(self.root, CONTROL)
        self.temp = os.path.join(self.control, 'tmp')
        self.trash = os.path.join(self.control, 'trash')
        self.cache_path = os.path.join(self.control, 'hashes.json')
        for folder in (self.temp, self.trash):
            os.makedirs(folder, exist_ok=True)
        self._cache = self._load_cache()

    def full(self, path):
        """The absolute path of a relative one, refusing to leave root.

        ``''`` is the folder itself (``exists('')``: is it there at all?).
        """
        parts = [part for part in path.split('/') if part not in ('', '.')]
        if not parts:
            return self.root
        if '..' in parts or parts[0] == CONTROL:
            raise ValueError('not a path inside the folder: %r' % path)
        return os.path.join(self.root, *parts)

    # -- scanning --

    def scan(self):
        """``{path: LocalEntry}`` of everything under the folder."""
        found = {}
        self._walk('', found)
        self._cache = {path: self._cache[path] for path in found
                       if path in self._cache}
        self._save_cache()
        return found

    def _walk(self, prefix, found):
        base = os.path.join(self.root, prefix) if prefix else self.root
        try:
            entries = list(os.scandir(base))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            path = prefix + entry.name
            if path == CONTROL:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if stat.S_ISDIR(info.st_mode):
                found[path] = LocalEntry(is_folder=True)
                self._walk(path + '/', found)
            elif stat.S_ISREG(info.st_mode):
                entry_hash = self._hash(path, entry.path, info)
                if entry_hash is not None:
                    found[path] = LocalEntry(False, info.st_size,
                                             info.st_mtime_ns, entry_hash)

    def _hash(self, path, full, info):
        key = [info.st_size, info.st_mtime_ns, info.st_ino]
        cached = self._cache.get(path)
        if cached and cached[:3] == key:
            return cached[3]
        try:
            digest = sha256_file(full)
        except (FileNotFoundError, PermissionError):
            return None
        self._cache[path] = key + [digest]
        return digest

    def _load_cache(self):
        try:
            with open(self.cache_path) as source:
                return json.load(source)
        except (FileNotFoundError, ValueError):
            return {}

    def _save_cache(self):
        temp = self.cache_path + '.tmp'
        with open(temp, 'w') as out:
            json.dump(self._cache, out)
        os.replace(temp, self.cache_path)

    # -- reading and writing --

    def read(self, path):
        return open(self.full(path), 'rb')

    def exists(self, path):
        return os.path.lexists(self.full(path))

    def entry(self, path):
        """The :class:`LocalEntry` of one path now, or None."""
        full = self.full(path)
        try:
            info = os.stat(full, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if stat.S_ISDIR(info.st_mode):
            return LocalEntry(is_folder=True)
        return LocalEntry(False, info.st_size, info.st_mtime_ns,
                          self._hash(path, full, info))

    def write_atomic(self, path, chunks, expected=None, mtime=None):
        """Replace ``path`` with the bytes of ``chunks``, unless it changed.

        ``expected`` is the entry scanned before (None: the file must not
        exist). ``mtime`` (a datetime or epoch seconds) is set on the new
        file. Returns the new file's :class:`LocalEntry`.
        """
        full = self.full(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        temp, digest = self._write_temp(chunks)
        try:
            if mtime is not None:
                _set_mtime(temp, mtime)
            self._check_unchanged(path, expected)
            os.replace(temp, full)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        _fsync_folder(os.path.dirname(full))
        info = os.stat(full)
        self._cache[path] = [info.st_size, info.st_mtime_ns, info.st_ino,
                             digest]
        return LocalEntry(False, info.st_size, info.st_mtime_ns, digest)

    def _write_temp(self, chunks):
        fd, temp = tempfile.mkstemp(dir=self.temp, prefix='download-')
        digest = hashlib.sha256()
        try:
            with os.fdopen(fd, 'wb') as out:
                for data in chunks:
                    out.write(data)
                    digest.update(data)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            os.unlink(temp)
            raise
        return temp, digest.hexdigest()

    def _check_unchanged(self, path, expected):
        current = self.entry(path)
        if expected is None or current is None:
            if current is not None or expected is not None:
                raise LocalChanged(path)
            return
        if current.is_folder != expected.is_folder or \
                current.size != expected.size or \
                current.mtime_ns != expected.mtime_ns:
            raise LocalChanged(path)
        if expected.content_hash and not current.is_folder and \
                sha256_file(self.full(path)) != expected.content_hash:
            raise LocalChanged(path)

    def mkdir(self, path):
        os.makedirs(self.full(path), exist_ok=True)

    def move(self, src, dst):
        """Rename ``src`` to ``dst``; refuses to replace anything."""
        source, target = self.full(src), self.full(dst)
        if os.path.lexists(target):
            raise FileExistsError(dst)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.rename(source, target)
        self._rename_cached(src, dst)

    def _rename_cached(self, src, dst):
        for path in [p for p in self._cache
                     if p == src or p.startswith(src + '/')]:
            self._cache[dst + path[len(src):]] = self._cache.pop(path)

    def delete(self, path):
        """Move ``path`` into ``.stacksync/trash/<time>/``."""
        source = self.full(path)
        if not os.path.lexists(source):
            return
        stamp = datetime.datetime.now().strftime('%Y-%m-%d_%H-%M-%S.%f')
        target = os.path.join(self.trash, stamp, *path.split('/'))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.move(source, target)
        for cached in [p for p in self._cache
                       if p == path or p.startswith(path + '/')]:
            del self._cache[cached]


def _set_mtime(path, mtime):
    if isinstance(mtime, datetime.datetime):
        mtime = mtime.timestamp()
    os.utime(path, (time.time(), mtime))


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class SystemClock:
    """The real :class:`~stacksync_swift.client.interfaces.Clock`."""

    def now(self):
        return datetime.datetime.now(datetime.timezone.utc)

    def sleep(self, seconds):
        time.sleep(seconds)


class Watcher:
    """Local changes under ``root``, from watchdog, outside ``.stacksync``.

    Use as a context manager; :meth:`wait` blocks until something changed
    (or ``timeout``), then waits ``settle`` seconds more so a burst of
    writes (an editor saving) becomes one pass, and returns the changed
    relative paths. :meth:`poke` (a change on the server) wakes it at
    once, with no settle time unless local changes came too.
    """

    # 0.2 s: an editor's save (write a temporary file, rename it over the
    # old one) takes milliseconds, and a longer pause is paid by every
    # change on its way to the other devices (benchmarks/bench_scale.py,
    # P9, device to device: median 0.71 s with 0.5 s, 0.41 s with 0.2 s).
    def __init__(self, root, settle=0.2):
        self.root = os.path.abspath(root)
        self.settle = settle
        self._changed = set()
        self._lock = threading.Lock()
        self._event = threading.Event()
        self._observer = Observer()
        self._observer.schedule(_Handler(self), self.root, recursive=True)

    def __enter__(self):
        self._observer.start()
        return self

    def __exit__(self, *exc_info):
        self._observer.stop()
        self._observer.join()

    def note(self, full_path):
        relative = os.path.relpath(full_path, self.root).replace(os.sep,
                                                                 '/')
        if relative == CONTROL or relative.startswith(CONTROL + '/') or \
                relative == '.':
            return
        with self._lock:
            self._changed.add(relative)
        self._event.set()

    def poke(self):
        """Wake :meth:`wait` now: something changed elsewhere."""
        self._event.set()

    def wait(self, timeout=None):
        if not self._event.wait(timeout):
            return set()
        with self._lock:
            local = bool(self._changed)
        if local:
            time.sleep(self.settle)
        with self._lock:
            changed, self._changed = self._changed, set()
            self._event.clear()
        return changed


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher):
        self.watcher = watcher

    def on_any_event(self, event):
        if event.event_type in ('opened', 'closed_no_write'):
            return
        self.watcher.note(event.src_path)
        dest = getattr(event, 'dest_path', '')
        if dest:
            self.watcher.note(dest)
