"""Run simulation seeds for a while: ``python -m tests.simulation.soak
--seconds N [--start S] [--workers W]``.

Prints seeds per second at the end and, for each failing seed, the
one-line command that replays it. Exit status 1 if any seed failed.
"""

import argparse
import concurrent.futures
import os
import sys
import time

from tests.simulation import sim

BLOCK = 50


def run_block(start):
    failures = []
    for seed in range(start, start + BLOCK):
        try:
            sim.run(seed)
        except sim.Failure as failure:
            failures.append((seed, str(failure)[:200]))
    return start, failures



def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seconds', type=float, required=True)
    parser.add_argument('--start', type=int, default=100000)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    began = time.monotonic()
    done, failed, start = 0, [], args.start
    with concurrent.futures.ProcessPoolExecutor(args.workers) as pool:
        running = set()
        while True:
            while len(running) < args.workers * 2 and \
                    time.monotonic() - began < args.seconds:
                running.add(pool.submit(run_block, start))
                start += BLOCK
            if not running:
                break
            finished, running = concurrent.futures.wait(
                running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in finished:
                _first, failures = future.result()
                done += BLOCK
                for seed, message in failures:
                    failed.append(seed)
                    print('FAIL seed %d: %s\n  replay: %s'
                          % (seed, message, sim.replay_command(seed)),
                          flush=True)
    elapsed = time.monotonic() - began
    print('%d seeds (%d..%d) in %.0f s: %.1f seeds/s, %d failed'
          % (done, args.start, start - 1, elapsed, done / elapsed,
             len(failed)))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
