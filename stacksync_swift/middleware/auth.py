"""
==============
stacksync_auth
==============

Makes StackSync users Swift identities: an OAuth 1.0a provider (RFC 5849)
and the authorization of signed requests against Swift container ACLs.

Place it right after ``cache`` (after keystonemiddleware ``auth_token`` in
Keystone mode), then ``stacksync_api``, both before ``listing_formats``
(it rewrites query strings, which OAuth signatures cover) and before Swift's
auth filter::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               stacksync_auth stacksync_api listing_formats tempauth
               proxy-logging proxy-server

    [filter:stacksync_auth]
    use = egg:stacksync_swift#stacksync_auth

    [filter:stacksync_api]
    use = egg:stacksync_swift#stacksync_api
    storage_account = AUTH_stacksync
    database_url = postgresql+psycopg2://stacksync:secret@db/stacksync

The options are shared with ``stacksync_api`` and documented in
``etc/proxy-server.conf-sample``; either section may hold them.

OAuth 1.0a for applications
===========================

The operator registers an application with ``stacksync-swift consumer-add
NAME [--callback URL]``, which prints its key and secret. The callback is
where the application receives its verifier: ``oob`` (the default) for
applications that cannot receive one, or the application's URL. The
application then runs the three-legged dance against the proxy:

``POST /oauth/request_token``
    Signed with the consumer's credentials, with ``oauth_callback``: the
    registered one (for a URL, the same scheme, host, port and path; the
    query may differ). Any other callback is refused like a bad signature.
    Consumers registered before callbacks were may use ``oob`` and
    loopback callbacks (``http://127.0.0.1:PORT/...``, ``localhost``,
    ``[::1]``) only. Answers ``oauth_token``, ``oauth_token_secret`` and
    ``oauth_callback_confirmed=true``, form-encoded.
``GET /oauth/authorize?oauth_token=...``
    The page that names the application and where the user signs in with
    their StackSync user name and password (their Keystone credentials in
    Keystone mode). On success the browser goes to the callback with
    ``oauth_token`` and ``oauth_verifier`` (nothing else), or, for
    ``oob``, the page shows the verifier to type into the application.
    The request token is checked before the password: for a token that
    is unknown, expired or already authorized the page answers the same
    ``401`` whatever the password. Failed passwords are throttled per user
    name and per client address, with the web sign-in's counters
    (:mod:`stacksync_swift.throttle`): after 3 failures each attempt
    waits 1, 2, 4 ... seconds (at most 30) before it is checked.
``POST /oauth/access_token``
    Signed with the consumer and the authorized request token, with
    ``oauth_verifier``. Answers the access token and its secret; the request
    token is spent.

Every API request is then signed with the consumer and the access token
(HMAC-SHA1; PLAINTEXT only over TLS). Nonces are single-use, timestamps must
be within ten minutes of the proxy's clock. Unknown consumers or tokens, bad
signatures, replays and stale timestamps are answered ``401`` with a JSON
body ``{"error": 401, "description": ...}`` and ``WWW-Authenticate: OAuth``.

With Swift's ``memcache`` as the ``cache`` filter, consumers and access
tokens are cached there for 60 seconds and nonces are memcache counters,
so a signed request costs no database round trip;
``stacksync-swift token-revoke`` (and ``consumer-del``, ``user-del``)
clear the cache, and a revoked token stops working on every proxy at once
(:mod:`stacksync_swift.credcache`).

Authorization
=============

A valid signature puts the user in the request (``REMOTE_USER``,
``stacksync.user``) and installs ``swift.authorize`` with
``swift.authorize_override``, as tempurl does, so tempauth or keystoneauth
further down leave it in charge. That callback follows
the target container's ``X-Container-Read`` / ``X-Container-Write`` ACLs,
parsed by Swift's own ACL code: a signed raw Swift request to a workspace
container is allowed exactly when the ACL lists the user, as
``stacksync:<user id>`` (see :func:`acl_principal`). It never grants
anything on the installation account itself (listing it, changing its
containers) nor on any other account.

Keystone mode
=============

With ``auth_mode = keystone`` (and ``keystone_auth_url``), keystonemiddleware
``auth_token`` runs before this filter and Swift's ``keystoneauth`` after
it. An API request carrying a valid Keystone token needs no OAuth: the
identity ``auth_token`` confirmed is mapped to a StackSync user, created on
first use (see :mod:`stacksync_swift.keystone`). The OAuth authorize page
then checks Keystone credentials, and Keystone users appear in container
ACLs as ``*:<keystone user id>``, the form keystoneauth evaluates, so raw
Swift requests with their Keystone tokens obey the same ACLs.
``auth_token`` must run with ``delay_auth_decision = true`` so that
OAuth-signed requests, which carry no Keystone token, reach this filter.

Requests that are not StackSync's -- no ``X-StackSync-API`` (or
``StackSync-API``) header, no OAuth signature, not under ``/oauth/`` --
pass through untouched, and Swift's auth filter stays in charge.
Pre-authorized subrequests pass through too.
"""

import html
import io
from urllib.parse import parse_qsl
from urllib.parse import urlencode

from swift.common import swob
from swift.common.middleware.acl import clean_acl
from swift.common.middleware.acl import parse_acl
from swift.common.middleware.acl import referrer_allowed
from swift.common.registry import register_swift_info
from swift.common.utils import get_logger
from swift.common.utils import split_path

from stacksync_swift import config
from stacksync_swift import credcache
from stacksync_swift import keystone
from stacksync_swift import oauth
from stacksync_swift import services
from stacksync_swift import throttle
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.metadata import web as web_store
from stacksync_swift.middleware import common
from stacksync_swift.middleware import errors

FORM_TYPE = 'application/x-www-form-urlencoded'
# OAuth endpoint and signed form bodies are small; anything bigger is abuse.
MAX_FORM_BODY = 64 * 1024
WRITE_METHODS = ('PUT', 'POST', 'DELETE', 'COPY')


def acl_principal(user):
    """How a StackSync user appears in a workspace container's ACLs.

    ``user`` is the user's dict (or, for users without a Keystone identity,
    just their id). Keystone users appear as ``*:<keystone user id>``,
    which keystoneauth also understands, so their Keystone tokens obey the
    same ACLs; other users as ``stacksync:<user id>``.
    """
    if isinstance(user, dict):
        if user.get('keystone_id'):
            return '*:%s' % user['keystone_id']
        user = user['id']
    return 'stacksync:%d' % user


class StackSyncAuth:
    """The ``stacksync_auth`` filter."""

    def __init__(self, app, settings, logger=None):
        self.app = app
        self.settings = settings
        self.logger = logger or get_logger({}, log_route='stacksync_auth')
        self.services = services.for_settings(settings)
        # Secrets and nonces in memcache where the proxies share one.
        self.credentials = credcache.CachedCredentials(
            self.services.credentials)
        self.provider = oauth.Provider(self.credentials)
        # The web sign-in's throttle and counters (stacksync_swift.throttle).
        self.throttle = throttle.Throttle(
            web_store.WebStore(self.services.engine))
        # Keystone ids whose e-mail this process asked Keystone for.
        self._emails_asked = set()

    def __call__(self, env, start_response):
        if env.get('swift.authorize_override') or not common.owns(env):
            return self.app(env, start_response)
        req = swob.Request(env)
        self.credentials.use(env.get('swift.cache'))
        try:
            if common.is_oauth_endpoint(env):
                return self.oauth_endpoint(req)(env, start_response)
            if common.is_oauth_signed(env):
                self.authenticate_signed(req)
            elif self.settings.auth_mode == 'keystone' and \
                    common.api_version(env) is not None:
                self.authenticate_keystone(req)
        except errors.APIError as err:
            return err(env, start_response)
        except metadata_errors.MetadataError as err:
            return errors.from_metadata(err)(env, start_response)
        except Exception:
            self.logger.exception('unhandled error in stacksync_auth')
            return errors.ServiceUnavailable(
                'internal error; see the proxy log')(env, start_response)
        return self.app(env, start_response)

    # -- signed requests --

    def authenticate_signed(self, req):
        """Verify the signature; put the user and swift.authorize in env."""
        uri, body, headers = self._oauth_request(req)
        self._check_signature_method(uri, body, headers)
        valid, user_id = self.provider.verify(uri, req.method, body, headers)
        user = self._user(user_id) if valid else None
        if user is None:
            raise errors.Unauthorized(
                'invalid OAuth signature, consumer, token, nonce or '
                'timestamp')
        env = req.environ
        env['REMOTE_USER'] = user['name']
        env['stacksync.user'] = user
        env['swift.authorize'] = self.authorize
        env['swift.authorize_override'] = True
        env['swift.clean_acl'] = clean_acl

    def authenticate_keystone(self, req):
        """Map the identity auth_token confirmed to a StackSync user.

        Without one the API answers 401 itself; Swift's keystoneauth keeps
        authorizing raw Swift requests.
        """
        found = keystone.identity(req.environ)
        if found is None:
            return
        user = self._keystone_user(found[0], found[1],
                                   req.environ.get('HTTP_X_AUTH_TOKEN'))
        req.environ['REMOTE_USER'] = user['name']
        req.environ['stacksync.user'] = user

    def _keystone_user(self, keystone_id, name, token):
        """The StackSync user of a Keystone identity, with its e-mail.

        Keystone is asked for the e-mail (with the user's own token) once
        per identity and process, while the user has none here.
        """
        user = self.services.metadata.keystone_user(
            keystone_id, name, quota_limit=self.settings.default_quota)
        if user['email'] or not token or \
                keystone_id in self._emails_asked:
            return user
        self._emails_asked.add(keystone_id)
        try:
            email = keystone.user_email(self.settings, keystone_id, token)
        except keystone.KeystoneUnavailable as err:
            self.logger.warning('no e-mail for Keystone user %s: %s',
                                keystone_id, err)
            return user
        if not email:
            return user
        return self.services.metadata.keystone_user(keystone_id, name,
                                                    email=email)

    def check_credentials(self, name, password):
        """The user whose name and password these are, or None (the web
        site's sign-in checks them the same way as the authorize page)."""
        return self._check_credentials(name, password)

    def _check_credentials(self, name, password):
        """The user whose name and password these are, or None."""
        if self.settings.auth_mode != 'keystone':
            return self.services.metadata.check_password(name, password)
        try:
            found = keystone.check_password(self.settings, name, password)
        except keystone.KeystoneUnavailable as err:
            self.logger.error('Keystone unreachable: %s', err)
            raise errors.ServiceUnavailable(
                'the identity service is unreachable; try again')
        if found is None:
            return None
        return self._keystone_user(*found)

    def _user(self, user_id):
        try:
            return self.services.metadata.get_user(user_id)
        except metadata_errors.NotFound:
            return None  # deleted since the token was issued

    def authorize(self, req):
        """``swift.authorize`` for signed requests: container ACLs only."""
        user = req.environ.get('stacksync.user')
        try:
            _version, account, container, obj = split_path(
                req.path, 1, 4, True)
        except ValueError:
            return swob.HTTPNotFound(request=req)
        if user is None or account != self.settings.storage_account \
                or not container:
            return swob.HTTPForbidden(request=req)
        if not obj and req.method in WRITE_METHODS:
            # Creating, changing or deleting a workspace container is the
            # API's job, done with pre-authorized subrequests.
            return swob.HTTPForbidden(request=req)
        referrers, groups = parse_acl(getattr(req, 'acl', None))
        if acl_principal(user) in groups:
            return None
        if req.method in ('GET', 'HEAD') and \
                referrer_allowed(req.referer, referrers) and \
                (obj or '.rlistings' in groups):
            return None
        return swob.HTTPForbidden(request=req)

    # -- the OAuth endpoints --

    def oauth_endpoint(self, req):
        name = req.path_info[len(common.OAUTH_PREFIX):]
        if name == 'request_token' and req.method == 'POST':
            return self._token_endpoint(req, self.provider.request_token)
        if name == 'access_token' and req.method == 'POST':
            return self._token_endpoint(req, self.provider.access_token)
        if name == 'authorize' and req.method in ('GET', 'HEAD'):
            return self._login_page(req, req.params.get('oauth_token', ''))
        if name == 'authorize' and req.method == 'POST':
            return self._authorize(req)
        if name in ('request_token', 'access_token', 'authorize'):
            raise errors.MethodNotAllowed(
                '%s is not allowed on %s' % (req.method, req.path_info))
        raise errors.NotFound('no OAuth endpoint at %s' % req.path_info)

    def _token_endpoint(self, req, endpoint):
        uri, body, headers = self._oauth_request(req)
        self._check_signature_method(uri, body, headers)
        resp_headers, resp_body, status = endpoint(
            uri, req.method, body, headers)
        if status >= 400:
            raise errors.Unauthorized(_oauth_error(resp_body))
        return swob.Response(status=status, body=resp_body.encode('utf-8'),
                             content_type=FORM_TYPE)

    def _authorize(self, req):
        """The sign-in form's POST: check the password, grant the token.

        The request token is checked first: without a pending one the
        answer is the same whatever the password, which is not even
        looked at, so the page is no password oracle for whoever has no
        consumer. Then the throttle (stacksync_swift.throttle) slows down
        repeated failures per user name and client address, sharing its
        counts with the web sign-in.
        """
        form = self._form(req)
        token = form.get('oauth_token', '')
        consumer = self.provider.pending(token)
        if consumer is None:
            return _unknown_request()
        name = form.get('username', '')[:255]
        keys = self.throttle.keys(name, req.environ.get('REMOTE_ADDR', ''))
        self.throttle.wait(keys)
        user = self._check_credentials(name, form.get('password', ''))
        if user is None:
            self.throttle.failed(keys)
            return self._login_page(req, token, consumer, status=401,
                                    error='Wrong user name or password.')
        self.throttle.succeeded(keys)
        uri = self._base_url(req) + req.path_info + '?' + urlencode(
            {'oauth_token': token})
        try:
            headers, body, status = self.provider.authorize(
                uri, 'GET', None, {}, user['id'])
        except (oauth.OAuthError, metadata_errors.NotFound):
            # Expired, or authorized by another request, while we waited.
            return _unknown_request()
        if status == 302:
            return swob.HTTPFound(location=headers['Location'])
        verifier = dict(parse_qsl(body)).get('oauth_verifier', '')
        return _page('Access granted', VERIFIER_PAGE.format(
            verifier=html.escape(verifier)))

    def _login_page(self, req, token, consumer=None, status=200, error=''):
        consumer = consumer or self.provider.pending(token)
        if consumer is None:
            return _unknown_request()
        return _page('Sign in', LOGIN_PAGE.format(
            action=html.escape(self._base_url(req) + req.path_info),
            token=html.escape(token),
            application=html.escape(consumer.name),
            error=('<p class="error">%s</p>' % html.escape(error))
            if error else ''), status=status)

    # -- helpers --

    def _base_url(self, req):
        return self.settings.oauth_base_url or req.host_url

    def _oauth_request(self, req):
        """The URI, body and headers oauthlib must see for this request.

        The signature covers the path exactly as the client sent it, still
        percent-encoded (RFC 5849 3.4.1.2).
        """
        path = req.environ.get('RAW_PATH_INFO') or \
            swob.wsgi_quote(req.path_info)
        uri = self._base_url(req) + path
        if req.query_string:
            uri += '?' + req.query_string
        headers = {name: req.headers[name]
                   for name in ('Authorization', 'Content-Type')
                   if name in req.headers}
        body = None
        if _media_type(req) == FORM_TYPE:
            body = self._read_form_body(req)
        return uri, body, headers

    def _read_form_body(self, req):
        length = req.content_length
        if length is None or length > MAX_FORM_BODY:
            raise errors.RequestEntityTooLarge(
                'form bodies are limited to %d bytes' % MAX_FORM_BODY)
        body = req.environ['wsgi.input'].read(length)
        # Whoever comes after us reads the body again.
        req.environ['wsgi.input'] = io.BytesIO(body)
        return body.decode('utf-8', 'replace')

    def _form(self, req):
        if _media_type(req) != FORM_TYPE:
            raise errors.BadRequest('expected a form (%s)' % FORM_TYPE)
        return dict(parse_qsl(self._read_form_body(req)))

    def _check_signature_method(self, uri, body, headers):
        if oauth.signature_method(uri, body, headers) == \
                oauth.SIGNATURE_PLAINTEXT and not uri.startswith('https://'):
            raise errors.Unauthorized(
                'PLAINTEXT signatures are only accepted over TLS')


def _media_type(req):
    return req.headers.get('Content-Type', '').split(';')[0].strip().lower()


def _oauth_error(body):
    fields = dict(parse_qsl(body or ''))
    return fields.get('error_description') or fields.get('error') or \
        'OAuth request refused'


LOGIN_PAGE = """
<form method="post" action="{action}">
  {error}
  <p>The application <strong>{application}</strong> asks for access to
    your StackSync files.</p>
  <input type="hidden" name="oauth_token" value="{token}">
  <label>User name <input name="username" autocomplete="username"
    required autofocus></label>
  <label>Password <input name="password" type="password"
    autocomplete="current-password" required></label>
  <button type="submit">Allow access</button>
</form>
"""

VERIFIER_PAGE = """
<p>Type this verification code into the application:</p>
<p class="verifier"><code>{verifier}</code></p>
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StackSync - {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 26rem;
       margin: 3rem auto; padding: 0 1rem; color: #222; }}
label {{ display: block; margin: .8rem 0; }}
input {{ display: block; width: 100%; padding: .4rem; font-size: 1rem;
        box-sizing: border-box; }}
button {{ padding: .5rem 1.2rem; font-size: 1rem; }}
.error {{ color: #b00020; }}
.verifier code {{ font-size: 1.6rem; letter-spacing: .1rem; }}
</style></head>
<body><h1>StackSync</h1><h2>{title}</h2>{content}</body></html>
"""


def _unknown_request():
    """The answer for a request token that is unknown, expired or spent."""
    return _page('Unknown request',
                 '<p class="error">This authorization request is unknown '
                 'or has expired. Start again from the application.</p>',
                 status=401)


def _page(title, content, status=200):
    return swob.Response(
        status=status, content_type='text/html', charset='utf-8',
        body=PAGE.format(title=html.escape(title),
                         content=content).encode('utf-8'),
        headers={'Cache-Control': 'no-store',
                 'X-Frame-Options': 'DENY'})


def filter_factory(global_conf, **local_conf):
    settings = config.load(global_conf, local_conf)
    register_swift_info('stacksync_auth', auth_mode=settings.auth_mode)

    def auth_filter(app):
        conf = dict(global_conf, **local_conf)
        return StackSyncAuth(app, settings,
                             get_logger(conf, log_route='stacksync_auth'))
    return auth_filter
