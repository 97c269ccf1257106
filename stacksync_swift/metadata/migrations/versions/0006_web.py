"""The web site: sessions, failed sign-ins, public links.

See stacksync_swift.metadata.web.

Revision ID: 0006_web
Revises: 0005_sharing
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0006_web'
down_revision = '0005_sharing'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'web_sessions',
        sa.Column('id', Id, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('csrf_token', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name='fk_web_sessions_user_id_users', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_web_sessions'),
        sa.UniqueConstraint('token_hash',
                            name='uq_web_sessions_token_hash'))
    op.create_index('ix_web_sessions_user_id', 'web_sessions', ['user_id'])
    op.create_index('ix_web_sessions_expires_at', 'web_sessions',
                    ['expires_at'])
    op.create_table(
        'failed_sign_ins',
        sa.Column('key', sa.String(300), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failed_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key', name='pk_failed_sign_ins'))
    op.create_table(
        'public_links',
        sa.Column('id', Id, nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('owner_id', Id, nullable=False),
        sa.Column('item_id', Id, nullable=False),
        sa.Column('workspace_id', Id, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=True),
        sa.Column('password_hash', sa.String(255), nullable=True),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['owner_id'], ['users.id'],
            name='fk_public_links_owner_id_users', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['item_id'], ['items.id'],
            name='fk_public_links_item_id_items', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(
            ['workspace_id'], ['workspaces.id'],
            name='fk_public_links_workspace_id_workspaces',
            ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_public_links'),
        sa.UniqueConstraint('token_hash',
                            name='uq_public_links_token_hash'))
    op.create_index('ix_public_links_owner_id', 'public_links',
                    ['owner_id'])
    op.create_index('ix_public_links_item_id', 'public_links', ['item_id'])


def downgrade():
    op.drop_table('public_links')
    op.drop_table('failed_sign_ins')
    op.drop_table('web_sessions')
