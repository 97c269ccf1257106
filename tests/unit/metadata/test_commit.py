"""The sync client's side: commit batches and deltas (getChanges)."""

import pytest

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import service as service_module
from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import new_file
from tests.unit.metadata.factories import person


@pytest.fixture
def alice(service):
    return person(service, 'alice')


def new(name, data=b'x', parent=None, **extra):
    request = dict(content(data), id=None, filename=name,
                   parent_id=parent, status='NEW')
    request.update(extra)
    return request


def test_commit_creates_updates_and_echoes_client_ids(service, alice):
    result = service.commit(alice.id, alice.device, alice.workspace, [
        {'id': None, 'client_id': 'd1', 'filename': 'docs',
         'is_folder': True, 'status': 'NEW'},
        new('a.txt', client_id=7)])
    folder, a_file = result['results']
    assert folder['result'] == 'committed' and folder['client_id'] == 'd1'
    assert a_file['client_id'] == 7
    assert a_file['item']['device'] == alice.device
    assert result['cursor'] == 2
    item = a_file['item']
    result = service.commit(alice.id, alice.device, alice.workspace, [
        dict(content(b'new'), id=item['id'], base_version=1,
             filename='b.txt', parent_id=folder['item']['id'],
             status='CHANGED')])
    [updated] = result['results']
    assert updated['result'] == 'committed'
    assert (updated['item']['version'], updated['item']['status'],
            updated['item']['filename'], updated['item']['parent_id']) == \
        (2, 'CHANGED', 'b.txt', folder['item']['id'])


def test_commit_conflicts_carry_the_winner(service, alice):
    item = new_file(service, alice, 'a.txt', b'one')
    winner = service.commit(alice.id, alice.device, alice.workspace, [
        dict(content(b'two'), id=item['id'], base_version=1)])
    loser = service.commit(alice.id, alice.device, alice.workspace, [
        dict(content(b'three'), id=item['id'], base_version=1)])
    [result] = loser['results']
    assert result['result'] == 'conflict'
    assert result['item'] == winner['results'][0]['item']
    assert loser['cursor'] == winner['cursor']


def test_creating_a_taken_name_is_a_conflict(service, alice):
    existing = new_file(service, alice, 'a.txt')
    [result] = service.commit(alice.id, alice.device, alice.workspace,
                              [new('a.txt', b'mine')])['results']
    assert result == {'result': 'conflict', 'item': existing,
                      'description': "'a.txt' already exists in this "
                                     "folder"}


def test_bad_items_are_reported_not_fatal(service, alice):
    item = new_file(service, alice, 'a.txt')
    results = service.commit(alice.id, alice.device, alice.workspace, [
        'not an object',
        new('ok.txt'),
        new('bad/name'),
        new('x', status='DELETED'),
        new('y', base_version=3),
        new('z', size=-1),
        dict(new('w'), status='BOGUS'),
        {'id': 99999, 'base_version': 1, 'filename': 'q'},
        {'id': item['id'], 'filename': 'no base'},
        {'id': item['id'], 'base_version': 1, 'is_folder': True},
        {'id': 'x', 'base_version': 1},
        {'id': None, 'filename': 'f', 'is_folder': 'yes'},
    ])['results']
    assert [r['result'] for r in results] == \
        ['error', 'committed'] + ['error'] * 10
    assert results[2]['error'] == 'invalid_name'
    assert results[7]['error'] == 'not_found'
    assert all(r['description'] for r in results if r['result'] == 'error')
    changes = service.get_changes(alice.id, alice.workspace)
    assert [e['filename'] for e in changes['entries']] == \
        ['a.txt', 'ok.txt']


def test_malformed_batches_raise(service, alice):
    with pytest.raises(errors.BadRequest):
        service.commit(alice.id, alice.device, alice.workspace, {'a': 1})
    with pytest.raises(errors.BadRequest):
        service.commit(alice.id, alice.device, alice.workspace,
                       [new('x%d' % i) for i in range(
                           service_module.MAX_COMMIT_ITEMS + 1)])
    with pytest.raises(errors.BadRequest):
        service.commit(alice.id, None, alice.workspace, [])
    with pytest.raises(errors.NotFound):
        service.commit(alice.id, alice.device, 4242, [])


def test_commit_deletes_and_revives(service, alice):
    item = new_file(service, alice, 'a.txt')
    [deleted] = service.commit(alice.id, alice.device, alice.workspace, [
        {'id': item['id'], 'base_version': 1, 'status': 'DELETED'}])[
            'results']
    assert deleted['item']['status'] == 'DELETED'
    # Deleting again on the same base: nothing to do.
    [again] = service.commit(alice.id, alice.device, alice.workspace, [
        {'id': item['id'], 'base_version': 2, 'status': 'DELETED'}])[
            'results']
    assert again['item']['version'] == 2
    [revived] = service.commit(alice.id, alice.device, alice.workspace, [
        dict(content(b'back'), id=item['id'], base_version=2,
             status='CHANGED')])['results']
    assert (revived['item']['status'], revived['item']['version']) == \
        ('CHANGED', 3)


def test_commit_of_unchanged_items_is_idempotent(service, alice):
    item = new_file(service, alice, 'a.txt', b'same')
    request = dict(content(b'same'), id=item['id'], base_version=1,
                   filename='a.txt', parent_id=None, status='CHANGED',
                   mimetype=item['mimetype'])
    result = service.commit(alice.id, alice.device, alice.workspace,
                            [request])
    assert result['results'][0]['item']['version'] == 1
    assert result['cursor'] == 1


def test_commit_is_one_transaction_with_one_event(service, alice):
    batch = [new('f%d' % i) for i in range(5)]
    result = service.commit(alice.id, alice.device, alice.workspace, batch)
    seqs = [r['item']['version'] for r in result['results']]
    assert seqs == [1] * 5
    assert result['cursor'] == 5
    # Within one batch, later items see earlier ones.
    [clash, inside] = service.commit(
        alice.id, alice.device, alice.workspace,
        [new('f0'), dict(new('g', parent=None))])['results']
    assert clash['result'] == 'conflict' and inside['result'] == 'committed'


def test_get_changes_pages_without_skipping(service, alice):
    created = [new_file(service, alice, 'f%d' % i) for i in range(7)]
    seen, cursor, pages = [], 0, 0
    while True:
        page = service.get_changes(alice.id, alice.workspace, cursor, 3)
        seen.extend(entry['id'] for entry in page['entries'])
        cursor, pages = page['cursor'], pages + 1
        if not page['has_more']:
            break
    assert seen == [item['id'] for item in created]
    assert pages == 3 and cursor == 7
    service.rename_item(alice.id, created[2]['id'], 'renamed')
    page = service.get_changes(alice.id, alice.workspace, cursor)
    assert [(e['id'], e['filename']) for e in page['entries']] == \
        [(created[2]['id'], 'renamed')]
    assert page == {'entries': page['entries'], 'cursor': 8,
                    'has_more': False}
    # Nothing new: same cursor, nothing more.
    assert service.get_changes(alice.id, alice.workspace, 8) == {
        'entries': [], 'cursor': 8, 'has_more': False}


@pytest.mark.parametrize('cursor, limit', [
    (-1, 10), ('0', 10), (None, 10), (0, 0), (0, -5), (0, 10001),
    (0, 'ten'), (0, True)])
def test_get_changes_validates(service, alice, cursor, limit):
    with pytest.raises(errors.BadRequest):
        service.get_changes(alice.id, alice.workspace, cursor, limit)


def test_get_changes_refuses_a_cursor_from_the_future(service, alice):
    with pytest.raises(errors.BadRequest, match='start over'):
        service.get_changes(alice.id, alice.workspace, 5)
