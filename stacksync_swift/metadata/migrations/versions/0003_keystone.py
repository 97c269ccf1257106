"""Keystone identities: which Keystone user a StackSync user is.

Revision ID: 0003_keystone
Revises: 0002_oauth
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = '0003_keystone'
down_revision = '0002_oauth'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('keystone_id', sa.String(64),
                                   nullable=True))
    op.create_index('ix_users_keystone_id', 'users', ['keystone_id'],
                    unique=True)


def downgrade():
    op.drop_index('ix_users_keystone_id', 'users')
    with op.batch_alter_table('users') as batch:
        batch.drop_column('keystone_id')
