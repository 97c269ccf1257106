"""OAuth 1.0a credentials: consumers, request and access tokens, nonces.

Revision ID: 0002_oauth
Revises: 0001_initial
Create Date: 2026-11-25

See stacksync_swift.metadata.credentials for what each table is for.
"""

import sqlalchemy as sa
from alembic import op

revision = '0002_oauth'
down_revision = '0001_initial'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table(
        'oauth_consumers',
        sa.Column('id', Id, nullable=False),
        sa.Column('key', sa.String(64), nullable=False),
        sa.Column('secret', sa.String(64), nullable=False),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_oauth_consumers'),
        sa.UniqueConstraint('key', name='uq_oauth_consumers_key'))
    op.create_table(
        'oauth_request_tokens',
        sa.Column('token', sa.String(64), nullable=False),
        sa.Column('secret', sa.String(64), nullable=False),
        sa.Column('consumer_key', sa.String(64), nullable=False),
        sa.Column('callback', sa.String(2048), nullable=False),
        sa.Column('verifier', sa.String(64), nullable=True),
        sa.Column('user_id', Id, nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['consumer_key'], ['oauth_consumers.key'], ondelete='CASCADE',
            name='fk_oauth_request_tokens_consumer_key_oauth_consumers'),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], ondelete='CASCADE',
            name='fk_oauth_request_tokens_user_id_users'),
        sa.PrimaryKeyConstraint('token', name='pk_oauth_request_tokens'))
    op.create_table(
        'oauth_access_tokens',
        sa.Column('token', sa.String(64), nullable=False),
        sa.Column('secret', sa.String(64), nullable=False),
        sa.Column('consumer_key', sa.String(64), nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['consumer_key'], ['oauth_consumers.key'], ondelete='CASCADE',
            name='fk_oauth_access_tokens_consumer_key_oauth_consumers'),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], ondelete='CASCADE',
            name='fk_oauth_access_tokens_user_id_users'),
        sa.PrimaryKeyConstraint('token', name='pk_oauth_access_tokens'))
    op.create_index('ix_oauth_access_tokens_consumer_key',
                    'oauth_access_tokens', ['consumer_key'])
    op.create_index('ix_oauth_access_tokens_user_id',
                    'oauth_access_tokens', ['user_id'])
    op.create_table(
        'oauth_nonces',
        sa.Column('consumer_key', sa.String(64), nullable=False),
        sa.Column('token', sa.String(64), nullable=False),
        sa.Column('nonce', sa.String(64), nullable=False),
        sa.Column('timestamp', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('consumer_key', 'token', 'nonce',
                                'timestamp', name='pk_oauth_nonces'))
    op.create_index('ix_oauth_nonces_timestamp', 'oauth_nonces',
                    ['timestamp'])


def downgrade():
    op.drop_table('oauth_nonces')
    op.drop_table('oauth_access_tokens')
    op.drop_table('oauth_request_tokens')
    op.drop_table('oauth_consumers')
