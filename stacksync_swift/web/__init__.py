"""
=================
The web site
=================

A browser front end for StackSync users, served by the ``stacksync_api``
filter under one path prefix (``web_prefix``, default ``/stacksync/``) of
the same proxy: no extra process, no extra port. Pages are rendered on the
server (Jinja2, autoescaping on); a little plain JavaScript adds
drag-and-drop upload with progress bars and refreshes a folder page when
its workspace changes (the events long poll). There is no build step.

How a request gets here
=======================

``stacksync_api`` (:mod:`stacksync_swift.middleware.api`) checks, before
anything else, whether the path is the prefix or lies under it
(:meth:`WebApp.owns`) and hands such requests to :class:`WebApp`. They never
reach Swift below; every other request is untouched. ``stacksync_auth``
lets them pass (they carry neither the API header nor an OAuth
signature): the web site authenticates with its own session cookie. An
empty ``web_prefix`` turns the site off::

    [filter:stacksync_api]
    use = egg:stacksync_swift#stacksync_api
    web_prefix = /stacksync/

What the pages do
=================

Sign in with the StackSync user name and password (Keystone credentials in
Keystone mode, checked exactly as the OAuth authorize page checks them),
then: browse folders (breadcrumbs, sizes, dates), upload several files at
once (each streamed into chunks as the API does), download, new folder,
rename, move, delete, the trash of each folder with restore, a file's
versions (download, restore), sharing a folder (invite users with a role,
members, unshare, leave), pending invitations (accept, decline), the
account's quota and usage, and public links (:mod:`.links`). Every page
calls the same metadata service and sharing code as the REST API
(:mod:`.views`): the rules exist once.

Safety
======

* Sessions (:mod:`.sessions`): a random token in an ``HttpOnly;
  SameSite=Lax`` cookie scoped to the prefix (``Secure`` over TLS, see
  below); the database keeps its SHA-256. Sign-out deletes the row.
* Every POST carries the session's CSRF token (form field or
  ``X-CSRF-Token`` header), compared in constant time; without a session
  a double-submit cookie plays that part.
* Repeated failed sign-ins (and link passwords) are slowed down.
* Names are escaped by the templates; downloads are always attachments
  with ``X-Content-Type-Options: nosniff``; pages carry a strict
  ``Content-Security-Policy`` (no inline script), ``X-Frame-Options:
  DENY`` and ``Referrer-Policy: no-referrer`` (link tokens stay private).
* A user reaches only what the metadata service lets them see; someone
  else's item id is a 404 page.
* Errors are friendly pages with the right 4xx status; anything
  unexpected is logged and shown as a 503 page, never a traceback.
* Public links (:mod:`.links`): viewers of a shared folder cannot make
  them; the folder's owner sees and revokes all of them.

Cookies behind a TLS terminator
===============================

Every cookie the site sets (session, CSRF, a link's password proof) is
``Secure`` when the browser reached the site over TLS, which the site
learns in any of these ways:

* the proxy itself speaks TLS (``cert_file`` in ``proxy-server.conf``), or
  Swift's PROXY protocol listener (``require_proxy_protocol = true``)
  saw a connection to port 443: ``wsgi.url_scheme`` is ``https``;
* ``oauth_base_url`` starts with ``https://``;
* the request says ``X-Forwarded-Proto: https`` (any element of the
  list, any case) or ``Forwarded: proto=https`` (RFC 7239), as TLS
  terminators (haproxy, nginx, cloud load balancers) add.

Swift itself never reads ``X-Forwarded-Proto``, and has no list of
trusted proxies to check the header against. None is needed here: the
header is honoured **only to add** ``Secure`` (and to write the
``https://`` URL of a new public link when ``oauth_base_url`` is unset),
never to relax anything. A client that forges it over plain HTTP only
gets a cookie its own browser will not send back over plain HTTP; it
locks itself out and nobody else. The header never decides whether the
transport is safe for anything else (OAuth's PLAINTEXT signatures, for
one, do not look at it). Operators behind a terminator should still set
``oauth_base_url`` to the ``https://`` address (every cookie is then
``Secure``, whatever the terminator sends) and keep plain HTTP away from
the proxy (see ``doc/operators.rst``).
"""

import datetime
import json
import urllib.parse

import jinja2
from swift.common import swob

from stacksync_swift import chunking
from stacksync_swift import sharing
from stacksync_swift import storage
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.metadata import web as web_store
from stacksync_swift.middleware import auth
from stacksync_swift.middleware import errors as api_errors
from stacksync_swift.web import links
from stacksync_swift.web import sessions
from stacksync_swift.web import views

# A form body is small: names, a password, a token.
MAX_FORM_BODY = 64 * 1024

SECURITY_HEADERS = {
    'Content-Security-Policy': (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"),
    'X-Frame-Options': 'DENY',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
}

STATUS_TITLES = {400: 'That did not work', 401: 'Please sign in',
                 403: 'Not allowed', 404: 'Not found',
                 405: 'Not allowed', 409: 'That clashes',
                 413: 'Too large', 416: 'Not available',
                 503: 'Something went wrong'}


class WebApp:
    """The web site, given the ``stacksync_api`` filter it runs in."""

    def __init__(self, api):
        self.api = api
        self.settings = api.settings
        self.prefix = api.settings.web_prefix
        self.logger = api.logger
        self.metadata = api.metadata
        self.store = web_store.WebStore(api.services.engine)
        self.sessions = sessions.Sessions(self.store)
        self.throttle = sessions.Throttle(self.store)
        self.links = links.Links(self.store, api.metadata)
        self.sharing = sharing.Sharing(api.metadata, api.storage,
                                       api.logger)
        self._auth = auth.StackSyncAuth(None, api.settings, api.logger)
        self.templates = jinja2.Environment(
            loader=jinja2.PackageLoader('stacksync_swift.web', 'templates'),
            autoescape=True, trim_blocks=True, lstrip_blocks=True)
        self.templates.filters.update(size=human_size, date=short_date,
                                      days_left=views.days_left)

    def owns(self, env):
        """True for the prefix itself and every path under it."""
        if not self.prefix:
            return False
        path = env.get('PATH_INFO', '')
        return path == self.prefix[:-1] or path.startswith(self.prefix)

    def check_credentials(self, name, password):
        """The user of a name and password, as the OAuth page checks."""
        return self._auth.check_credentials(name, password)

    def __call__(self, env, start_response):
        req = swob.Request(env)
        page = Page(self, req)
        try:
            response = self.handle(page)
        except Exception as error:  # noqa: BLE001 - rendered, never raised
            response = self.error_page(page, error)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response(env, start_response)

    def handle(self, page):
        req = page.req
        if req.path_info == self.prefix[:-1]:
            return page.redirect('')
        path = req.path_info[len(self.prefix):]
        page.session = self.sessions.find(req)
        if page.session is not None:
            page.user = self.metadata.get_user(page.session['user_id'])
            req.environ['stacksync.user'] = page.user
        view, args, public = views.match(req.method, path)
        if page.user is None and not public:
            if req.method == 'GET':
                return page.redirect('signin?' + urllib.parse.urlencode(
                    {'next': path}) if path else 'signin')
            raise views.WebError(401, 'Please sign in first.')
        if req.method == 'POST':
            page.check_csrf()
        if page.user is not None:
            self.api.containers.ensure_private(req.environ, page.user)
        return view(page, **args)

    def error_page(self, page, error):
        status, message = self.describe(error)
        if page.wants_json():
            return views.json_response({'error': message}, status=status)
        try:
            return page.render('error.html', status=status, message=message,
                               title=STATUS_TITLES.get(status, 'Error'))
        except Exception:  # noqa: BLE001 - the last line of defence
            self.logger.exception('cannot render the web error page')
            return swob.Response(status=503, body=b'Something went wrong.',
                                 content_type='text/plain')

    def describe(self, error):
        """``(status, message for the user)`` of any exception."""
        if isinstance(error, views.WebError):
            return error.status, error.message
        if isinstance(error, api_errors.APIError):
            return error.status_int, error.description
        if isinstance(error, metadata_errors.MetadataError):
            status = error.status if 400 <= error.status < 500 else 503
            return status, error.description
        if isinstance(error, chunking.TruncatedStream):
            return 400, 'The upload was cut short; try again.'
        if isinstance(error, storage.StorageError):
            self.logger.error('storage failure in the web site: %s', error)
            return 503, 'The storage is not answering; try again soon.'
        self.logger.exception('unhandled error in the web site')
        return 503, 'Something went wrong on our side; try again soon.'


class Page:
    """One web request: who asks, and the helpers views answer with."""

    def __init__(self, app, req):
        self.app = app
        self.req = req
        self.env = req.environ
        self.session = None
        self.user = None
        self._form = None
        self._anonymous_csrf = None

    @property
    def user_id(self):
        return self.user['id']

    @property
    def metadata(self):
        return self.app.metadata

    # -- reading the request

    def form(self):
        """The urlencoded form body (read once, bounded)."""
        if self._form is None:
            length = self.req.content_length or 0
            if length > MAX_FORM_BODY:
                raise views.WebError(413, 'That form is too large.')
            raw = self.env['wsgi.input'].read(length) if length else b''
            try:
                pairs = urllib.parse.parse_qsl(raw.decode('utf-8'),
                                               keep_blank_values=True)
            except UnicodeDecodeError:
                raise views.WebError(400, 'That form is not valid.')
            self._form = dict(pairs)
        return self._form

    def query_int(self, name):
        return views.as_int(self.req.params.get(name), name)

    def client_address(self):
        return self.env.get('REMOTE_ADDR', '')

    def wants_json(self):
        return 'application/json' in self.req.headers.get('Accept', '')

    def secure(self):
        """True when the browser reached us over TLS: at the proxy, by
        configuration, or as a TLS terminator says (module docstring).
        Used only to make cookies stricter, never to relax a check."""
        return self.env.get('wsgi.url_scheme') == 'https' or \
            self.env.get('HTTPS', '').lower() == 'on' or \
            self.app.settings.oauth_base_url.startswith('https://') or \
            forwarded_https(self.req.headers)

    # -- CSRF

    def csrf_token(self):
        """The token this page's forms must send back."""
        if self.session is not None:
            return self.session['csrf_token']
        if self._anonymous_csrf is None:
            self._anonymous_csrf = sessions.read_cookie(
                self.req, sessions.CSRF_COOKIE) or sessions.new_token()
        return self._anonymous_csrf

    def check_csrf(self):
        sent = self.req.headers.get(sessions.CSRF_HEADER)
        if sent is None and self._is_form():
            sent = self.form().get(sessions.CSRF_FIELD)
        if self.session is not None:
            expected = self.session['csrf_token']
        else:
            expected = sessions.read_cookie(self.req,
                                           sessions.CSRF_COOKIE)
        if not sessions.csrf_ok(expected, sent):
            raise views.WebError(
                403, 'This form has expired or did not come from this '
                'site. Go back, reload the page and try again.')

    def _is_form(self):
        kind = self.req.headers.get('Content-Type', '')
        return kind.split(';')[0].strip() == \
            'application/x-www-form-urlencoded'

    # -- answering

    def url(self, path=''):
        return self.app.prefix + path

    def absolute(self, path):
        """The full URL of a page, for links shown to copy elsewhere:
        behind a TLS terminator, ``https`` (a public link's token must
        not be handed out in a plain-HTTP URL)."""
        base = self.app.settings.oauth_base_url
        if not base:
            base = self.req.host_url
            if base.startswith('http://') and self.secure():
                base = 'https://' + base[len('http://'):]
        return base + self.url(path)

    def cookie(self, name, value, max_age=None, path=None):
        return sessions.cookie(name, value, path or self.app.prefix,
                               self.secure(), max_age)

    def render(self, template, status=200, **values):
        flash = self.req.params.get('msg', '')[:300]
        body = self.app.templates.get_template(template).render(
            page=self, user=self.user, csrf_token=self.csrf_token(),
            url=self.url, flash=flash, **values)
        response = swob.Response(
            status=status, body=body.encode('utf-8'),
            content_type='text/html', charset='utf-8',
            headers={'Cache-Control': 'no-store'})
        if self.session is None and self._anonymous_csrf and \
                sessions.read_cookie(self.req, sessions.CSRF_COOKIE) != \
                self._anonymous_csrf:
            response.headers['Set-Cookie'] = self.cookie(
                sessions.CSRF_COOKIE, self._anonymous_csrf)
        return response

    def redirect(self, path, message=None):
        """303 to a page of the site, optionally with a message to show."""
        location = self.url(path)
        if message:
            location += ('&' if '?' in location else '?') + \
                urllib.parse.urlencode({'msg': message})
        return swob.Response(status=303, headers={
            'Location': location, 'Cache-Control': 'no-store'})

    def json(self, value, status=200):
        return swob.Response(status=status, body=json.dumps(value).encode(),
                             content_type='application/json',
                             headers={'Cache-Control': 'no-store'})


def forwarded_https(headers):
    """True when a proxy in front says the client used TLS:
    ``X-Forwarded-Proto: https`` (a comma separated list: any element) or
    RFC 7239 ``Forwarded: ...;proto=https`` (any element)."""
    for value in headers.get('X-Forwarded-Proto', '').split(','):
        if value.strip().lower() == 'https':
            return True
    for element in headers.get('Forwarded', '').split(','):
        for pair in element.split(';'):
            name, _sep, value = pair.partition('=')
            if name.strip().lower() == 'proto' and \
                    value.strip().strip('"').lower() == 'https':
                return True
    return False


def human_size(size):
    """``1.4 MB`` for the templates (decimal units, as file managers)."""
    if size is None:
        return ''
    value = float(size)
    for unit in ('bytes', 'kB', 'MB', 'GB', 'TB'):
        if value < 1000 or unit == 'TB':
            break
        value /= 1000
    if unit == 'bytes':
        return '%d %s' % (size, 'byte' if size == 1 else 'bytes')
    return '%.1f %s' % (value, unit)


def short_date(value):
    """``2026-12-01 14:03`` (UTC) from an ISO string or a datetime."""
    if not value:
        return ''
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(
                value.replace('Z', '+00:00'))
        except ValueError:
            return value
    return value.strftime('%Y-%m-%d %H:%M')
