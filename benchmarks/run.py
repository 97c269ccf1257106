"""Run every benchmark and write the report.

Usage::

    python benchmarks/run.py [--only NAME ...] [--database-url URL]

Each ``benchmarks/bench_<name>.py`` runs in its own process (each starts
what it measures: an all-in-one cluster, a database, a broker) and prints
its table, ratios against raw Swift first where there is a raw Swift to
compare with. Their outputs, with the machine and the commit, go to
``benchmarks/results/report.md``, which is committed. (The
``results/<name>.txt`` files keep runs made by hand with other options,
e.g. on PostgreSQL.) Benchmarks print; they never assert: speed is read
here, not tested.
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, 'results')


def available():
    return sorted(name[len('bench_'):-len('.py')]
                  for name in os.listdir(HERE)
                  if name.startswith('bench_') and name.endswith('.py'))


def run_one(name, extra_args):
    command = [sys.executable, os.path.join(HERE, 'bench_%s.py' % name)]
    command += extra_args.get(name, [])
    print('== %s: %s' % (name, ' '.join(command[1:])), flush=True)
    done = subprocess.run(command, capture_output=True, text=True,
                          cwd=os.path.dirname(HERE), check=False)
    output = '$ python %s\n%s' % (' '.join(
        os.path.relpath(arg, os.path.dirname(HERE)) if arg.startswith(HERE)
        else arg for arg in command[1:]), done.stdout)
    if done.returncode:
        output += '\n(exit status %d)\n%s' % (done.returncode,
                                              done.stderr[-4000:])
    print(output, flush=True)
    return output, done.returncode


def machine():
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True,
                            cwd=HERE, check=False).stdout.strip()
    return ('%s, Python %s, %d CPUs, commit %s, %s UTC' % (
        platform.platform(), platform.python_version(), os.cpu_count(),
        commit or '?', datetime.datetime.now(datetime.timezone.utc)
        .strftime('%Y-%m-%d %H:%M')))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='*', choices=available(),
                        help='run only these benchmarks')
    parser.add_argument('--database-url',
                        help='also run the database benchmarks on this URL '
                             '(e.g. PostgreSQL)')
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    extra = {}
    if args.database_url:
        extra['changes'] = ['--database-url', args.database_url]
    sections, failed = [], []
    for name in args.only or available():
        output, status = run_one(name, extra)
        sections.append('## %s\n\n```\n%s```\n' % (name, output))
        if status:
            failed.append(name)
    with open(os.path.join(RESULTS, 'report.md'), 'w') as fp:
        fp.write('# stacksync-swift benchmarks\n\n%s\n\n%s' % (
            machine(), '\n'.join(sections)))
    if failed:
        print('FAILED: %s' % ', '.join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
