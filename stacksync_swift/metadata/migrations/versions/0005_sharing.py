"""Sharing: proposals, mount points, and the ACL state of workspaces.

``share_proposals`` holds offers to share a folder; ``mounts`` marks the
folder items that stand for a shared workspace's root; ``workspaces``
gains ``acl_version`` (membership changes so far) and ``acl_synced`` (the
one the container's ACLs show), which the ACL reconciler compares. See
stacksync_swift.sharing.

Revision ID: 0005_sharing
Revises: 0004_outbox_log
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = '0005_sharing'
down_revision = '0004_outbox_log'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('workspaces') as batch:
        batch.add_column(sa.Column('acl_version', sa.BigInteger(),
                                   server_default='0', nullable=False))
        batch.add_column(sa.Column('acl_synced', sa.BigInteger(),
                                   server_default='0', nullable=False))
    op.create_table(
        'share_proposals',
        sa.Column('id', Id, nullable=False),
        sa.Column('folder_id', Id, nullable=False),
        sa.Column('sender_id', Id, nullable=False),
        sa.Column('addressee_id', Id, nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['folder_id'], ['items.id'],
            name='fk_share_proposals_folder_id_items', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['sender_id'], ['users.id'],
            name='fk_share_proposals_sender_id_users', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['addressee_id'], ['users.id'],
            name='fk_share_proposals_addressee_id_users',
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_share_proposals'))
    op.create_index('ix_share_proposals_addressee_id_status',
                    'share_proposals', ['addressee_id', 'status'])
    op.create_index('ix_share_proposals_folder_id', 'share_proposals',
                    ['folder_id'])
    op.create_index('ix_share_proposals_sender_id', 'share_proposals',
                    ['sender_id'])
    op.create_table(
        'mounts',
        sa.Column('item_id', Id, nullable=False),
        sa.Column('workspace_id', Id, nullable=False),
        sa.ForeignKeyConstraint(
            ['item_id'], ['items.id'],
            name='fk_mounts_item_id_items', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['workspace_id'], ['workspaces.id'],
            name='fk_mounts_workspace_id_workspaces', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('item_id', name='pk_mounts'))
    op.create_index('ix_mounts_workspace_id', 'mounts', ['workspace_id'])


def downgrade():
    op.drop_table('mounts')
    op.drop_table('share_proposals')
    with op.batch_alter_table('workspaces') as batch:
        batch.drop_column('acl_synced')
        batch.drop_column('acl_version')
