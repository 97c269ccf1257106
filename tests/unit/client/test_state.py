"""The state database: one transaction per call, survives a reopen."""

import pytest

from stacksync_swift.client.state import State
from stacksync_swift.client.tree import BaseEntry
from stacksync_swift.client.tree import RemoteItem


def test_base_mirror_and_cursor_survive_a_reopen(tmp_path):
    path = str(tmp_path / 'state.db')
    state = State.open(path)
    state.save_remote(1, [RemoteItem(5, None, 'f', False, 2)], cursor=9)
    state.update_base(1, puts=[('f', BaseEntry(5, 2, False, 'a' * 64))])
    state.close()
    state = State.open(path)
    assert state.cursor(1) == 9
    assert state.remote_items(1)[5].version == 2
    assert state.base(1)['f'].item_id == 5
    state.reset(1)
    assert (state.cursor(1), state.base(1), state.remote_items(1)) == \
        (0, {}, {})


def test_an_older_item_never_replaces_a_newer_one():
    state = State.open(':memory:')
    state.save_remote(1, [RemoteItem(5, None, 'new', False, 3)])
    state.save_remote(1, [RemoteItem(5, None, 'old', False, 2)])
    assert state.remote_items(1)[5].name == 'new'


def test_a_failed_transaction_leaves_nothing(monkeypatch):
    state = State.open(':memory:')

    class Boom(Exception):
        pass

    def explode(ws, item):
        raise Boom()
    monkeypatch.setattr(state, '_put_item', explode)
    with pytest.raises(Boom):
        state.update_base(1, puts=[('f', BaseEntry(5, 2, False))],
                          items=[RemoteItem(5, None, 'f', False, 2)])
    assert state.base(1) == {}


def test_sent_deletes_survive_a_reopen_and_settle_with_their_base(tmp_path):
    path = str(tmp_path / 'state.db')
    state = State.open(path)
    entry = BaseEntry(5, 2, False, 'a' * 64)
    state.update_base(1, puts=[('f', entry), ('g', entry)])
    state.note_sent_deletes(1, ['f'])
    state.note_sent_deletes(2, ['other workspace'])
    state.close()
    state = State.open(path)
    assert state.sent_deletes(1) == {'f'}
    state.settle_deletes(1, forget=['f'])
    assert state.sent_deletes(1) == set()
    assert set(state.base(1)) == {'g'}
    assert state.sent_deletes(2) == {'other workspace'}
