"""Load: 20 clients for 60 s of mixed work on one shared folder.

Twenty users (an owner and 19 editors of the owner's shared folder), each
a thread of this process speaking OAuth-signed HTTP to an all-in-one of
the test's own, create, edit (with and without ``If-Match``), rename,
delete and download files in the shared workspace, racing on the same
files. Afterwards:

* no request was answered 5xx, and every 4xx was a lost race (404: the
  file was deleted, 409: it changed first); the proxy logged no
  unhandled error;
* every version of every file in the workspace names chunks stored in
  Swift, whose bytes hash to their names and, joined, to the version's
  content hash; histories have no gaps;
* every version the server acknowledged is still in its file's history
  with the hash it was acknowledged with (no version lost);
* every live file downloads with the bytes its hash names.
"""

import hashlib
import random
import threading
import time
import uuid

import pytest

from tests.functional import apiclient
from tests.functional import faults

CLIENTS = 20
DURATION = 60.0
# Relative weights of the operations.
OPERATIONS = (('create', 3), ('edit', 4), ('rename', 2), ('delete', 1),
              ('read', 2))


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    with faults.running(tmp_path_factory, 'load') as running:
        yield running


@pytest.fixture(scope='module')
def team(cluster):
    stores = apiclient.Stores(cluster)
    made = faults.Team(cluster, stores, CLIENTS)
    yield made
    made.close()
    stores.close()


def payload(rng):
    """Random bytes: mostly small files, sometimes a few chunks."""
    size = rng.choice((0, 1, 100, 4096, 65536, 700 * 1024))
    return rng.randbytes(size)


class Worker:
    """One client's loop of random operations until the deadline."""

    def __init__(self, team, client, ledger, seed):
        self.client = client
        self.parent = team.parents[client]
        self.ledger = ledger
        self.rng = random.Random(seed)

    def run(self, deadline):
        names, weights = zip(*OPERATIONS)
        while time.monotonic() < deadline:
            operation = self.rng.choices(names, weights)[0]
            item_id = self.ledger.pick(self.rng)
            if operation == 'create' or item_id is None:
                self.create()
            else:
                getattr(self, operation)(item_id)

    def create(self):
        resp = self.client.post('/v1/file', params={
            'name': 'f-%s' % uuid.uuid4().hex[:8], 'parent': self.parent},
            data=payload(self.rng))
        self.ledger.note('create', resp, allowed=())

    def edit(self, item_id):
        headers = {}
        if self.rng.random() < 0.5:
            current = self.client.get('/v1/file/%d' % item_id)
            if current.status_code != 200:
                return self.ledger.note('edit', current)
            headers['If-Match'] = str(current.json()['version'])
        resp = self.client.put('/v1/file/%d/data' % item_id,
                               data=payload(self.rng), headers=headers)
        self.ledger.note('edit', resp)

    def rename(self, item_id):
        resp = self.client.put('/v1/file/%d' % item_id, json={
            'name': 'r-%s' % uuid.uuid4().hex[:8]})
        self.ledger.note('rename', resp)

    def delete(self, item_id):
        resp = self.client.delete('/v1/file/%d' % item_id)
        self.ledger.note('delete', resp)

    def read(self, item_id):
        resp = self.client.get('/v1/file/%d/data' % item_id)
        if resp.status_code == 200:
            assert '"%s"' % hashlib.sha256(resp.content).hexdigest() == \
                resp.headers['Etag']
        self.ledger.note('read', resp)


def run_workers(team, ledger, duration):
    deadline = time.monotonic() + duration
    errors = []

    def work(worker):
        try:
            worker.run(deadline)
        except Exception as error:  # an assertion or a transport error
            errors.append(error)

    threads = [threading.Thread(target=work, args=(
        Worker(team, client, ledger, seed),))
        for seed, client in enumerate(team.clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.slow
def test_twenty_clients_for_a_minute_lose_nothing(cluster, team):
    ledger = faults.Ledger()
    errors = run_workers(team, ledger, DURATION)
    assert errors == []
    assert ledger.server_errors() == {}
    assert ledger.failures == []
    assert faults.unhandled_errors(cluster) == []
    checked = faults.audit(cluster, team.owner, team.workspace, ledger)
    assert checked >= len(ledger.acknowledged)
    faults.check_downloads(team.owner, faults.all_items(
        team.owner, team.workspace).values())
    print('statuses %s, %d versions checked'
          % (dict(ledger.statuses), checked))
