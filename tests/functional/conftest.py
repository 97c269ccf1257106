"""The real cluster the functional tests run against.

One all-in-one (:class:`stacksync_swift.aio.AllInOne`, the same code as
``stacksync-swift aio``) per test session: account, container, object and
proxy servers from the ``swift`` package on free loopback ports, in a
temporary state folder, with both StackSync filters in the proxy pipeline,
and a second "bare" proxy on the same servers without them, so a test can
compare our pipeline with plain Swift.
"""

import pytest
from swiftclient import client as swiftclient

from stacksync_swift import aio
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
