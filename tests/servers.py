"""The real servers the tests use, named by environment variables.

``.ci/run`` starts them and sets:

``STACKSYNC_TEST_POSTGRES_URL``
    a PostgreSQL database the tests may empty, e.g.
    ``postgresql+psycopg2://stacksync:stacksync@127.0.0.1/stacksync_test``
    (the role may create databases beside it: see :func:`side_database`);
``STACKSYNC_TEST_AMQP_URL``
    a RabbitMQ broker, e.g. ``amqp://guest:guest@127.0.0.1:5672//``.

memcached needs no variable: :func:`memcached` runs Debian's on a free
port for as long as a test wants it.

Without them a test that needs the server is skipped, except when ``CI``
is ``true``: then it fails, so CI never passes by skipping. The same goes
for an optional module or program a test needs (:func:`require_module`):
:func:`unavailable` is the tests' one way to skip, and the root
``conftest.py`` fails a ``CI=true`` run with any other skip not listed in
``tests/allowed_skips.txt``.
"""

import contextlib
import importlib
import os
import signal

import pytest
import sqlalchemy

POSTGRES_URL_ENV = 'STACKSYNC_TEST_POSTGRES_URL'
AMQP_URL_ENV = 'STACKSYNC_TEST_AMQP_URL'


def unavailable(message):
    """Skip, or fail when CI promised the server.

    Also at a module's top level, where it skips (or fails) the module.
    """
    if os.environ.get('CI') == 'true':
        pytest.fail(message + ' (required when CI=true)')
    pytest.skip(message, allow_module_level=True)


def require_module(name, why):
    """Import the module ``name``, or :func:`unavailable` saying ``why``
    the tests need it."""
    try:
        return importlib.import_module(name)
    except ImportError as err:
        unavailable('%s needs the %s module: %s' % (why, name, err))


def required_env(variable):
    value = os.environ.get(variable)
    if not value:
        unavailable('%s is not set' % variable)
    return value


def postgres_url():
    return required_env(POSTGRES_URL_ENV)


def amqp_url():
    return required_env(AMQP_URL_ENV)


def side_database(suffix):
    """A new, empty database beside the tests' PostgreSQL one.

    Returns its URL (an SQLAlchemy ``URL``). Tests that need a database of
    their own (a deployment, a devstack) use one so that they never reset
    the shared one under the metadata tests.
    """
    shared = sqlalchemy.engine.make_url(postgres_url())
    name = shared.database + suffix
    engine = sqlalchemy.create_engine(shared, isolation_level='AUTOCOMMIT')
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql('DROP DATABASE IF EXISTS %s' % name)
            connection.exec_driver_sql('CREATE DATABASE %s' % name)
    finally:
        engine.dispose()
    return shared.set(database=name)



@contextlib.contextmanager
def memcached():
    """A memcached of its own on a free loopback port
    (:class:`stacksync_swift.aio.Memcached`)."""
    from stacksync_swift import aio

    try:
        running = aio.Memcached().start()
    except RuntimeError as err:
        unavailable(str(err))
    try:
        yield running
    finally:
        running.stop()


def interruptible():
    """``preexec_fn`` for a child process a test stops with Ctrl-C.

    A suite started in the background by a non-interactive shell (``bash
    .ci/run &``) inherits SIGINT ignored, and so would every child: Python
    then installs no KeyboardInterrupt handler and the Ctrl-C the test
    sends does nothing. The child gets the default disposition back.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
