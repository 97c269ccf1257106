"""The service objects a proxy process needs, built once per database.

Both filters (and the web site) of one proxy process share one engine, and
so one connection pool, per ``database_url``. The engine connects lazily, so
building it before the proxy forks its workers is harmless.

The filters build their services when the proxy loads its pipeline, after
Swift's eventlet patching: in such a process a PostgreSQL database gets
psycopg2's green wait callback here, before its first connection, and
SQLite the short busy wait with green retries
(:mod:`stacksync_swift.metadata.db`, "Under eventlet"). The engine gets
the ``connect_timeout`` and ``statement_timeout`` options.
"""

import threading

from stacksync_swift.metadata import chunkindex
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service

_lock = threading.Lock()
_by_url = {}


class Services:
    def __init__(self, settings):
        green = db.running_green()
        if green:
            db.make_green(settings.database_url)
        self.engine = db.create_engine(
            settings.database_url, green=green,
            connect_timeout=settings.connect_timeout,
            statement_timeout=settings.statement_timeout)
        self.metadata = service.MetadataService(self.engine)
        self.credentials = credentials.CredentialStore(self.engine)
        self.chunk_index = chunkindex.ChunkIndex(self.engine)


def for_settings(settings):
    """The shared :class:`Services` for ``settings.database_url``."""
    with _lock:
        found = _by_url.get(settings.database_url)
        if found is None:
            found = _by_url[settings.database_url] = Services(settings)
        return found


def store_from_proxy_config(conf_path, logger=None):
    """``(services, chunk store)`` for a tool run outside a proxy.

    Loads the proxy pipeline from ``conf_path`` (the proxy server's
    config) in this process; the store's pre-authorized subrequests go
    through it to the cluster, and its chunk index is the filters'
    database.
    """
    from swift.common.utils import readconf
    from swift.common.utils import set_swift_dir
    from swift.common.wsgi import loadapp

    from stacksync_swift import config
    from stacksync_swift.storage import ChunkStore

    settings = config.load({'__file__': conf_path}, {})
    # What Swift's servers do first: swift.conf and the rings live there.
    set_swift_dir(readconf(conf_path, 'app:proxy-server').get(
        'swift_dir', '/etc/swift'))
    app = loadapp(conf_path, allow_modify_pipeline=False)
    found = for_settings(settings)
    return found, ChunkStore(app, settings.storage_account, logger,
                             index=found.chunk_index,
                             pack_size=settings.pack_size,
                             packs_in_flight=settings.packs_in_flight,
                             gc_grace=settings.gc_grace)
