"""The devstack plugin, run phase by phase against Swift's own sample.

``tests/functional/data/devstack-standin.sh`` stands in for the parts of
devstack the plugin uses: the ini helpers (same behaviour as devstack's),
``is_service_enabled``, and lib/swift's making of ``proxy-server.conf``
from Swift's ``etc/proxy-server.conf-sample`` (devstack's extra
middleware, and authtoken + keystoneauth when Keystone is on). Each test
sources ``devstack/settings``, then ``devstack/plugin.sh MODE PHASE`` as
stack.sh does, and checks the result: ``config.check_pipeline`` accepts
it, and Swift's own ``loadapp`` builds the whole pipeline with Paste, our
filters included.

Swift's sample is not installed with the ``swift`` package, and the tests
download nothing: ``tests/functional/data/swift-proxy-server.conf-sample``
is a copy of it (its header says from which Swift), unless
``STACKSYNC_TEST_SWIFT_SAMPLE`` names another. shellcheck checks the
plugin's files. Without shellcheck or (for the PostgreSQL case)
``STACKSYNC_TEST_POSTGRES_URL``, tests skip, unless ``CI`` is ``true``.
"""

import getpass
import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import sqlalchemy
from alembic.script import ScriptDirectory

from stacksync_swift import config
from stacksync_swift.metadata import db
from tests import servers

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = pathlib.Path(__file__).parent / 'data'
STANDIN = DATA / 'devstack-standin.sh'
SAMPLE = DATA / 'swift-proxy-server.conf-sample'
SAMPLE_ENV = 'STACKSYNC_TEST_SWIFT_SAMPLE'
SWIFT = 's-proxy,s-object,s-container,s-account'
KEYSTONE = SWIFT + ',key,keystone'
ROOT_SECRET = 'c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA=='


def head_revision():
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()



@pytest.fixture(scope='session')
def swift_sample():
    """Swift's etc/proxy-server.conf-sample (the repository's copy)."""
    return os.environ.get(SAMPLE_ENV) or str(SAMPLE)


class Devstack:
    """One devstack node's worth of state in a temporary folder."""

    def __init__(self, root, sample, services, **settings):
        self.root = root
        self.conf_dir = root / 'etc-swift'
        self.conf_dir.mkdir()
        self.log = root / 'devstack.log'
        self.env = dict(
            os.environ,
            PATH=os.path.dirname(sys.executable) + os.pathsep +
            os.environ['PATH'],
            ENABLED_SERVICES=services,
            STACKSYNC_SWIFT_DIR=str(REPO),
            SWIFT_CONF_DIR=str(self.conf_dir),
            SWIFT_PROXY_SAMPLE=sample,
            SWIFT_EXTRAS_MIDDLEWARE='formpost staticweb',
            SWIFT_EXTRAS_MIDDLEWARE_NO_AUTH='crossdomain',
            SWIFT_EXTRAS_MIDDLEWARE_LAST='',
            DATA_DIR=str(root / 'data'),
            DEST=str(root / 'opt-stack'),
            STACK_USER=getpass.getuser(),
            KEYSTONE_SERVICE_URI='http://127.0.0.1/identity',
            SERVICE_PASSWORD='service-secret',
            RABBIT_USERID='stackrabbit', RABBIT_PASSWORD='rabbit-secret',
            RABBIT_HOST='127.0.0.1',
            DATABASE_HOST='127.0.0.1', DATABASE_USER='root',
            DATABASE_PASSWORD='db-secret',
            STANDIN_LOG=str(self.log),
            STANDIN_DATABASE_SERVER='')
        self.env.update(settings)

    @property
    def proxy_conf(self):
        return self.conf_dir / 'proxy-server.conf'

    def configure_swift(self):
        """What lib/swift does before the plugin's post-config."""
        self.bash('configure_swift_proxy')

    def phase(self, *args):
        self.bash('run_plugin %s' % ' '.join(args))

    def bash(self, command):
        script = ('set -o errexit; source %s; source %s; %s'
                  % (STANDIN, REPO / 'devstack' / 'settings', command))
        done = subprocess.run([shutil.which('bash'), '-c', script],
                              env=self.env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    def pipeline(self):
        parser = config.read_proxy_config(str(self.proxy_conf))
        return parser.get('pipeline:main', 'pipeline').split()

    def section(self, name):
        parser = config.read_proxy_config(str(self.proxy_conf))
        if not parser.has_section(name):
            return None
        return {key: value for key, value in parser.items(name, raw=True)
                if key not in parser.defaults()}

    def logged(self):
        return self.log.read_text().splitlines() if self.log.exists() \
            else []

    def loadapp(self):
        """Swift's own loader builds the pipeline; the classes in it."""
        _write_rings(self.conf_dir)
        done = subprocess.run(
            [sys.executable, '-c', LOADAPP, str(self.proxy_conf),
             str(self.conf_dir)],
            capture_output=True, text=True, timeout=120, env=self.env)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.splitlines()[-1])


# Load the proxy app as swift-proxy-server would, then walk the filters.
LOADAPP = '''
import json, sys
from swift.common import utils, wsgi
utils.set_swift_dir(sys.argv[2])  # as swift-proxy-server does
app = wsgi.loadapp(sys.argv[1])
chain = []
while app is not None and len(chain) < 100:
    chain.append('%s.%s' % (type(app).__module__, type(app).__name__))
    app = getattr(app, 'app', None) or getattr(app, '_app', None)
print(json.dumps(chain))
'''


def _write_rings(swift_dir):
    """One-device rings and swift.conf: what the proxy app loads."""
    from swift.common.ring import RingBuilder

    for kind, port in (('account', 6012), ('container', 6011),
                       ('object', 6013)):
        builder = RingBuilder(6, 1, 1)
        builder.add_dev({'id': 0, 'region': 1, 'zone': 1,
                         'ip': '127.0.0.1', 'port': port,
                         'device': 'sdb1', 'weight': 1})
        builder.rebalance()
        builder.get_ring().save(str(swift_dir / ('%s.ring.gz' % kind)))
    (swift_dir / 'swift.conf').write_text(
        '[swift-hash]\nswift_hash_path_suffix = devstack-test\n'
        '[storage-policy:0]\nname = gold\ndefault = yes\n')


@pytest.fixture
def make_devstack(tmp_path, swift_sample):
    def make(services=SWIFT, **settings):
        node = Devstack(tmp_path, swift_sample, services, **settings)
        node.configure_swift()
        return node
    return make


def stacked(node):
    node.phase('stack', 'install')
    node.phase('stack', 'post-config')
    return node


def around(names, *expected):
    """Whether ``expected`` appear consecutively in ``names``."""
    start = names.index(expected[0])
    return tuple(names[start:start + len(expected)]) == expected


# -- the plugin's files -------------------------------------------------------

def test_shellcheck_passes():
    if not shutil.which('shellcheck'):
        servers.unavailable('shellcheck is not installed')
    files = [REPO / 'devstack' / 'plugin.sh', REPO / 'devstack' / 'settings',
             STANDIN]
    done = subprocess.run([shutil.which('shellcheck'), *map(str, files)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


# -- Swift with tempauth only ------------------------------------------

def test_install_sets_up_the_package(make_devstack):
    node = make_devstack()
    node.phase('stack', 'install')
    assert 'setup_develop %s' % REPO in node.logged()


def test_post_config_puts_the_filters_right_after_cache(make_devstack):
    node = make_devstack()
    before = node.pipeline()
    stacked(node)
    after = node.pipeline()
    assert around(after, 'cache', 'stacksync_auth', 'stacksync_api',
                  'listing_formats')
    assert [n for n in after if not n.startswith('stacksync_')] == before
    config.check_pipeline(str(node.proxy_conf), 'oauth')


def test_post_config_writes_the_filter_sections(make_devstack):
    node = stacked(make_devstack())
    assert node.section('filter:stacksync_auth') == {
        'use': 'egg:stacksync_swift#stacksync_auth'}
    api = node.section('filter:stacksync_api')
    assert api['use'] == 'egg:stacksync_swift#stacksync_api'
    assert api['storage_account'] == 'AUTH_stacksync'
    assert api['auth_mode'] == 'oauth'
    assert api['default_quota'] == '10737418240'
    assert 'events_url' not in api and 'keystone_auth_url' not in api
    database = node.root / 'data' / 'stacksync-swift' / 'metadata.sqlite'
    assert api['database_url'] == 'sqlite:///%s' % database


def test_post_config_creates_and_migrates_the_database(make_devstack):
    node = stacked(make_devstack())
    url = node.section('filter:stacksync_api')['database_url']
    assert db.current_revision(url) == head_revision()


def test_the_pipeline_loads_with_paste(make_devstack):
    chain = stacked(make_devstack()).loadapp()
    ours = [name for name in chain if name.startswith('stacksync_swift')]
    assert len(ours) == 2
    assert chain.index(ours[0]) < chain.index(ours[1])
    assert chain[-1] == 'swift.proxy.server.Application'


def test_post_config_twice_changes_nothing(make_devstack):
    node = stacked(make_devstack())
    first = node.proxy_conf.read_text()
    node.phase('stack', 'post-config')
    assert node.proxy_conf.read_text() == first


def test_unstack_gives_back_plain_swift(make_devstack):
    node = make_devstack()
    original = node.pipeline()
    stacked(node)
    node.phase('unstack')
    assert node.pipeline() == original
    assert node.section('filter:stacksync_auth') is None
    assert node.section('filter:stacksync_api') is None
    chain = node.loadapp()
    assert not [name for name in chain if 'stacksync' in name]


def test_clean_removes_the_database(make_devstack):
    node = stacked(make_devstack())
    data = node.root / 'data' / 'stacksync-swift'
    assert data.exists()
    node.phase('clean')
    assert not data.exists()
    assert node.section('filter:stacksync_api') is None


def test_stack_again_after_unstack(make_devstack):
    node = stacked(make_devstack())
    node.phase('unstack')
    stacked(node)
    config.check_pipeline(str(node.proxy_conf), 'oauth')
    assert node.pipeline().count('stacksync_auth') == 1


# -- devstack's default with Keystone, and RabbitMQ -----------------------

def test_keystone_moves_authtoken_before_the_filters(make_devstack):
    node = make_devstack(KEYSTONE)
    before = node.pipeline()
    assert before.index('authtoken') > before.index('listing_formats')
    stacked(node)
    after = node.pipeline()
    assert around(after, 'cache', 'authtoken', 'stacksync_auth',
                  'stacksync_api', 'listing_formats')
    assert after.index('keystoneauth') > after.index('stacksync_api')
    config.check_pipeline(str(node.proxy_conf), 'keystone')


def test_keystone_mode_settings(make_devstack):
    node = stacked(make_devstack(KEYSTONE))
    api = node.section('filter:stacksync_api')
    assert api['auth_mode'] == 'keystone'
    assert api['keystone_auth_url'] == 'http://127.0.0.1/identity/v3'
    assert node.section('filter:authtoken')['delay_auth_decision'] == 'true'


def test_keystone_pipeline_loads_with_paste(make_devstack):
    chain = stacked(make_devstack(KEYSTONE)).loadapp()
    names = [name.rsplit('.', 1)[0] for name in chain]
    token = names.index('keystonemiddleware.auth_token')
    assert token < names.index('stacksync_swift.middleware.auth')
    assert chain[-1] == 'swift.proxy.server.Application'


def test_rabbitmq_is_the_event_transport_when_enabled(make_devstack):
    node = stacked(make_devstack(KEYSTONE + ',rabbit'))
    assert node.section('filter:stacksync_api')['events_url'] == \
        'amqp://stackrabbit:rabbit-secret@127.0.0.1:5672//'


def test_keystone_mode_without_authtoken_stops_the_stack(make_devstack):
    node = make_devstack(STACKSYNC_AUTH_MODE='keystone')
    node.phase('stack', 'install')
    with pytest.raises(AssertionError, match='needs Keystone'):
        node.phase('stack', 'post-config')


# -- devstack's database server ------------------------------------------

@pytest.fixture
def postgres_server():
    """The PostgreSQL server of the tests, and a database name on it."""
    # devstack's recreate_database, which the stand-in only logs.
    shared = servers.side_database('_devstack')
    name = shared.database
    # devstack's database_connection_url: the server's URL, then the name.
    server = sqlalchemy.engine.URL.create(
        'postgresql', username=shared.username, password=shared.password,
        host=shared.host, port=shared.port)
    return server.render_as_string(hide_password=False), name


@pytest.mark.postgresql
def test_postgresql_from_devstack(make_devstack, postgres_server):
    server, name = postgres_server
    node = stacked(make_devstack(SWIFT + ',postgresql',
                                 STANDIN_DATABASE_SERVER=server,
                                 STACKSYNC_DATABASE_NAME=name))
    url = node.section('filter:stacksync_api')['database_url']
    assert url.startswith('postgresql+psycopg2://')
    assert url.endswith('/' + name)
    assert 'recreate_database %s' % name in node.logged()
    assert db.current_revision(url) == head_revision()
    assert node.loadapp()[-1] == 'swift.proxy.server.Application'
    node.phase('clean')
    assert any(line.startswith('dropdb ') and line.endswith(name)
               for line in node.logged())


def test_encryption_with_the_filters(make_devstack):
    """Swift's sample sections keymaster and encryption, where it says."""
    node = stacked(make_devstack())
    node.bash(
        'sed -i "/^pipeline/ s/proxy-logging proxy-server/keymaster '
        'encryption proxy-logging proxy-server/" %s && iniset %s '
        'filter:keymaster encryption_root_secret %s'
        % (node.proxy_conf, node.proxy_conf, ROOT_SECRET))
    chain = node.loadapp()
    assert 'swift.common.middleware.crypto.encrypter.Encrypter' in chain
