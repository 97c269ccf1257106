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
    passwords); ``revoked_at`` set means the link is dead. ``owner_id``
    is the user who *made* the link (the link acts as them), not
    necessarily the owner of the workspace the item lives in.

Sessions and throttling are plain rows with no rules of the sync
service: who may see an item stays in :mod:`.service`, which the web
site asks as the link's maker. Links carry one rule of their own here,
in the same transaction as the row, so that no caller can skip it:

* **Only who may re-share may publish.** A link can be made, and stays
  alive, only while its maker's role is ``owner`` or ``editor``
  (:data:`~.models.WRITER_ROLES`) in the item's workspace, and, when the
  item is a mount point of a shared folder, in that folder's workspace
  as well. A viewer of a shared folder may not re-share it, so may not
  publish what it holds; a link made by an editor who later becomes a
  viewer (or leaves) stops working at once, and so does any link a
  viewer made before this rule existed.
* **The workspace owner sees and revokes every link** to items of their
  workspaces, and to the mount points other members have of them,
  whoever made it; a maker sees and revokes their own links.
"""

import datetime
import hashlib
from typing import Optional

from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import delete
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata.models import WRITER_ROLES
from stacksync_swift.metadata.models import Base
from stacksync_swift.metadata.models import Id
from stacksync_swift.metadata.models import Item
from stacksync_swift.metadata.models import Mount
from stacksync_swift.metadata.models import User
from stacksync_swift.metadata.models import UTCDateTime
from stacksync_swift.metadata.models import Workspace
from stacksync_swift.metadata.models import WorkspaceMember
from stacksync_swift.metadata.models import utcnow

# What a viewer is told when they try to publish.
VIEWER_CANNOT_PUBLISH = (
    'You are a viewer of this shared folder: only its owner and editors '
    'can make public links to what it holds.')


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

    def may_publish(self, user_id, item_id):
        """True when the user may make a public link to the item."""
        with db.session(self.engine) as session:
            return _publish_right(session, user_id, item_id) is True

    def create_link(self, token, owner_id, item_id, expires_at=None,
                    password_hash=None):
        """A new link made by ``owner_id``; Forbidden for a viewer,
        NotFound for an item the user cannot see."""
        with db.session(self.engine) as session:
            right = _publish_right(session, owner_id, item_id)
            if right is None:
                raise errors.NotFound('no item %d' % item_id)
            if right is False:
                raise errors.Forbidden(VIEWER_CANNOT_PUBLISH)
            row = PublicLink(token_hash=token_hash(token), owner_id=owner_id,
                             item_id=item_id,
                             workspace_id=session.get(Item,
                                                      item_id).workspace_id,
                             created_at=self.clock(), expires_at=expires_at,
                             password_hash=password_hash)
            session.add(row)
            session.flush()
            return _link_dict(row)

    def find_link(self, token):
        """The live link of ``token``, or None: not revoked, not expired,
        and its maker may still publish the item."""
        with db.session(self.engine) as session:
            row = session.scalar(select(PublicLink).where(
                PublicLink.token_hash == token_hash(token)))
            if row is None or row.revoked_at is not None:
                return None
            if row.expires_at is not None and \
                    row.expires_at <= self.clock():
                return None
            if _publish_right(session, row.owner_id, row.item_id) is not True:
                return None
            return _link_dict(row)

    def list_links(self, user_id):
        """The links the user manages, newest first: those they made, and
        those to items of workspaces they own (or to mount points of
        them), whoever made them. Not revoked; expired ones included.

        Each link adds ``maker`` (the maker's name), ``mine`` (the user
        made it), ``active`` (its maker may still publish the item) and
        ``mounted_workspace_id`` (the workspace the item is a mount of,
        or None)."""
        with db.session(self.engine) as session:
            owned = select(Workspace.id).where(Workspace.owner_id == user_id)
            rows = session.execute(
                select(PublicLink, User.name, Mount.workspace_id)
                .join(User, User.id == PublicLink.owner_id)
                .join(Item, Item.id == PublicLink.item_id)
                .outerjoin(Mount, Mount.item_id == PublicLink.item_id)
                .where(PublicLink.revoked_at.is_(None),
                       or_(PublicLink.owner_id == user_id,
                           Item.workspace_id.in_(owned),
                           Mount.workspace_id.in_(owned)))
                .order_by(PublicLink.id.desc())).all()
            found, seen = [], set()
            for row, maker, mounted in rows:
                if row.id in seen:
                    continue
                seen.add(row.id)
                link = _link_dict(row)
                link.update(
                    maker=maker, mine=row.owner_id == user_id,
                    mounted_workspace_id=mounted,
                    active=_publish_right(session, row.owner_id,
                                          row.item_id) is True)
                found.append(link)
            return found

    def revoke_link(self, user_id, link_id):
        """Revoke a link the user made, or one to an item of a workspace
        they own; NotFound for any other."""
        with db.session(self.engine) as session:
            row = session.get(PublicLink, link_id)
            if row is None or not (row.owner_id == user_id or
                                   _owns_content(session, user_id,
                                                 row.item_id)):
                raise errors.NotFound('no link %d of yours' % link_id)
            if row.revoked_at is None:
                row.revoked_at = self.clock()
            return _link_dict(row)


def _reached_workspaces(session, item):
    """The workspaces a link to ``item`` shows: the item's own, and the
    shared folder's when the item is a mount point of one."""
    mounted = session.scalars(select(Mount.workspace_id).where(
        Mount.item_id == item.id)).all()
    return {item.workspace_id, *mounted}


def _publish_right(session, user_id, item_id):
    """True when the user may publish the item, False when they see it
    but only as a viewer (somewhere it reaches), None when they do not
    see it at all."""
    item = session.get(Item, item_id)
    if item is None:
        return None
    reached = _reached_workspaces(session, item)
    roles = dict(session.execute(
        select(WorkspaceMember.workspace_id, WorkspaceMember.role).where(
            WorkspaceMember.user_id == user_id,
            WorkspaceMember.workspace_id.in_(reached))).all())
    if item.workspace_id not in roles:
        return None
    return all(roles.get(workspace) in WRITER_ROLES
               for workspace in reached)


def _owns_content(session, user_id, item_id):
    """True when the user owns a workspace a link to the item shows."""
    item = session.get(Item, item_id)
    if item is None:
        return False
    return session.scalar(select(Workspace.id).where(
        Workspace.id.in_(_reached_workspaces(session, item)),
        Workspace.owner_id == user_id).limit(1)) is not None
