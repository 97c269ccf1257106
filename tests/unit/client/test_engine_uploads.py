"""The engine's uploads: chunks batched per round, sent once, resumable.

Runs the engine over the simulation's fakes (the real metadata service in
memory, no network faults) and counts the calls its remote receives.
"""

import pytest

from stacksync_swift.client import engine
from tests.simulation import sim
from tests.simulation.fakes import SimRemote
from tests.simulation.fakes import SimulatedCrash
from tests.simulation.fakes import sha256


class CountingRemote(SimRemote):
    """A ``SimRemote`` that counts calls and may die after N chunk PUTs.
    """

    def __init__(self, remote, crash_after=None):
        super().__init__(remote.server, remote.network, remote.client,
                         remote.user_id, remote.device_id)
        self.calls = {'missing_chunks': 0, 'commit': 0}
        self.sent = []
        self.crash_after = crash_after

    def missing_chunks(self, workspace_id, names):
        self.calls['missing_chunks'] += 1
        return super().missing_chunks(workspace_id, names)

    def commit(self, workspace_id, items):
        self.calls['commit'] += 1
        return super().commit(workspace_id, items)

    def put_chunk(self, workspace_id, name, body):
        if self.crash_after is not None and \
                len(self.sent) >= self.crash_after:
            raise SimulatedCrash('killed mid-upload')
        super().put_chunk(workspace_id, name, body)
        self.sent.append(name)


@pytest.fixture
def world():
    return sim.Simulation(0, clients=1, faults=False)


def counting(world, crash_after=None):
    client, = world.clients
    client.remote = CountingRemote(client.remote, crash_after)
    client.restart()
    return client


def write(client, files):
    for path, data in files.items():
        client.fs.nodes[path] = data
        client.fs._touch(path)


def synced(world, client):
    summary = client.engine.sync_once()
    assert summary.error is None and summary.converged, summary
    return summary


def server_hashes(world):
    return world.server.tree(world.user, world.workspace)


def test_many_small_files_share_one_missing_chunks_call(world):
    client = counting(world)
    files = {'f%03d' % n: b'small file %d\n' % n for n in range(120)}
    write(client, files)
    synced(world, client)
    assert client.remote.calls['missing_chunks'] == 1
    assert sorted(client.remote.sent) == \
        sorted('chk-' + sha256(data) for data in files.values())
    assert client.remote.calls['commit'] == 1
    assert server_hashes(world) == {path: sha256(data)
                                    for path, data in files.items()}
    assert world.server.violations == []


def test_a_chunk_of_several_files_is_sent_once(world):
    client = counting(world)
    write(client, {'a': b'same', 'b': b'same', 'c': b'other'})
    synced(world, client)
    assert sorted(client.remote.sent) == sorted(
        ['chk-' + sha256(b'same'), 'chk-' + sha256(b'other')])


def test_the_queue_is_sent_when_full(world, monkeypatch):
    monkeypatch.setattr(engine, 'MISSING_BATCH', 10)
    monkeypatch.setattr(engine, 'UPLOAD_BUFFER', 100)
    client = counting(world)
    files = {'f%02d' % n: b'%02d' % n * 20 for n in range(25)}   # 40 B
    write(client, files)
    synced(world, client)
    # Every third file fills the 100 bytes: 9 batches, each sent before
    # the next file is read, all of them before the commit names them.
    assert client.remote.calls['missing_chunks'] == 9
    assert len(client.remote.sent) == 25
    assert world.server.violations == []


def test_a_crash_mid_upload_resends_only_what_did_not_land(world):
    client = counting(world, crash_after=7)
    files = {'f%02d' % n: b'content %d' % n for n in range(20)}
    write(client, files)
    with pytest.raises(SimulatedCrash):
        client.engine.sync_once()
    landed = set(world.server.chunks)
    assert len(landed) == 7 and server_hashes(world) == {}
    client = counting(world)            # the process starts again
    synced(world, client)
    every = {'chk-' + sha256(data) for data in files.values()}
    assert sorted(client.remote.sent) == sorted(every - landed)
    assert server_hashes(world) == {path: sha256(data)
                                    for path, data in files.items()}
