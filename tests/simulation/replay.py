"""Replay one simulation seed: ``python -m tests.simulation.replay --seed N``.

Runs the seed twice (a seed is a run: both must end alike) and prints the
outcome; ``--log`` prints what happened, step by step. ``--profile``
runs the seed in another world than its own (``cloud.PROFILES``, or
``classic`` for the one-user simulation of the oldest regression seeds).
"""

import argparse
import sys

from tests.simulation import cloud


def outcome(seed, **options):
    try:
        simulation = cloud.run(seed, **options)
    except cloud.Failure as failure:
        return 'FAIL: %s' % failure, getattr(failure, 'simulation', None)
    return 'ok', simulation


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--seed', type=int, required=True)
    parser.add_argument('--profile', choices=cloud.PROFILES + ('classic',))
    parser.add_argument('--log', action='store_true')
    args = parser.parse_args(argv)
    first, simulation = outcome(args.seed, profile=args.profile)
    second, _ = outcome(args.seed, profile=args.profile)
    if args.log and simulation is not None:
        print('\n'.join(simulation.log))
    print('seed %d (%s): %s' % (args.seed, args.profile or
                                cloud.profile_of(args.seed), first))
    if first != second:
        print('NOT DETERMINISTIC: second run: %s' % second)
        return 2
    return 0 if first == 'ok' else 1


if __name__ == '__main__':
    sys.exit(main())
