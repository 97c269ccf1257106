"""Commit-to-event latency with 100 subscribed consumers.

One process commits through the metadata service with an
:class:`~stacksync_swift.events.EventHub` (its relay publishes each event
from the outbox after the commit). ``--consumers`` consumers, each with its
own connection and queue bound to the workspace's routing key (as many sync
clients of one workspace would be), run in ``--processes`` other processes.
For every commit and consumer the latency is the time from the commit's
return (its transaction is durable) to the event's arrival at the consumer;
commits are spaced ``--interval`` apart, so this measures latency, not a
backlog. The same machine's clock stamps both ends.

Usage::

    .ci/rabbitmq.sh                       # prints the AMQP URL
    python benchmarks/bench_events.py --events-url amqp://guest:guest@127.0.0.1:5672//
    python benchmarks/bench_events.py --events-url ''     # embedded transport
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CONSUMER = '''
import json, sys, threading, time
from stacksync_swift import config, events, eventsclient
database_url, events_url, workspace, count, expected = sys.argv[1:6]
settings = config.Settings(database_url=database_url, events_url=events_url)
keys = ['workspace.%s' % workspace]
stopping = threading.Event()
received = []
ready = []


def consume(n):
    def on_event(event):
        received.append((n, event['cursor'], time.time()))
    if events_url:
        eventsclient.listen(events_url, keys, on_event, stopping,
                            ready=lambda: ready.append(n))
    else:
        from stacksync_swift.metadata import db
        transport = events.EmbeddedTransport(db.create_engine(database_url))
        transport.listen(keys, on_event, stopping, lambda: ready.append(n))


threads = [threading.Thread(target=consume, args=(n,), daemon=True)
           for n in range(int(count))]
for thread in threads:
    thread.start()
while len(ready) < len(threads):
    time.sleep(0.01)
print('ready', flush=True)
deadline = time.time() + 120
while len(received) < int(expected) and time.time() < deadline:
    time.sleep(0.05)
stopping.set()
print(json.dumps(received), flush=True)
'''


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events-url', default=os.environ.get(
        'STACKSYNC_TEST_AMQP_URL', 'amqp://guest:guest@127.0.0.1:5672//'))
    parser.add_argument('--consumers', type=int, default=100)
    parser.add_argument('--processes', type=int, default=4)
    parser.add_argument('--commits', type=int, default=200)
    parser.add_argument('--interval', type=float, default=0.02)
    args = parser.parse_args()

    from stacksync_swift import config
    from stacksync_swift import events
    from stacksync_swift import services
    from stacksync_swift.metadata import db

    state = tempfile.mkdtemp(prefix='bench-events-')
    database_url = 'sqlite:///%s' % os.path.join(state, 'metadata.sqlite')
    db.upgrade(database_url)
    settings = config.Settings(database_url=database_url,
                               events_url=args.events_url)
    hub = events.EventHub(settings, services.Services(settings))
    user = hub.metadata.create_user('bench')
    workspace = hub.metadata.get_workspaces(user['id'])[0]['id']
    hub.committed()  # start the relay before timing

    per_process = args.consumers // args.processes
    consumers = [subprocess.Popen(
        [sys.executable, '-c', CONSUMER, database_url, args.events_url,
         str(workspace), str(per_process), str(per_process * args.commits)],
        stdout=subprocess.PIPE, text=True) for _ in range(args.processes)]
    for consumer in consumers:
        assert consumer.stdout.readline().strip() == 'ready'
    time.sleep(0.5)

    committed_at = {}
    for n in range(args.commits):
        hub.metadata.create_folder(user['id'], workspace, None, 'f%d' % n)
        committed_at[n + 1] = time.time()
        hub.committed()
        time.sleep(args.interval)

    latencies = []
    for consumer in consumers:
        received = json.loads(consumer.stdout.readline())
        consumer.wait()
        latencies.extend((at - committed_at[cursor]) * 1000
                         for _n, cursor, at in received)
    hub.close()
    expected = per_process * args.processes * args.commits
    transport = args.events_url.split(':', 1)[0] if args.events_url \
        else 'embedded'
    print('commit-to-event latency, %s, %d consumers in %d processes, '
          '%d commits %.0f ms apart (Python %s, %s)'
          % (transport, per_process * args.processes, args.processes,
             args.commits, args.interval * 1000,
             platform.python_version(), datetime.date.today()))
    print('events received: %d of %d' % (len(latencies), expected))
    print('p50 %.1f ms   p90 %.1f ms   p99 %.1f ms   max %.1f ms   '
          'mean %.1f ms' % (
              percentile(latencies, 0.5), percentile(latencies, 0.9),
              percentile(latencies, 0.99), max(latencies),
              statistics.mean(latencies)))
    return 0 if len(latencies) == expected else 1


if __name__ == '__main__':
    sys.exit(main())
