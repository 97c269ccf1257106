"""The all-in-one: a real single-node Swift with both filters, on loopback.

``stacksync-swift aio`` and the functional tests start the cluster with this
module. Everything lives in one state folder, nothing is written to
``/etc``, and no server outside pip is needed:

``etc/``
    ``swift.conf``, the account/container/object rings (built with Swift's
    ``RingBuilder``: part power 10, one replica, one device per server) and a
    config file per server; ``swift_dir`` points here.
``srv/node/sdb1``
    The one device (``mount_check = false``).
``log/``
    One log file per server (Swift's console logging).
``metadata.sqlite``
    The StackSync metadata database (the embedded default; ``database_url``
    names another, e.g. a PostgreSQL server).
``aio.json``
    Secrets made on the first start and kept: the hash path suffix (it must
    never change, or Swift loses track of its objects), the admin key, the
    encryption root secret (with ``encryption``; losing it loses the data),
    and the demo StackSync user and OAuth consumer.

The account, container, object and proxy servers are the ``swift`` package's
own, each a child process running ``swift.common.wsgi.run_wsgi``. Rings are
rebuilt on every start with the ports chosen then; with one device every
partition stays on it, so data survives restarts. The proxy runs tempauth
(admin user ``stacksync:admin`` on the installation account) with an
in-process cache (:mod:`stacksync_swift.localcache`) instead of memcached,
then ``stacksync_auth`` and ``stacksync_api`` (``memcache_servers`` puts
Swift's ``memcache`` filter on real memcached servers there instead).

Deployment options: ``database_url`` and ``events_url`` go to the filters
(SQLite or PostgreSQL or MySQL; ``amqp://`` for RabbitMQ), ``keystone``
replaces tempauth with Keystone, ``encryption`` adds Swift's server-side
encryption (``keymaster encryption`` right before the last
``proxy-logging``, as Swift documents), and ``extra_proxies`` runs more
proxies with the same pipeline on other ports, as a production cluster
runs several.
"""

import base64
import contextlib
import http.client
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time

from swift.common.ring import RingBuilder

RING_PART_POWER = 10
DEVICE = 'sdb1'
SERVERS = ('account', 'container', 'object')
SERVER_MODULES = {
    'account': 'swift.account.server',
    'container': 'swift.container.server',
    'object': 'swift.obj.server',
    'proxy': 'swift.proxy.server',
}
# Swift's sample pipeline with our filters before listing_formats (see
# config.check_pipeline); our subrequests pass copy, slo and versioning.
PROXY_PIPELINE = (
    'catch_errors gatekeeper healthcheck proxy-logging cache stacksync_auth '
    'stacksync_api listing_formats bulk tempurl tempauth copy slo dlo '
    'versioned_writes symlink proxy-logging proxy-server')
SWIFT_FILTERS = ('catch_errors', 'gatekeeper', 'healthcheck', 'proxy-logging',
                 'listing_formats', 'bulk', 'tempurl', 'copy', 'slo', 'dlo',
                 'versioned_writes', 'symlink')
# Server-side encryption: right of every other filter but the last
# proxy-logging (Swift's proxy-server.conf-sample).
ENCRYPTION_FILTERS = ('keymaster', 'encryption')
STARTUP_TIMEOUT = 60


def free_port(host='127.0.0.1'):
    """A TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def default_state_dir():
    base = os.environ.get('XDG_STATE_HOME') or os.path.expanduser(
        '~/.local/state')
    return os.path.join(base, 'stacksync-swift', 'aio')


def render_ini(sections):
    """Render ``{section: {key: value}}`` as an ini file."""
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines.extend('%s = %s' % item for item in options.items())
        lines.append('')
    return '\n'.join(lines)


class Memcached:
    """Debian's memcached on a free loopback port, as a context manager:
    for an all-in-one whose proxies share a cache (``memcache_servers``)
    and for the tests and benchmarks that want one.

    :attr:`address` is ``host:port``; :attr:`process` the server (a test
    may kill it).
    """

    def __init__(self, host='127.0.0.1', memory_mib=64):
        self.program = shutil.which('memcached')
        if self.program is None:
            raise RuntimeError('memcached is not installed (Debian: apt '
                               'install memcached)')
        self.host = host
        self.port = free_port(host)
        self.memory_mib = memory_mib
        self.process = None

    @property
    def address(self):
        return '%s:%d' % (self.host, self.port)

    def start(self):
        command = [self.program, '-l', self.host, '-p', str(self.port),
                   '-U', '0', '-m', str(self.memory_mib)]
        if os.geteuid() == 0:
            command += ['-u', 'root']   # it will not run as root unasked
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                socket.create_connection((self.host, self.port), 1).close()
                return self
            except OSError:
                if self.process.poll() is not None or \
                        time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError('memcached did not start on %s'
                                       % self.address)
            time.sleep(0.1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


class AllInOne:
    """One single-node Swift cluster with the StackSync filters.

    :param state_dir: folder holding configs, rings, data and logs
    :param port: the proxy's port (0 picks a free one)
    :param users: extra tempauth users, ``{'account:user': (key, groups)}``
    :param filter_options: options for the StackSync filter sections
    :param bare_proxy: also run a second proxy on the same servers without
        the StackSync filters, to compare against plain Swift
    :param keystone: Keystone mode instead of tempauth: a dict with the
        Keystone v3 ``auth_url`` and the proxy's service user ``username``
        and ``password`` (optionally ``project_name``, ``operator_roles``)
    :param database_url: the metadata database (default: SQLite in the
        state folder); the same as ``filter_options['database_url']``
    :param events_url: the event transport, e.g. ``amqp://...`` (default:
        the embedded transport on the metadata database)
    :param encryption: Swift's server-side encryption of object data, with
        a root secret made on the first start and kept in ``aio.json``
    :param extra_proxies: how many more proxies with our filters to run on
        the same servers (each on a free port; see :attr:`proxy_urls`).
        Each has its own in-process cache, so a tempauth token is only
        good on the proxy that made it; StackSync state is all in the
        database, so OAuth tokens work on every proxy.
    :param memcache_servers: Swift's ``memcache`` filter on these
        memcached servers (``host:port,...``) as every proxy's cache, as
        in production: tempauth tokens work on every proxy, and OAuth
        secrets and nonces are kept there (:mod:`stacksync_swift.credcache`)
    """

    def __init__(self, state_dir, port=8080, host='127.0.0.1', users=None,
                 filter_options=None, bare_proxy=False, keystone=None,
                 database_url=None, events_url=None, encryption=False,
                 extra_proxies=0, memcache_servers=None):
        self.state_dir = os.path.abspath(state_dir)
        self.host = host
        self.port = port or free_port(host)
        self.extra_users = dict(users or {})
        self.filter_options = dict(filter_options or {})
        if database_url:
            self.filter_options['database_url'] = database_url
        if events_url:
            self.filter_options['events_url'] = events_url
        self.bare_proxy = bare_proxy
        self.keystone = keystone
        self.encryption = encryption
        self.memcache_servers = memcache_servers
        self.extra_proxies = ['proxy-%d' % number
                              for number in range(2, 2 + extra_proxies)]
        self.swift_dir = os.path.join(self.state_dir, 'etc')
        self.devices = os.path.join(self.state_dir, 'srv', 'node')
        self.log_dir = os.path.join(self.state_dir, 'log')
        self.ports = {}
        self.processes = {}
        self.secrets = {}

    # -- what clients need -------------------------------------------------

    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    @property
    def auth_url(self):
        return self.url + '/auth/v1.0'

    @property
    def bare_url(self):
        """The proxy without our filters (only with ``bare_proxy``)."""
        return 'http://%s:%d' % (self.host, self.ports['proxy-bare'])

    @property
    def proxy_urls(self):
        """Every proxy with our filters: the main one, then the extras."""
        return [self.url] + ['http://%s:%d' % (self.host, self.ports[name])
                             for name in self.extra_proxies]

    @property
    def storage_account(self):
        return self.filter_options.get('storage_account', 'AUTH_stacksync')

    @property
    def admin_user(self):
        return '%s:admin' % self.storage_account.split('_', 1)[-1]

    @property
    def admin_key(self):
        return self.secrets['admin_key']

    @property
    def database_url(self):
        return self.filter_options.get(
            'database_url', 'sqlite:///%s' % os.path.join(
                self.state_dir, 'metadata.sqlite'))

    def proxy_conf_path(self):
        return os.path.join(self.swift_dir, 'proxy-server.conf')

    # -- preparing the state folder ----------------------------------------

    def prepare(self):
        """Create folders, secrets, rings and configs; idempotent."""
        for path in (self.swift_dir, self.log_dir,
                     os.path.join(self.devices, DEVICE)):
            os.makedirs(path, exist_ok=True)
        self._load_secrets()
        self.ports = {name: free_port(self.host) for name in SERVERS}
        self._write_swift_conf()
        self._build_rings()
        for name in SERVERS:
            self._write(name + '-server.conf', self._backend_conf(name))
        self._write('proxy-server.conf', self._proxy_conf())
        for name in self.extra_proxies:
            self.ports[name] = free_port(self.host)
            self._write(name + '-server.conf',
                        self._proxy_conf(port=self.ports[name]))
        self._prepare_database()
        if self.bare_proxy:
            self.ports['proxy-bare'] = free_port(self.host)
            self._write('proxy-bare-server.conf', self._proxy_conf(bare=True))

    @property
    def _secrets_path(self):
        return os.path.join(self.state_dir, 'aio.json')

    def _load_secrets(self):
        if os.path.exists(self._secrets_path):
            with open(self._secrets_path) as fp:
                self.secrets = json.load(fp)
            return
        self.secrets = {'hash_path_suffix': secrets.token_hex(16),
                        'admin_key': secrets.token_urlsafe(18)}
        self._save_secrets()

    def _encryption_root_secret(self):
        """The keymaster's root secret: 32 random bytes, base64, kept."""
        if 'encryption_root_secret' not in self.secrets:
            self.secrets['encryption_root_secret'] = base64.b64encode(
                secrets.token_bytes(32)).decode('ascii')
            self._save_secrets()
        return self.secrets['encryption_root_secret']

    def _save_secrets(self):
        # Written aside and renamed: a crash never leaves half a file, and
        # the file is never readable by others, even for a moment.
        partial = self._secrets_path + '.new'
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as fp:
            json.dump(self.secrets, fp, indent=1)
        os.replace(partial, self._secrets_path)

    @property
    def demo(self):
        """The demo user's name and password, the demo consumer's keys."""
        return self.secrets['demo']

    def _prepare_database(self):
        """Migrate the metadata database; make the demo user once."""
        from stacksync_swift.metadata import credentials
        from stacksync_swift.metadata import db
        from stacksync_swift.metadata import service

        db.upgrade(self.database_url)
        if 'demo' in self.secrets:
            return
        engine = db.create_engine(self.database_url)
        try:
            password = secrets.token_urlsafe(12)
            service.MetadataService(engine).create_user(
                'demo', password=password)
            consumer = credentials.CredentialStore(engine).create_consumer(
                'demo-app')
        finally:
            engine.dispose()
        self.secrets['demo'] = {
            'user': 'demo', 'password': password,
            'consumer_key': consumer.key,
            'consumer_secret': consumer.secret}
        self._save_secrets()

    def _write(self, name, text):
        with open(os.path.join(self.swift_dir, name), 'w') as fp:
            fp.write(text)

    def _write_swift_conf(self):
        self._write('swift.conf', render_ini({
            'swift-hash': {
                'swift_hash_path_suffix': self.secrets['hash_path_suffix'],
                'swift_hash_path_prefix': ''},
            'storage-policy:0': {'name': 'gold', 'default': 'yes'},
        }))

    def _build_rings(self):
        for kind in ('account', 'container', 'object'):
            builder = RingBuilder(RING_PART_POWER, 1, 1)
            builder.add_dev({'id': 0, 'region': 1, 'zone': 1,
                             'ip': self.host, 'port': self.ports[kind],
                             'device': DEVICE, 'weight': 100})
            builder.rebalance()
            builder.get_ring().save(
                os.path.join(self.swift_dir, '%s.ring.gz' % kind))

    def _common_defaults(self, port):
        return {'bind_ip': self.host, 'bind_port': port, 'workers': 0,
                'swift_dir': self.swift_dir, 'devices': self.devices,
                'mount_check': 'false', 'disable_fallocate': 'true',
                'log_level': 'INFO'}

    def _backend_conf(self, kind):
        egg = 'object' if kind == 'object' else kind
        return render_ini({
            'DEFAULT': self._common_defaults(self.ports[kind]),
            'pipeline:main': {'pipeline': 'healthcheck %s-server' % kind},
            'app:%s-server' % kind: {'use': 'egg:swift#%s' % egg},
            'filter:healthcheck': {'use': 'egg:swift#healthcheck'},
        })

    def _tempauth_users(self):
        account = self.storage_account.split('_', 1)[-1]
        users = {'user_%s_admin' % account: '%s .admin' % self.admin_key}
        for name, (key, groups) in self.extra_users.items():
            acct, user = name.split(':', 1)
            users['user_%s_%s' % (acct, user)] = ' '.join([key] + groups)
        return users

    def _proxy_conf(self, bare=False, port=None):
        names = PROXY_PIPELINE.split()
        if self.encryption:
            names[-2:-2] = ENCRYPTION_FILTERS
        if self.keystone:
            names[names.index('stacksync_auth'):
                  names.index('stacksync_auth')] = ['authtoken']
            names[names.index('tempauth')] = 'keystoneauth'
        if bare:
            names = [name for name in names
                     if name not in ('stacksync_auth', 'stacksync_api')]
        sections = {
            'DEFAULT': self._common_defaults(
                port or (self.ports['proxy-bare'] if bare else self.port)),
            'pipeline:main': {'pipeline': ' '.join(names)},
            'app:proxy-server': {'use': 'egg:swift#proxy',
                                 'account_autocreate': 'true',
                                 'allow_account_management': 'true',
                                 # One node of each: never shun it for long
                                 # after a blip (Swift's default is 60 s).
                                 'error_suppression_interval': '1'},
            'filter:cache': (
                {'use': 'egg:swift#memcache',
                 'memcache_servers': self.memcache_servers}
                if self.memcache_servers else
                {'paste.filter_factory':
                 'stacksync_swift.localcache:filter_factory'}),
            'filter:stacksync_auth': {
                'use': 'egg:stacksync_swift#stacksync_auth'},
            'filter:stacksync_api': dict(
                {'use': 'egg:stacksync_swift#stacksync_api',
                 'storage_account': self.storage_account,
                 'database_url': self.database_url},
                **self.filter_options),
        }
        if self.keystone:
            sections.update(self._keystone_sections())
        else:
            sections['filter:tempauth'] = dict(
                {'use': 'egg:swift#tempauth'}, **self._tempauth_users())
        for name in SWIFT_FILTERS:
            sections['filter:%s' % name] = {
                'use': 'egg:swift#%s' % name.replace('-', '_')}
        if self.encryption:
            sections['filter:keymaster'] = {
                'use': 'egg:swift#keymaster',
                'encryption_root_secret': self._encryption_root_secret()}
            sections['filter:encryption'] = {'use': 'egg:swift#encryption'}
        return render_ini(sections)

    def _keystone_sections(self):
        """auth_token + keystoneauth in place of tempauth (Keystone mode)."""
        ks = self.keystone
        self.filter_options.update(auth_mode='keystone',
                                   keystone_auth_url=ks['auth_url'])
        return {
            'filter:authtoken': {
                'use': 'egg:keystonemiddleware#auth_token',
                'www_authenticate_uri': ks['auth_url'],
                'auth_url': ks['auth_url'],
                'auth_type': 'password',
                'username': ks['username'],
                'password': ks['password'],
                'project_name': ks.get('project_name', 'service'),
                'user_domain_id': 'default',
                'project_domain_id': 'default',
                # OAuth-signed requests carry no Keystone token.
                'delay_auth_decision': 'true',
                # Validated tokens in the proxy's cache, as Swift advises.
                'cache': 'swift.cache',
            },
            'filter:keystoneauth': {
                'use': 'egg:swift#keystoneauth',
                'operator_roles': ks.get('operator_roles', 'admin, member'),
            },
            'filter:stacksync_api': dict(
                {'use': 'egg:stacksync_swift#stacksync_api',
                 'storage_account': self.storage_account,
                 'database_url': self.database_url},
                **self.filter_options),
        }

    # -- running ----------------------------------------------------------

    def start(self):
        """Prepare the state folder, start the four servers, wait for them."""
        self.prepare()
        try:
            proxies = (['proxy'] + self.extra_proxies +
                       (['proxy-bare'] if self.bare_proxy else []))
            for name in SERVERS + tuple(proxies):
                self._spawn(name)
            for name in SERVERS + tuple(proxies[1:]):
                self._wait_healthy(name, self.ports[name])
            self._wait_healthy('proxy', self.port)
        except Exception:
            self.stop()
            raise
        return self

    def _spawn(self, name):
        conf = os.path.join(self.swift_dir, '%s-server.conf' % name)
        module = SERVER_MODULES[name.split('-')[0]]
        code = 'from %s import main; main()' % module
        log = open(os.path.join(self.log_dir, '%s.log' % name), 'ab')
        with log:
            # -v logs to the console, which is this server's log file.
            self.processes[name] = subprocess.Popen(
                [sys.executable, '-c', code, conf, '-v'],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                start_new_session=True)

    def _wait_healthy(self, name, port):
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self.processes[name].poll() is not None:
                raise RuntimeError('%s server exited at start:\n%s'
                                   % (name, self.log_tail(name)))
            conn = http.client.HTTPConnection(self.host, port, timeout=2)
            try:
                conn.request('GET', '/healthcheck')
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            if time.monotonic() > deadline:
                raise RuntimeError('%s server not healthy after %ds:\n%s'
                                   % (name, STARTUP_TIMEOUT,
                                      self.log_tail(name)))
            time.sleep(0.1)

    def log_tail(self, name, lines=30):
        path = os.path.join(self.log_dir, '%s.log' % name)
        try:
            with open(path, errors='replace') as fp:
                return ''.join(fp.readlines()[-lines:])
        except OSError:
            return '(no log)'

    def stop(self, timeout=10):
        """Stop every server: SIGTERM, then SIGKILL after ``timeout``."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
