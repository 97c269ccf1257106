"""The skip gate: with ``CI=true`` a skipped test fails the run.

CI (``.ci/run``) starts every server and installs every package the tests
need, so there a skip means a test that did not run and a green run that
proves less than it says. When the environment variable ``CI`` is
``true``, any skip (a module skipped at collection, a ``skipif`` mark or
a fixture skipping at setup, ``pytest.skip`` in a test) that the
allow-list does not name makes the session's exit status non-zero, and
the terminal summary lists it with its reason. ``xfail`` is not a skip.

The allow-list is ``tests/allowed_skips.txt`` (the ``allowed_skips`` ini
option, relative to the rootdir, names another; ``-o allowed_skips=...``).
One allowed skip per line, ``<test node id or path> | <reason>``: the node
id as pytest prints it (``tests/x/test_y.py::test_z[param]``) or a module,
class or folder containing it, and the reason as the summary prints it;
a reason ending in ``*`` allows any reason that starts with the rest.
Blank lines and lines starting with ``#`` are ignored.
"""

import os

import pytest

ALLOWED_SKIPS_DEFAULT = 'tests/allowed_skips.txt'


def pytest_addoption(parser):
    parser.addini(
        'allowed_skips',
        'file listing the skips allowed when CI=true '
        '("<node id or path> | <reason>" lines), relative to the rootdir',
        default=ALLOWED_SKIPS_DEFAULT)


def pytest_configure(config):
    if os.environ.get('CI') == 'true':
        config.pluginmanager.register(SkipGate(config), 'skip-gate')


def _skip_reason(report):
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    if reason.startswith('Skipped: '):
        reason = reason[len('Skipped: '):]
    return reason


def _matches(pattern, value):
    return value == pattern or (
        pattern.endswith('*') and value.startswith(pattern[:-1]))


class SkipGate:

    def __init__(self, config):
        self.path = config.rootpath / config.getini('allowed_skips')
        self.allowed = self._read_allowed()
        self.unexpected = []

    def _read_allowed(self):
        if not self.path.exists():
            return []
        allowed = []
        for number, line in enumerate(
                self.path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            where, bar, reason = line.partition('|')
            if not bar or not where.strip() or not reason.strip():
                raise pytest.UsageError(
                    '%s:%d: expected "<node id or path> | <reason>", got %r'
                    % (self.path, number, line))
            allowed.append((where.strip().rstrip('/'), reason.strip()))
        return allowed

    def _is_allowed(self, nodeid, reason):
        for where, allowed_reason in self.allowed:
            if (nodeid == where or nodeid.startswith(where + '::') or
                    nodeid.startswith(where + '/')) and \
                    _matches(allowed_reason, reason):
                return True
        return False

    def _check(self, report):
        if not report.skipped or hasattr(report, 'wasxfail'):
            return
        reason = _skip_reason(report)
        if not self._is_allowed(report.nodeid, reason):
            self.unexpected.append((report.nodeid, reason))

    def pytest_collectreport(self, report):
        self._check(report)

    def pytest_runtest_logreport(self, report):
        self._check(report)

    def pytest_sessionfinish(self, session):
        if self.unexpected and session.exitstatus in (
                pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        if not self.unexpected:
            return
        terminalreporter.write_sep(
            '=', 'skips not allowed when CI=true', red=True, bold=True)
        for nodeid, reason in self.unexpected:
            terminalreporter.write_line('%s | %s' % (nodeid, reason))
        terminalreporter.write_line(
            '%d skipped test(s) or module(s) fail this run: with CI=true '
            'every test must run. Give it what it needs, or, if the skip '
            'is meant, add its line as printed above ("<node id or path> '
            '| <reason>") to %s.' % (len(self.unexpected), self.path),
            red=True)
