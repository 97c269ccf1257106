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


# -- what a sync pass reports: who changed what --

def result(kind, path, dest=None, outcome='done', detail='', user=7,
           device=3):
    from stacksync_swift.client import engine
    return engine.ItemResult(kind=kind, path=path, outcome=outcome,
                             detail=detail, dest=dest, user=user,
                             device=device)


def bob(user_id, device_id):
    return 'bob' if user_id == 7 else 'someone'


@pytest.mark.parametrize('item, line', [
    (result('download', 'docs/report.odt'), 'bob changed docs/report.odt'),
    (result('local_mkdir', 'Photos'), 'bob created folder Photos'),
    (result('local_move', 'docs/a.txt', 'docs/b.txt'),
     'bob renamed docs/a.txt to b.txt'),
    (result('local_move', 'docs/a.txt', 'old/a.txt'),
     'bob moved docs/a.txt to old/a.txt'),
    (result('local_delete', 'old.txt'),
     'bob deleted old.txt (kept in .stacksync/trash)'),
    (result('conflict_copy', 'plan.txt',
            "plan (laptop's conflicted copy 2024-05-01).txt"),
     "bob changed plan.txt while you did too: your copy was kept as a "
     "conflicted copy, plan (laptop's conflicted copy 2024-05-01).txt"),
    (result('download', 'a.txt', user=None), 'someone changed a.txt'),
    (result('download', 'a.txt', outcome='changed', detail='a.txt changed'),
     'bob changed a.txt [changed: a.txt changed]'),
    (result('upload', 'mine.txt', user=None), 'mine.txt uploaded'),
    (result('remote_move', 'a.txt', 'b.txt', user=None),
     'a.txt renamed to b.txt'),
    (result('remote_delete', 'a.txt', user=None), 'a.txt deleted'),
])
def test_a_change_is_one_line_naming_who_made_it(item, line):
    assert cli.notice(item, bob) == line


@pytest.mark.parametrize('item', [
    result('record_base', 'a.txt'), result('upload', 'a.txt',
                                           outcome='skipped')])
def test_bookkeeping_and_skipped_operations_print_nothing(item):
    assert cli.notice(item, bob) is None


def sync(run, folder, device, *extra, config=None):
    status, out, err = run('sync', str(folder), '--device', device, *extra,
                           config=config)
    assert status == 0, err
    return out


def test_a_pass_names_your_other_device(run, tmp_path):
    one, two = tmp_path / 'one', tmp_path / 'two'
    os.makedirs(one / 'docs')
    make(one / 'docs' / 'a.txt', b'first')
    make(one / 'old.txt', b'old')
    sync(run, one, 'laptop')
    sync(run, two, 'desktop')
    make(two / 'docs' / 'a.txt', b'second')
    os.rename(two / 'old.txt', two / 'new.txt')
    os.makedirs(two / 'Photos')
    sync(run, two, 'desktop')
    lines = sync(run, one, 'laptop').splitlines()
    assert 'you (on desktop) changed docs/a.txt' in lines
    assert 'you (on desktop) renamed old.txt to new.txt' in lines
    assert 'you (on desktop) created folder Photos' in lines
    assert lines[-1].startswith('%s: up to date; ' % one)
    os.unlink(two / 'new.txt')
    sync(run, two, 'desktop')
    assert sync(run, one, 'laptop').splitlines()[0] == \
        'you (on desktop) deleted new.txt (kept in .stacksync/trash)'


def shared_workspace(run, server, tmp_path):
    """Alice's folder ``team`` shared with bob; (id, bob's config)."""
    run('mkdir', 'team')
    run('share', 'team', 'bob')
    bob_config = str(tmp_path / 'bob-config')
    login(server, bob_config, 'bob')
    run('accept', run('proposals', config=bob_config)[1].split()[0],
        config=bob_config)
    alice_id = server.users['alice-token']['id']
    return [space['id'] for space in server.metadata.get_workspaces(alice_id)
            if space['is_shared']][0], bob_config


def test_a_pass_names_the_member_who_changed_a_shared_file(run, server,
                                                           tmp_path):
    workspace, bob_config = shared_workspace(run, server, tmp_path)
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    os.makedirs(mine)
    make(mine / 'agenda.txt', b'monday')
    sync(run, mine, 'laptop', '--workspace', str(workspace))
    sync(run, theirs, 'phone', '--workspace', str(workspace),
         config=bob_config)
    make(theirs / 'agenda.txt', b'monday and tuesday')
    make(mine / 'agenda.txt', b'monday, said alice')
    sync(run, theirs, 'phone', '--workspace', str(workspace),
         config=bob_config)
    out = sync(run, mine, 'laptop', '--workspace', str(workspace))
    copy = [name for name in os.listdir(mine) if 'conflicted' in name][0]
    assert 'bob changed agenda.txt while you did too: your copy was kept ' \
        'as a conflicted copy, %s' % copy in out.splitlines()
    assert 'bob changed agenda.txt' in out.splitlines()
    assert open(mine / copy, 'rb').read() == b'monday, said alice'


def test_names_are_asked_once_per_command(run, server, tmp_path):
    workspace, bob_config = shared_workspace(run, server, tmp_path)
    mine, theirs = tmp_path / 'alice', tmp_path / 'bob'
    sync(run, mine, 'laptop', '--workspace', str(workspace))
    os.makedirs(theirs)
    for name in ('a.txt', 'b.txt', 'c.txt'):
        make(theirs / name, name.encode())
    sync(run, theirs, 'phone', '--workspace', str(workspace),
         config=bob_config)
    del server.auth.requests[:]
    out = sync(run, mine, 'laptop', '--workspace', str(workspace))
    assert out.count('bob changed') == 3
    paths = [path for _method, path, _headers in server.auth.requests]
    assert paths.count('/v1/account') == 1
    assert len([path for path in paths if path.endswith('/members')]) == 1


def report(summary, idle_line):
    from types import SimpleNamespace
    out = io.StringIO()
    cli._report_pass(cli.Printer(out=out, err=io.StringIO()), summary,
                     'dir', SimpleNamespace(bytes_sent=0, bytes_received=0),
                     people=None, idle_line=idle_line)
    return out.getvalue()


def test_watch_mode_leaves_out_the_status_of_an_idle_pass():
    from stacksync_swift.client import engine
    idle = engine.SyncSummary(converged=True)
    assert report(idle, idle_line=False) == ''
    assert report(idle, idle_line=True) == \
        'dir: up to date; 0 changes, 0 B sent, 0 B received\n'
    stuck = engine.SyncSummary(converged=False)
    assert 'not converged yet' in report(stuck, idle_line=False)


class Directory:
    """The few account calls :class:`cli.People` makes, counted."""

    def __init__(self, failing=False):
        self.failing = failing
        self.calls = []

    def _call(self, name, answer):
        self.calls.append(name)
        if self.failing:
            from stacksync_swift.client import api
            raise api.Offline('no network')
        return answer

    def account(self):
        return self._call('account', {'id': 1, 'name': 'alice'})

    def devices(self):
        return self._call('devices', [{'id': 5, 'name': 'laptop'}])

    def list_folder(self, folder_id):
        return self._call('list_folder', {'contents': [
            {'id': 9, 'mount_workspace_id': 30}, {'id': 10}]})

    def members(self, folder_id):
        assert folder_id == 9
        return self._call('members', [{'user_id': 1, 'name': 'alice'},
                                      {'user_id': 2, 'name': 'bob'}])


def test_people_are_named_from_the_account_devices_and_members():
    directory = Directory()
    people = cli.People(directory)
    assert people.who(2, 8, 30) == 'bob'
    assert people.who(1, 5, 30) == 'you (on laptop)'
    assert people.who(1, None, 30) == 'you'
    assert people.who(None, None, 30) == 'someone'
    assert people.who(2, 8, 30) == 'bob'
    assert sorted(directory.calls) == ['account', 'devices', 'list_folder',
                                       'members']


def test_an_unknown_id_is_asked_for_once_then_left_unnamed():
    directory = Directory()
    people = cli.People(directory)
    assert people.who(42, 8, 30) == 'user 42'
    assert people.who(1, 6, 30) == 'you (on another device)'
    calls = len(directory.calls)
    assert people.who(42, 8, 30) == 'user 42'
    assert people.who(1, 6, 30) == 'you (on another device)'
    assert len(directory.calls) == calls


def test_a_failed_lookup_names_someone_instead_of_failing():
    assert cli.People(Directory(failing=True)).who(2, 8, 30) == 'someone'


def test_a_lookup_that_failed_is_asked_again():
    directory = Directory(failing=True)
    people = cli.People(directory)
    assert people.who(1, 5, 30) == 'someone'
    directory.failing = False
    assert people.who(1, 5, 30) == 'you (on laptop)'
    assert people.who(2, 5, 30) == 'bob'


class _Waits:
    """A connection whose server is at cursor 9; records long polls."""

    def __init__(self, stop):
        self.stop = stop
        self.waits = []

    def workspace(self, workspace_id):
        return {'id': workspace_id, 'cursor': 9}

    def wait(self, workspace_id, cursor, timeout):
        self.waits.append((workspace_id, cursor))
        self.stop.set()
        return {'changes': True, 'cursor': 9}


def test_a_long_poll_starts_where_the_last_pass_left_off():
    """Found by the cloud simulation (seed 5361): the watch thread took
    the server's cursor, so a change landing between a pass and the
    start of the wait never woke it (until the periodic pass)."""
    import threading
    import types
    stop = threading.Event()
    conn = _Waits(stop)
    syncer = types.SimpleNamespace(workspace={'id': 1}, engines={})
    woken = []
    cli._wait_for_changes(1, syncer, types.SimpleNamespace(conn=conn),
                          lambda: woken.append(True), stop, {1: 5})
    assert conn.waits == [(1, 5)] and woken == [True]
    stop.clear()
    cli._wait_for_changes(7, types.SimpleNamespace(
        workspace={'id': 1}, engines={7: None}), types.SimpleNamespace(
        conn=conn), lambda: woken.append(True), stop, {})
    assert conn.waits[-1] == (7, 0)     # not synced yet: from the start
