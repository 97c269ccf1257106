"""A real Keystone on loopback, for the keystone-marked functional tests.

Keystone's own pins (oslo.*, Flask, SQLAlchemy...) may clash with ours, so
it runs from a virtual environment of its own, built by
``.ci/keystone-venv.sh`` (keystone and gunicorn, pinned there). The venv is
``$STACKSYNC_KEYSTONE_VENV``, else ``~/.cache/stacksync-swift/keystone-venv``;
:class:`KeystoneServer` runs the script when it starts (a no-op once the
venv is complete) and raises :class:`KeystoneUnavailable` when it cannot be
built, e.g. with no package index reachable.

Everything else lives in the state folder, nothing is written to ``/etc``:

``keystone.conf``
    SQLite database ``keystone.db``, fernet token keys in ``fernet-keys/``,
    credential keys in ``credential-keys/``, Keystone's log ``keystone.log``,
    cheap bcrypt rounds (tests hash many passwords).
``manage.log``
    Output of the ``keystone-manage`` steps: ``db_sync``, ``fernet_setup``,
    ``credential_setup`` and ``bootstrap`` (admin user ``admin`` with a
    random password in project ``admin``, region ``RegionOne``, identity
    endpoints = the server's own ``/v3`` URL).
``keystone_public.py``
    The WSGI entry point: Keystone's public (and only) application, with
    writing requests serialized (SQLite has one writer at a time).
``gunicorn.log``
    The WSGI server's log: gunicorn, one gthread worker with several
    threads, so a Swift proxy's ``auth_token`` and the tests can call it at
    once. The app is preloaded in the master: if it cannot be made,
    gunicorn exits at once rather than restarting a broken worker.

The test process talks to Keystone over HTTP only, with keystoneauth1 and
python-keystoneclient from the test environment (imported lazily, so this
module imports without them).

Tests get the session's server from the ``keystone_server`` fixture defined
here (``from tests.functional.keystone import keystone_server``), which
skips without keystoneauth1/python-keystoneclient or without a buildable
venv (``servers.unavailable``: with ``CI=true`` either fails). However many
modules import it, one Keystone serves the whole session.
"""

import collections
import contextlib
import grp
import http.client
import os
import pathlib
import pwd
import secrets
import shutil
import signal
import subprocess
import textwrap
import time

import pytest

from stacksync_swift.aio import free_port
from stacksync_swift.aio import render_ini
from tests import servers

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
VENV_SCRIPT = REPO_ROOT / '.ci' / 'keystone-venv.sh'
BASH = shutil.which('bash') or '/bin/bash'
DEFAULT_VENV = os.path.join('~', '.cache', 'stacksync-swift', 'keystone-venv')
VENV_BUILD_TIMEOUT = 600
MANAGE_TIMEOUT = 120
STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 10
THREADS = 8
REGION = 'RegionOne'
DOMAIN = 'default'

# The WSGI entry point gunicorn loads. Keystone parses the command line
# with oslo.config when the app is made, and gunicorn's options would be
# refused there, so the process forgets them first. SQLite lets one writer
# at a time, and two transactions that both read then write fail at once
# with "database is locked" (token requests write ``last_active_at``), so
# requests that may write take a lock; reads (token validation by
# ``auth_token``, GETs) run concurrently in the worker's threads.
WSGI_MODULE = textwrap.dedent('''\
    import sys
    import threading

    sys.argv = sys.argv[:1]
    from keystone.server import wsgi

    READS = ('GET', 'HEAD', 'OPTIONS')
    keystone = wsgi.initialize_public_application()
    writing = threading.Lock()


    def application(environ, start_response):
        if environ.get('REQUEST_METHOD') in READS:
            return keystone(environ, start_response)
        with writing:
            result = keystone(environ, start_response)
            try:
                return [b''.join(result)]
            finally:
                getattr(result, 'close', lambda: None)()
''')

CreatedUser = collections.namedtuple('CreatedUser', 'user_id project_id')


class KeystoneUnavailable(RuntimeError):
    """The Keystone venv could not be built (e.g. no package index)."""


def venv_path(venv=None):
    """The venv to use: the argument, the env variable, or the default."""
    path = venv or os.environ.get('STACKSYNC_KEYSTONE_VENV') or DEFAULT_VENV
    return os.path.abspath(os.path.expanduser(path))


def ensure_venv(venv=None):
    """Build the Keystone venv if needed (fast when complete); its path."""
    path = venv_path(venv)
    try:
        result = subprocess.run(
            [BASH, str(VENV_SCRIPT), path], stdin=subprocess.DEVNULL,
            capture_output=True, text=True, timeout=VENV_BUILD_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KeystoneUnavailable('cannot build the Keystone venv: %s' % exc)
    if result.returncode != 0:
        raise KeystoneUnavailable(
            'cannot build the Keystone venv in %s (exit %d):\n%s'
            % (path, result.returncode, _tail(result.stderr + result.stdout)))
    return path


def _tail(text, lines=40):
    return '\n'.join(text.splitlines()[-lines:])


class KeystoneServer:
    """One Keystone (identity v3) on loopback, state in ``state_dir``.

    :param state_dir: folder for the config, database, keys and logs
    :param host: address to listen on
    :param port: port to listen on (0 picks a free one)
    :param venv: the Keystone venv (default: see :func:`venv_path`)
    """

    def __init__(self, state_dir, host='127.0.0.1', port=0, venv=None):
        self.state_dir = os.path.abspath(state_dir)
        self.host = host
        self.port = port or free_port(host)
        self.venv = venv
        self.admin_password = secrets.token_urlsafe(18)
        self.process = None

    # -- what clients need -------------------------------------------------

    @property
    def url(self):
        """The server's base URL, without the API version."""
        return 'http://%s:%d' % (self.host, self.port)

    @property
    def auth_url(self):
        """The identity v3 URL, for keystoneauth and ``auth_token``."""
        return self.url + '/v3'

    @property
    def conf_path(self):
        return os.path.join(self.state_dir, 'keystone.conf')

    def _path(self, *names):
        return os.path.join(self.state_dir, *names)

    # -- preparing the state folder ----------------------------------------

    def prepare(self):
        """Venv, config, database, keys and admin; raises on failure."""
        self.venv = ensure_venv(self.venv)
        for name in ('fernet-keys', 'credential-keys', 'locks'):
            os.makedirs(self._path(name), mode=0o700, exist_ok=True)
        with open(self.conf_path, 'w') as fp:
            fp.write(self._conf())
        with open(self._path('keystone_public.py'), 'w') as fp:
            fp.write(WSGI_MODULE)
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        owner = ['--keystone-user', user, '--keystone-group', group]
        self._manage('db_sync')
        self._manage('fernet_setup', *owner)
        self._manage('credential_setup', *owner)
        self._manage('bootstrap', '--bootstrap-username', 'admin',
                     '--bootstrap-project-name', 'admin',
                     '--bootstrap-role-name', 'admin',
                     '--bootstrap-region-id', REGION,
                     '--bootstrap-public-url', self.auth_url,
                     '--bootstrap-internal-url', self.auth_url,
                     '--bootstrap-admin-url', self.auth_url)

    def _conf(self):
        return render_ini({
            'DEFAULT': {'log_dir': self.state_dir,
                        'log_file': 'keystone.log',
                        'use_stderr': 'false'},
            'database': {'connection': 'sqlite:///%s'
                         % self._path('keystone.db')},
            'token': {'provider': 'fernet'},
            'fernet_tokens': {'key_repository': self._path('fernet-keys')},
            'fernet_receipts': {'key_repository': self._path('fernet-keys')},
            'credential': {'key_repository': self._path('credential-keys')},
            'identity': {'password_hash_algorithm': 'bcrypt',
                         'password_hash_rounds': '4'},
            'oslo_concurrency': {'lock_path': self._path('locks')},
        })

    def _env(self, **extra):
        env = {key: value for key, value in os.environ.items()
               if key not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
        env.update(PYTHONWARNINGS='ignore',
                   OS_KEYSTONE_CONFIG_FILES=self.conf_path, **extra)
        return env

    def _bin(self, name):
        return os.path.join(self.venv, 'bin', name)

    def _manage(self, *args):
        """Run one ``keystone-manage`` step, its output to manage.log."""
        env = self._env(OS_BOOTSTRAP_PASSWORD=self.admin_password)
        cmd = [self._bin('keystone-manage'), '--config-file', self.conf_path]
        with open(self._path('manage.log'), 'ab') as log:
            log.write(('$ keystone-manage %s\n' % args[0]).encode())
            log.flush()
            result = subprocess.run(
                cmd + list(args), env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, timeout=MANAGE_TIMEOUT)
        if result.returncode != 0:
            raise RuntimeError('keystone-manage %s failed (exit %d):\n%s'
                               % (args[0], result.returncode,
                                  self.log_tail('manage.log')))

    # -- running ----------------------------------------------------------

    def start(self):
        """Prepare the state folder, start Keystone, wait until it answers."""
        os.makedirs(self.state_dir, exist_ok=True)
        self.prepare()
        try:
            self._spawn()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self):
        bind = '%s:%d' % (self.host, self.port)
        cmd = [self._bin('gunicorn'), '--bind', bind,
               '--chdir', self.state_dir,
               '--workers', '1', '--worker-class', 'gthread',
               '--threads', str(THREADS), '--timeout', '120',
               '--graceful-timeout', '3', '--preload',
               '--access-logfile', '-', '--error-logfile', '-',
               'keystone_public:application']
        with open(self._path('gunicorn.log'), 'ab') as log:
            self.process = subprocess.Popen(
                cmd, cwd=self.state_dir, env=self._env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

    def _answers(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=2)
        try:
            conn.request('GET', '/v3')
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None:
                raise RuntimeError('Keystone exited at start (%d):\n%s'
                                   % (self.process.returncode,
                                      self.logs()))
            if time.monotonic() > deadline:
                raise RuntimeError('Keystone not answering GET /v3 after '
                                   '%ds:\n%s' % (STARTUP_TIMEOUT,
                                                 self.logs()))
            time.sleep(0.2)

    def log_tail(self, name='keystone.log', lines=30):
        try:
            with open(self._path(name), errors='replace') as fp:
                return ''.join(fp.readlines()[-lines:])
        except OSError:
            return '(no %s)\n' % name

    def logs(self):
        """The tails of the WSGI server's and Keystone's logs."""
        return '--- gunicorn.log\n%s--- keystone.log\n%s' % (
            self.log_tail('gunicorn.log'), self.log_tail('keystone.log'))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM gunicorn's process group, SIGKILL after ``timeout``."""
        process, self.process = self.process, None
        if process is None:
            return
        self._signal(process, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal(process, signal.SIGKILL)
            process.wait()

    @staticmethod
    def _signal(process, signum):
        # start_new_session made gunicorn the leader of its own group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- the identity API, from the test process ----------------------------

    def session(self, username, password, project):
        """A keystoneauth1 session for a default-domain user and project."""
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        auth = v3.Password(auth_url=self.auth_url, username=username,
                           password=password, project_name=project,
                           user_domain_id=DOMAIN, project_domain_id=DOMAIN)
        return session.Session(auth=auth)

    def token(self, username, password, project='demo'):
        """Issue a project-scoped token for a user; the token string."""
        return self.session(username, password, project).get_token()

    def admin_session(self):
        return self.session('admin', self.admin_password, 'admin')

    def admin_client(self):
        """A python-keystoneclient v3 client acting as the admin."""
        from keystoneclient.v3 import client

        return client.Client(session=self.admin_session(),
                             interface='public', region_name=REGION)

    def ensure_project(self, name, client=None):
        """The id of the default-domain project ``name``, created if new."""
        client = client or self.admin_client()
        found = client.projects.list(domain=DOMAIN, name=name)
        if found:
            return found[0].id
        return client.projects.create(name, DOMAIN).id

    def create_user(self, name, password, project='demo', email=None,
                    role='member'):
        """Create a user with ``role`` on ``project`` (created if new).

        :returns: ``CreatedUser(user_id, project_id)``
        """
        client = self.admin_client()
        project_id = self.ensure_project(project, client)
        user = client.users.create(name, domain=DOMAIN, password=password,
                                   email=email, default_project=project_id)
        role_id = client.roles.list(name=role)[0].id
        client.roles.grant(role_id, user=user.id, project=project_id)
        return CreatedUser(user.id, project_id)


# -- pytest ---------------------------------------------------------------

_SHARED = {}


def shared_server(tmp_path_factory):
    """One KeystoneServer per test session, however many modules ask.

    Skips when the venv cannot be built, unless ``CI=true``: CI must have
    it, so there it fails.
    """
    if 'server' not in _SHARED:
        try:
            state = tmp_path_factory.mktemp('keystone')
            _SHARED['server'] = KeystoneServer(state).start()
        except KeystoneUnavailable as exc:
            _SHARED['server'] = exc
    server = _SHARED['server']
    if isinstance(server, KeystoneUnavailable):
        servers.unavailable(str(server))
    return server


@pytest.fixture(scope='session')
def keystone_server(tmp_path_factory):
    """The session's Keystone; import this fixture into a test module."""
    servers.require_module('keystoneauth1', 'the Keystone fixture')
    servers.require_module('keystoneclient', 'the Keystone fixture')
    server = shared_server(tmp_path_factory)
    yield server
    server.stop()  # idempotent: every importing module finalizes it
