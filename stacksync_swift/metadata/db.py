"""Database engines and schema upgrades for the metadata service.

:func:`create_engine` makes the one engine a process needs from the
``database_url`` option:

SQLite (the all-in-one default)
    Several proxy worker processes share one file, so each connection turns
    on WAL (readers never block the writer), a ``busy_timeout`` (a writer
    waits for the lock instead of failing) and foreign keys. Write
    transactions start with ``BEGIN IMMEDIATE``: they take the write lock
    before their first read, so two processes can never both hold a read
    snapshot and then deadlock upgrading it to a write. pysqlite's own
    transaction handling is turned off for this, following SQLAlchemy's
    documented recipe ("Serializable isolation / Savepoints / Transactional
    DDL"). Read-only transactions (:func:`reader`) use a plain ``BEGIN``
    and run beside the writer.
PostgreSQL (production)
    Through psycopg2, with ``pool_pre_ping`` so a restarted server costs a
    retry, not an error.

:func:`upgrade` brings a database to the newest schema with Alembic, run
from the migrations inside this package: it needs no ``alembic.ini`` and
works from an installed package. ``stacksync-swift db upgrade``, the
all-in-one and the test fixtures call it.
"""

import contextlib
import functools
import os

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy import pool
from sqlalchemy.orm import Session

from stacksync_swift.metadata import errors

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'migrations')
HEAD = 'head'

# How long an SQLite writer waits for another process's transaction.
SQLITE_BUSY_TIMEOUT = 30.0

# Any constant: serializes concurrent upgrades on one PostgreSQL database.
_UPGRADE_LOCK_KEY = 0x5354534E

_READ_ONLY = 'stacksync_read_only'


def create_engine(url, **kwargs):
    """An engine for ``url`` set up as the module docstring describes."""
    url = sqlalchemy.engine.make_url(url)
    if url.get_backend_name() == 'sqlite':
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault('pool_pre_ping', True)
    return sqlalchemy.create_engine(url, **kwargs)


def reader(engine):
    """The same engine (same pool) for read-only transactions.

    A read sees one snapshot from its first statement to its end, so a
    delta and the chunk lists read after it agree: SQLite's deferred
    ``BEGIN`` in WAL mode gives that, PostgreSQL needs REPEATABLE READ.
    """
    options = {_READ_ONLY: True}
    if engine.dialect.name == 'postgresql':
        options['isolation_level'] = 'REPEATABLE READ'
    return engine.execution_options(**options)


def _sqlite_engine(url, **kwargs):
    connect_args = kwargs.pop('connect_args', {})
    connect_args.setdefault('timeout', SQLITE_BUSY_TIMEOUT)
    # The pool hands a connection to one thread at a time.
    connect_args.setdefault('check_same_thread', False)
    if url.database in (None, '', ':memory:'):
        # One shared connection, or every checkout is an empty database.
        kwargs.setdefault('poolclass', pool.StaticPool)
    engine = sqlalchemy.create_engine(url, connect_args=connect_args,
                                      **kwargs)
    event.listen(engine, 'connect', functools.partial(
        _sqlite_on_connect, busy_timeout=connect_args['timeout']))
    event.listen(engine, 'begin', _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection, connection_record, busy_timeout):
    # Let SQLAlchemy's "begin" event emit BEGIN, not pysqlite.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute('PRAGMA busy_timeout = %d' % (busy_timeout * 1000))
        cursor.execute('PRAGMA journal_mode = WAL')
        cursor.execute('PRAGMA synchronous = NORMAL')
        cursor.execute('PRAGMA foreign_keys = ON')
    finally:
        cursor.close()


def _sqlite_on_begin(conn):
    if conn.get_execution_options().get(_READ_ONLY):
        conn.exec_driver_sql('BEGIN')
    else:
        conn.exec_driver_sql('BEGIN IMMEDIATE')


@contextlib.contextmanager
def session(engine):
    """One transaction: commits on success, rolls back on any error.

    Objects stay readable after the commit (``expire_on_commit=False``),
    and database failures come out as domain errors (see
    :func:`translated_errors`). Use ``reader(engine)`` for read-only work.
    """
    with translated_errors(), \
            Session(engine, expire_on_commit=False) as opened, \
            opened.begin():
        yield opened


@contextlib.contextmanager
def translated_errors():
    """Database failures as domain errors; never a raw driver exception.

    An integrity error here is a race the checks could not see (two
    sessions creating one user name): the caller may retry. Lost
    connections, lock timeouts and deadlocks are temporary.
    """
    try:
        yield
    except sa_exc.IntegrityError as error:
        raise errors.Unavailable('a concurrent change got there first; '
                                 'try again') from error
    except sa_exc.DBAPIError as error:
        if error.connection_invalidated or _is_transient(error):
            raise errors.Unavailable() from error
        raise


def is_race(error):
    """True for the Unavailable that an integrity race turned into."""
    return isinstance(error, errors.Unavailable) and \
        isinstance(error.__cause__, sa_exc.IntegrityError)


def _is_transient(error):
    code = getattr(error.orig, 'pgcode', None)
    if code in ('40001', '40P01', '55P03'):
        return True
    if code is None and hasattr(error.orig, 'pgcode') and \
            isinstance(error, sa_exc.OperationalError):
        # psycopg2 without an SQLSTATE: the client could not reach the
        # server (refused, shutting down, starting up), e.g. a restart.
        return True
    return 'database is locked' in str(error.orig)


def alembic_config(connection=None):
    """An Alembic config for our migrations, bound to ``connection``."""
    config = Config()
    config.set_main_option('script_location', MIGRATIONS)
    config.attributes['connection'] = connection
    return config


def upgrade(url_or_engine, revision=HEAD):
    """Migrate the database to ``revision`` (default: the newest).

    Safe to run from several processes at once: on SQLite the migration
    transaction holds the write lock from its start, on PostgreSQL an
    advisory lock; whoever comes second finds the work done.
    """
    engine, owned = _engine_for(url_or_engine)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == 'postgresql':
                connection.exec_driver_sql(
                    'SELECT pg_advisory_xact_lock(%d)' % _UPGRADE_LOCK_KEY)
            command.upgrade(alembic_config(connection), revision)
    finally:
        if owned:
            engine.dispose()


def current_revision(url_or_engine):
    """The schema revision the database is at, or None if it has none."""
    engine, owned = _engine_for(url_or_engine)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(
                connection).get_current_revision()
    finally:
        if owned:
            engine.dispose()


def _engine_for(url_or_engine):
    if isinstance(url_or_engine, sqlalchemy.engine.Engine):
        return url_or_engine, False
    return create_engine(url_or_engine), True
