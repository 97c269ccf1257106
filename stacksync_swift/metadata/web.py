"""The web site's tables and their queries: sessions, sign-in throttling,
public links.

``web_sessions``
    One row per signed-in browser. The cookie holds a random token; the
    row holds only its SHA-256 (``token_hash``), so a copy of the
    database signs nobody in. ``csrf_token`` is the value every form of
    the session must send back; ``expires_at`` ends the session.
``failed_sign_ins``
    Failed sign-ins counted per key (``user:<name>`` and ``ip:<address>``)
    since the last success: the web site slows down further attempts.
``public_links``
    Read-only links to a file or folder, again stored as the token's
    SHA-256, with an optional expiry and password (hashed like user
    passwords); ``revoked_at`` set means the link is dead.

These are plain rows with no rules of the sync service; the rules (who
may see an item) stay in :mod:`.service`, which the web site asks as the
link's owner.
"""

import datetime
import hashlib
from typing import Optional

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata.models import Base
from stacksync_swift.metadata.models import Id
from stacksync_swift.metadata.models import UTCDateTime
from stacksync_swift.metadata.models import utcnow


class WebSession(Base):
    __tablename__ = 'web_sessions'

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, index=True)


class FailedSignIn(Base):
    __tablename__ = 'failed_sign_ins'

    # "user:<name>" or "ip:<address>"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class PublicLink(Base):
    __tablename__ = 'public_links'

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    owner_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey('items.id', ondelete='CASCADE'), index=True)
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey('workspaces.id', ondelete='CASCADE'))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    expires_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))
    revoked_at: Mapped[Optional[datetime.datetime]] = mapped_column(
        UTCDateTime)


def token_hash(token):
    """What the tables keep of a session or link token."""
    return hashlib.sha256(token.encode('utf-8')).hexdigest()


def _session_dict(row):
    return {'id': row.id, 'user_id': row.user_id,
            'csrf_token': row.csrf_token, 'created_at': row.created_at,
            'expires_at': row.expires_at}


def _link_dict(row):
    return {'id': row.id, 'owner_id': row.owner_id,
            'item_id': row.item_id, 'workspace_id': row.workspace_id,
            'created_at': row.created_at, 'expires_at': row.expires_at,
            'password_hash': row.password_hash,
            'revoked_at': row.revoked_at}


class WebStore:
    """The queries of the web site's tables, over the metadata engine."""

    def __init__(self, engine, clock=utcnow):
        self.engine = engine
        self.clock = clock

    # -- sessions ----------------------------------------------------------

    def create_session(self, token, user_id, csrf_token, lifetime):
        now = self.clock()
        with db.session(self.engine) as session:
            session.execute(delete(WebSession).where(
                WebSession.expires_at <= now))
            row = WebSession(token_hash=token_hash(token), user_id=user_id,
                             csrf_token=csrf_token, created_at=now,
                             expires_at=now + lifetime)
            session.add(row)
            session.flush()
            return _session_dict(row)

    def find_session(self, token):
        """The live session of ``token``, or None."""
        with db.session(self.engine) as session:
            row = session.scalar(select(WebSession).where(
                WebSession.token_hash == token_hash(token)))
            if row is None or row.expires_at <= self.clock():
                return None
            return _session_dict(row)

    def end_session(self, session_id):
        with db.session(self.engine) as session:
            session.execute(delete(WebSession).where(
                WebSession.id == session_id))

    # -- failed sign-ins ---------------------------------------------------

    def failures(self, keys, window):
        """The most failures any of ``keys`` has had since its success,
        forgetting a key whose last failure is older than ``window``."""
        since = self.clock() - window
        with db.session(self.engine) as session:
            counts = session.scalars(select(FailedSignIn.failures).where(
                FailedSignIn.key.in_(keys),
                FailedSignIn.last_failed_at > since))
            return max(counts, default=0)

    def record_failure(self, keys, window):
        for key in keys:
            try:
                self._count_failure(key, window)
            except errors.Unavailable as error:
                # Two failures at once for a new key: one count is enough.
                if not db.is_race(error):
                    raise

    def _count_failure(self, key, window):
        now = self.clock()
        with db.session(self.engine) as session:
            row = session.get(FailedSignIn, key)
            if row is None:
                row = FailedSignIn(key=key, failures=0)
                session.add(row)
            elif row.last_failed_at <= now - window:
                row.failures = 0
            row.failures += 1
            row.last_failed_at = now

    def forget_failures(self, keys):
        with db.session(self.engine) as session:
            session.execute(delete(FailedSignIn).where(
                FailedSignIn.key.in_(keys)))

    # -- public links ------------------------------------------------------

    def create_link(self, token, owner_id, item_id, workspace_id,
                    expires_at=None, password_hash=None):
        with db.session(self.engine) as session:
            row = PublicLink(token_hash=token_hash(token), owner_id=owner_id,
                             item_id=item_id, workspace_id=workspace_id,
                             created_at=self.clock(), expires_at=expires_at,
                             password_hash=password_hash)
            session.add(row)
            session.flush()
            return _link_dict(row)

    def find_link(self, token):
        """The live (not revoked, not expired) link of ``token``, or None.
        """
        with db.session(self.engine) as session:
            row = session.scalar(select(PublicLink).where(
                PublicLink.token_hash == token_hash(token)))
            if row is None or row.revoked_at is not None:
                return None
            if row.expires_at is not None and \
                    row.expires_at <= self.clock():
                return None
            return _link_dict(row)

    def list_links(self, owner_id):
        """The owner's links that are not revoked, newest first."""
        with db.session(self.engine) as session:
            rows = session.scalars(select(PublicLink).where(
                PublicLink.owner_id == owner_id,
                PublicLink.revoked_at.is_(None)).order_by(
                    PublicLink.id.desc()))
            return [_link_dict(row) for row in rows]

    def revoke_link(self, owner_id, link_id):
        """Revoke the owner's link; NotFound for anyone else's."""
        with db.session(self.engine) as session:
            row = session.get(PublicLink, link_id)
            if row is None or row.owner_id != owner_id:
                raise errors.NotFound('no link %d of yours' % link_id)
            if row.revoked_at is None:
                row.revoked_at = self.clock()
            return _link_dict(row)
