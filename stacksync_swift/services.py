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
