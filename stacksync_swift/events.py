"""Change events: the outbox relay, the Kombu publisher, long-poll waiters.

This module is the one place the API asks "has workspace W moved past
cursor C yet?" (:meth:`EventHub.wait`) and tells "something was committed"
(:meth:`EventHub.committed`).

Today :meth:`EventHub.wait` re-reads the workspace's sequence from the
metadata database every ``POLL_INTERVAL`` seconds; the Kombu relay and
consumer (events published from the outbox, waking waiters on any proxy
within milliseconds) build on the same two calls.
"""

import threading
import time

POLL_INTERVAL = 0.25

_lock = threading.Lock()
_hubs = {}


class EventHub:
    def __init__(self, settings, services, clock=time.monotonic,
                 sleep=time.sleep):
        self.settings = settings
        self.metadata = services.metadata
        self.clock = clock
        self.sleep = sleep

    def committed(self):
        """A write was committed in this process (outbox rows are waiting)."""

    def wait(self, user_id, workspace_id, cursor, timeout):
        """Return the workspace's cursor once it is past ``cursor``.

        Returns the cursor as it was when ``timeout`` seconds ran out if
        nothing happened. Raises the metadata service's errors if the user
        cannot see the workspace.
        """
        deadline = self.clock() + timeout
        while True:
            current = self.metadata.get_workspace(
                user_id, workspace_id)['cursor']
            if current > cursor or self.clock() >= deadline:
                return current
            self.sleep(min(POLL_INTERVAL, max(0, deadline - self.clock())))


def hub_for(settings, services):
    """The process's :class:`EventHub` for these settings."""
    with _lock:
        key = (settings.database_url, settings.event_transport_url)
        hub = _hubs.get(key)
        if hub is None:
            hub = _hubs[key] = EventHub(settings, services)
        return hub
