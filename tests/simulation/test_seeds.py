"""CI's fixed set of simulation seeds (see ``cloud.py`` and ``sim.py`` for
what is checked).

Seeds run in blocks across the machine's cores, each in its own profile
(``cloud.profile_of``: one user, two users sharing, an encrypted
workspace, both). A failing seed is run a second time to prove the run is
reproducible, and the failure names the one-line command that replays it.
Seeds that once found a bug are kept in ``REGRESSIONS`` with the profile
they found it in.
"""

import concurrent.futures
import os

import pytest

from tests.simulation import cloud
from tests.simulation import soak

SEEDS = 2000
# (seed, profile, what it found); see the commit history of the engine.
# 'classic' is the one-user simulation (engine over a direct remote) the
# first seeds were found with.
REGRESSIONS = [
    (50, 'classic', 'a move both sides made differently, onto a new local '
     'folder'),
    (199, 'classic', 'a file here where the server had made a folder of '
     'that name holding new files: the folder never came down (fixed by '
     'the planner changes of 864356d, with seeds 50, 452 and 899)'),
    (452, 'classic', 'a folder deleted locally while the server edited a '
     'moved file in it'),
    (899, 'classic', 'a file moved into a new folder of its own old name'),
    (1000313, 'classic', 'a file put back while its delete was sent, the '
     'answer lost'),
    (2120921, 'classic', 'moves that all waited on each other (a folder '
     'moved locally into a path where the server had moved a file)'),
    (16, 'one', 'a file renamed to a name the server gave a folder '
     'meanwhile lost its item id (deleted and uploaded anew)'),
    (61, 'shared', 'an owner deleted the folder above a shared folder: the '
     'mount could not be made again and every pass failed'),
    (418, 'encrypted', 'a folder renamed onto a folder made meanwhile: its '
     'files were uploaded anew instead of moved'),
    (427, 'shared-encrypted', 'a move whose answer was lost, then deleted '
     'locally: the file came back'),
    (1057, 'shared', 'a move retried after a 504 got "conflict" although '
     'the server held it: the file deleted next came back'),
    (1428, 'one', 'an edit whose answer was lost, then deleted locally: '
     'the file came back'),
    (1735, 'shared-encrypted', 'two offers, one folder inside the other, '
     'both accepted: shares nested'),
    (3163, 'shared-encrypted', 'a file moved into a folder as it was '
     'shared stayed in the private mirror at its old path for good'),
    (3279, 'shared-encrypted', 'the same, a file moved into a folder '
     'being shared'),
    (8713, 'shared', 'an edit of a file whose folder was shared (and the '
     'file deleted there) before the share came down: refused as "no such '
     'item" pass after pass'),
    (5361, 'shared', 'watch mode long-polled from the server\'s cursor, '
     'so a change landing between a pass and the wait never woke it'),
    (136172, 'one', 'a server move made here kept its old version in the '
     'merge base; a pass cut short, then a delete of its folder: the '
     'folder came back'),
    (122050, 'encrypted', 'the same, a rename in a folder deleted next'),
    (126254, 'encrypted', 'a folder the server made a file held a new '
     'file here: a round cut short after the folder left the merge base '
     'set it aside with a file deleted elsewhere, which came back'),
    (114029, 'shared', 'a file moved into a folder then shared stayed at '
     'its old path on another device until a next pass, which a watcher '
     'never made'),
    (205145, 'shared', 'a mount folder renamed in case alone after its '
     'last synced file was deleted was restored: the file came back'),
    (218827, 'shared-encrypted', 'the same, in an encrypted share'),
    # The simulation's own mistakes, kept so they stay fixed:
    (21, 'shared', 'simulation: each share adds a round, so "more than one '
     'round" did not mean "did something"'),
    (37, 'shared', 'simulation: a client restarted during its own long '
     'poll'),
    (203803, 'shared-encrypted', 'simulation: a departed share\'s folder '
     'trashed by a pass that then crashed counted as content lost'),
    # Promises the checks made too wide, each narrowed to what the engine
    # documents (doc/design.md, "What keeps a file's identity"):
    (66, 'encrypted', 'checks: a delete raced by a move on another device '
     'that had not synced it'),
    (88, 'one', 'checks: a move onto the path of a synced file deleted '
     'just before is an edit of that file'),
    (95, 'shared-encrypted', 'checks: a folder deleted as it became a '
     'mount comes back'),
    (185, 'shared', 'checks: a file moved, then edited before the pass, is '
     'a new item'),
    (294, 'encrypted', 'checks: a file edited, then moved before the pass, '
     'is a new item'),
    (320, 'one', 'checks: the merge base read before the first pass after '
     'a restart'),
    (670, 'encrypted', 'checks: a delete of a file whose folder the server '
     'moved meanwhile (the move wins)'),
    (781, 'shared', 'checks: a move into a folder that had just become a '
     'mount (another workspace)'),
    (1205, 'shared', 'checks: a move into a folder shared before the pass '
     '(another workspace)'),
    (2438, 'encrypted', 'checks: a delete of a folder never synced here'),
    (2899, 'shared-encrypted', 'checks: a share mounted under the name of '
     'a folder deleted before'),
    (3648, 'one', 'checks: a file whose create lost its answer is new to '
     'its device; a delete elsewhere meanwhile does not stick'),
    (4094, 'encrypted', 'checks: a delete of bytes the device also holds '
     'elsewhere (moved, unsynced)'),
    (4239, 'shared-encrypted', 'checks: a moved file moved again onto a '
     'synced path'),
    (7959, 'shared-encrypted', 'checks: a delete of a folder another '
     'device had moved, not yet sent (the move wins)'),
    (9421, 'shared', 'checks: a delete of a folder another device had '
     'made too, not yet sent'),
    (105641, 'shared', 'checks: a codec asked for a share the user had '
     'just left'),
    (107112, 'one', 'checks: moves that cross (a folder moved into one '
     'that another device moved into it): the refused one is re-created'),
    (4999, 'shared-encrypted', 'checks: a move raced by an edit and move '
     'of the same file on a device whose create had lost its answer'),
    (118277, 'shared', 'checks: a delete of a folder another device had '
     'made from a synced file (a swap), not yet sent'),
    (121938, 'encrypted', 'checks: the same, a file swapped for a folder '
     'on a device that crashed before sending it'),
    (125713, 'shared', 'checks: a delete in a shared folder, then its '
     'mount folder deleted before it was sent (the share comes afresh)'),
    (129883, 'shared-encrypted', 'checks: the same, on a member\'s '
     'device'),
    (128446, 'encrypted', 'checks: a delete of a folder another device '
     'moved before it was sent (the move wins)'),
    (221377, 'shared', 'checks: a moved file moved again onto the path '
     'of a synced folder moved away, while another device had an unsent '
     'folder change: the first move\'s promise stayed'),
    (114087, 'shared-encrypted', 'checks: a moved file moved again into a '
     'shared folder is a new item (and the simulation: keys made from '
     'random container names changed the run each time)'),
]

pytestmark = pytest.mark.simulation


def _check(failures):
    messages = []
    for seed, profile, message in failures:
        try:
            cloud.run(seed, profile)
            second = 'passed the second time: NOT DETERMINISTIC'
        except cloud.Failure as failure:
            second = 'same' if str(failure)[:200] == message else \
                'differs the second time: %s' % failure
        messages.append('seed %d (%s): %s (%s)\n  replay: %s' % (
            seed, profile, message, second,
            cloud.replay_command(seed, profile)))
    assert not messages, '\n'.join(messages)


@pytest.mark.parametrize('seed, profile, found', REGRESSIONS,
                         ids=['%d-%s' % (seed, profile)
                              for seed, profile, _found in REGRESSIONS])
def test_regression_seed(seed, profile, found):
    try:
        cloud.run(seed, profile)
    except cloud.Failure as failure:
        _check([(seed, profile, str(failure)[:200])])


def test_seeds():
    workers = max(os.cpu_count() or 1, 1)
    starts = range(0, SEEDS, soak.BLOCK)
    failures = []
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        for _start, found in pool.map(soak.run_block, starts):
            failures.extend((seed, cloud.profile_of(seed), message)
                            for seed, message in found)
    _check(failures)
