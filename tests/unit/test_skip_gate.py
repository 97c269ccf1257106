"""The root conftest.py's skip gate, run on a small test suite of its own.

Each case writes the gate (the repository's ``conftest.py``, as it is) and
a few tests that skip in every way pytest can into a fresh folder, and
runs pytest there: with ``CI=true`` the run fails and names each skip,
unless the allow-list of that folder names it; without ``CI`` a skip is
just a skip.
"""

import pathlib

import pytest

pytest_plugins = ['pytester']

ROOT_CONFTEST = pathlib.Path(__file__).resolve().parents[2] / 'conftest.py'

SKIPPING = '''
import pytest

@pytest.fixture
def missing_server():
    pytest.skip('no server here')

def test_body():
    pytest.skip('skipped in the body')

@pytest.mark.skipif(True, reason='a skipif mark')
def test_mark():
    pass

def test_fixture(missing_server):
    pass

@pytest.mark.xfail(reason='an xfail is no skip')
def test_xfail():
    assert False

def test_runs():
    pass
'''

MODULE_SKIP = '''
import pytest

pytest.skip('the whole module', allow_module_level=True)

def test_never():
    pass
'''

SKIPS = [  # in the order the gate lists them: collection first
    'test_module_skip.py | the whole module',
    'test_skipping.py::test_body | skipped in the body',
    'test_skipping.py::test_mark | a skipif mark',
    'test_skipping.py::test_fixture | no server here',
]


@pytest.fixture
def suite(pytester):
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makeini('[pytest]\n')
    pytester.makepyfile(test_skipping=SKIPPING, test_module_skip=MODULE_SKIP)
    return pytester


def test_a_skip_fails_the_run_under_ci(suite, monkeypatch):
    monkeypatch.setenv('CI', 'true')
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.fnmatch_lines(
        ['*= skips not allowed when CI=true =*'] + SKIPS +
        ['4 skipped test(s) or module(s) fail this run*allowed_skips.txt.'])
    result.stdout.no_fnmatch_line('*an xfail is no skip*')


def test_an_allowed_skip_passes_under_ci(suite, monkeypatch):
    monkeypatch.setenv('CI', 'true')
    (suite.path / 'tests').mkdir()
    (suite.path / 'tests' / 'allowed_skips.txt').write_text(
        '# why these skips are fine\n\n' + '\n'.join(SKIPS) + '\n')
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.no_fnmatch_line('*skips not allowed*')


def test_the_allow_list_path_is_an_ini_option(suite, monkeypatch):
    monkeypatch.setenv('CI', 'true')
    suite.path.joinpath('other.txt').write_text(
        'test_skipping.py | *\ntest_module_skip.py | the whole *\n')
    result = suite.runpytest('-o', 'allowed_skips=other.txt')
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)


def test_a_skip_with_another_reason_is_not_allowed(suite, monkeypatch):
    monkeypatch.setenv('CI', 'true')
    suite.path.joinpath('other.txt').write_text(
        'test_skipping.py | *\ntest_module_skip.py | another reason\n')
    result = suite.runpytest('-o', 'allowed_skips=other.txt')
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(['test_module_skip.py | the whole module'])


def test_a_malformed_allow_list_is_a_usage_error(suite, monkeypatch):
    monkeypatch.setenv('CI', 'true')
    suite.path.joinpath('other.txt').write_text('test_skipping.py\n')
    result = suite.runpytest('-o', 'allowed_skips=other.txt')
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(['*other.txt:1: expected*'])


@pytest.mark.parametrize('ci', [None, 'false'])
def test_without_ci_a_skip_is_just_a_skip(suite, monkeypatch, ci):
    if ci is None:
        monkeypatch.delenv('CI', raising=False)
    else:
        monkeypatch.setenv('CI', ci)
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=4, xfailed=1)
    result.stdout.no_fnmatch_line('*skips not allowed*')
