"""Signed-in browsers: session cookies, CSRF tokens, sign-in throttling.

A session is a row of ``web_sessions`` (:mod:`stacksync_swift.metadata.web`)
found by the SHA-256 of a random token that only the browser's cookie
holds. The cookie is ``HttpOnly; SameSite=Lax; Path=<web prefix>``, plus
``Secure`` when the site is reached over TLS. Every POST must carry the
session's CSRF token (form field ``csrf_token`` or header
``X-CSRF-Token``); before sign-in, the token is a random value in a
cookie of its own (the double-submit pattern), so even the sign-in form
cannot be posted from another site.

Failed sign-ins are counted per user name and per client address; after
:data:`FREE_ATTEMPTS` failures each further attempt first waits
``2 ** (failures - FREE_ATTEMPTS)`` seconds (at most :data:`LONGEST_WAIT`),
a green-thread sleep under eventlet, so other requests go on meanwhile.
A success forgets the user name's failures (not the address's: one valid
account must not reset an attacker's count); failures older than
:data:`FAILURE_WINDOW` are forgotten.
"""

import datetime
import hmac
import http.cookies
import secrets

import eventlet

SESSION_COOKIE = 'stacksync_session'
CSRF_COOKIE = 'stacksync_csrf'
CSRF_FIELD = 'csrf_token'
CSRF_HEADER = 'X-CSRF-Token'
LIFETIME = datetime.timedelta(hours=12)

FREE_ATTEMPTS = 3
LONGEST_WAIT = 30
FAILURE_WINDOW = datetime.timedelta(minutes=15)


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


class Throttle:
    """Slows down repeated failed sign-ins."""

    def __init__(self, store, free=FREE_ATTEMPTS, longest=LONGEST_WAIT,
                 window=FAILURE_WINDOW, sleep=eventlet.sleep):
        self.store = store
        self.free = free
        self.longest = longest
        self.window = window
        self.sleep = sleep

    @staticmethod
    def keys(name, address):
        return ['user:%s' % name[:200], 'ip:%s' % (address or '?')]

    def delay(self, keys):
        """Seconds the next attempt for ``keys`` must wait."""
        failures = self.store.failures(keys, self.window)
        if failures < self.free:
            return 0
        return min(2 ** (failures - self.free), self.longest)

    def wait(self, keys):
        delay = self.delay(keys)
        if delay:
            self.sleep(delay)
        return delay

    def failed(self, keys):
        self.store.record_failure(keys, self.window)

    def succeeded(self, keys):
        self.store.forget_failures([key for key in keys
                                    if key.startswith('user:')])
