"""CI's fixed set of simulation seeds (see ``sim.py`` for what is checked).

Seeds run in blocks across the machine's cores. A failing seed is run a
second time to prove the run is reproducible, and the failure names the
one-line command that replays it. Seeds that once found a bug are kept
in ``REGRESSIONS``.
"""

import concurrent.futures
import os

import pytest

from tests.simulation import sim
from tests.simulation import soak

SEEDS = 2000
# Seeds that found bugs (see the commit history of the engine):
# 50 a move both sides made differently, onto a new local folder;
# 452 a folder deleted locally while the server edited a moved file in it;
# 899 a file moved into a new folder of its own old name;
# 1000313 a file put back while its delete was sent, the answer lost;
# 2120921 moves that all waited on each other (a folder moved locally into
#   a path where the server had moved a file), so the plan stayed empty.
REGRESSIONS = [50, 199, 452, 899, 1000313, 2120921]

pytestmark = pytest.mark.simulation


def _check(failures):
    messages = []
    for seed, message in failures:
        try:
            sim.run(seed)
            second = 'passed the second time: NOT DETERMINISTIC'
        except sim.Failure as failure:
            second = 'same' if str(failure)[:200] == message else \
                'differs the second time: %s' % failure
        messages.append('seed %d: %s (%s)\n  replay: %s'
                        % (seed, message, second, sim.replay_command(seed)))
    assert not messages, '\n'.join(messages)


@pytest.mark.parametrize('seed', REGRESSIONS)
def test_regression_seed(seed):
    try:
        sim.run(seed)
    except sim.Failure as failure:
        _check([(seed, str(failure)[:200])])


def test_seeds():
    workers = max(os.cpu_count() or 1, 1)
    starts = range(0, SEEDS, soak.BLOCK)
    failures = []
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        for _start, found in pool.map(soak.run_block, starts):
            failures.extend(found)
    _check(failures)
