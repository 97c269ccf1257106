"""Replay one simulation seed: ``python -m tests.simulation.replay --seed N``.

Runs the seed twice (a seed is a run: both must end alike) and prints the
outcome; ``--log`` prints what happened, step by step.
"""

import argparse
import sys

from tests.simulation import sim


def outcome(seed, **options):
    try:
        simulation = sim.run(seed, **options)
    except sim.Failure as failure:
        return 'FAIL: %s' % failure, getattr(failure, 'simulation', None)
    return 'ok', simulation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--log', action='store_true')
    args = parser.parse_args(argv)
    first, simulation = outcome(args.seed)
    second, _ = outcome(args.seed)
    if args.log and simulation is not None:
        print('\n'.join(simulation.log))
    print('seed %d: %s' % (args.seed, first))
    if first != second:
        print('NOT DETERMINISTIC: second run: %s' % second)
        return 2
    return 0 if first == 'ok' else 1


if __name__ == '__main__':
    sys.exit(main())
