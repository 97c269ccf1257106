"""The initial schema: users, devices, workspaces, items, versions, outbox.

Revision ID: 0001_initial
Revises:
Create Date: 2025-01-01

See stacksync_swift.metadata.models for what each table and index is for.
A migration is a frozen copy of the schema at its time: it must not import
the models, which keep changing.
"""

import sqlalchemy as sa
from alembic import op

revision = '0001_initial'
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
LIVE = sa.text("status != 'DELETED'")
UNSENT = sa.text('sent_at IS NULL')


def upgrade():
    op.create_table(
        'users',
        sa.Column('id', Id, nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('email', sa.String(255), nullable=True),
        sa.Column('password_hash', sa.String(255), nullable=True),
        sa.Column('quota_limit', sa.BigInteger(), nullable=False),
        sa.Column('quota_used', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_users'),
        sa.UniqueConstraint('name', name='uq_users_name'))
    op.create_table(
        'devices',
        sa.Column('id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('last_seen', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name='fk_devices_user_id_users',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_devices'),
        sa.UniqueConstraint('user_id', 'name',
                            name='uq_devices_user_id_name'))
    op.create_table(
        'workspaces',
        sa.Column('id', Id, nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('container', sa.String(64), nullable=False),
        sa.Column('owner_id', Id, nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('is_shared', sa.Boolean(), nullable=False),
        sa.Column('encrypted', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'],
                                name='fk_workspaces_owner_id_users',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_workspaces'),
        sa.UniqueConstraint('container', name='uq_workspaces_container'))
    op.create_index('ix_workspaces_owner_id', 'workspaces', ['owner_id'])
    op.create_table(
        'workspace_members',
        sa.Column('workspace_id', Id, nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('role', sa.String(16), nullable=False),
        sa.Column('joined_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name='fk_workspace_members_user_id_users', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['workspace_id'], ['workspaces.id'],
            name='fk_workspace_members_workspace_id_workspaces',
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id', 'user_id',
                                name='pk_workspace_members'))
    op.create_index('ix_workspace_members_user_id', 'workspace_members',
                    ['user_id'])
    op.create_table(
        'items',
        sa.Column('id', Id, nullable=False),
        sa.Column('workspace_id', Id, nullable=False),
        sa.Column('parent_id', Id, nullable=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('is_folder', sa.Boolean(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_hash', sa.String(64), nullable=True),
        sa.Column('mimetype', sa.String(255), nullable=True),
        sa.Column('modified_at', sa.DateTime(), nullable=False),
        sa.Column('device_id', Id, nullable=True),
        sa.Column('user_id', Id, nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'],
                                name='fk_items_device_id_devices',
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['parent_id'], ['items.id'],
                                name='fk_items_parent_id_items',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name='fk_items_user_id_users',
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'],
                                name='fk_items_workspace_id_workspaces',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_items'),
        sa.UniqueConstraint('workspace_id', 'seq',
                            name='uq_items_workspace_id_seq'))
    op.create_index('ix_items_parent_id', 'items', ['parent_id'])
    op.create_index('ix_items_workspace_id_parent_id_name', 'items',
                    ['workspace_id', 'parent_id', 'name'])
    op.create_index('uq_items_live_name', 'items',
                    ['workspace_id', sa.text('coalesce(parent_id, 0)'),
                     'name'],
                    unique=True, sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_table(
        'item_versions',
        sa.Column('id', Id, nullable=False),
        sa.Column('item_id', Id, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('parent_id', Id, nullable=True),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_hash', sa.String(64), nullable=True),
        sa.Column('mimetype', sa.String(255), nullable=True),
        sa.Column('modified_at', sa.DateTime(), nullable=False),
        sa.Column('device_id', Id, nullable=True),
        sa.Column('user_id', Id, nullable=True),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['device_id'], ['devices.id'],
                                name='fk_item_versions_device_id_devices',
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['item_id'], ['items.id'],
                                name='fk_item_versions_item_id_items',
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name='fk_item_versions_user_id_users',
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_item_versions'),
        sa.UniqueConstraint('item_id', 'version',
                            name='uq_item_versions_item_id_version'))
    op.create_table(
        'version_chunks',
        sa.Column('version_id', Id, nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(68), nullable=False),
        sa.ForeignKeyConstraint(
            ['version_id'], ['item_versions.id'],
            name='fk_version_chunks_version_id_item_versions',
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('version_id', 'position',
                                name='pk_version_chunks'))
    op.create_table(
        'outbox',
        sa.Column('id', Id, nullable=False),
        sa.Column('workspace_id', Id, nullable=True),
        sa.Column('user_id', Id, nullable=True),
        sa.Column('routing_key', sa.String(64), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_outbox'))
    op.create_index('ix_outbox_unsent', 'outbox', ['id'],
                    sqlite_where=UNSENT, postgresql_where=UNSENT)


def downgrade():
    for table in ('outbox', 'version_chunks', 'item_versions', 'items',
                  'workspace_members', 'workspaces', 'devices', 'users'):
        op.drop_table(table)
