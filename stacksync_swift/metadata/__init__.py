"""The metadata and sync service: plain Python and SQLAlchemy.

What the original StackSync sync server did (getAccount, getWorkspaces,
getChanges, commit) lives here, with no WSGI and no Swift in it:

:mod:`~stacksync_swift.metadata.models`
    The schema (SQLAlchemy 2 declarative); :mod:`.migrations` holds its
    Alembic history.
:mod:`~stacksync_swift.metadata.db`
    Engines (SQLite tuned for several proxy processes, PostgreSQL) and
    :func:`~stacksync_swift.metadata.db.upgrade`.
:mod:`~stacksync_swift.metadata.service`
    :class:`~stacksync_swift.metadata.service.MetadataService`, the
    operations the API, the web site and the operator's command call.
:mod:`~stacksync_swift.metadata.names`
    Name rules and conflicted-copy names; pure, so the sync client shares
    them.
:mod:`~stacksync_swift.metadata.errors`
    The domain errors the WSGI layer turns into HTTP answers.

This package imports nothing on purpose: the sync client imports
:mod:`.names` without pulling in SQLAlchemy.
"""
