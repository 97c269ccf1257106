"""Alembic environment of the metadata schema.

Run through :func:`stacksync_swift.metadata.db.upgrade`, which passes an
open connection in ``config.attributes['connection']`` (so SQLite gets its
pragmas and ``BEGIN IMMEDIATE``). The plain ``alembic`` command works too,
given ``-x url=<database url>``, for writing new migrations.
"""

from alembic import context

from stacksync_swift.metadata import db
from stacksync_swift.metadata import models


def run_migrations(connection):
    context.configure(
        connection=connection,
        target_metadata=models.Base.metadata,
        # SQLite alters tables by copying them ("batch" mode).
        render_as_batch=connection.dialect.name == 'sqlite')
    with context.begin_transaction():
        context.run_migrations()


def main():
    connection = context.config.attributes.get('connection')
    if connection is not None:
        run_migrations(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get('url')
    if not url:
        raise SystemExit('give the database with -x url=<database url>')
    engine = db.create_engine(url)
    try:
        with engine.begin() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


main()
