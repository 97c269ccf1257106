"""Encrypted shared folders: the container that salts a workspace's key.

A folder shared out of an encrypted workspace becomes a new workspace
with a new container, but its copied chunks stay sealed under the
origin's key, which clients derive with the origin's container name as
the salt. ``workspaces.key_container`` records that name; NULL (every
existing row) means the workspace's own container. See
stacksync_swift.client.codec.

Revision ID: 0007_key_container
Revises: 0006_web
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = '0007_key_container'
down_revision = '0006_web'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workspaces') as batch:
        batch.add_column(sa.Column('key_container', sa.String(64),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('workspaces') as batch:
        batch.drop_column('key_container')
