"""A sync client deletes a folder only if it is empty (``if_empty``).

Without it a client that deleted a folder it saw empty took along a file
another device had just added to it (found by the sync simulation).
"""

import pytest

from tests.unit.metadata.factories import content
from tests.unit.metadata.factories import person


@pytest.fixture
def alice(service):
    return person(service, 'alice')


def commit(service, alice, *items):
    return service.commit(alice.id, alice.device, alice.workspace,
                          list(items))['results']


def test_if_empty_refuses_a_folder_with_live_contents(service, alice):
    [folder] = commit(service, alice, {'id': None, 'filename': 'd',
                                       'is_folder': True})
    folder = folder['item']
    commit(service, alice, dict(content(b'x'), id=None, filename='f',
                                parent_id=folder['id']))
    [result] = commit(service, alice, {
        'id': folder['id'], 'base_version': 1, 'status': 'DELETED',
        'if_empty': True})
    assert result['result'] == 'conflict'
    assert result['item']['status'] != 'DELETED'
    [result] = commit(service, alice, {
        'id': folder['id'], 'base_version': 1, 'status': 'DELETED'})
    assert result['result'] == 'committed'


def test_if_empty_deletes_an_empty_folder(service, alice):
    [folder] = commit(service, alice, {'id': None, 'filename': 'd',
                                       'is_folder': True})
    [result] = commit(service, alice, {
        'id': folder['item']['id'], 'base_version': 1,
        'status': 'DELETED', 'if_empty': True})
    assert result['result'] == 'committed'
    assert result['item']['status'] == 'DELETED'
