"""Which requests belong to StackSync, decided in one place.

A request is ours when it names the API (``X-StackSync-API``, or the original
StackSync header ``StackSync-API``), carries an OAuth 1.0a signature, or goes
to the OAuth endpoints under ``/oauth/``. Everything else is plain Swift and
must reach the rest of the pipeline exactly as it came.
"""

from urllib.parse import parse_qs

API_HEADERS = ('HTTP_X_STACKSYNC_API', 'HTTP_STACKSYNC_API')
OAUTH_PREFIX = '/oauth/'

# Set on every subrequest the filters make, so logs and tests can tell ours
# apart (``swift.source`` in proxy-logging).
SWIFT_SOURCE = 'SS'


def api_version(env):
    """The API version a request asks for, or None for plain Swift."""
    for header in API_HEADERS:
        value = env.get(header)
        if value is not None:
            return value.strip().lower()
    return None


def is_oauth_signed(env):
    """True when the request carries an OAuth 1.0a signature (RFC 5849 3.5).

    The signature may sit in the ``Authorization`` header or the query
    string. A form-encoded body is only read by the OAuth endpoints, which
    are ours by path anyway: a Swift upload is never consumed here.
    """
    authorization = env.get('HTTP_AUTHORIZATION', '')
    if authorization[:6].lower() == 'oauth ':
        return True
    query = env.get('QUERY_STRING', '')
    return 'oauth_signature' in query and \
        'oauth_signature' in parse_qs(query, keep_blank_values=True)


def is_oauth_endpoint(env):
    return env.get('PATH_INFO', '').startswith(OAUTH_PREFIX)


def owns(env):
    """True when StackSync must answer or authenticate this request."""
    return (api_version(env) is not None or is_oauth_signed(env)
            or is_oauth_endpoint(env))
