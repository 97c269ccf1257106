"""The one parser of the options of both StackSync filters.

``stacksync_auth`` and ``stacksync_api`` share their settings: the
installation account, the metadata database, quotas. An operator may set an
option in either filter's section of ``proxy-server.conf``; each filter reads
its own section first, then the other StackSync filter's section of the same
file, then ``[DEFAULT]``, then the built-in default. Every option is described
in ``etc/proxy-server.conf-sample``.

Everything is parsed and validated here, once, when the proxy loads its
pipeline: a bad value stops the proxy with a ``ValueError`` that names the
option, rather than failing on the first request.
"""

import configparser
import dataclasses
import os
import re

from swift.common.utils import NicerInterpolation
from swift.common.utils import config_true_value

AUTH_ENTRY_POINT = 'egg:stacksync_swift#stacksync_auth'
API_ENTRY_POINT = 'egg:stacksync_swift#stacksync_api'
OUR_ENTRY_POINTS = (AUTH_ENTRY_POINT, API_ENTRY_POINT)

LISTING_FORMATS_ENTRY_POINT = 'egg:swift#listing_formats'
AUTHTOKEN_ENTRY_POINT = 'egg:keystonemiddleware#auth_token'

DEFAULT_DATABASE_URL = 'sqlite:////var/lib/stacksync-swift/metadata.sqlite'
DEFAULT_QUOTA = 10 * 1024 ** 3
AUTH_MODES = ('oauth', 'keystone')
# First path segments a web site prefix must not take from Swift or the API.
RESERVED_PREFIXES = ('v1', 'v2', 'auth', 'oauth', 'info', 'healthcheck')
WEB_PREFIX = re.compile(r'^/[A-Za-z0-9._~-]+/$')


@dataclasses.dataclass(frozen=True)
class Settings:
    """The validated options shared by both filters."""

    storage_account: str = 'AUTH_stacksync'
    database_url: str = DEFAULT_DATABASE_URL
    auth_mode: str = 'oauth'
    default_quota: int = DEFAULT_QUOTA
    oauth_base_url: str = ''
    events_url: str = ''
    events_exchange: str = 'stacksync'
    long_poll_timeout: int = 300
    # Published events older than this leave the outbox; 0 keeps them.
    events_keep_days: float = 7.0
    keystone_auth_url: str = ''
    keystone_user_domain: str = 'Default'
    pipeline_check: bool = True
    web_prefix: str = '/stacksync/'
    chunk_etag: bool = False
    # Packs (DESIGN.md "Chunks and packs"): the largest pack object, and
    # the pack PUTs one upload keeps in flight while it fills the next.
    pack_size: int = 16 * 1024 * 1024
    packs_in_flight: int = 1
    # Garbage collection (stacksync_swift.gc): seconds an unreferenced
    # chunk, a dead pack or a deleted workspace's container is left alone
    # (uploads in flight, memories in proxies), and days a replaced
    # version stays restorable (0: forever).
    gc_grace: float = 24 * 3600.0
    keep_versions_days: float = 0.0
    # PostgreSQL: seconds to wait for a connection, and for a statement
    # (lock waits included; 0: no limit).
    connect_timeout: int = 5
    statement_timeout: float = 30.0

    @property
    def event_transport_url(self):
        """``events_url``, or the embedded transport on our database.

        The embedded default needs no broker: the relay marks events
        published in the metadata database's outbox table and every
        process reads them back from there
        (:class:`stacksync_swift.events.EmbeddedTransport`). Its URL is
        ``sqla+<database_url>``, a name kept from Kombu's SQLAlchemy
        transport, which it replaced: that transport cannot multicast
        across proxies.
        """
        return self.events_url or 'sqla+' + self.database_url

    def swift_info(self):
        """What the filters show in ``/info`` (nothing secret)."""
        return {'storage_account': self.storage_account,
                'auth_mode': self.auth_mode,
                'api_versions': ['v1', 'v2']}


def load(global_conf, local_conf):
    """Build :class:`Settings` for one filter from its Paste configuration."""
    conf = dict(global_conf)
    conf.update(_sibling_sections(global_conf.get('__file__')))
    conf.update(local_conf)
    return parse(conf)


def parse(conf):
    """Validate a flat option mapping into :class:`Settings`."""
    defaults = Settings()
    storage_account = conf.get('storage_account', defaults.storage_account)
    storage_account = storage_account.strip()
    if not storage_account or '/' in storage_account:
        raise ValueError('storage_account must be a Swift account name '
                         'such as AUTH_stacksync, not %r' % storage_account)
    database_url = conf.get('database_url', defaults.database_url).strip()
    if '://' not in database_url:
        raise ValueError('database_url must be an SQLAlchemy URL such as '
                         'sqlite:////path/db or postgresql+psycopg2://..., '
                         'not %r' % database_url)
    auth_mode = conf.get('auth_mode', defaults.auth_mode).strip().lower()
    if auth_mode not in AUTH_MODES:
        raise ValueError('auth_mode must be one of %s, not %r'
                         % (', '.join(AUTH_MODES), auth_mode))
    quota = conf.get('default_quota', defaults.default_quota)
    try:
        default_quota = int(quota)
        if default_quota < 0:
            raise ValueError
    except ValueError:
        raise ValueError('default_quota must be a number of bytes '
                         '(0 for no limit), not %r' % quota)
    oauth_base_url = conf.get('oauth_base_url', '').strip().rstrip('/')
    if oauth_base_url and not oauth_base_url.startswith(
            ('http://', 'https://')):
        raise ValueError('oauth_base_url must be the http(s) URL clients '
                         'use to reach the proxy, not %r' % oauth_base_url)
    events_exchange = conf.get('events_exchange', 'stacksync').strip()
    if not events_exchange:
        raise ValueError('events_exchange must not be empty')
    long_poll_timeout = _number(
        conf, 'long_poll_timeout', defaults.long_poll_timeout, int,
        lambda n: 1 <= n <= 3600, '1 to 3600 seconds')
    events_keep_days = _number(
        conf, 'events_keep_days', defaults.events_keep_days, float,
        lambda n: 0 <= n < 100000,
        'a number of days (0 keeps published events forever)')
    connect_timeout = _number(
        conf, 'connect_timeout', defaults.connect_timeout, int,
        lambda n: 1 <= n <= 600, '1 to 600 whole seconds')
    statement_timeout = _number(
        conf, 'statement_timeout', defaults.statement_timeout, float,
        lambda n: 0 <= n <= 86400, '0 (no limit) to 86400 seconds')
    pack_size = _number(
        conf, 'pack_size', defaults.pack_size, int,
        lambda n: 4 * 1024 * 1024 <= n <= 1024 * 1024 * 1024,
        '4 MiB (4194304) to 1 GiB in bytes')
    packs_in_flight = _number(
        conf, 'packs_in_flight', defaults.packs_in_flight, int,
        lambda n: 1 <= n <= 16, '1 to 16')
    gc_grace = _number(
        conf, 'gc_grace', defaults.gc_grace, float,
        lambda n: 0 <= n <= 30 * 86400, '0 to 2592000 seconds (30 days)')
    keep_versions_days = _number(
        conf, 'keep_versions_days', defaults.keep_versions_days, float,
        lambda n: 0 <= n < 100000,
        'a number of days (0 keeps every version forever)')
    keystone_auth_url = conf.get('keystone_auth_url', '').strip()
    if auth_mode == 'keystone' and not keystone_auth_url:
        raise ValueError('auth_mode = keystone needs keystone_auth_url, the '
                         'Keystone v3 endpoint that checks passwords')
    return Settings(
        web_prefix=_web_prefix(conf.get('web_prefix', defaults.web_prefix)),
        storage_account=storage_account,
        database_url=database_url,
        auth_mode=auth_mode,
        default_quota=default_quota,
        oauth_base_url=oauth_base_url,
        events_url=conf.get('events_url', '').strip(),
        events_exchange=events_exchange,
        long_poll_timeout=long_poll_timeout,
        events_keep_days=events_keep_days,
        connect_timeout=connect_timeout,
        statement_timeout=statement_timeout,
        keystone_auth_url=keystone_auth_url,
        keystone_user_domain=conf.get('keystone_user_domain',
                                      'Default').strip() or 'Default',
        pipeline_check=config_true_value(
            conf.get('pipeline_check', defaults.pipeline_check)),
        chunk_etag=config_true_value(
            conf.get('chunk_etag', defaults.chunk_etag)),
        pack_size=pack_size,
        packs_in_flight=packs_in_flight,
        gc_grace=gc_grace,
        keep_versions_days=keep_versions_days)


def _number(conf, name, default, convert, acceptable, what):
    """Option ``name`` as ``convert`` (int or float) makes it, refused with
    ``ValueError`` (``<name> must be <what>``) unless ``acceptable``."""
    value = conf.get(name, default)
    try:
        number = convert(value)
        if not acceptable(number):
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError('%s must be %s, not %r' % (name, what, value))
    return number


def _web_prefix(value):
    """The web site's path prefix, ``/name/``; empty: no web site."""
    value = value.strip()
    if not value:
        return ''
    if not value.endswith('/'):
        value += '/'
    if not WEB_PREFIX.match(value) or \
            value.strip('/').lower() in RESERVED_PREFIXES:
        raise ValueError(
            'web_prefix must be one path segment such as /stacksync/ '
            '(not one of Swift\'s own: %s), or empty for no web site; '
            'not %r' % (', '.join(RESERVED_PREFIXES), value))
    return value


def read_proxy_config(path):
    """Parse a proxy-server.conf file (or a .conf.d folder) without Paste.

    Values are interpolated as Swift has Paste do it: only a value holding
    ``%(`` is (``%(here)s``, and then ``%%`` for a percent sign); any other,
    such as a URL-encoded database password, is taken as written. So an
    option read here is the value the filter itself was given.
    """
    here = path if path and os.path.isdir(path) else \
        os.path.dirname(path or '')
    parser = configparser.ConfigParser(
        defaults={'here': os.path.abspath(here), '__file__': path or ''},
        interpolation=NicerInterpolation(), strict=False)
    if path and os.path.isdir(path):
        parser.read(sorted(os.path.join(path, name)
                           for name in os.listdir(path)
                           if name.endswith('.conf')))
    elif path:
        parser.read(path)
    return parser


def _entry_point(parser, name):
    """``use = egg:...`` of a filter; a direct factory counts as its egg."""
    section = 'filter:%s' % name
    use = parser.get(section, 'use', fallback='').strip()
    factory = parser.get(section, 'paste.filter_factory', fallback='')
    if not use and factory.strip().startswith(
            'keystonemiddleware.auth_token:'):
        return AUTHTOKEN_ENTRY_POINT
    return use


def _sibling_sections(path):
    """Options set in any StackSync filter section of the proxy's config."""
    parser = read_proxy_config(path)
    merged = {}
    for section in parser.sections():
        if not section.startswith('filter:'):
            continue
        if parser.get(section, 'use', fallback='').strip() in \
                OUR_ENTRY_POINTS:
            for key, value in parser.items(section):
                if key not in parser.defaults() and key != 'use':
                    merged.setdefault(key, value)
    return merged


def check_pipeline(path, auth_mode='oauth'):
    """Check that our filters sit where they must in ``[pipeline:main]``.

    * ``stacksync_auth`` before ``stacksync_api``, both before the proxy
      app: the API's pre-authorized subrequests go down the rest of the
      pipeline (copy, slo, versioning...).
    * Both before ``listing_formats``, which rewrites the query string of
      anything that looks like an account or container GET (``/v1/account``
      does): an OAuth signature covers the query the client sent, and API
      answers must not be reformatted as listings.
    * Both after ``authtoken`` in Keystone mode, whose identity
      ``stacksync_auth`` maps to a StackSync user.

    Swift's auth filters may come before or after: a signed request is
    authorized with ``swift.authorize_override``, as tempurl does, which
    tempauth and keystoneauth respect. Raises ``ValueError`` saying what is
    wrong; a pipeline that Paste did not load from a file (tests,
    embedding) is not checked.
    """
    parser = read_proxy_config(path)
    if not parser.has_option('pipeline:main', 'pipeline'):
        return
    names = parser.get('pipeline:main', 'pipeline').split()
    uses = [_entry_point(parser, name) for name in names]
    pipeline = ' '.join(names)

    def position(entry_point):
        return uses.index(entry_point) if entry_point in uses else None

    auth, api = position(AUTH_ENTRY_POINT), position(API_ENTRY_POINT)
    if auth is None or api is None:
        raise ValueError(
            'pipeline %r must contain both stacksync_auth (%s) and '
            'stacksync_api (%s)' % (pipeline, AUTH_ENTRY_POINT,
                                    API_ENTRY_POINT))
    if not auth < api < len(names) - 1:
        raise ValueError(
            'pipeline %r: stacksync_auth must come before stacksync_api, '
            'and both before the proxy-server app' % pipeline)
    listing = position(LISTING_FORMATS_ENTRY_POINT)
    if listing is not None and listing < api:
        raise ValueError(
            'pipeline %r: stacksync_auth and stacksync_api must come before '
            '%s, which rewrites the query strings OAuth signs'
            % (pipeline, names[listing]))
    token = position(AUTHTOKEN_ENTRY_POINT)
    if auth_mode == 'keystone' and token is None:
        raise ValueError(
            'pipeline %r: auth_mode = keystone needs keystonemiddleware\'s '
            'auth_token (%s) before stacksync_auth'
            % (pipeline, AUTHTOKEN_ENTRY_POINT))
    if token is not None and token > auth:
        raise ValueError(
            'pipeline %r: stacksync_auth must come after %s, whose Keystone '
            'identity it maps' % (pipeline, names[token]))
