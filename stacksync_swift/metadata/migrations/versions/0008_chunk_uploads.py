"""Chunk uploads count against the quota before their commit.

``chunk_uploads`` lists the chunks stored in a workspace's container that
no version references yet, with their sizes; the workspace owner's quota
counts them (see stacksync_swift.metadata.service, "Quota"). Existing
databases start with none: chunks stored before this migration and never
committed stay uncounted, as they were.

Revision ID: 0008_chunk_uploads
Revises: 0007_key_container
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = '0008_chunk_uploads'
down_revision = '0007_key_container'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'chunk_uploads',
        sa.Column('workspace_id', sa.BigInteger().with_variant(
            sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('name', sa.String(68), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['workspace_id'], ['workspaces.id'], ondelete='CASCADE',
            name='fk_chunk_uploads_workspace_id_workspaces'),
        sa.PrimaryKeyConstraint('workspace_id', 'name',
                                name='pk_chunk_uploads'))


def downgrade():
    op.drop_table('chunk_uploads')
