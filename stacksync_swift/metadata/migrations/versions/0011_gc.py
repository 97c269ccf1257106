"""Garbage collection: condemned chunks and retired packs.

``chunk_locations.condemned_at`` marks a chunk no version referenced when
``stacksync-swift gc`` last looked; a later run removes its row if it is
still unreferenced a grace period later (:mod:`stacksync_swift.gc`).
``packs.retired_at`` marks a pack whose live chunks were copied into a
new pack; its object is deleted a grace period later, when no reader can
still hold its old locations. Existing rows get NULL: live and current.

Revision ID: 0011_gc
Revises: 0010_packs
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = '0011_gc'
down_revision = '0010_packs'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chunk_locations') as table:
        table.add_column(sa.Column('condemned_at', sa.DateTime(),
                                   nullable=True))
    with op.batch_alter_table('packs') as table:
        table.add_column(sa.Column('retired_at', sa.DateTime(),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('packs') as table:
        table.drop_column('retired_at')
    with op.batch_alter_table('chunk_locations') as table:
        table.drop_column('condemned_at')
