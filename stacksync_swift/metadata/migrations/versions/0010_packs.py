"""The chunk index: packs and where each chunk lies in them.

``packs`` lists the pack objects of each container and
``chunk_locations`` maps (container, chunk) to (pack, offset, length)
(DESIGN.md "Chunks and packs"; stacksync_swift.packs). Existing databases
start with none: chunks stored one per object before this migration have
no row and stay readable from their own objects; ``stacksync-swift
chunk-index repack`` moves them into packs when the operator wants.

Revision ID: 0010_packs
Revises: 0009_consumer_callback
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = '0010_packs'
down_revision = '0009_consumer_callback'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'packs',
        sa.Column('container', sa.String(64), nullable=False),
        sa.Column('name', sa.String(40), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('chunk_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('container', 'name', name='pk_packs'))
    op.create_table(
        'chunk_locations',
        sa.Column('container', sa.String(64), nullable=False),
        sa.Column('name', sa.String(68), nullable=False),
        sa.Column('pack', sa.String(40), nullable=False),
        sa.Column('offset', sa.BigInteger(), nullable=False),
        sa.Column('length', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('container', 'name',
                                name='pk_chunk_locations'))
    op.create_index('ix_chunk_locations_pack', 'chunk_locations',
                    ['container', 'pack'])


def downgrade():
    op.drop_index('ix_chunk_locations_pack', 'chunk_locations')
    op.drop_table('chunk_locations')
    op.drop_table('packs')
