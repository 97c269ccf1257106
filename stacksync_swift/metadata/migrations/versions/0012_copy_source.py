"""Shared folders usable before their history is copied.

``workspaces.copy_source`` names the container a shared workspace's chunks
are still being copied from: the first accept of a folder moves its items
at once and the copy runs after the request (stacksync_swift.sharing);
reads fall back to this container until the copy is done and the column
is cleared. Existing workspaces get NULL: nothing to copy.

Revision ID: 0012_copy_source
Revises: 0011_gc
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = '0012_copy_source'
down_revision = '0011_gc'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workspaces') as table:
        table.add_column(sa.Column('copy_source', sa.String(64),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('workspaces') as table:
        table.drop_column('copy_source')
