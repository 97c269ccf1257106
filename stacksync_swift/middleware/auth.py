"""
==============
stacksync_auth
==============

Makes StackSync users Swift identities. It sits after Swift's own auth
filter (tempauth, or keystonemiddleware ``auth_token`` + ``keystoneauth``)
and before ``stacksync_api``::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               tempauth stacksync_auth stacksync_api proxy-logging proxy-server

    [filter:stacksync_auth]
    use = egg:stacksync_swift#stacksync_auth

    [filter:stacksync_api]
    use = egg:stacksync_swift#stacksync_api
    storage_account = AUTH_stacksync
    database_url = postgresql+psycopg2://stacksync:secret@db/stacksync

The options are shared with ``stacksync_api`` and documented in
``etc/proxy-server.conf-sample``; either section may hold them.

What it does
============

* A request that is not StackSync's -- no ``X-StackSync-API`` (or
  ``StackSync-API``) header, no OAuth 1.0a signature, not under ``/oauth/``
  -- passes through untouched, and whatever ``swift.authorize`` the Swift
  auth filter set stays in charge. Installing the filter changes nothing for
  plain Swift clients.
* A pre-authorized subrequest (``swift.authorize_override``) passes through.
* A request that is StackSync's is authenticated here. The OAuth 1.0a
  provider (request token, authorize, access token) and the signed-request
  check are built on top of this filter; until a request proves an identity
  it is answered ``401`` with a JSON body and ``WWW-Authenticate: OAuth``.
"""

from swift.common import swob
from swift.common.registry import register_swift_info
from swift.common.utils import get_logger

from stacksync_swift import config
from stacksync_swift.middleware import common
from stacksync_swift.middleware import errors


class StackSyncAuth:
    """The ``stacksync_auth`` filter."""

    def __init__(self, app, settings, logger=None):
        self.app = app
        self.settings = settings
        self.logger = logger or get_logger({}, log_route='stacksync_auth')

    def __call__(self, env, start_response):
        if env.get('swift.authorize_override') or not common.owns(env):
            return self.app(env, start_response)
        try:
            self.authenticate(swob.Request(env))
        except errors.APIError as err:
            return err(env, start_response)
        return self.app(env, start_response)

    def authenticate(self, req):
        """Put the StackSync user in the environment, or raise 401.

        An unsigned API request goes on without an identity: the API filter
        answers it ``401`` with the API's own error body.
        """
        if common.is_oauth_signed(req.environ) or \
                common.is_oauth_endpoint(req.environ):
            raise errors.Unauthorized(
                'OAuth 1.0a credentials are not accepted by this proxy')


def filter_factory(global_conf, **local_conf):
    settings = config.load(global_conf, local_conf)
    register_swift_info('stacksync_auth', auth_mode=settings.auth_mode)

    def auth_filter(app):
        conf = dict(global_conf, **local_conf)
        return StackSyncAuth(app, settings,
                             get_logger(conf, log_route='stacksync_auth'))
    return auth_filter
