"""Signed-in browsers: session cookies, CSRF tokens, sign-in throttling.

A session is a row of ``web_sessions`` (:mod:`stacksync_swift.metadata.web`)
found by the SHA-256 of a random token that only the browser's cookie
holds. The cookie is ``HttpOnly; SameSite=Lax; Path=<web prefix>``, plus
``Secure`` when the site is reached over TLS. Every POST must carry the
session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); before sign-in, the token is a random value in a
cookie of its own (the double-submit pattern), so even the sign-in form
cannot be posted from another site.

Failed sign-ins are slowed down by :class:`stacksync_swift.throttle.Throttle`
(re-exported here), with the counters the OAuth authorize page uses too.
"""

import datetime
import hmac
import http.cookies
import secrets

# The throttle lives in a neutral module so that stacksync_auth uses it too.
from stacksync_swift.throttle import FAILURE_WINDOW  # noqa: F401
from stacksync_swift.throttle import FREE_ATTEMPTS  # noqa: F401
from stacksync_swift.throttle import LONGEST_WAIT  # noqa: F401
from stacksync_swift.throttle import Throttle  # noqa: F401

SESSION_COOKIE = 'stacksync_session'
CSRF_COOKIE = 'stacksync_csrf'
CSRF_FIELD = 'csrf_token'
CSRF_HEADER = 'X-CSRF-Token'
LIFETIME = datetime.timedelta(hours=12)


def new_token():
    return secrets.token_urlsafe(32)


def read_cookie(req, name):
    """The value of cookie ``name`` in the request, or ''."""
    jar = http.cookies.SimpleCookie()
    try:
        jar.load(req.environ.get('HTTP_COOKIE', ''))
    except http.cookies.CookieError:
        return ''
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ''


def cookie(name, value, path, secure, max_age=None):
    """A ``Set-Cookie`` value with our flags."""
    parts = ['%s=%s' % (name, value), 'Path=%s' % path, 'HttpOnly',
             'SameSite=Lax']
    if max_age is not None:
        parts.append('Max-Age=%d' % max_age)
    if secure:
        parts.append('Secure')
    return '; '.join(parts)


class Sessions:
    """Start, find and end sessions in a :class:`~.web.WebStore`."""

    def __init__(self, store, lifetime=LIFETIME):
        self.store = store
        self.lifetime = lifetime

    def start(self, user_id):
        """``(token for the cookie, session dict)`` of a new session."""
        token = new_token()
        session = self.store.create_session(token, user_id, new_token(),
                                            self.lifetime)
        return token, session

    def find(self, req):
        """The live session of the request's cookie, or None."""
        token = read_cookie(req, SESSION_COOKIE)
        if not token:
            return None
        return self.store.find_session(token)

    def end(self, session):
        self.store.end_session(session['id'])


def csrf_ok(expected, sent):
    """True when ``sent`` is the expected CSRF token (constant time)."""
    if not expected or not sent:
        return False
    return hmac.compare_digest(expected.encode('utf-8'),
                               sent.encode('utf-8'))

