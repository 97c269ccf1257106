"""Optimistic concurrency under real threads: the first writer wins.

Runs on both backends: PostgreSQL (row lock on the workspace) and a SQLite
file (``BEGIN IMMEDIATE``), each thread with its own pooled connection,
as the workers of several proxies would.
"""

import collections
import threading

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import new_file
from tests.unit.metadata.factories import person

THREADS = 8
COMMITS_PER_THREAD = 50


def run_threads(count, target):
    failures = []

    def guarded(index):
        try:
            target(index)
        except BaseException as error:  # reported by the main thread
            failures.append(error)
    threads = [threading.Thread(target=guarded, args=(i,))
               for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def assert_gap_free_history(service, user_id, item_id):
    versions = service.get_versions(user_id, item_id)
    assert [v['version'] for v in versions] == \
        list(range(1, len(versions) + 1))
    seqs = [v['seq'] for v in versions]
    assert seqs == sorted(set(seqs))
    return versions


def test_threads_committing_one_file_get_one_winner_per_base(service):
    alice = person(service, 'alice')
    item = new_file(service, alice, 'contested.txt', b'start')
    devices = [service.get_or_create_device(alice.id, 'dev%d' % i)['id']
               for i in range(THREADS)]
    outcomes = []

    def commit_repeatedly(index):
        for attempt in range(COMMITS_PER_THREAD):
            base = service.get_item(alice.id, item['id'])['version']
            data = b'%d-%d' % (index, attempt)
            [result] = service.commit(
                alice.id, devices[index], alice.workspace,
                [dict(content(data), id=item['id'], base_version=base)])[
                    'results']
            outcomes.append((base, data, result))

    run_threads(THREADS, commit_repeatedly)

    assert len(outcomes) == THREADS * COMMITS_PER_THREAD
    assert {result['result'] for _b, _d, result in outcomes} <= \
        {'committed', 'conflict'}
    winners = collections.Counter(
        base for base, _data, result in outcomes
        if result['result'] == 'committed')
    attempted = {base for base, _data, _result in outcomes}
    final = service.get_item(alice.id, item['id'])['version']
    # Exactly one winner for every base version anyone tried, and every
    # version after the first was made by one of them.
    assert set(winners) == attempted == set(range(1, final))
    assert set(winners.values()) == {1}
    versions = assert_gap_free_history(service, alice.id, item['id'])
    assert len(versions) == final
    by_version = {v['version']: v for v in versions}
    for base, data, result in outcomes:
        if result['result'] == 'committed':
            assert result['item']['version'] == base + 1
            assert by_version[base + 1]['content_hash'] == \
                content(data)['content_hash']
        else:
            # The loser learns of a newer version than its base.
            assert result['item']['version'] > base
    changes = service.get_changes(alice.id, alice.workspace)
    assert changes['cursor'] == final


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writers=st.integers(min_value=2, max_value=6))
def test_simultaneous_commits_on_one_base_have_one_winner(service,
                                                          writers):
    who = person(service, 'u%d' % len(service.list_users()))
    item = new_file(service, who, 'f', b'base')
    barrier = threading.Barrier(writers)
    results = []

    def commit(index):
        barrier.wait()
        results.extend(service.commit(
            who.id, who.device, who.workspace,
            [dict(content(b'%d' % index), id=item['id'],
                  base_version=1)])['results'])

    run_threads(writers, commit)
    outcome = collections.Counter(r['result'] for r in results)
    assert outcome == {'committed': 1, 'conflict': writers - 1}
    winner = next(r['item'] for r in results if r['result'] == 'committed')
    assert all(r['item'] == winner for r in results)
    assert len(assert_gap_free_history(service, who.id, item['id'])) == 2
