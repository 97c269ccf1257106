"""The engine's merge base after a server move is made locally.

Runs the engine over the simulation's fakes (the real metadata service in
memory, no network faults), two devices of one user.
"""

import pytest

from tests.simulation import sim
from tests.simulation.fakes import FOLDER


@pytest.fixture
def world():
    return sim.Simulation(0, clients=2, faults=False)


def synced(client):
    summary = client.engine.sync_once()
    assert summary.error is None and summary.converged, summary
    return summary


def one_round(client):
    """A pass cut short after its first round (an answer lost, say)."""
    options = client.engine.options
    rounds, options.max_rounds = options.max_rounds, 1
    try:
        client.engine.sync_once()
    finally:
        options.max_rounds = rounds


def made_elsewhere(here, there, old, new):
    """``old`` in a folder synced on both devices, then moved to ``new``
    on ``there``, which syncs that move."""
    for path, data in (('f', FOLDER), (old, b'x')):
        here.fs.nodes[path] = data
        here.fs._touch(path)
    synced(here)
    synced(there)
    there.fs.move(old, new)
    synced(there)


def test_a_move_made_locally_takes_the_servers_version(world):
    here, there = world.clients
    made_elsewhere(here, there, 'f/x', 'f/y')
    one_round(here)         # moves f/x to f/y here, nothing after
    item = next(item for item in here.engine.state.remote_items(
        world.workspace).values() if item.name == 'y')
    assert here.engine.state.base(world.workspace)['f/y'].version == \
        item.version


def test_a_folder_deleted_after_a_move_in_it_stays_deleted(world):
    # Seeds 136172 and 122050: the moved entry kept the version before the
    # move, so the folder's delete saw "news" inside and made it again.
    here, there = world.clients
    made_elsewhere(here, there, 'f/x', 'f/y')
    one_round(here)
    for path in ('f/y', 'f'):
        del here.fs.nodes[path], here.fs.mtimes[path]
    synced(here)
    synced(there)
    assert world.server.tree(world.user, world.workspace) == {}
    assert here.fs.tree() == there.fs.tree() == {}
