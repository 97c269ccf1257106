"""Run simulation seeds for a while: ``python -m tests.simulation.soak
--seconds N [--start S] [--workers W]``.

Each seed runs in its own profile (``cloud.profile_of``: one user, two
users sharing, encrypted, both). Prints progress every ``--progress``
seconds, seeds per second at the end (also when stopped with Ctrl-C or
SIGTERM: the finished seeds count) and, for each failing seed, the
one-line command that replays it. Exit status 1 if any seed failed.

The report names the code it ran (``code_fingerprint``: a hash of the
client, the metadata service and the simulation), so soaks of disjoint
seed ranges on the same code add up.
"""

import argparse
import concurrent.futures
import hashlib
import os
import pathlib
import signal
import sys
import time

from tests.simulation import cloud

BLOCK = 50


def run_block(start):
    failures = []
    for seed in range(start, start + BLOCK):
        try:
            cloud.run(seed)
        except cloud.Failure as failure:
            failures.append((seed, str(failure)[:200]))
    return start, failures



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seconds', type=float, required=True)
    parser.add_argument('--start', type=int, default=100000)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--progress', type=float, default=300.0,
                        help='seconds between progress lines (default 300)')
    args = parser.parse_args(argv)
    # SIGTERM ends the soak like its deadline: the seeds run so far count.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    soak = _Soak(args.start)
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        try:
            soak.run(pool, args.workers, args.seconds, args.progress)
        except KeyboardInterrupt:
            print('interrupted: counting the blocks that finish',
                  flush=True)
            soak.drain()
    print(soak.report(), flush=True)
    return 1 if soak.failed else 0


class _Soak:
    def __init__(self, start):
        self.start = start
        # Read once: the workers run the code of the start.
        self.code = code_fingerprint()
        self.began = time.monotonic()
        self.done = 0
        self.highest = start - 1
        self.failed = []
        self.running = set()

    def run(self, pool, workers, seconds, progress):
        following, start = self.began + progress, self.start
        while True:
            while len(self.running) < workers * 2 and \
                    time.monotonic() - self.began < seconds:
                self.running.add(pool.submit(run_block, start))
                start += BLOCK
            if not self.running:
                return
            finished, self.running = concurrent.futures.wait(
                self.running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                self._finished(*future.result())
            if time.monotonic() >= following:
                following += progress
                print(self.report(), flush=True)

    def drain(self):
        """After an interrupt: cancel what has not started, count the rest
        (a worker stopped by the same Ctrl-C counts nothing)."""
        for future in self.running:
            if future.cancel():
                continue
            try:
                self._finished(*future.result())
            except (Exception, KeyboardInterrupt) as error:
                print('a block stopped unfinished: %r' % error, flush=True)

    def _finished(self, first, failures):
        self.done += BLOCK
        self.highest = max(self.highest, first + BLOCK - 1)
        for seed, message in failures:
            self.failed.append(seed)
            print('FAIL seed %d (%s): %s\n  replay: %s'
                  % (seed, cloud.profile_of(seed), message,
                     cloud.replay_command(seed)), flush=True)

    def report(self):
        elapsed = time.monotonic() - self.began
        return ('%d seeds (blocks of %d from %d, highest %d) in %.0f s: '
                '%.1f seeds/s, %d failed; code %s' % (
                    self.done, BLOCK, self.start, self.highest, elapsed,
                    self.done / elapsed, len(self.failed), self.code))


def code_fingerprint():
    """SHA-256 (12 hex digits) of the sources a seed's outcome depends on:
    the client, the metadata service, the pure modules and the simulated
    world (not this runner, the replay command or the tests)."""
    root = pathlib.Path(__file__).resolve().parents[2]
    paths = sorted((root / 'stacksync_swift/client').glob('*.py'))
    paths += sorted((root / 'stacksync_swift/metadata').rglob('*.py'))
    paths += [root / 'stacksync_swift' / name
              for name in ('chunking.py', 'middleware/api/items.py')]
    paths += [root / 'tests/simulation' / name
              for name in ('cloud.py', 'sim.py', 'fakes.py', 'wire.py')]
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


if __name__ == '__main__':
    sys.exit(main())
