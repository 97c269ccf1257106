"""OAuth 1.0a (RFC 5849) provider rules, on oauthlib.

:class:`Validator` is the ``oauthlib`` request validator; the credentials it
checks (consumers, request and access tokens, used nonces) live in the
metadata database behind a store object (see
:class:`stacksync_swift.metadata.credentials.CredentialStore`), so every
proxy of a cluster sees the same tokens and a nonce is single-use across
all of them. :class:`Provider` wires the validator into oauthlib's
endpoints; the ``stacksync_auth`` filter turns its answers into HTTP.

Rules beyond oauthlib's defaults:

* Signature methods: ``HMAC-SHA1`` everywhere, ``PLAINTEXT`` only over TLS
  (the secret travels in the clear otherwise).
* Request tokens expire after ``REQUEST_TOKEN_LIFETIME`` seconds and are
  single-use: exchanging one for an access token deletes it.
* A nonce may be used once per consumer, token and timestamp; timestamps
  outside ``TIMESTAMP_LIFETIME`` seconds of the server's clock are refused.
* Access tokens never expire but can be revoked by the operator.
* A request naming an unknown consumer writes nothing: its nonce is not
  recorded (there is nothing to replay), so made-up keys cannot fill the
  nonce table. It still costs a signature check, like a known one.
* The callback must be the one the consumer registered
  (``stacksync-swift consumer-add --callback``, see
  :func:`callback_allowed`): ``oob`` for ``oob``; for a URL, the same
  scheme, host, port and path, with any query the application adds (to
  carry its own state). Consumers registered before callbacks were (no
  callback stored) may use ``oob`` and loopback ``http(s)`` callbacks
  (``127.0.0.1``, ``localhost``, ``[::1]``, any port and path) only.
* The redirect after authorization carries ``oauth_token`` and
  ``oauth_verifier``, nothing about the user.
* The signature base string uses the URL the client used: behind a TLS
  terminator set ``oauth_base_url`` so the proxy knows it.
"""

import hmac
from urllib.parse import urlsplit

from oauthlib.oauth1 import SIGNATURE_HMAC
from oauthlib.oauth1 import SIGNATURE_PLAINTEXT
from oauthlib.oauth1 import RequestValidator
from oauthlib.oauth1 import WebApplicationServer
from oauthlib.oauth1.rfc5849 import errors as oauth_errors
from oauthlib.oauth1.rfc5849 import signature

__all__ = ['OAuthError', 'Provider', 'SIGNATURE_PLAINTEXT', 'Validator',
           'signature_method']

OAuthError = oauth_errors.OAuth1Error

REQUEST_TOKEN_LIFETIME = 15 * 60
TIMESTAMP_LIFETIME = 600
# Generous bounds: apps in the wild send nonces and keys of many lengths.
KEY_LENGTH = (8, 64)
# Where one request's credential lookups are kept (see Validator._lookup).
_FOUND = 'stacksync_found'
OOB = 'oob'
# Consumers without a registered callback may still be called back here:
# the sync client and local tools listen on the loopback interface.
LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1')
# As long as the request token table's callback column.
CALLBACK_LENGTH = 2048
DEFAULT_PORTS = {'http': 80, 'https': 443}


def _origin_and_path(url):
    """``(scheme, host, port, path)`` of a callback URL, or None.

    None for anything but an absolute http(s) URL with a host and without
    user information or fragment: ``https://good@evil/`` must not pass
    for ``good``.
    """
    if len(url) > CALLBACK_LENGTH or '#' in url or \
            any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname or \
            '@' in parts.netloc:
        return None
    return scheme, parts.hostname.lower(), port, parts.path or '/'


def callback_allowed(registered, callback):
    """True when a consumer registered with ``registered`` may use
    ``callback`` (module docstring).

    A URL matches on scheme, host, port (default ports filled in) and the
    exact path; only the query may differ. No prefix matching: a path
    prefix would let ``/cb/../elsewhere`` or an open redirect under the
    prefix receive the verifier.
    """
    if callback == OOB or registered == OOB:
        return callback == registered or \
            (callback == OOB and registered is None)
    wanted = _origin_and_path(callback)
    if wanted is None:
        return False
    if registered is None:
        return wanted[1].strip('[]') in LOOPBACK_HOSTS
    return wanted == _origin_and_path(registered)


class Validator(RequestValidator):
    """oauthlib's questions answered from the credential store."""

    def __init__(self, store):
        super().__init__()
        self.store = store

    # -- shape of credentials --

    allowed_signature_methods = (SIGNATURE_HMAC, SIGNATURE_PLAINTEXT)
    client_key_length = KEY_LENGTH
    request_token_length = KEY_LENGTH
    access_token_length = KEY_LENGTH
    nonce_length = KEY_LENGTH
    verifier_length = KEY_LENGTH
    timestamp_lifetime = TIMESTAMP_LIFETIME
    # TLS is judged by the filter, which knows the scheme the client used.
    enforce_ssl = False

    # Fixed, well-formed stand-ins so that unknown keys take as long to
    # refuse as known ones (oauthlib computes a signature either way).
    dummy_client = 'dummyconsumerkey0000'
    dummy_request_token = 'dummyrequesttoken000'  # noqa: S105
    dummy_access_token = 'dummyaccesstoken0000'  # noqa: S105

    # -- secrets --

    def _lookup(self, request, kind, key, load):
        """``load(key)``, once per oauthlib request.

        oauthlib asks about the consumer twice (is it valid, its secret)
        and the access token twice: each database read is done once and
        kept on the request, which lives for one check only.
        """
        found = getattr(request, _FOUND, None)
        if found is None:
            found = {}
            setattr(request, _FOUND, found)
        if (kind, key) not in found:
            found[kind, key] = load(key)
        return found[kind, key]

    def _consumer(self, client_key, request):
        return self._lookup(request, 'consumer', client_key,
                            self.store.get_consumer)

    def _access_token(self, token, request):
        return self._lookup(request, 'access', token,
                            self.store.get_access_token)

    def get_client_secret(self, client_key, request):
        consumer = self._consumer(client_key, request)
        return consumer.secret if consumer else 'dummy-secret'

    def get_request_token_secret(self, client_key, token, request):
        found = self.store.get_request_token(token)
        return found.secret if found else 'dummy-secret'

    def get_access_token_secret(self, client_key, token, request):
        found = self._access_token(token, request)
        return found.secret if found else 'dummy-secret'

    # -- realms: StackSync grants whole accounts, so realms are unused --

    def get_default_realms(self, client_key, request):
        return []

    def get_realms(self, token, request):
        return []

    def validate_requested_realms(self, client_key, realms, request):
        return True

    def validate_realms(self, client_key, token, request, uri=None,
                        realms=None):
        return True

    def verify_realms(self, token, realms, request):
        return True

    # -- validation --

    def validate_client_key(self, client_key, request):
        return self._consumer(client_key, request) is not None

    def validate_timestamp_and_nonce(self, client_key, timestamp, nonce,
                                     request, request_token=None,
                                     access_token=None):
        # oauthlib asks this before validate_client_key. An unknown
        # consumer's request is refused there, with the same signature
        # work as a known one's; recording its nonce would only let
        # made-up keys fill the table.
        if self._consumer(client_key, request) is None:
            return True
        return self.store.use_nonce(client_key, int(timestamp), nonce,
                                    request_token or access_token or '')

    def validate_redirect_uri(self, client_key, redirect_uri, request):
        consumer = self._consumer(client_key, request)
        return consumer is not None and \
            callback_allowed(consumer.callback, redirect_uri)

    def validate_request_token(self, client_key, token, request):
        found = self.store.get_request_token(token)
        return found is not None and found.consumer_key == client_key

    def verify_request_token(self, token, request):
        # Authorized once: a second authorization would hand out a second
        # verifier for the same token.
        found = self.store.get_request_token(token)
        return found is not None and found.verifier is None

    def validate_verifier(self, client_key, token, verifier, request):
        found = self.store.get_request_token(token)
        if found is None or found.consumer_key != client_key or \
                found.verifier is None or found.user_id is None:
            return False
        request.user = found.user_id
        return hmac.compare_digest(found.verifier, verifier)

    def validate_access_token(self, client_key, token, request):
        found = self._access_token(token, request)
        if found is None or found.consumer_key != client_key:
            return False
        request.user = found.user_id
        return True

    def get_redirect_uri(self, token, request):
        found = self.store.get_request_token(token)
        return found.callback if found else None

    # -- saving --

    def save_request_token(self, token, request):
        self.store.save_request_token(
            request.client_key, token['oauth_token'],
            token['oauth_token_secret'], request.redirect_uri,
            REQUEST_TOKEN_LIFETIME)

    def save_verifier(self, token, verifier, request):
        # oauthlib hands over the credentials given to authorize() here,
        # in the very dict it then adds to the callback URL (or the oob
        # answer): the user id is taken out, it is nobody's business.
        user_id = verifier.pop('user')
        self.store.authorize_request_token(
            token, user_id, verifier['oauth_verifier'])

    def invalidate_request_token(self, client_key, request_token, request):
        self.store.delete_request_token(request_token)

    def save_access_token(self, token, request):
        self.store.save_access_token(
            request.client_key, request.user, token['oauth_token'],
            token['oauth_token_secret'])


class Provider:
    """The three OAuth endpoints and the signed-request check."""

    def __init__(self, store):
        self.validator = Validator(store)
        self.server = WebApplicationServer(self.validator)

    def request_token(self, uri, method, body, headers):
        return self.server.create_request_token_response(
            uri, method, body, headers)

    def pending(self, token):
        """The consumer asking for ``token`` to be authorized, or None.

        None when the request token is unknown, expired or already
        authorized, or its consumer is gone: then there is nothing to
        authorize, whoever asks and with whatever password.
        """
        # Tokens we issue are letters and digits: anything else is not
        # one, and is not sent to the database (PostgreSQL refuses NULs).
        if not token or len(token) > KEY_LENGTH[1] or \
                not (token.isascii() and token.isalnum()):
            return None
        found = self.validator.store.get_request_token(token)
        if found is None or found.verifier is not None:
            return None
        return self.validator.store.get_consumer(found.consumer_key)

    def authorize(self, uri, method, body, headers, user_id):
        # The user travels to save_verifier among oauthlib's
        # "credentials"; save_verifier keeps it out of the redirect.
        return self.server.create_authorization_response(
            uri, method, body, headers, credentials={'user': user_id})

    def access_token(self, uri, method, body, headers):
        return self.server.create_access_token_response(
            uri, method, body, headers)

    def verify(self, uri, method, body, headers):
        """Check a signed request; return ``(valid, user id or None)``.

        A header oauthlib cannot parse is not valid (it raises ValueError).
        """
        try:
            valid, request = self.server.validate_protected_resource_request(
                uri, method, body, headers)
        except ValueError:
            return False, None
        return valid, getattr(request, 'user', None) if valid else None


def signature_method(uri, body, headers):
    """The ``oauth_signature_method`` a request names, or None."""
    try:
        params = signature.collect_parameters(
            uri_query=urlsplit(uri).query, body=body, headers=headers,
            exclude_oauth_signature=False)
    except (ValueError, TypeError):
        return None  # malformed: oauthlib itself refuses it next
    return dict(params).get('oauth_signature_method')
