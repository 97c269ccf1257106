"""Who may make, see and revoke public links (the store's rules), and
``Secure`` cookies behind a TLS terminator, over a fake Swift."""

import datetime

import pytest

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import web as web_store
from stacksync_swift.web import forwarded_https


@pytest.fixture
def team(metadata, people):
    """alice's workspace W with bob as editor and mallory as viewer, and a
    folder in it."""
    alice, bob, mallory = (people[name]['id']
                           for name in ('alice', 'bob', 'mallory'))
    workspace = metadata.create_workspace(alice, 'team')
    metadata.set_member(alice, workspace['id'], bob, 'editor')
    metadata.set_member(alice, workspace['id'], mallory, 'viewer')
    folder = metadata.create_folder(alice, workspace['id'], None, 'plans')
    return {'alice': alice, 'bob': bob, 'mallory': mallory,
            'workspace': workspace['id'], 'folder': folder['id'],
            'store': web_store.WebStore(metadata.engine)}


def test_a_viewer_may_not_publish(team):
    store = team['store']
    assert store.may_publish(team['bob'], team['folder'])
    assert not store.may_publish(team['mallory'], team['folder'])
    with pytest.raises(errors.Forbidden):
        store.create_link('t1', team['mallory'], team['folder'])
    assert store.list_links(team['mallory']) == []


def test_the_owner_sees_and_revokes_an_editors_link(team):
    store = team['store']
    link = store.create_link('t2', team['bob'], team['folder'])
    assert link['workspace_id'] == team['workspace']
    [seen] = store.list_links(team['alice'])
    assert seen['id'] == link['id'] and seen['maker'] == 'bob'
    assert not seen['mine'] and seen['active']
    assert [mine['id'] for mine in store.list_links(team['bob'])] == \
        [link['id']]
    with pytest.raises(errors.NotFound):
        store.revoke_link(team['mallory'], link['id'])
    assert store.find_link('t2') is not None
    store.revoke_link(team['alice'], link['id'])
    assert store.find_link('t2') is None
    assert store.list_links(team['bob']) == []


def test_an_editor_turned_viewer_takes_the_link_down(metadata, team):
    store = team['store']
    store.create_link('t3', team['bob'], team['folder'],
                      expires_at=store.clock() + datetime.timedelta(days=1))
    assert store.find_link('t3') is not None
    metadata.set_member(team['alice'], team['workspace'], team['bob'],
                        'viewer')
    assert store.find_link('t3') is None
    [listed] = store.list_links(team['alice'])
    assert not listed['active']
    metadata.set_member(team['alice'], team['workspace'], team['bob'],
                        'editor')
    assert store.find_link('t3') is not None


@pytest.mark.parametrize('headers, expected', [
    ({}, False),
    ({'X-Forwarded-Proto': 'http'}, False),
    ({'X-Forwarded-Proto': 'https'}, True),
    ({'X-Forwarded-Proto': 'http, HTTPS'}, True),
    ({'Forwarded': 'for=192.0.2.60;proto=http'}, False),
    ({'Forwarded': 'for=192.0.2.60;Proto="https"'}, True),
    ({'Forwarded': 'for=a, for=b;proto=https'}, True),
    ({'Forwarded': 'proto'}, False),
])
def test_forwarded_https(headers, expected):
    assert forwarded_https(headers) is expected


def test_the_session_cookie_is_secure_behind_a_tls_terminator(browser):
    terminated = {'X-Forwarded-Proto': 'https'}
    browser.get('/stacksync/signin', headers=terminated)
    resp = browser.post('/stacksync/signin', {
        'username': 'alice', 'password': 'alice-secret'},
        headers=terminated)
    assert resp.status_int == 303
    assert resp.headers['Set-Cookie'].endswith('; Secure')
