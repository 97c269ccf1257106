"""The real FileSystem: scanning, the hash cache, atomic writes that never
overwrite an edit, the trash, the watcher."""

import hashlib
import os
import time

import pytest

from stacksync_swift.client import localfs
from stacksync_swift.client.interfaces import LocalChanged
from stacksync_swift.client.interfaces import LocalEntry


@pytest.fixture
def fs(tmp_path):
    return localfs.LocalFileSystem(tmp_path)


def write(fs, path, data):
    full = os.path.join(fs.root, *path.split('/'))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, 'wb') as out:
        out.write(data)
    return full


def test_scan_lists_files_and_folders_without_the_control_folder(fs):
    write(fs, 'a.txt', b'hello')
    write(fs, 'docs/b.txt', b'')
    os.makedirs(os.path.join(fs.root, 'empty'))
    found = fs.scan()
    assert set(found) == {'a.txt', 'docs', 'docs/b.txt', 'empty'}
    assert found['docs'] == LocalEntry(is_folder=True)
    assert found['a.txt'].size == 5
    assert found['a.txt'].content_hash == hashlib.sha256(b'hello').hexdigest()


def test_symlinks_are_skipped(fs):
    write(fs, 'a.txt', b'x')
    os.symlink('a.txt', os.path.join(fs.root, 'link'))
    assert 'link' not in fs.scan()


def test_an_unchanged_file_is_not_read_again(fs, monkeypatch):
    write(fs, 'a.txt', b'hello')
    fs.scan()
    again = localfs.LocalFileSystem(fs.root)      # the cache is on disk

    def no_reading(path):
        raise AssertionError('read %s' % path)
    monkeypatch.setattr(localfs, 'sha256_file', no_reading)
    assert again.scan()['a.txt'].size == 5


def test_a_changed_file_is_hashed_again(fs):
    full = write(fs, 'a.txt', b'hello')
    fs.scan()
    with open(full, 'wb') as out:
        out.write(b'world')
    os.utime(full, ns=(1, 1))
    assert fs.scan()['a.txt'].content_hash == \
        hashlib.sha256(b'world').hexdigest()


def test_write_atomic_creates_with_parents_and_mtime(fs):
    entry = fs.write_atomic('new/dir/f.bin', [b'ab', b'cd'], None,
                            mtime=1_000_000)
    assert open(fs.full('new/dir/f.bin'), 'rb').read() == b'abcd'
    assert entry.content_hash == hashlib.sha256(b'abcd').hexdigest()
    assert entry.mtime_ns == 1_000_000 * 10 ** 9
    assert fs.scan()['new/dir/f.bin'] == entry
    assert os.listdir(fs.temp) == []


def test_write_atomic_replaces_what_was_scanned(fs):
    write(fs, 'a.txt', b'old')
    scanned = fs.scan()['a.txt']
    fs.write_atomic('a.txt', [b'new'], scanned)
    assert open(fs.full('a.txt'), 'rb').read() == b'new'


def test_write_atomic_never_overwrites_an_edit(fs):
    full = write(fs, 'a.txt', b'old')
    scanned = fs.scan()['a.txt']
    time.sleep(0.01)
    with open(full, 'wb') as out:
        out.write(b'edited!')
    with pytest.raises(LocalChanged):
        fs.write_atomic('a.txt', [b'remote'], scanned)
    assert open(full, 'rb').read() == b'edited!'
    assert os.listdir(fs.temp) == []


def test_write_atomic_catches_a_same_size_same_mtime_edit(fs):
    full = write(fs, 'a.txt', b'old')
    scanned = fs.scan()['a.txt']
    with open(full, 'wb') as out:
        out.write(b'new')
    os.utime(full, ns=(scanned.mtime_ns, scanned.mtime_ns))
    with pytest.raises(LocalChanged):
        fs.write_atomic('a.txt', [b'remote'], scanned)


def test_write_atomic_refuses_a_file_that_appeared(fs):
    write(fs, 'a.txt', b'mine')
    with pytest.raises(LocalChanged):
        fs.write_atomic('a.txt', [b'theirs'], None)


def test_write_atomic_refuses_a_file_that_vanished(fs):
    full = write(fs, 'a.txt', b'mine')
    scanned = fs.scan()['a.txt']
    os.unlink(full)
    with pytest.raises(LocalChanged):
        fs.write_atomic('a.txt', [b'theirs'], scanned)


def test_a_failing_source_leaves_no_temporary(fs):
    def broken():
        yield b'x'
        raise OSError('network gone')
    with pytest.raises(OSError):
        fs.write_atomic('a.txt', broken(), None)
    assert os.listdir(fs.temp) == [] and not fs.exists('a.txt')


def test_delete_goes_to_the_trash(fs):
    write(fs, 'docs/a.txt', b'keep me')
    fs.delete('docs')
    assert not fs.exists('docs')
    trashed = [os.path.join(d, f) for d, _, files in os.walk(fs.trash)
               for f in files]
    assert len(trashed) == 1 and open(trashed[0], 'rb').read() == b'keep me'
    assert set(fs.scan()) == set()
    fs.delete('docs')        # already gone: nothing to do


def test_move_and_mkdir(fs):
    write(fs, 'a.txt', b'x')
    fs.mkdir('docs/sub')
    fs.move('a.txt', 'docs/sub/b.txt')
    assert set(fs.scan()) == {'docs', 'docs/sub', 'docs/sub/b.txt'}
    write(fs, 'c.txt', b'y')
    with pytest.raises(FileExistsError):
        fs.move('c.txt', 'docs/sub/b.txt')


def test_the_root_exists(fs):
    assert fs.exists('') and fs.full('') == fs.root


@pytest.mark.parametrize('path', ['../x', 'a/../../x', '.stacksync/x'])
def test_paths_stay_inside_the_folder(fs, path):
    with pytest.raises(ValueError):
        fs.full(path)


def test_read(fs):
    write(fs, 'a.txt', b'data')
    with fs.read('a.txt') as source:
        assert source.read() == b'data'


def test_the_clock_is_utc():
    assert localfs.SystemClock().now().utcoffset().total_seconds() == 0


def test_the_watcher_reports_changes_outside_the_control_folder(fs):
    with localfs.Watcher(fs.root, settle=0.2) as watcher:
        write(fs, '.stacksync/tmp/x', b'ignored')
        assert watcher.wait(0.5) == set()
        write(fs, 'docs/a.txt', b'x')
        changed = watcher.wait(5)
    assert 'docs/a.txt' in changed
    assert not any(path.startswith('.stacksync') for path in changed)
