"""The stacksync command against the real API filter on a local server."""

import io
import json
import os
import stat

import pytest

from stacksync_swift.client import cli
from stacksync_swift.client import credentials
from tests.unit.client.server import Server


@pytest.fixture
def server(tmp_path):
    running = Server(tmp_path)
    running.add_user('alice')
    running.add_user('bob')
    yield running
    running.close()


def login(server, config, name):
    consumer, consumer_secret, token, secret = server.oauth(name)
    credentials.save_credentials(
        {'url': server.url, 'consumer_key': consumer,
         'consumer_secret': consumer_secret, 'token': token,
         'token_secret': secret, 'user': name}, config)


@pytest.fixture
def run(server, tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CONFIG_HOME', str(tmp_path / 'xdg'))
    monkeypatch.chdir(tmp_path)
    login(server, credentials.config_dir(), 'alice')

    def stacksync(*argv, config=None):
        out, err = io.StringIO(), io.StringIO()
        extra = ['--config', config] if config else []
        status = cli.main(list(argv[:1]) + extra + list(argv[1:]), out, err)
        return status, out.getvalue(), err.getvalue()
    return stacksync


def make(path, data):
    with open(path, 'wb') as out:
        out.write(data)
    return str(path)


def test_put_ls_get(run, tmp_path):
    make(tmp_path / 'a.txt', b'hello')
    make(tmp_path / 'b.txt', b'world' * 1000)
    status, out, err = run('put', 'a.txt', 'b.txt')
    assert status == 0, err
    assert 'a.txt: version 1' in out and 'b.txt: version 1' in out
    assert run('ls')[1].split() == ['a.txt', 'b.txt']
    assert 'v1' in run('ls', '-l')[1]
    os.mkdir(tmp_path / 'down')
    status, out, err = run('get', 'b.txt', 'down')
    assert status == 0, err
    assert open(tmp_path / 'down' / 'b.txt', 'rb').read() == b'world' * 1000


def test_small_files_are_committed_in_one_request(run, tmp_path, server):
    names = [make(tmp_path / ('f%d' % n), b'%d' % n) for n in range(20)]
    assert run('put', *names)[0] == 0
    commits = [path for method, path, _h in server.auth.requests
               if path.endswith('/commit')]
    assert len(commits) == 1


def test_put_twice_makes_a_version_and_history_shows_it(run, tmp_path):
    path = make(tmp_path / 'a.txt', b'one')
    run('put', path)
    make(tmp_path / 'a.txt', b'two!')
    status, out, _ = run('put', path)
    assert 'version 2' in out
    status, out, _ = run('history', 'a.txt')
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith('v1')
    status, out, _ = run('restore', 'a.txt', '1')
    assert status == 0 and 'restored as version 3' in out
    run('get', 'a.txt', 'back.txt')
    assert open(tmp_path / 'back.txt', 'rb').read() == b'one'


def test_dry_run_changes_nothing(run, tmp_path):
    make(tmp_path / 'a.txt', b'x')
    status, out, _ = run('put', '--dry-run', 'a.txt')
    assert status == 0 and 'would upload a.txt' in out
    assert run('ls')[1] == ''


def test_mkdir_and_put_into_it(run, tmp_path):
    assert run('mkdir', 'docs')[0] == 0
    make(tmp_path / 'r.odt', b'report')
    assert run('put', 'r.odt', '--to', 'docs')[0] == 0
    assert run('ls', 'docs')[1].split() == ['r.odt']
    assert run('ls')[1].split() == ['docs/']


def test_share_proposals_accept(run, server, tmp_path):
    run('mkdir', 'team')
    status, out, err = run('share', 'team', 'bob', '--role', 'viewer')
    assert status == 0, err
    assert 'proposed team to bob as viewer' in out
    bob = str(tmp_path / 'bob-config')
    login(server, bob, 'bob')
    status, out, _ = run('proposals', config=bob)
    proposal = out.split()[0]
    assert 'alice shares' in out
    status, out, _ = run('accept', proposal, config=bob)
    assert status == 0 and 'joined' in out
    assert run('ls', config=bob)[1].split() == ['team/', '(shared)']


def test_encrypted_workspace(run, server, tmp_path, monkeypatch):
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'open sesame')
    status, out, err = run('workspace', 'create', 'vault', '--encrypted',
                           '--encrypt-names')
    assert status == 0, err
    workspace = out.split('--workspace ')[1].strip()
    keys = os.path.join(credentials.config_dir(), credentials.KEYS)
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    assert 'open sesame' not in open(keys).read()
    make(tmp_path / 'secret.txt', b'attack at dawn ' * 1000)
    assert run('put', 'secret.txt', '--workspace', workspace)[0] == 0
    assert run('ls', '--workspace', workspace)[1].split() == ['secret.txt']
    for body in server.chunk_objects().values():
        assert b'attack' not in body
    monkeypatch.delenv('STACKSYNC_PASSPHRASE')
    status, _, err = run('get', 'secret.txt', 'plain.txt', '--workspace',
                         workspace)
    assert status == 0, err
    assert open('plain.txt', 'rb').read() == b'attack at dawn ' * 1000


def test_encrypted_workspace_without_a_passphrase(run, server, tmp_path,
                                                  monkeypatch):
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', 'x')
    out = run('workspace', 'create', 'vault')[1]
    assert 'encrypted' not in out
    alice = server.users['alice-token']['id']
    vault = server.metadata.create_workspace(alice, 'v2', encrypted=True)
    monkeypatch.delenv('STACKSYNC_PASSPHRASE')
    make(tmp_path / 'a.txt', b'x')
    status, _, err = run('put', 'a.txt', '--workspace', str(vault['id']))
    assert status == 1
    assert err.startswith('ERROR: ') and 'STACKSYNC_PASSPHRASE' in err


def test_status(run, tmp_path):
    status, out, _ = run('status', str(tmp_path))
    assert status == 0
    assert out.startswith('alice at http://127.0.0.1')
    assert 'never synced' in out


def test_errors_are_one_line_with_a_hint(run):
    status, out, err = run('get', 'nope.txt')
    assert status == 1 and out == ''
    assert err.startswith('ERROR: ') and '(check the path' in err
    assert len(err.strip().splitlines()) == 1


def test_not_logged_in(run, tmp_path):
    status, _, err = run('ls', config=str(tmp_path / 'empty'))
    assert status == 1 and 'stacksync login' in err


def test_an_expired_token(run, server):
    server.users.clear()
    status, _, err = run('ls')
    assert status == 1 and 'log in again' in err


def test_offline(run, tmp_path):
    config = str(tmp_path / 'offline')
    credentials.save_credentials(
        {'url': 'http://127.0.0.1:9', 'consumer_key': 'k',
         'consumer_secret': 's', 'token': 't', 'token_secret': 's'}, config)
    status, _, err = run('ls', config=config)
    assert status == 1 and 'check the network' in err


def test_ctrl_c_exits_cleanly(run, monkeypatch):
    def interrupted(*args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, 'cmd_ls', interrupted)
    parser = cli.build_parser
    monkeypatch.setattr(cli, 'build_parser', parser)
    err = io.StringIO()
    args = parser().parse_args(['ls'])
    args.func = interrupted
    monkeypatch.setattr(cli.argparse.ArgumentParser, 'parse_args',
                        lambda self, argv=None: args)
    assert cli.main(['ls'], io.StringIO(), err) == 130
    assert 'interrupted' in err.getvalue()


def test_quiet_prints_nothing(run, tmp_path):
    make(tmp_path / 'a.txt', b'x')
    assert run('put', '--quiet', 'a.txt') == (0, '', '')


def test_login_stores_the_token_0600(run, server, tmp_path, monkeypatch):
    monkeypatch.setattr(credentials, 'request_token',
                        lambda url, key, secret: (None, url + '/auth', {}))
    monkeypatch.setattr(credentials, 'verifier_with_password',
                        lambda url, token, user, password: 'v')
    monkeypatch.setattr(credentials, 'access_token', lambda *a: {
        'oauth_token': 'alice-token', 'oauth_token_secret': 's'})
    monkeypatch.setenv('STACKSYNC_PASSWORD', 'pw')
    config = str(tmp_path / 'fresh')
    status, out, err = run('login', server.url, '--consumer-key', 'k',
                           '--consumer-secret', 's', '--username', 'alice',
                           config=config)
    assert status == 0, err
    assert 'as alice' in out
    path = os.path.join(config, credentials.CREDENTIALS)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(config).st_mode) == 0o700
    assert json.load(open(path))['token'] == 'alice-token'


def test_login_needs_a_consumer(run, monkeypatch):
    monkeypatch.delenv('STACKSYNC_CONSUMER_KEY', raising=False)
    status, _, err = run('login', 'http://x')
    assert status == 1 and 'consumer' in err
