"""Run the benchmarks and write the report.

Usage::

    python benchmarks/run.py [--only NAME ...] [--skip NAME ...]
                             [--files N] [--memory-mib N]
                             [--database-url URL]

Each ``benchmarks/bench_<name>.py`` runs in its own process (each starts
what it measures: an all-in-one cluster, a database, a broker) and prints
its table, ratios against raw Swift first where there is a raw Swift to
compare with. Their outputs go to ``benchmarks/results/report.md``, which
is committed, one section per benchmark, each with the machine, commit
and time of its run. A run of some benchmarks (``--only``, ``--skip``)
replaces their sections and keeps the others, so a slow benchmark need
not be re-run to refresh a fast one. The benchmarks that draw (see
``PLOTS``) write their PNG beside the report, which shows it. (The
``results/<name>.txt`` files keep runs made by hand with other options,
e.g. on PostgreSQL.) Benchmarks print; they never assert: speed is read
here, not tested. The plots need matplotlib
(``pip install -r benchmarks/requirements.txt``).
"""

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, 'results')
REPORT = os.path.join(RESULTS, 'report.md')
TITLE = '# stacksync-swift benchmarks'

# The benchmarks that draw, what they draw into (in RESULTS) and what it
# shows.
PLOTS = {
    'changes': ('changes.png', 'get_changes latency against items'),
    'memory': ('memory.png', 'proxy RSS over time during the upload'),
}

# Lines of a section repeated at the top of the report: the comparisons.
SUMMARY = re.compile(r'ratio|peak RSS growth|goal', re.IGNORECASE)


def available():
    return sorted(name[len('bench_'):-len('.py')]
                  for name in os.listdir(HERE)
                  if name.startswith('bench_') and name.endswith('.py'))


def shown(arg):
    """An argument as the report shows it: paths relative to the repo."""
    return os.path.relpath(arg, ROOT) if arg.startswith(HERE) else arg


def run_one(name, extra_args):
    command = [sys.executable, os.path.join(HERE, 'bench_%s.py' % name)]
    command += extra_args.get(name, [])
    print('== %s: %s' % (name, ' '.join(map(shown, command[1:]))),
          flush=True)
    done = subprocess.run(command, capture_output=True, text=True,
                          cwd=ROOT, check=False)
    output = '$ python %s\n%s' % (' '.join(map(shown, command[1:])),
                                  done.stdout)
    if done.returncode:
        output += '\n(exit status %d)\n%s' % (done.returncode,
                                              done.stderr[-4000:])
    print(output, flush=True)
    return output, done.returncode


def machine():
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                            capture_output=True, text=True,
                            cwd=HERE, check=False).stdout.strip()
    # The load says whether something else shared the CPUs (on a shared
    # machine, times are only comparable within one run).
    return ('%s, Python %s, %d CPUs (load %.1f), commit %s, %s UTC' % (
        platform.platform(), platform.python_version(), os.cpu_count(),
        os.getloadavg()[0], commit or '?',
        datetime.datetime.now(datetime.timezone.utc)
        .strftime('%Y-%m-%d %H:%M')))


def section(name, output, where):
    """A benchmark's section: where it ran, its plot, what it printed."""
    parts = ['## %s' % name, where]
    if name in PLOTS and os.path.exists(os.path.join(RESULTS,
                                                     PLOTS[name][0])):
        png, what = PLOTS[name]
        parts.append('![%s](%s)' % (what, png))
    parts.append('```\n%s```' % output)
    return '\n\n'.join(parts) + '\n'


def kept_sections():
    """The sections of the report on disk, by benchmark name.

    A report written before sections named their machine had one machine
    line under the title; its sections are given that line, so that what
    is kept still says where it ran.
    """
    try:
        with open(REPORT) as fp:
            text = fp.read()
    except FileNotFoundError:
        return {}
    head, *bodies = re.split(r'^## ', text, flags=re.MULTILINE)
    old_machine = [line for line in head.splitlines()
                   if line and not line.startswith('#')]
    sections = {}
    for body in bodies:
        name, _newline, rest = body.partition('\n')
        rest = rest.strip('\n')
        if name == 'summary':
            continue
        if rest.startswith('```') and old_machine:
            rest = old_machine[-1] + '\n\n' + rest
        sections[name.strip()] = '## %s\n\n%s\n' % (name.strip(), rest)
    return sections


def summary(sections):
    """The comparison lines of every section, each under its name."""
    lines = []
    for name, text in sections.items():
        for line in text.splitlines():
            if SUMMARY.search(line) and not line.startswith(('$', '!')):
                lines.append('- %s: %s' % (name, line.strip()))
    return '## summary\n\n%s\n' % '\n'.join(lines) if lines else ''


def write_report(sections):
    ordered = dict(sorted(sections.items()))
    with open(REPORT, 'w') as fp:
        fp.write('%s\n\nEach section names the machine, commit and time of '
                 'its run; `python benchmarks/run.py --only NAME` re-runs '
                 'one and keeps the others.\n\n%s\n%s' % (
                     TITLE, summary(ordered), '\n'.join(ordered.values())))


def bench_arguments(args):
    """The options this run hands to each benchmark."""
    # Relative to the repository, where the benchmarks run.
    extra = {name: ['--plot', os.path.relpath(os.path.join(RESULTS, png),
                                              ROOT)]
             for name, (png, _what) in PLOTS.items()}
    if args.database_url:
        extra['changes'] += ['--database-url', args.database_url]
    if args.files:
        extra['small_files'] = ['--files', str(args.files)]
    if args.memory_mib:
        extra['memory'] += ['--size-mib', str(args.memory_mib)]
    return extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='*', choices=available(),
                        help='run only these benchmarks')
    parser.add_argument('--skip', nargs='*', choices=available(),
                        default=[], help='run all but these benchmarks')
    parser.add_argument('--database-url',
                        help='run the database benchmarks on this URL '
                             '(e.g. PostgreSQL) instead of SQLite')
    parser.add_argument('--files', type=int,
                        help='small files for small_files (its default: '
                             '10,000)')
    parser.add_argument('--memory-mib', type=int,
                        help='upload size for memory (its default: 1024)')
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    extra = bench_arguments(args)
    sections, failed = kept_sections(), []
    for name in args.only or available():
        if name in args.skip:
            continue
        where = machine()  # the commit measured, the load it started in
        output, status = run_one(name, extra)
        sections[name] = section(name, output, where)
        if status:
            failed.append(name)
    write_report(sections)
    if failed:
        print('FAILED: %s' % ', '.join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
