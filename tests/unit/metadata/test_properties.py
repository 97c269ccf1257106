"""Sync invariants under random operation sequences (hypothesis).

Each example works in a workspace of its own (a new user), so one migrated
database serves every example of a test.

* Replaying ``get_changes`` from cursor 0, in pages of any size, rebuilds
  exactly the current state of every item, and the live ones form exactly
  the tree that folder listings show.
* No version is ever lost: each item's versions are numbered 1..n without
  gaps, their sequence numbers rise with them, every version an operation
  returned is still in the history as it was returned, and the workspace
  cursor is the last sequence number used.
"""

import itertools

from hypothesis import HealthCheck
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from stacksync_swift.metadata import errors
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import person

NAMES = st.sampled_from(['a', 'b', 'c.txt'])
DATA = st.sampled_from([b'', b'one', b'two', b'three'])
TARGET = st.integers(min_value=0, max_value=50)

OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just('folder'), TARGET, NAMES),
    st.tuples(st.just('file'), TARGET, NAMES, DATA),
    st.tuples(st.just('update'), TARGET, DATA),
    st.tuples(st.just('rename'), TARGET, NAMES),
    st.tuples(st.just('move'), TARGET, TARGET),
    st.tuples(st.just('delete'), TARGET),
    st.tuples(st.just('restore'), TARGET, TARGET),
    st.tuples(st.just('commit'), TARGET, st.integers(0, 3), NAMES, DATA),
), max_size=30)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[
                        HealthCheck.function_scoped_fixture,
                        HealthCheck.too_slow])

_users = itertools.count()


class Workload:
    """Applies random operations and remembers every version it saw."""

    def __init__(self, service):
        self.service = service
        self.who = person(service, 'user%d' % next(_users))
        self.items = []
        self.seen = {}

    def pick(self, index, folders_only=False):
        candidates = [item for item in self.items
                      if not folders_only or item[1]]
        # One choice in len + 1 is None: the root, or no such item.
        index %= len(candidates) + 1
        return candidates[index][0] if index < len(candidates) else None

    def apply(self, operation):
        kind, *args = operation
        try:
            returned = getattr(self, kind)(*args)
        except errors.MetadataError as error:
            event('refused: %s' % error.code)
            return
        event('done: %s' % kind)
        results = returned if isinstance(returned, list) else [returned]
        for meta in results:
            if meta is not None:
                self.seen[(meta['id'], meta['version'])] = meta

    def folder(self, parent, name):
        meta = self.service.create_folder(
            self.who.id, self.who.workspace, self.pick(parent, True), name,
            device_id=self.who.device)
        self.items.append((meta['id'], True))
        return meta

    def file(self, parent, name, data):
        meta = self.service.create_file(
            self.who.id, self.who.workspace, self.pick(parent, True), name,
            device_id=self.who.device, **content(data))
        self.items.append((meta['id'], False))
        return meta

    def update(self, target, data):
        return self.service.update_file_data(
            self.who.id, self.pick(target) or 0, **content(data))

    def rename(self, target, name):
        return self.service.rename_item(self.who.id, self.pick(target) or 0,
                                        name)

    def move(self, target, parent):
        return self.service.move_item(self.who.id, self.pick(target) or 0,
                                      self.pick(parent, True))

    def delete(self, target):
        return self.service.delete_item(self.who.id, self.pick(target) or 0)

    def restore(self, target, version):
        item_id = self.pick(target) or 0
        current = self.service.get_item(self.who.id, item_id)['version']
        return self.service.restore_version(self.who.id, item_id,
                                            1 + version % current)

    def commit(self, target, base_offset, name, data):
        item_id = self.pick(target)
        if item_id is None:
            return None
        current = self.service.get_item(self.who.id, item_id)
        request = {'id': item_id, 'filename': name,
                   'base_version': max(current['version'] - base_offset, 1)}
        if not current['is_folder']:
            request.update(content(data))
        [result] = self.service.commit(self.who.id, self.who.device,
                                       self.who.workspace,
                                       [request])['results']
        if result['result'] == 'error':
            # E.g. reviving an item whose folder is deleted.
            raise errors.BadRequest(result['description'])
        if result['result'] == 'conflict':
            # A stale base, or another live item holds the name.
            assert request['base_version'] != current['version'] or \
                result['item']['id'] != item_id
            return None
        return result['item']

    def current(self):
        return {item_id: self.service.get_item(self.who.id, item_id)
                for item_id, _folder in self.items}

    def listed_tree(self, folder_id=None):
        listing = self.service.list_folder(self.who.id, folder_id,
                                           self.who.workspace)
        found = {}
        for child in listing['contents']:
            found[child['id']] = child
            if child['is_folder']:
                found.update(self.listed_tree(child['id']))
        return found


def replay(service, who, limit):
    state, cursor = {}, 0
    while True:
        page = service.get_changes(who.id, who.workspace, cursor, limit)
        assert len(page['entries']) <= limit
        for entry in page['entries']:
            state[entry['id']] = entry
        assert page['cursor'] >= cursor
        cursor = page['cursor']
        if not page['has_more']:
            return state, cursor


@SETTINGS
@given(operations=OPERATIONS, limit=st.integers(min_value=1, max_value=7))
def test_replaying_changes_from_zero_rebuilds_the_tree(service, operations,
                                                       limit):
    work = Workload(service)
    for operation in operations:
        work.apply(operation)
    state, cursor = replay(service, work.who, limit)
    assert state == work.current()
    live = {item_id: meta for item_id, meta in state.items()
            if meta['status'] != 'DELETED'}
    assert live == work.listed_tree()
    # Every live item hangs from a live folder (or the root).
    for meta in live.values():
        assert meta['parent_id'] is None or \
            live[meta['parent_id']]['is_folder']
    workspace = service.get_workspace(work.who.id, work.who.workspace)
    assert cursor == workspace['cursor']


@SETTINGS
@given(operations=OPERATIONS)
def test_no_version_is_ever_lost(service, operations):
    work = Workload(service)
    all_seqs = []
    for operation in operations:
        work.apply(operation)
    for item_id, current in work.current().items():
        versions = service.get_versions(work.who.id, item_id)
        assert [v['version'] for v in versions] == \
            list(range(1, current['version'] + 1))
        seqs = [v['seq'] for v in versions]
        assert seqs == sorted(set(seqs))
        all_seqs.extend(seqs)
        last = versions[-1]
        for key in ('status', 'filename', 'parent_id', 'size',
                    'content_hash', 'chunks', 'modified_at'):
            assert last.get(key) == current.get(key)
        for version in versions:
            seen = work.seen.get((item_id, version['version']))
            if seen is not None:
                for key in ('status', 'filename', 'parent_id',
                            'content_hash', 'chunks'):
                    assert version.get(key) == seen.get(key)
    # The workspace sequence is gap-free: every number is one version.
    workspace = service.get_workspace(work.who.id, work.who.workspace)
    assert sorted(all_seqs) == list(range(1, workspace['cursor'] + 1))
    account = service.get_account(work.who.id)
    assert account['quota_used'] == service.recalculate_quota(
        work.who.id)['quota_used']
