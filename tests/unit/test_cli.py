"""The operator's command, on a real (SQLite) metadata database."""

import re

import pytest
from alembic.script import ScriptDirectory

from stacksync_swift import cli
from stacksync_swift.metadata import db


@pytest.fixture
def run(tmp_path, capsys):
    url = 'sqlite:///%s' % (tmp_path / 'meta.sqlite')

    def run(*args):
        status = cli.main(['--database-url', url] + list(args))
        out, err = capsys.readouterr()
        return status, out, err
    assert run('db', 'upgrade')[0] == 0
    return run


def test_db_upgrade_reports_the_revision(run):
    head = ScriptDirectory.from_config(db.alembic_config()).get_current_head()
    status, out, _ = run('db', 'upgrade')
    assert status == 0 and 'is at revision %s.' % head in out


def test_users_are_added_listed_and_deleted(run):
    status, out, _ = run('user-add', 'alice', '--password', 'pw',
                         '--quota', '1000', '--email', 'a@example.com')
    assert status == 0 and 'Created user alice' in out
    status, out, _ = run('user-list')
    assert re.search(r'alice\s+a@example.com\s+0 / 1000', out)
    status, out, _ = run('user-del', 'alice')
    assert status == 0 and 'ws-' in out  # the containers to remove
    assert 'alice' not in run('user-list')[1]


def test_default_quota_comes_from_the_settings(run):
    run('user-add', 'bob')
    assert '0 / 10737418240' in run('user-list')[1]


def test_errors_are_one_line_and_exit_1(run):
    run('user-add', 'carol', '--password', 'pw')
    status, _, err = run('user-add', 'carol')
    assert status == 1 and err.startswith('ERROR: ') and 'exists' in err
    status, _, err = run('user-del', 'nobody')
    assert status == 1 and 'nobody' in err
    status, _, err = run('consumer-del', 'nokey')
    assert status == 1 and err.startswith('ERROR: ')


def test_consumers_are_added_listed_and_deleted(run):
    status, out, _ = run('consumer-add', 'My app')
    key = re.search(r'key:\s+(\S+)', out).group(1)
    assert re.search(r'secret:\s+\S{32}', out)
    assert key in run('consumer-list')[1]
    assert run('consumer-del', key)[0] == 0
    assert key not in run('consumer-list')[1]


def test_password_prompt_must_match(run, monkeypatch):
    answers = iter(['one', 'two'])
    monkeypatch.setattr(cli.getpass, 'getpass', lambda prompt: next(answers))
    status, _, err = run('user-add', 'dave', '--password')
    assert status == 1 and 'differ' in err


def test_tokens_are_listed_and_revoked(run, tmp_path):
    from stacksync_swift.metadata import credentials

    run('user-add', 'erin', '--password', 'pw')
    key = re.search(r'key:\s+(\S+)', run('consumer-add', 'app')[1]).group(1)
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'meta.sqlite'))
    store = credentials.CredentialStore(engine)
    user_id = int(re.search(r'^(\d+)\s+erin', run('user-list')[1],
                            re.M).group(1))
    store.save_access_token(key, user_id, 't' * 30, 's' * 30)
    assert re.search(r't{30}\s+app', run('token-list', 'erin')[1])
    assert run('token-revoke', 't' * 30)[0] == 0
    assert store.get_access_token('t' * 30) is None
    assert run('token-revoke', 't' * 30)[0] == 1
    engine.dispose()
