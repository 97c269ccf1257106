"""The real cluster the functional tests run against.

One all-in-one (:class:`stacksync_swift.aio.AllInOne`, the same code as
``stacksync-swift aio``) per test session: account, container, object and
proxy servers from the ``swift`` package on free loopback ports, in a
temporary state folder, with both StackSync filters in the proxy pipeline,
and a second "bare" proxy on the same servers without them, so a test can
compare our pipeline with plain Swift.
"""

import hashlib
import random

import pytest
from swift.common import swob
from swift.common.utils import set_swift_dir
from swift.common.wsgi import loadapp
from swiftclient import client as swiftclient

from stacksync_swift import aio
from stacksync_swift import localcache
from tests.functional.apiclient import Stores

# Tempauth users the tests use besides the installation admin.
TEST_USERS = {
    'test:tester': ('testing', ['.admin']),
    'test2:tester2': ('testing2', ['.admin']),
}


@pytest.fixture(scope='session')
def cluster(tmp_path_factory):
    state = tmp_path_factory.mktemp('aio')
    with aio.AllInOne(state, port=0, users=TEST_USERS,
                      bare_proxy=True) as running:
        yield running


def connect(cluster, user='test:tester', bare=False):
    """A python-swiftclient connection through our proxy, or the bare one."""
    key = cluster.admin_key if user == cluster.admin_user \
        else TEST_USERS[user][0]
    base = cluster.bare_url if bare else cluster.url
    return swiftclient.Connection(base + '/auth/v1.0', user, key,
                                  retries=0)


@pytest.fixture
def swift(cluster):
    conn = connect(cluster)
    yield conn
    conn.close()


@pytest.fixture
def bare_swift(cluster):
    conn = connect(cluster, bare=True)
    yield conn
    conn.close()


@pytest.fixture(scope='module')
def stores(cluster):
    """The metadata, credential and web stores of the module's cluster.

    Module-scoped, not session-scoped: test_bad_input and test_faults run
    an all-in-one of their own (a module-scoped ``cluster``), whose
    database this then opens.
    """
    opened = Stores(cluster)
    yield opened
    opened.close()


@pytest.fixture
def config_per_device():
    """Whether each device of :mod:`.clientuser`'s ``alice`` and ``bob``
    has a config folder of its own; a test module overrides this."""
    return False


class GeneratedStream:
    """``size`` pseudo-random bytes made as they are read, never all held."""

    def __init__(self, size, seed=0):
        self.remaining = size
        self.random = random.Random(seed)
        self.hash = hashlib.sha256()

    def read(self, n):
        data = self.random.randbytes(min(n, self.remaining))
        self.remaining -= len(data)
        self.hash.update(data)
        return data


def filters(app):
    while app is not None:
        yield app
        app = getattr(app, 'app', None)


@pytest.fixture(scope='module')
def pipeline(cluster):
    """The cluster's proxy pipeline loaded in this process, filter by
    filter (the stores reached through it are the servers' own)."""
    set_swift_dir(cluster.swift_dir)
    return list(filters(loadapp(cluster.proxy_conf_path())))


@pytest.fixture
def env(pipeline):
    """The WSGI environment of a request reaching ``stacksync_api``."""
    # What a client request carries when it reaches stacksync_api: the
    # cache filter's memcache client (subrequests below our filter do not
    # pass the cache filter again; the proxy caches container info in it).
    cache, = [f.cache for f in pipeline
              if isinstance(f, localcache.LocalCacheMiddleware)]
    return swob.Request.blank('/v1/AUTH_x/y', environ={
        'swift.cache': cache}).environ


@pytest.fixture(scope='module')
def admin(cluster):
    """python-swiftclient as the installation account's admin."""
    conn = swiftclient.Connection(cluster.auth_url, cluster.admin_user,
                                  cluster.admin_key, retries=0)
    yield conn
    conn.close()
