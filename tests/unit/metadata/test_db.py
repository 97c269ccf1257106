"""Engines and migrations: the schema Alembic builds is the models'."""

import warnings

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event

from stacksync_swift.metadata import db
from stacksync_swift.metadata import models
from stacksync_swift.metadata import web  # noqa: F401 (its models)


def _only_our_tables(obj, name, type_, reflected, compare_to):
    # Tables of later features may be in the database without their
    # models imported here: they are theirs to check.
    return not (type_ == 'table' and reflected and compare_to is None)


def head():
    return ScriptDirectory.from_config(db.alembic_config()).get_current_head()


def test_migrations_build_exactly_the_models(engine):
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={'include_object': _only_our_tables})
        with warnings.catch_warnings():
            # SQLite cannot reflect the live-name index (an expression);
            # test_indexes_for_deltas_listings_and_live_names checks it.
            warnings.simplefilter('ignore')
            diff = compare_metadata(context, models.Base.metadata)
    assert diff == []


def test_initial_revision_starts_the_history():
    script = ScriptDirectory.from_config(db.alembic_config())
    assert script.get_revision('0001_initial').down_revision is None
    assert '0001_initial' in [rev.revision for rev in script.walk_revisions()]


def test_upgrade_is_at_head_and_idempotent(database_url):
    assert db.current_revision(database_url) == head()
    db.upgrade(database_url)
    assert db.current_revision(database_url) == head()


def test_fresh_database_has_no_revision(tmp_path):
    assert db.current_revision('sqlite:///%s' % (tmp_path / 'x')) is None


@pytest.mark.filterwarnings('ignore:Skipped unsupported reflection')
def test_indexes_for_deltas_listings_and_live_names(engine):
    inspector = sqlalchemy.inspect(engine)
    unique = {tuple(constraint['column_names'])
              for constraint in inspector.get_unique_constraints('items')}
    assert ('workspace_id', 'seq') in unique
    with engine.connect() as connection:
        indexes = dict(connection.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'items'"
            if engine.dialect.name == 'postgresql' else
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = 'items'").all())
    assert 'ix_items_workspace_id_parent_id_name' in indexes
    assert 'ix_items_parent_id' in indexes
    live_name = indexes['uq_items_live_name']
    assert 'UNIQUE' in live_name and 'coalesce' in live_name.lower()
    assert 'DELETED' in live_name


def test_sqlite_connections_are_tuned_for_several_processes(tmp_path):
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'm.sqlite'))
    with engine.connect() as connection:
        def pragma(name):
            return connection.exec_driver_sql('PRAGMA %s' % name).scalar()
        assert pragma('journal_mode') == 'wal'
        assert pragma('foreign_keys') == 1
        assert pragma('busy_timeout') == 30000
    engine.dispose()


def test_sqlite_writers_begin_immediate_and_readers_do_not(tmp_path):
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'm.sqlite'))
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(engine, 'before_cursor_execute', record)
    with engine.begin() as connection:
        connection.exec_driver_sql('SELECT 1')
    with db.reader(engine).begin() as connection:
        connection.exec_driver_sql('SELECT 1')
    assert statements == ['BEGIN IMMEDIATE', 'SELECT 1', 'BEGIN',
                          'SELECT 1']
    engine.dispose()


def test_sqlite_write_lock_is_taken_at_begin(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'm.sqlite')
    first = db.create_engine(url)
    second = db.create_engine(url, connect_args={'timeout': 0.1})
    with first.begin():
        with pytest.raises(Exception, match='locked'):
            with second.begin():
                pass
        # Readers are not blocked by the writer (WAL).
        with db.reader(second).begin() as connection:
            assert connection.exec_driver_sql('SELECT 1').scalar() == 1
    first.dispose()
    second.dispose()


def test_in_memory_sqlite_keeps_one_database(tmp_path):
    engine = db.create_engine('sqlite://')
    db.upgrade(engine)
    assert db.current_revision(engine) == head()
    engine.dispose()


@pytest.mark.parametrize('where, index', [
    ('workspace_id = 1 AND seq > 5 ORDER BY seq', 'workspace_id=? AND seq>?'),
    ("workspace_id = 1 AND parent_id = 2 AND name = 'a' "
     "AND status != 'DELETED'", 'workspace_id=? AND parent_id=? AND name=?'),
    ('workspace_id = 1 AND parent_id IS NULL ORDER BY name',
     'workspace_id=? AND parent_id=?')])
def test_deltas_and_listings_search_an_index(tmp_path, where, index):
    url = 'sqlite:///%s' % (tmp_path / 'm.sqlite')
    db.upgrade(url)
    engine = db.create_engine(url)
    with engine.connect() as connection:
        plan = ' '.join(row[-1] for row in connection.exec_driver_sql(
            'EXPLAIN QUERY PLAN SELECT * FROM items WHERE '  # noqa: S608
            + where))
    engine.dispose()
    assert 'SEARCH items USING' in plan and index in plan
    assert 'SCAN' not in plan
