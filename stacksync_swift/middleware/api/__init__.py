"""
=============
stacksync_api
=============

The StackSync REST API inside the Swift proxy. Requests carrying
``X-StackSync-API: v1`` (or the original ``StackSync-API: v2``) are turned
into calls on the metadata service and pre-authorized Swift subrequests to
the installation account; every other request passes through untouched.

Place it right after ``stacksync_auth``, before ``listing_formats`` and the
proxy app; the filter checks this when the proxy loads its pipeline and
refuses to start otherwise::

    [pipeline:main]
    pipeline = catch_errors gatekeeper healthcheck proxy-logging cache
               stacksync_auth stacksync_api listing_formats tempauth
               proxy-logging proxy-server

    [filter:stacksync_api]
    use = egg:stacksync_swift#stacksync_api
    storage_account = AUTH_stacksync
    database_url = sqlite:////var/lib/stacksync-swift/metadata.sqlite

Options (shared with ``stacksync_auth``: set each once, in either
filter's section; ``etc/proxy-server.conf-sample`` and
``doc/operators.rst`` say more):

``storage_account``
    The Swift account that holds every workspace container.
    Default: ``AUTH_stacksync``
``database_url``
    SQLAlchemy URL of the metadata database shared by all proxies
    (``postgresql+psycopg2://...`` in production; the filters give psycopg2
    eventlet's wait callback when they load, so a query waits green).
    Default: ``sqlite:////var/lib/stacksync-swift/metadata.sqlite``
``connect_timeout``
    PostgreSQL: whole seconds to wait for a connection; then a 503.
    Default: ``5``
``statement_timeout``
    PostgreSQL: seconds a statement may run, lock waits included; then a
    503 (``0``: no limit). Default: ``30``
``auth_mode``
    ``oauth`` or ``keystone``. Default: ``oauth``
``keystone_auth_url``
    Keystone mode: the Keystone v3 endpoint that checks passwords on the
    sign-in page. Required with ``auth_mode = keystone``.
``keystone_user_domain``
    Keystone mode: the domain of the users who sign in.
    Default: ``Default``
``default_quota``
    Bytes a new user may store; ``0`` for no limit. Default: 10 GiB
``oauth_base_url``
    The URL clients use to reach the proxies (behind a TLS terminator or
    load balancer), which OAuth signatures cover. Default: empty, the URL
    the request arrived with
``events_url``
    Where change events go: ``amqp://...`` (RabbitMQ) in production.
    Default: empty, the embedded transport on the metadata database
``events_exchange``
    The topic exchange events are published to. Default: ``stacksync``
``events_keep_days``
    Days published events stay in the outbox table (``0``: forever).
    Default: ``7``
``long_poll_timeout``
    The longest a ``changes/wait`` request waits, in seconds.
    Default: ``300``
``web_prefix``
    The web site's path prefix, one segment; empty turns it off.
    Default: ``/stacksync/``
``pipeline_check``
    Refuse to start when the pipeline order is wrong. Default: ``true``
``chunk_etag``
    Send the MD5 ``Etag`` with every chunk and pack PUT.
    Default: ``false``
``pack_size``
    The largest pack object in bytes: new chunks are stored many to a
    pack (DESIGN.md "Chunks and packs"). Default: ``16777216`` (16 MiB)
``packs_in_flight``
    Pack PUTs one upload keeps in flight while it fills the next; an
    upload holds at most this many packs plus one in memory. Default: ``2``

Resources (DESIGN.md section 4; the OpenAPI document, served at
``GET /v1/openapi.json``, describes each): files and their data, versions
and restore (:mod:`.files`), folders (:mod:`.folders`), the account
(:mod:`.account`), deltas, long poll and commit (:mod:`.workspaces`) and
chunks (:mod:`.chunks`). Raw Swift writes to the installation account are
limited to new, verified chunks (:mod:`stacksync_swift.middleware.guard`).
File data is stored as content-defined chunks in
the workspace's container (:mod:`stacksync_swift.storage`); a user's private
container is created, with ACLs naming the user, on their first request
(:mod:`.containers`).

Errors are JSON, ``{"error": <status>, "description": "..."}``, with the
status codes of the original StackSync API; no input yields a 500. Swift
failing below us is a ``503``.

``StackSync-API: v2`` requests get the original API v2's shapes (item
fields, root folder, e-mail sharing, error codes): the filter records the
version in ``env['stacksync.api_version']`` and the controllers render
through :mod:`.dialects`, the one module that knows v2.
"""

from swift.common import swob
from swift.common.registry import register_swift_info
from swift.common.utils import get_logger

from stacksync_swift import chunking
from stacksync_swift import config
from stacksync_swift import events
from stacksync_swift import services
from stacksync_swift import storage
from stacksync_swift import web
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.middleware import common
from stacksync_swift.middleware import errors
from stacksync_swift.middleware import guard
from stacksync_swift.middleware.api import account  # noqa: F401 (routes)
from stacksync_swift.middleware.api import chunks  # noqa: F401 (routes)
from stacksync_swift.middleware.api import containers
from stacksync_swift.middleware.api import dialects
from stacksync_swift.middleware.api import files  # noqa: F401 (routes)
from stacksync_swift.middleware.api import folders  # noqa: F401 (routes)
from stacksync_swift.middleware.api import openapi  # noqa: F401 (routes)
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api import sharing  # noqa: F401 (routes)
from stacksync_swift.middleware.api import transfer
from stacksync_swift.middleware.api import workspaces  # noqa: F401

SUPPORTED_VERSIONS = ('v1', 'v2')


class StackSyncAPI:
    """The ``stacksync_api`` filter."""

    def __init__(self, app, settings, logger=None):
        self.app = app
        self.settings = settings
        self.logger = logger or get_logger({}, log_route='stacksync_api')
        self.router = router.Router()
        self.services = services.for_settings(settings)
        self.metadata = self.services.metadata
        self.storage = storage.ChunkStore(
            app, settings.storage_account, self.logger,
            chunk_etag=settings.chunk_etag,
            index=self.services.chunk_index, pack_size=settings.pack_size,
            packs_in_flight=settings.packs_in_flight,
            gc_grace=settings.gc_grace)
        self.events = events.hub_for(settings, self.services)
        self.containers = containers.WorkspaceContainers(
            self.metadata, self.storage, self.logger)
        self.guard = guard.RawWriteGuard(app, settings.storage_account,
                                         self.metadata, self.logger)
        self.web = web.WebApp(self)

    def __call__(self, env, start_response):
        # The web site (stacksync_swift.web) lives under web_prefix.
        if self.web.owns(env):
            return self.web(env, start_response)
        # Our own subrequests never carry the API header.
        version = common.api_version(env)
        if version is None:
            target = self.guard.target(env)
            if target is not None:
                return self.guard(env, start_response, target)
            return self.app(env, start_response)
        env[dialects.ENV_KEY] = version
        try:
            return self.handle(swob.Request(env), version)(
                env, start_response)
        except errors.APIError as err:
            return self.error(env, err)(env, start_response)
        except metadata_errors.MetadataError as err:
            return self.error(env, errors.from_metadata(err))(
                env, start_response)
        except chunking.TruncatedStream as err:
            return self.error(env, errors.BadRequest(str(err)))(
                env, start_response)
        except storage.CorruptChunk as err:
            return self.error(env, transfer.unreadable(err))(
                env, start_response)
        except storage.StorageError as err:
            self.logger.error('storage failure in stacksync_api: %s', err)
            return self.error(env, errors.ServiceUnavailable(
                'the storage failed; try again'))(env, start_response)
        except Exception:
            # The last line of defence: a bug must not become a traceback
            # in the client's face, nor a bare 500 without a JSON body.
            self.logger.exception('unhandled error in stacksync_api')
            return self.error(env, errors.ServiceUnavailable(
                'internal error; see the proxy log'))(
                    env, start_response)

    @staticmethod
    def error(env, err):
        """The error as the request's dialect spells it."""
        if env.get(dialects.ENV_KEY) == dialects.V2:
            return dialects.error_response(err)
        return err

    def handle(self, req, version):
        if version not in SUPPORTED_VERSIONS:
            raise errors.BadRequest(
                'unsupported API version %r; use one of %s'
                % (version, ', '.join(SUPPORTED_VERSIONS)))
        controller, method, args = self.router.match(req)
        if controller.needs_user:
            user = req.environ.get('stacksync.user')
            if user is None:
                raise errors.Unauthorized(
                    'sign the request with an OAuth 1.0a access token')
            self.containers.ensure_private(req.environ, user)
        return method(controller(self, req, **args))


def filter_factory(global_conf, **local_conf):
    settings = config.load(global_conf, local_conf)
    if settings.pipeline_check:
        config.check_pipeline(global_conf.get('__file__'),
                             settings.auth_mode)
    register_swift_info('stacksync_api', **settings.swift_info())

    def api_filter(app):
        conf = dict(global_conf, **local_conf)
        return StackSyncAPI(app, settings,
                            get_logger(conf, log_route='stacksync_api'))
    return api_filter
