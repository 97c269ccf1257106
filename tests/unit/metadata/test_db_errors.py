"""Database failures come out of a session as domain errors.

Regression: with PostgreSQL restarting, a new connection is refused (or
the server says it is shutting down or starting up). psycopg2 raises an
OperationalError without an SQLSTATE, which escaped :func:`db.session`
raw, so the filters logged it as an unhandled error. It is
:class:`errors.Unavailable` (503, retry) now; a server-side error with an
SQLSTATE that is not transient still propagates.
"""

import sqlite3

import psycopg2
import pytest
from sqlalchemy import exc as sa_exc

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors


def raised(orig, wrapper=sa_exc.OperationalError):
    with db.translated_errors():
        raise wrapper('SELECT 1', {}, orig)


@pytest.mark.parametrize('message', [
    'connection to server at "127.0.0.1", port 5432 failed: '
    'Connection refused',
    'FATAL:  the database system is shutting down',
    'FATAL:  the database system is starting up',
])
def test_an_unreachable_postgres_is_unavailable(message):
    with pytest.raises(errors.Unavailable):
        raised(psycopg2.OperationalError(message))


def test_a_locked_sqlite_database_is_unavailable():
    with pytest.raises(errors.Unavailable):
        raised(sqlite3.OperationalError('database is locked'))


def test_other_sqlite_operational_errors_propagate():
    with pytest.raises(sa_exc.OperationalError):
        raised(sqlite3.OperationalError('no such table: items'))
