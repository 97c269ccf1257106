"""The service objects a proxy process needs, built once per database.

Both filters (and the web site) of one proxy process share one engine, and
so one connection pool, per ``database_url``. The engine connects lazily, so
building it before the proxy forks its workers is harmless.
"""

import threading

from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service

_lock = threading.Lock()
_by_url = {}


class Services:
    def __init__(self, settings):
        self.engine = db.create_engine(settings.database_url)
        self.metadata = service.MetadataService(self.engine)
        self.credentials = credentials.CredentialStore(self.engine)


def for_settings(settings):
    """The shared :class:`Services` for ``settings.database_url``."""
    with _lock:
        found = _by_url.get(settings.database_url)
        if found is None:
            found = _by_url[settings.database_url] = Services(settings)
        return found
