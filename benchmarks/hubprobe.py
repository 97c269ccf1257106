"""A proxy filter that measures how long the eventlet hub stalls.

Not a benchmark of its own (``run.py`` runs only ``bench_*.py``);
``bench_scale.py`` puts it first in the proxies' pipelines. A green thread
wakes every ``interval`` seconds (10 ms) and notes how late it woke: a
late wake-up is time during which no green thread of that proxy worker
could run -- a request waiting on a blocking call (a database driver that
is not green, scrypt, sqlite) holds every other request of the worker for
that long, plain Swift requests included.

``GET /hubprobe`` answers JSON ``{"ticks", "longest_ms", "p99_ms",
"over_50ms"}`` for the wake-ups since the last ``GET /hubprobe?reset``.
"""

import json
import time

import eventlet
from swift.common import swob

INTERVAL = 0.010


class HubProbe:
    def __init__(self, app, interval=INTERVAL):
        self.app = app
        self.interval = interval
        self.delays = []
        eventlet.spawn(self._tick)

    def _tick(self):
        while True:
            before = time.monotonic()
            eventlet.sleep(self.interval)
            self.delays.append(time.monotonic() - before - self.interval)

    def __call__(self, env, start_response):
        if env.get('PATH_INFO') != '/hubprobe':
            return self.app(env, start_response)
        if 'reset' in env.get('QUERY_STRING', ''):
            self.delays = []
        delays = sorted(self.delays)
        body = {'ticks': len(delays),
                'longest_ms': round(1000 * delays[-1], 1) if delays else 0,
                'p99_ms': round(1000 * delays[int(0.99 * len(delays))], 1)
                if delays else 0,
                'over_50ms': sum(1 for delay in delays if delay > 0.05)}
        return swob.Response(body=json.dumps(body).encode('utf-8'),
                             content_type='application/json')(
                                 env, start_response)


def filter_factory(global_conf, **local_conf):
    interval = float(local_conf.get('interval', INTERVAL))
    return lambda app: HubProbe(app, interval)
