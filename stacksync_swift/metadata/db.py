"""Database engines and schema upgrades for the metadata service.

:func:`create_engine` makes the one engine a process needs from the
``database_url`` option:

SQLite (the all-in-one default)
    Several proxy worker processes share one file, so each connection turns
    on WAL (readers never block the writer), a busy wait (a writer waits
    for the lock instead of failing) and foreign keys. Write transactions
    start with ``BEGIN IMMEDIATE``: they take the write lock before their
    first read, so two processes can never both hold a read snapshot and
    then deadlock upgrading it to a write. pysqlite's own transaction
    handling is turned off for this, following SQLAlchemy's documented
    recipe ("Serializable isolation / Savepoints / Transactional DDL").
    Read-only transactions (:func:`reader`) use a plain ``BEGIN`` and run
    beside the writer. A writer waits for the lock at most
    :data:`SQLITE_BUSY_TIMEOUT` seconds, then the request gets a 503.
PostgreSQL (production)
    Through psycopg2, with ``pool_pre_ping`` so a restarted server costs a
    retry, not an error. ``connect_timeout`` bounds a connection attempt
    (libpq's option of that name) and ``statement_timeout`` each statement,
    lock waits included (the server's setting, sent with each new
    connection); a timed-out statement is a 503, never a stuck request.

Under eventlet (the Swift proxy)
--------------------------------
Swift's proxy runs every request of a worker on one eventlet hub and
patches only ``socket``, ``select`` and ``thread``. Database drivers and
scrypt are C code that the patching does not reach: while one of them
waits or computes, every request of the worker waits, plain Swift ones
included. So, when :func:`running_green`:

* psycopg2 gets a wait callback (:func:`make_green`, called by
  :mod:`stacksync_swift.services` when the filters load): libpq works in
  non-blocking mode and each wait for the server is a green wait on its
  socket. libpq's ``connect_timeout`` does not apply to non-blocking
  connections, so the callback enforces it, and bounds each statement by
  ``statement_timeout`` plus ``connect_timeout`` for a server that stopped
  answering altogether (a dropped link); the connection is then closed
  and the request gets a 503.
* SQLite's C busy wait is cut to :data:`SQLITE_BUSY_STEP` per try and
  ``BEGIN IMMEDIATE`` is retried after green sleeps until
  :data:`SQLITE_BUSY_TIMEOUT`: a write lock held by another process (or by
  another green thread of this one, which could never release it while the
  C busy wait held the hub) stalls the hub for milliseconds, not seconds.
  Outside eventlet (the operator's command, tools, tests) the C busy wait
  does the whole wait: it blocks only its own thread.
* :func:`off_hub` runs CPU-heavy calls (scrypt password hashing, in
  :mod:`.service`) in eventlet's pool of OS threads, at most
  :data:`CPU_SLOTS` at a time so one core stays free for the hub.

:func:`upgrade` brings a database to the newest schema with Alembic, run
from the migrations inside this package: it needs no ``alembic.ini`` and
works from an installed package. ``stacksync-swift db upgrade``, the
all-in-one and the test fixtures call it.
"""

import contextlib
import functools
import os
import threading
import time

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
# Under eventlet: SQLite's own busy wait per try (it holds the hub), and
# the green sleeps between tries.
SQLITE_BUSY_STEP = 0.01
SQLITE_RETRY_FIRST = 0.002
SQLITE_RETRY_MOST = 0.05
# Under eventlet: how much longer than statement_timeout a statement may
# go without a word from the server, when no connect_timeout is set.
STATEMENT_GRACE = 5.0
# Under eventlet: CPU-heavy calls at once in OS threads, per process.
CPU_SLOTS = max(1, (os.cpu_count() or 2) - 1)

# Any constant: serializes concurrent upgrades on one PostgreSQL database.
_UPGRADE_LOCK_KEY = 0x5354534E

_READ_ONLY = 'stacksync_read_only'


# Values per IN (...) list: well under every backend's parameter limit.
IN_LIST = 500

def create_engine(url, connect_timeout=None, statement_timeout=None,
                  green=None, **kwargs):
    """An engine for ``url`` set up as the module docstring describes.

    ``connect_timeout`` (whole seconds) and ``statement_timeout``
    (seconds, 0 or None for no limit) apply to PostgreSQL. ``green``
    says whether the engine serves eventlet green threads (the SQLite
    busy wait above); None finds out with :func:`running_green`.
    """
    url = sqlalchemy.engine.make_url(url)
    if url.get_backend_name() == 'sqlite':
        if green is None:
            green = running_green()
        return _sqlite_engine(url, green, **kwargs)
    if url.get_backend_name() == 'postgresql':
        kwargs['connect_args'] = _postgresql_args(
            kwargs.get('connect_args', {}), connect_timeout,
            statement_timeout)
    kwargs.setdefault('pool_pre_ping', True)
    return sqlalchemy.create_engine(url, **kwargs)


def _postgresql_args(connect_args, connect_timeout, statement_timeout):
    connect_args = dict(connect_args)
    if connect_timeout:
        connect_args.setdefault('connect_timeout', int(connect_timeout))
    if statement_timeout:
        setting = '-c statement_timeout=%d' % round(statement_timeout * 1000)
        options = connect_args.get('options')
        connect_args['options'] = '%s %s' % (options, setting) \
            if options else setting
    return connect_args


def running_green():
    """True in a process that eventlet patched, such as Swift's proxy."""
    try:
        from eventlet import patcher
    except ImportError:
        return False
    return patcher.is_monkey_patched('thread')


def pause(seconds):
    """Sleep: a green sleep under eventlet (Swift leaves ``time`` alone).
    """
    if running_green():
        import eventlet
        eventlet.sleep(seconds)
    else:
        time.sleep(seconds)


_cpu_slots = []
_cpu_slots_guard = threading.Lock()


def off_hub(function, *args):
    """``function(*args)``, in an OS thread when running green.

    For C calls that release the GIL and compute for a long time (scrypt):
    under eventlet they would hold the hub meanwhile. At most
    :data:`CPU_SLOTS` run at once; the others wait green. Outside
    eventlet, a plain call.
    """
    if not running_green():
        return function(*args)
    from eventlet import semaphore
    from eventlet import tpool
    with _cpu_slots_guard:
        if not _cpu_slots:
            _cpu_slots.append(semaphore.Semaphore(CPU_SLOTS))
    with _cpu_slots[0]:
        return tpool.execute(function, *args)


def make_green(url):
    """Make the driver of ``url`` wait green, if it needs to (psycopg2).

    Process-wide (psycopg2 has one wait callback); call it only in a
    process that runs green threads. Idempotent.
    """
    url = sqlalchemy.engine.make_url(url)
    if url.get_backend_name() == 'postgresql' and \
            url.get_driver_name() == 'psycopg2':
        make_psycopg2_green()


def make_psycopg2_green():
    """Make psycopg2 wait for the server with green waits (see above)."""
    from psycopg2 import extensions
    if extensions.get_wait_callback() is not _green_wait:
        extensions.set_wait_callback(_green_wait)


def _green_wait(conn):
    """psycopg2's wait callback: green waits, bounded by the timeouts.

    The timeouts come from the connection's own parameters (set by
    :func:`create_engine`), so engines with different settings share the
    one callback.
    """
    import psycopg2
    from eventlet import hubs
    from psycopg2 import extensions
    connecting = conn.status not in (extensions.STATUS_READY,
                                     extensions.STATUS_BEGIN,
                                     extensions.STATUS_PREPARED)
    limit = _wait_limits(conn.dsn)[0 if connecting else 1]
    deadline = None if limit is None else time.monotonic() + limit
    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state not in (extensions.POLL_READ, extensions.POLL_WRITE):
            raise psycopg2.OperationalError(
                'bad result from poll: %r' % state)
        timeout = None if deadline is None else \
            max(0.0, deadline - time.monotonic())
        try:
            hubs.trampoline(conn.fileno(),
                            read=state == extensions.POLL_READ,
                            write=state == extensions.POLL_WRITE,
                            timeout=timeout, timeout_exc=_NoAnswer)
        except _NoAnswer:
            conn.close()
            # The wording is libpq's for a lost link, which SQLAlchemy
            # knows: the pool throws the connection away.
            raise psycopg2.OperationalError(
                'could not receive data from server: no answer in %g s '
                '(%s)' % (limit, 'connect_timeout' if connecting else
                          'statement_timeout + connect_timeout')) from None


class _NoAnswer(Exception):
    pass


@functools.lru_cache(maxsize=64)
def _wait_limits(dsn):
    """(connect limit, statement limit) in seconds for a DSN; None: none.
    """
    from psycopg2 import extensions
    params = extensions.parse_dsn(dsn)
    connect = float(params.get('connect_timeout') or 0) or None
    statement = None
    for option in (params.get('options') or '').split('-c'):
        name, _, value = option.strip().partition('=')
        if name.strip() == 'statement_timeout' and value.strip().isdigit():
            statement = int(value) / 1000.0 or None
    if statement is not None:
        # The server's own cancellation comes first, when it can answer.
        statement += connect or STATEMENT_GRACE
    return connect, statement


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


def _sqlite_engine(url, green, **kwargs):
    connect_args = dict(kwargs.pop('connect_args', {}))
    connect_args.setdefault(
        'timeout', SQLITE_BUSY_STEP if green else SQLITE_BUSY_TIMEOUT)
    # The pool hands a connection to one thread at a time.
    connect_args.setdefault('check_same_thread', False)
    if url.database in (None, '', ':memory:'):
        # One shared connection, or every checkout is an empty database.
        kwargs.setdefault('poolclass', pool.StaticPool)
    engine = sqlalchemy.create_engine(url, connect_args=connect_args,
                                      **kwargs)
    event.listen(engine, 'connect', functools.partial(
        _sqlite_on_connect, busy_timeout=connect_args['timeout']))
    event.listen(engine, 'begin', functools.partial(
        _sqlite_on_begin, patience=SQLITE_BUSY_TIMEOUT if green else 0))
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


def _sqlite_on_begin(conn, patience=0):
    """BEGIN; a writer retries for ``patience`` seconds if SQLite is busy.

    Each try waits :data:`SQLITE_BUSY_STEP` in SQLite's C busy handler
    (the connection's ``busy_timeout``), then sleeps (green) before the
    next, for longer each time.
    """
    if conn.get_execution_options().get(_READ_ONLY):
        conn.exec_driver_sql('BEGIN')
        return
    deadline = time.monotonic() + patience
    wait = SQLITE_RETRY_FIRST
    while True:
        try:
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            return
        except sa_exc.OperationalError as error:
            if 'database is locked' not in str(error.orig) or \
                    time.monotonic() + wait > deadline:
                raise
        pause(wait)
        wait = min(wait * 2, SQLITE_RETRY_MOST)


def batches(items):
    """``items`` (a sequence) in slices of at most :data:`IN_LIST`, for
    ``IN (...)`` lists well under every backend's parameter limit."""
    for start in range(0, len(items), IN_LIST):
        yield items[start:start + IN_LIST]


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
    # Serialization failure, deadlock, lock not available, and a statement
    # cancelled by statement_timeout.
    if code in ('40001', '40P01', '55P03', '57014'):
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
