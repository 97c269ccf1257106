"""OAuth consumers register their callback.

``oauth_consumers.callback`` is where an application receives its
verifier: ``oob`` or its URL, given to ``stacksync-swift consumer-add
--callback``; ``request_token`` refuses any other. NULL (every existing
row) means a consumer registered before this migration: it keeps ``oob``
and loopback callbacks (``http://127.0.0.1``, ``localhost``, ``[::1]``,
any port), which is what the sync client and local tools use, and
nothing else. See stacksync_swift.oauth.

Revision ID: 0009_consumer_callback
Revises: 0008_chunk_uploads
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op

revision = '0009_consumer_callback'
down_revision = '0008_chunk_uploads'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('oauth_consumers') as batch:
        batch.add_column(sa.Column('callback', sa.String(2048),
                                   nullable=True))


def downgrade():
    with op.batch_alter_table('oauth_consumers') as batch:
        batch.drop_column('callback')
