"""``stacksync sync DIR --watch`` end to end against the all-in-one.

The watcher is a real child process (``python -m
stacksync_swift.client.cli``) whose output a thread collects; everything
else (the other user, the user's second device) is a one-shot command run
in-process. Expected states are polled with a deadline; the deadline is
generous because it is a safety net, not a measure of speed (a change
reaches the watcher through the long poll, or at the latest after the
watch interval).
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests import servers
from tests.functional import clientuser
from tests.functional.clientuser import tree
from tests.functional.clientuser import write

DEADLINE = 150      # seconds; see the module docstring

alice = clientuser.alice      # fixtures
bob = clientuser.bob


class Watch:
    """``stacksync sync FOLDER --watch`` running as a child process."""

    def __init__(self, user, folder, *extra, device):
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'stacksync_swift.client.cli', 'sync',
             str(folder), '--watch', '--config', user.config, '--device',
             device, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=servers.interruptible)
        self.out, self.err = [], []
        self.readers = [self._read(self.process.stdout, self.out),
                        self._read(self.process.stderr, self.err)]

    @staticmethod
    def _read(stream, lines):
        def collect():
            for line in stream:
                lines.append(line.rstrip('\n'))
        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        return reader

    def wait_for(self, line):
        """Wait until the watcher printed exactly ``line``."""
        eventually(lambda: line in self.out,
                   'the watcher to print %r' % line, self)

    def interrupt(self):
        """Ctrl-C; the exit status once the process ended."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(DEADLINE)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        for reader in self.readers:
            reader.join(DEADLINE)
        return status

    def describe(self):
        return 'stdout:\n%s\nstderr:\n%s' % ('\n'.join(self.out),
                                             '\n'.join(self.err))


def eventually(predicate, what, watch=None):
    """Poll ``predicate`` until it holds; fail after :data:`DEADLINE`."""
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        if watch is not None and watch.process.poll() is not None:
            pytest.fail('the watcher ended while waiting for %s\n%s'
                        % (what, watch.describe()))
        if time.monotonic() > deadline:
            pytest.fail('gave up waiting for %s%s' % (
                what, '\n' + watch.describe() if watch else ''))
        time.sleep(0.2)


@pytest.fixture
def watching():
    """Start watchers; any still running at the end is interrupted."""
    started = []

    def start(user, folder, *extra, device):
        watch = Watch(user, folder, *extra, device=device)
        started.append(watch)
        watch.wait_for('%s: watching for changes (Ctrl-C stops)' % folder)
        return watch
    yield start
    for watch in started:
        watch.interrupt()


def assert_stopped_cleanly(watch):
    status = watch.interrupt()
    assert status == 130, watch.describe()
    assert watch.err[-1:] == ['interrupted; nothing half-written was '
                              'kept'], watch.describe()
    assert not any('Traceback' in line for line in watch.err + watch.out)


def test_watch_sends_local_changes_and_names_your_other_device(
        alice, tmp_path, watching):
    watched, desktop = tmp_path / 'watched', tmp_path / 'desktop'
    write(watched / 'notes.txt', b'first')
    watch = watching(alice, watched, device='laptop')
    assert 'notes.txt' in alice.names()

    # A file created in the watched folder reaches the server by itself.
    write(watched / 'draft.txt', b'written while watching')
    eventually(lambda: 'draft.txt' in alice.names(),
               'draft.txt on the server', watch)
    watch.wait_for('draft.txt uploaded')

    # A change made on alice's other device arrives and is named.
    alice.sync(desktop, device='desktop')
    assert tree(desktop) == tree(watched)
    write(desktop / 'notes.txt', b'second, from the desktop')
    os.rename(desktop / 'draft.txt', desktop / 'final.txt')
    alice.sync(desktop, device='desktop')
    watch.wait_for('you (on desktop) changed notes.txt')
    watch.wait_for('you (on desktop) renamed draft.txt to final.txt')
    eventually(lambda: tree(watched) == tree(desktop),
               'the watched folder to hold the desktop\'s files', watch)
    assert_stopped_cleanly(watch)


def test_watch_names_the_member_who_changed_a_shared_folder(
        alice, bob, tmp_path, watching):
    alice.run('mkdir', 'team')
    alice.run('share', 'team', bob.name)
    bob.run('accept', bob.run('proposals').split()[0])
    shared = [space['id'] for space in alice.api.get('/v1/workspaces').json()
              if space['is_shared']][0]
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    write(mine / 'agenda.txt', b'monday')
    watch = watching(alice, mine, '--workspace', str(shared),
                     device='laptop')

    bob.sync(theirs, '--workspace', str(shared), device='phone')
    assert tree(theirs) == {'agenda.txt': b'monday'}
    write(theirs / 'agenda.txt', b'monday and tuesday')
    write(theirs / 'minutes.txt', b'nothing decided')
    bob.sync(theirs, '--workspace', str(shared), device='phone')
    watch.wait_for('%s changed agenda.txt' % bob.name)
    watch.wait_for('%s changed minutes.txt' % bob.name)
    eventually(lambda: tree(mine) == tree(theirs),
               'bob\'s files in alice\'s watched folder', watch)

    os.unlink(theirs / 'minutes.txt')
    bob.sync(theirs, '--workspace', str(shared), device='phone')
    watch.wait_for('%s deleted minutes.txt (kept in .stacksync/trash)'
                   % bob.name)
    eventually(lambda: 'minutes.txt' not in tree(mine),
               'minutes.txt to leave the watched folder', watch)
    assert_stopped_cleanly(watch)


def test_watch_follows_the_shared_folders_in_the_sync_folder(
        alice, bob, tmp_path, watching):
    """Without ``--workspace`` the watcher syncs the shared folder inside
    the sync folder, waits on it too, and names its members."""
    alice.run('mkdir', 'team')
    alice.run('share', 'team', bob.name)
    bob.run('accept', bob.run('proposals').split()[0])
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    watch = watching(alice, mine, device='laptop')
    assert os.path.isdir(mine / 'team')
    write(mine / 'team' / 'agenda.txt', b'monday')
    watch.wait_for('team/agenda.txt uploaded')

    bob.sync(theirs, device='phone')
    assert tree(theirs) == {os.path.join('team', 'agenda.txt'): b'monday'}
    write(theirs / 'team' / 'agenda.txt', b'monday and tuesday')
    bob.sync(theirs, device='phone')
    watch.wait_for('%s changed team/agenda.txt' % bob.name)
    eventually(lambda: tree(mine) == tree(theirs),
               'bob\'s edit in alice\'s watched folder', watch)
    assert_stopped_cleanly(watch)
