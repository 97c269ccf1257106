"""OAuth 1.0a credentials in the metadata database.

Tables (created by migration ``0002_oauth``):

``oauth_consumers``
    Applications registered by the operator (``stacksync-swift
    consumer-add``): a key and a secret. HMAC-SHA1 needs the secret itself,
    so it is stored as issued; protect the database accordingly. The
    ``callback`` (migration ``0009_consumer_callback``) is where the
    application receives its verifier: ``oob``, or an absolute ``http`` or
    ``https`` URL (see :func:`check_callback`); ``NULL`` for consumers
    registered before callbacks were, which
    :class:`stacksync_swift.oauth.Validator` treats as "``oob`` or a
    loopback callback".
``oauth_request_tokens``
    Temporary credentials: short-lived, bound to a consumer and a callback,
    then to the user who authorized them and a verifier; deleted when
    exchanged.
``oauth_access_tokens``
    Token credentials, one per (consumer, user) authorization; revoking
    deletes the row, and the next request signed with it is refused.
``oauth_nonces``
    Used ``(consumer, token, nonce, timestamp)`` tuples. The primary key
    makes a replay fail even when two proxies see it at the same instant;
    rows older than twice the timestamp window are purged as new ones come.

:class:`CredentialStore` is what :class:`stacksync_swift.oauth.Validator`
asks; it returns plain frozen records, never live ORM objects.
"""

import dataclasses
import datetime
import secrets
import string
import time
from typing import Optional
from urllib.parse import urlsplit

from sqlalchemy import BigInteger
from sqlalchemy import ForeignKey
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

# Seconds a nonce must be remembered: oauthlib refuses timestamps more than
# this far from now, so older nonces can never be replayed.
NONCE_MEMORY = 2 * 600
# Letters and digits only: oauthlib refuses keys with other characters.
KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 32
# RFC 5849 2.1: "oob" when the application cannot receive a callback.
OOB = 'oob'
CALLBACK_LENGTH = 2048


class Consumer(Base):
    __tablename__ = 'oauth_consumers'

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)
    callback: Mapped[Optional[str]] = mapped_column(String(CALLBACK_LENGTH))


class RequestToken(Base):
    __tablename__ = 'oauth_request_tokens'

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    consumer_key: Mapped[str] = mapped_column(
        ForeignKey('oauth_consumers.key', ondelete='CASCADE'))
    callback: Mapped[str] = mapped_column(String(2048))
    verifier: Mapped[Optional[str]] = mapped_column(String(64))
    user_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'))
    expires_at: Mapped[datetime.datetime] = mapped_column(UTCDateTime)


class AccessToken(Base):
    __tablename__ = 'oauth_access_tokens'

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    consumer_key: Mapped[str] = mapped_column(
        ForeignKey('oauth_consumers.key', ondelete='CASCADE'), index=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey('users.id', ondelete='CASCADE'), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(
        UTCDateTime, default=utcnow)


class Nonce(Base):
    __tablename__ = 'oauth_nonces'

    consumer_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    timestamp: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, index=True)


@dataclasses.dataclass(frozen=True)
class ConsumerRecord:
    key: str
    secret: str
    name: str
    created_at: datetime.datetime
    callback: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class RequestTokenRecord:
    token: str
    secret: str
    consumer_key: str
    callback: str
    verifier: Optional[str]
    user_id: Optional[int]


@dataclasses.dataclass(frozen=True)
class AccessTokenRecord:
    token: str
    secret: str
    consumer_key: str
    user_id: int
    created_at: datetime.datetime


def new_secret():
    return ''.join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def check_callback(callback):
    """``callback`` if a consumer may register it, else BadRequest.

    ``oob``, or an absolute ``http``/``https`` URL with a host, without
    user information (``user@host`` hides the real host from a reader)
    and without a fragment (the verifier goes into the query).
    """
    bad = errors.BadRequest(
        'a callback is "oob" or an absolute http or https URL with a host, '
        'no user name and no #fragment, of at most %d characters'
        % CALLBACK_LENGTH)
    if not isinstance(callback, str) or len(callback) > CALLBACK_LENGTH:
        raise bad
    if callback == OOB:
        return callback
    try:
        parts = urlsplit(callback)
        parts.port  # noqa: B018 -- raises ValueError when malformed
    except ValueError:
        raise bad from None
    if parts.scheme.lower() not in ('http', 'https') or \
            not parts.hostname or '@' in parts.netloc or \
            '#' in callback or \
            any(ch.isspace() or ord(ch) < 0x20 for ch in callback):
        raise bad
    return callback


class CredentialStore:
    """Consumers, tokens and nonces; every call is one short transaction."""

    def __init__(self, engine, clock=time.time):
        self.engine = engine
        self.read_engine = db.reader(engine)
        self.clock = clock

    def _writing(self):
        return db.session(self.engine)

    def _reading(self):
        return db.session(self.read_engine)

    def _now(self):
        return datetime.datetime.fromtimestamp(self.clock(),
                                               datetime.timezone.utc)

    # -- consumers (the operator's command) --

    def create_consumer(self, name, callback=OOB):
        """Register an application; returns its record with the secret.

        ``callback`` is where it receives verifiers: ``oob`` (the default:
        the authorize page shows the verifier) or its URL.
        """
        name = (name or '').strip()
        if not name or len(name) > 255:
            raise errors.BadRequest('a consumer needs a name of 1 to 255 '
                                    'characters')
        row = Consumer(key=new_secret(), secret=new_secret(), name=name,
                       callback=check_callback(callback),
                       created_at=self._now())
        with self._writing() as session:
            session.add(row)
        return _consumer_record(row)

    def list_consumers(self):
        with self._reading() as session:
            rows = session.scalars(select(Consumer).order_by(Consumer.id))
            return [_consumer_record(row) for row in rows]

    def delete_consumer(self, key):
        """Delete an application and every token it holds."""
        with self._writing() as session:
            found = session.scalar(select(Consumer).where(
                Consumer.key == key))
            if found is None:
                raise errors.NotFound('no consumer with key %s' % key)
            for table in (AccessToken, RequestToken):
                session.execute(delete(table).where(
                    table.consumer_key == key))
            session.delete(found)

    def get_consumer(self, key):
        with self._reading() as session:
            row = session.scalar(select(Consumer).where(Consumer.key == key))
            return _consumer_record(row) if row else None

    # -- request tokens --

    def save_request_token(self, consumer_key, token, secret, callback,
                           lifetime):
        expires = self._now() + datetime.timedelta(seconds=lifetime)
        with self._writing() as session:
            session.add(RequestToken(
                token=token, secret=secret, consumer_key=consumer_key,
                callback=callback, expires_at=expires))

    def get_request_token(self, token):
        """The request token, or None when unknown or expired."""
        with self._reading() as session:
            row = session.get(RequestToken, token)
            if row is None or row.expires_at <= self._now():
                return None
            return RequestTokenRecord(row.token, row.secret,
                                      row.consumer_key, row.callback,
                                      row.verifier, row.user_id)

    def authorize_request_token(self, token, user_id, verifier):
        with self._writing() as session:
            row = session.get(RequestToken, token)
            if row is None or row.expires_at <= self._now():
                raise errors.NotFound('the request token expired')
            row.user_id = user_id
            row.verifier = verifier

    def delete_request_token(self, token):
        with self._writing() as session:
            session.execute(delete(RequestToken).where(
                RequestToken.token == token))

    # -- access tokens --

    def save_access_token(self, consumer_key, user_id, token, secret):
        with self._writing() as session:
            session.add(AccessToken(token=token, secret=secret,
                                    consumer_key=consumer_key,
                                    user_id=user_id,
                                    created_at=self._now()))

    def get_access_token(self, token):
        with self._reading() as session:
            row = session.get(AccessToken, token)
            return _access_record(row) if row else None

    def list_access_tokens(self, user_id):
        with self._reading() as session:
            rows = session.scalars(select(AccessToken).where(
                AccessToken.user_id == user_id).order_by(
                    AccessToken.created_at))
            return [_access_record(row) for row in rows]

    def revoke_access_token(self, token):
        with self._writing() as session:
            deleted = session.execute(delete(AccessToken).where(
                AccessToken.token == token)).rowcount
        if not deleted:
            raise errors.NotFound('no such access token')

    def revoke_user_tokens(self, user_id):
        with self._writing() as session:
            return session.execute(delete(AccessToken).where(
                AccessToken.user_id == user_id)).rowcount

    # -- nonces --

    def use_nonce(self, consumer_key, timestamp, nonce, token):
        """Record a nonce; False when it was used before (a replay)."""
        try:
            with self._writing() as session:
                session.execute(delete(Nonce).where(
                    Nonce.timestamp < int(self.clock()) - NONCE_MEMORY))
                session.add(Nonce(consumer_key=consumer_key, token=token,
                                  nonce=nonce, timestamp=timestamp))
        except errors.Unavailable as error:
            if db.is_race(error):
                return False
            raise
        return True


def _consumer_record(row):
    return ConsumerRecord(row.key, row.secret, row.name, row.created_at,
                          row.callback)


def _access_record(row):
    return AccessTokenRecord(row.token, row.secret, row.consumer_key,
                             row.user_id, row.created_at)
