"""Planner properties, with hypothesis and its shrinking.

A random base tree is synced; then two random perturbations of it, one
made on the server (through another client) and one locally (create,
edit, delete, rename, move, folder moves, file <-> folder, case-only
renames); then the client syncs with random network failures, lost
answers, crashes and retries. Invariants: nothing raises, the three trees
converge within a fixed number of rounds, and no content that existed on
either side is lost unless that side deleted it (a conflicted copy counts
as kept). The real metadata service and engine run underneath (see
``tests/simulation``).
"""

import random

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from stacksync_swift.client import planner
from stacksync_swift.client.interfaces import LocalEntry
from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import RemoteItem
from tests.simulation import sim

ACTIONS = ['create', 'edit', 'delete', 'rename', 'move', 'mkdir',
           'swap_kind', 'case_rename']

actions = st.lists(st.tuples(st.sampled_from(ACTIONS),
                             st.integers(0, 2 ** 16)), max_size=8)


def perform(world, client, steps):
    for name, draw in steps:
        world.rng = random.Random(draw)
        getattr(world, name)(client.fs)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(base=actions, remote=actions, local=actions,
       faults=st.integers(0, 2 ** 32))
def test_perturbations_converge_and_lose_nothing(base, remote, local,
                                                  faults):
    world = sim.Simulation(0, clients=2, faults=False)
    a, b = world.clients
    perform(world, a, base)
    world.quiesce()
    perform(world, b, remote)
    perform(world, a, local)
    world.sync(b)
    world.network.faults = True
    world.network.rng = random.Random(faults)
    world.network.meddle = None
    for _attempt in range(6):
        world.sync(a)
    world.network.faults = False
    world.quiesce()
    world.check()


def test_plan_is_pure_and_deterministic():
    remote = {'f': RemoteItem(1, None, 'f', False, 2, 'CHANGED', 'b' * 64)}
    local = {'f': LocalEntry(False, 1, 1, 'c' * 64)}
    base = {'f': BaseEntry(1, 1, False, 'a' * 64)}
    first = planner.plan(remote, local, base, who='laptop')
    assert first == planner.plan(remote, local, base, who='laptop')
    assert [op.kind for op in first] == [planner.CONFLICT_COPY,
                                        planner.DOWNLOAD]
    assert first[0].dest.startswith("f (laptop's conflicted copy ")


def test_local_rename_is_a_move():
    base = {'f': BaseEntry(1, 1, False, 'a' * 64)}
    remote = {'f': RemoteItem(1, None, 'f', False, 1, 'NEW', 'a' * 64)}
    local = {'g': LocalEntry(False, 1, 1, 'a' * 64)}
    ops = planner.plan(remote, local, base)
    assert [(op.kind, op.path, op.dest) for op in ops] == [
        (planner.REMOTE_MOVE, 'f', 'g')]


def test_remote_folder_move_moves_the_local_folder():
    base = {'d': BaseEntry(1, 1, True), 'd/f': BaseEntry(2, 1, False,
                                                         'a' * 64)}
    remote = {'e': RemoteItem(1, None, 'e', True, 2, 'RENAMED'),
              'e/f': RemoteItem(2, 1, 'f', False, 1, 'NEW', 'a' * 64)}
    local = {'d': LocalEntry(True), 'd/f': LocalEntry(False, 1, 1,
                                                      'a' * 64)}
    ops = planner.plan(remote, local, base)
    assert [(op.kind, op.path, op.dest) for op in ops] == [
        (planner.LOCAL_MOVE, 'd', 'e')]


def test_a_folder_leaves_the_base_after_its_synced_contents():
    # Deleted on the server, a new file here: the folder uploads again
    # as new, its synced file is deleted here. Forgetting the folder
    # first, a round cut short in between (seed 126254) left that file
    # synced below a folder new here, which went up again with it.
    base = {'d': BaseEntry(1, 1, True), 'd/f': BaseEntry(2, 1, False,
                                                         'a' * 64)}
    local = {'d': LocalEntry(True), 'd/f': LocalEntry(False, 1, 1,
                                                      'a' * 64),
             'd/new': LocalEntry(False, 1, 1, 'b' * 64)}
    ops = planner.plan({}, local, base)
    assert [(op.kind, op.path) for op in ops] == [
        (planner.LOCAL_DELETE, 'd/f'), (planner.UPLOAD, 'd/new'),
        (planner.FORGET_BASE, 'd')]
