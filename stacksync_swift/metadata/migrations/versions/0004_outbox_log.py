"""The outbox as an event log: the order in which the relay published.

``outbox.published`` numbers published events one after another across the
whole database (the relay takes a lock to assign it). The embedded event
transport reads the outbox in this order; ids cannot serve, because on
PostgreSQL a transaction may commit a smaller id after a larger one is
visible.

Revision ID: 0004_outbox_log
Revises: 0003_keystone
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = '0004_outbox_log'
down_revision = '0003_keystone'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(sa.Column('published', sa.BigInteger(),
                                   nullable=True))
    op.create_index('ix_outbox_published', 'outbox', ['published'],
                    unique=True)


def downgrade():
    op.drop_index('ix_outbox_published', 'outbox')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('published')
