"""Fixtures: a migrated metadata service on SQLite and on PostgreSQL.

Every service test runs twice, once per backend:

``sqlite``
    A fresh database file in the test's ``tmp_path``, migrated with
    :func:`stacksync_swift.metadata.db.upgrade` (WAL, so the thread tests
    exercise the same locking as several proxy processes).
``postgresql``
    The server named by ``STACKSYNC_TEST_POSTGRES_URL``, e.g.
    ``postgresql+psycopg2://stacksync:stacksync@127.0.0.1/stacksync_test``.
    The session starts by dropping and recreating the ``public`` schema and
    migrating it; each test then starts from empty tables (TRUNCATE), which
    keeps the suite fast. The role must own the database (it drops and
    recreates ``public``); it needs neither CREATEDB nor SUPERUSER.

Without the variable the PostgreSQL cases are skipped, unless ``CI`` is
``true``: then they fail, so CI can never go green without PostgreSQL.
"""


import pytest
import sqlalchemy

from stacksync_swift.metadata import db
from stacksync_swift.metadata.service import MetadataService
from tests.servers import postgres_url

BACKENDS = ['sqlite',
            pytest.param('postgresql', marks=pytest.mark.postgresql)]



@pytest.fixture(scope='session')
def postgres_engine():
    """One migrated PostgreSQL database for the whole session."""
    engine = db.create_engine(postgres_url())
    with engine.begin() as connection:
        connection.exec_driver_sql('DROP SCHEMA IF EXISTS public CASCADE')
        connection.exec_driver_sql('CREATE SCHEMA public')
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _truncate(engine):
    with engine.begin() as connection:
        tables = ', '.join(connection.exec_driver_sql(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE "
            "schemaname = 'public' AND tablename != 'alembic_version'"
        ).scalars())
        connection.exec_driver_sql(
            'TRUNCATE %s RESTART IDENTITY CASCADE' % tables)


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """The URL of an empty, migrated database on each backend."""
    if request.param == 'sqlite':
        url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
        db.upgrade(url)
        return url
    _truncate(request.getfixturevalue('postgres_engine'))
    return postgres_url()


@pytest.fixture
def engine(database_url, request):
    if database_url.startswith('sqlite'):
        engine = db.create_engine(database_url)
        yield engine
        engine.dispose()
    else:
        yield request.getfixturevalue('postgres_engine')


@pytest.fixture
def service(engine):
    return MetadataService(engine)


@pytest.fixture
def backend(database_url):
    return sqlalchemy.engine.make_url(database_url).get_backend_name()
