"""The event listener against a real RabbitMQ: it keeps its connection.

A consumer only receives. While events arrive more often than its drain
timeout it must still send heartbeats, or the broker closes the
connection after two heartbeat intervals, and a proxy's long polls then
hear of other proxies' commits only at their next recheck (seen as one
change in a hundred taking 4.7 s device to device across two proxies,
``benchmarks/bench_scale.py`` P9b).
"""

import threading
import time
import uuid

import kombu

from stacksync_swift import eventsclient
from tests import servers

# Short, so the broker gives up on a silent client within seconds (RabbitMQ
# takes the lower of the two proposals, and drops a peer after two missed
# intervals; the client sends one when an interval has passed).
HEARTBEAT = 4


def test_a_busy_listener_keeps_its_connection(monkeypatch):
    url = servers.amqp_url()
    monkeypatch.setattr(eventsclient, 'HEARTBEAT', HEARTBEAT)
    exchange_name = 'stacksync-test-%s' % uuid.uuid4().hex[:12]
    key = 'workspace.1'
    received, failure = [], []
    stopping, ready = threading.Event(), threading.Event()

    def listening():
        try:
            eventsclient.listen(url, [key], received.append, stopping,
                                exchange_name=exchange_name,
                                ready=ready.set)
        except Exception as error:      # the broker dropped us
            failure.append(error)

    listener = threading.Thread(target=listening, daemon=True)
    listener.start()
    assert ready.wait(30)
    sent = 0
    exchange = eventsclient.exchange(exchange_name)
    with kombu.Connection(url) as connection:
        producer = connection.Producer()
        # Three heartbeat intervals of events every 0.2 s: the listener's
        # drain never times out.
        deadline = time.monotonic() + 3 * HEARTBEAT + 2
        while time.monotonic() < deadline and not failure:
            sent += 1
            producer.publish({'n': sent}, exchange=exchange,
                             routing_key=key, serializer='json',
                             declare=[exchange])
            time.sleep(0.2)
    time.sleep(1)
    stopping.set()
    listener.join(10)
    assert failure == []
    assert [event['n'] for event in received] == list(range(1, sent + 1))
