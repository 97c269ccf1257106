"""Proxy memory during a large upload: the API against a raw Swift PUT.

Usage::

    python benchmarks/bench_memory.py [--size-mib 1024] [--interval 0.1]
                                      [--plot results/memory.png]

Starts an all-in-one cluster with a second, bare proxy (the same Swift
servers, without the StackSync filters; each proxy is one process, as the
all-in-one runs them with ``workers = 0``), then:

* uploads ``--size-mib`` of random bytes as a new file through the API
  (``POST /v1/file``, chunked transfer encoding, OAuth-signed), and
* PUTs the same number of bytes as one raw Swift object through the bare
  proxy,

each from a generator of 1 MiB pieces, so neither the benchmark nor the
proxy is handed the whole body at once. While each upload runs, the
proxy's resident set (``VmRSS`` in ``/proc/<pid>/status``) is sampled
every ``--interval`` seconds. The peak growth over the resident set
before the upload is printed first, for both; ``VmHWM`` (the kernel's
own high-water mark) is printed beside it, since it sees peaks between
two samples. ``--plot`` draws both curves over time into a PNG.
"""

import argparse
import random
import tempfile
import threading
import time

import requests
from bench_api import Clients

from stacksync_swift import aio
from stacksync_swift.chunking import MiB

# Samples kept before and after each upload, to show the level it starts
# from and whether the memory goes back after it.
MARGIN_S = 1.0


class Generated:
    """``size`` seeded random bytes in 1 MiB pieces, made as they are read."""

    def __init__(self, size, seed):
        self.size = size
        self.seed = seed

    def __iter__(self):
        rng = random.Random(self.seed)
        left = self.size
        while left:
            piece = rng.randbytes(min(MiB, left))
            left -= len(piece)
            yield piece


def memory_kib(pid):
    """The process's (VmRSS, VmHWM) in KiB, from ``/proc/<pid>/status``."""
    found = {}
    with open('/proc/%d/status' % pid) as status:
        for line in status:
            key, _sep, value = line.partition(':')
            if key in ('VmRSS', 'VmHWM'):
                found[key] = int(value.split()[0])
    return found['VmRSS'], found['VmHWM']


class Sampler:
    """Samples a process's VmRSS on a thread: ``(monotonic time, KiB)``."""

    def __init__(self, pid, interval):
        self.pid = pid
        self.interval = interval
        self.samples = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stopped.is_set():
            rss, _hwm = memory_kib(self.pid)
            self.samples.append((time.monotonic(), rss))
            self._stopped.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stopped.set()
        self._thread.join()


def measure(pid, upload, interval):
    """Run ``upload()`` while sampling ``pid``; what it cost in memory."""
    rss_before, hwm_before = memory_kib(pid)
    with Sampler(pid, interval) as sampler:
        time.sleep(MARGIN_S)
        start = time.monotonic()
        upload()
        took = time.monotonic() - start
        time.sleep(MARGIN_S)
    _rss_after, hwm_after = memory_kib(pid)
    samples = [(at - start, rss) for at, rss in sampler.samples]
    during = [rss for t, rss in samples if 0 <= t <= took] or [rss_before]
    return {'seconds': took, 'samples': samples,
            'rss_before_kib': rss_before,
            'growth_mib': (max(during) - rss_before) / 1024,
            'hwm_growth_mib': (hwm_after - hwm_before) / 1024,
            'hwm_mib': hwm_after / 1024}


class RawSwift:
    """A tempauth session on the bare proxy, with a container to PUT in.

    A tempauth token is only good on the proxy that made it (each proxy
    caches its own), so this one asks the bare proxy itself.
    """

    def __init__(self, cluster):
        self.session = requests.Session()
        auth = self.session.get(cluster.bare_url + '/auth/v1.0', headers={
            'X-Auth-User': cluster.admin_user,
            'X-Auth-Key': cluster.admin_key})
        Clients.check(auth, 200)
        self.session.headers['X-Auth-Token'] = auth.headers['X-Auth-Token']
        self.container = auth.headers['X-Storage-Url'] + '/bench-memory'
        Clients.check(self.session.put(self.container), 201, 202)

    def put(self, body):
        Clients.check(self.session.put(
            self.container + '/object', data=body,
            headers={'Content-Type': 'application/octet-stream'}), 201)


def report(size_mib, interval, results):
    api, raw = results['API'], results['raw Swift']
    print('proxy memory during a %d MiB upload (RSS sampled every %d ms)'
          % (size_mib, interval * 1000))
    print('peak RSS growth: API %.0f MiB vs raw Swift %.0f MiB '
          '(API - raw: %+.0f MiB)' % (api['growth_mib'], raw['growth_mib'],
                                      api['growth_mib'] - raw['growth_mib']))
    for name, row in results.items():
        print('  %-9s %5.0f MiB before, peak growth %+5.0f MiB '
              '(VmHWM %+5.0f MiB, now %.0f MiB); %6.1f s, %4.0f MB/s, '
              '%d samples'
              % (name, row['rss_before_kib'] / 1024, row['growth_mib'],
                 row['hwm_growth_mib'], row['hwm_mib'], row['seconds'],
                 size_mib * MiB / row['seconds'] / 1e6,
                 len(row['samples'])))


def plot(path, size_mib, results):
    """Both RSS curves over time, into a PNG (matplotlib, no display)."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    labels = {'API': 'API: POST /v1/file (proxy with StackSync)',
              'raw Swift': 'raw Swift PUT (bare proxy)'}
    for name, row in results.items():
        times = [t for t, _rss in row['samples']]
        mib = [rss / 1024 for _t, rss in row['samples']]
        line, = axes.plot(times, mib, label='%s, peak %+.0f MiB' % (
            labels[name], row['growth_mib']))
        axes.axvline(row['seconds'], color=line.get_color(), linestyle=':',
                     linewidth=1)
    axes.set_xlabel('seconds since the upload started '
                    '(dotted: when it ended)')
    axes.set_ylabel('proxy resident set (VmRSS), MiB')
    axes.set_title('Proxy memory during a %d MiB upload' % size_mib)
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend(loc='lower right')
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
    print('plot: %s' % path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size-mib', type=int, default=1024)
    parser.add_argument('--interval', type=float, default=0.1,
                        help='seconds between two samples')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--plot', metavar='PNG',
                        help='draw the RSS curves into this file')
    args = parser.parse_args()
    size = args.size_mib * MiB
    with tempfile.TemporaryDirectory() as state, \
            aio.AllInOne(state, port=0, bare_proxy=True) as cluster:
        clients, raw = Clients(cluster), RawSwift(cluster)

        def api_upload():
            meta = clients.api_upload(iter(Generated(size, args.seed)))
            if meta['size'] != size:
                raise SystemExit('API stored %d bytes' % meta['size'])
        results = {
            'API': measure(cluster.processes['proxy'].pid, api_upload,
                           args.interval),
            'raw Swift': measure(
                cluster.processes['proxy-bare'].pid,
                lambda: raw.put(iter(Generated(size, args.seed + 1))),
                args.interval),
        }
    report(args.size_mib, args.interval, results)
    if args.plot:
        plot(args.plot, args.size_mib, results)


if __name__ == '__main__':
    main()
