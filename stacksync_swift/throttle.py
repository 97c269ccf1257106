"""Slowing down password guessing, wherever a password is checked.

Every place that checks a StackSync password -- the web site's sign-in
and the OAuth authorize page of ``stacksync_auth`` -- asks one
:class:`Throttle` before it checks and tells it how the check went.
Failures are counted per user name (``user:<name>``) and per client
address (``ip:<address>``) in the ``failed_sign_ins`` table of the
metadata database (:class:`stacksync_swift.metadata.web.WebStore`), so
every proxy of a cluster, and both places, share the same counts: a
guess is a guess whether it was made on the web site or on the authorize
page.

After :data:`FREE_ATTEMPTS` failures, each further attempt first waits
``2 ** (failures - FREE_ATTEMPTS)`` seconds (at most :data:`LONGEST_WAIT`)
before the password is checked at all, whatever it is. The wait is a
green-thread sleep under eventlet, so the proxy serves other requests
meanwhile. A success forgets the user name's failures, not the
address's: one valid account must not reset an attacker's count.
Failures older than :data:`FAILURE_WINDOW` are forgotten.

The client address is the one the proxy sees (``REMOTE_ADDR``). Behind a
load balancer or TLS terminator every client may share one address; the
per-name count still holds there, and the shared address slows everyone
only after repeated failures.
"""

import datetime

import eventlet

FREE_ATTEMPTS = 3
LONGEST_WAIT = 30
FAILURE_WINDOW = datetime.timedelta(minutes=15)


class Throttle:
    """Slows down repeated failed password checks.

    ``store`` keeps the counts: ``failures(keys, window)``,
    ``record_failure(keys, window)`` and ``forget_failures(keys)``, as
    :class:`~stacksync_swift.metadata.web.WebStore` has them.
    """

    def __init__(self, store, free=FREE_ATTEMPTS, longest=LONGEST_WAIT,
                 window=FAILURE_WINDOW, sleep=eventlet.sleep):
        self.store = store
        self.free = free
        self.longest = longest
        self.window = window
        self.sleep = sleep

    @staticmethod
    def keys(name, address):
        """The counters an attempt for ``name`` from ``address`` moves."""
        return ['user:%s' % name[:200], 'ip:%s' % (address or '?')]

    def delay(self, keys):
        """Seconds the next attempt for ``keys`` must wait."""
        failures = self.store.failures(keys, self.window)
        if failures < self.free:
            return 0
        return min(2 ** (failures - self.free), self.longest)

    def wait(self, keys):
        """Wait as long as :meth:`delay` says; return the seconds."""
        delay = self.delay(keys)
        if delay:
            self.sleep(delay)
        return delay

    def failed(self, keys):
        self.store.record_failure(keys, self.window)

    def succeeded(self, keys):
        self.store.forget_failures([key for key in keys
                                    if key.startswith('user:')])
