"""Public links of shared folders, and the session cookie behind TLS, on
the real all-in-one (security issue 19, parts 5a and 5c).

alice shares "project" with bob (editor) and carol (viewer), through the
REST API. Then, over HTTP and in a real browser:

* carol, a viewer, may not re-share, so may not publish: the item page
  offers no link button and says why, a forged POST is a 403 with that
  message, and the metadata store refuses the row too (a link to her
  mount of the folder as well). A link a viewer made before this rule
  is dead, and alice sees and revokes it.
* bob, an editor, may make links; alice, the folder's owner, sees every
  link to what the folder holds (bob's link to a file, and to bob's own
  mount of the folder) on her account page and the item's page, and
  revokes them; bob still sees and revokes his own; nobody else can.
* The session cookie is ``Secure`` when a TLS terminator says
  ``X-Forwarded-Proto: https`` (or ``Forwarded: proto=https``), and not
  without.
"""

import re
import uuid

import pytest
import requests
from sqlalchemy import select

from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import web as web_store
from tests.functional.apiclient import APIClient

# The browser fixtures of test_web (headless Chromium via selenium); that
# module checks for selenium, chromium and chromedriver.
from tests.functional.test_web import By
from tests.functional.test_web import Person
from tests.functional.test_web import browsers  # noqa: F401
from tests.functional.test_web import chromium  # noqa: F401
from tests.functional.test_web import shots  # noqa: F401

TIMEOUT = 60
VIEWER_REFUSAL = 'only its owner and editors can make public links'


class WebUser:
    """A StackSync user (made through the API) on the web site over plain
    HTTP with ``requests``, reading the CSRF token from the pages."""

    def __init__(self, cluster, stores, tag):
        self.api = APIClient(cluster, stores,
                             '%s-%s' % (tag, uuid.uuid4().hex[:6]))
        self.name = self.api.user['name']
        self.id = self.api.user['id']
        self.password = 'pw-' + uuid.uuid4().hex
        stores.metadata.set_password(self.id, self.password)
        self.base = cluster.url + '/stacksync/'
        self.http = requests.Session()
        self.csrf = None

    def _read(self, resp):
        found = re.search(r'data-csrf="([^"]+)"', resp.text)
        if found:
            self.csrf = found.group(1)
        return resp

    def get(self, path, **kwargs):
        kwargs.setdefault('timeout', TIMEOUT)
        return self._read(self.http.get(self.base + path, **kwargs))

    def post(self, path, fields=None, **kwargs):
        kwargs.setdefault('timeout', TIMEOUT)
        kwargs.setdefault('allow_redirects', False)
        fields = dict(fields or {}, csrf_token=self.csrf)
        return self._read(self.http.post(self.base + path, data=fields,
                                         **kwargs))

    def sign_in(self, headers=None):
        self.get('signin', headers=headers)
        # Named explicitly: requests keeps a Secure cookie from plain HTTP.
        resp = self.post('signin', {'username': self.name,
                                    'password': self.password},
                         headers=headers, cookies={
                             'stacksync_csrf': self.http.cookies.get(
                                 'stacksync_csrf')})
        assert resp.status_code == 303, resp.text
        self.get('')
        return resp

    def make_link(self, item_id):
        """``(response, link URL or None)``."""
        resp = self.post('item/%d/link' % item_id, {'days': '3'})
        found = re.search(r'id="link-url"[^>]*value="([^"]+)"', resp.text)
        return resp, found.group(1) if found else None

    def close(self):
        self.http.close()
        self.api.close()


@pytest.fixture
def people(cluster, stores):
    made = {tag: WebUser(cluster, stores, tag)
            for tag in ('alice', 'bob', 'carol', 'mallory')}
    yield made
    for person in made.values():
        person.close()


@pytest.fixture
def shared(people):
    """alice's "project" (with report.txt) shared with bob as editor and
    carol as viewer; everyone signed in to the web site."""
    alice, bob, carol = people['alice'], people['bob'], people['carol']
    resp = alice.api.post('/v1/folder', json={'name': 'project',
                                              'parent': 0})
    assert resp.status_code == 201, resp.text
    folder = resp.json()
    report = alice.api.upload(b'first draft', name='report.txt',
                              parent=folder['id'])
    mounts = {}
    for member, role in ((bob, 'editor'), (carol, 'viewer')):
        resp = alice.api.post('/v1/folder/%d/share' % folder['id'], json={
            'users': [member.name], 'role': role})
        assert resp.status_code == 201, resp.text
        [proposal] = resp.json()['proposals']
        resp = member.api.post('/v1/proposal/%d/accept' % proposal['id'])
        assert resp.status_code == 200, resp.text
        mounts[member.name] = resp.json()['mount']
    for person in people.values():
        person.sign_in()
    return {'folder': folder, 'report': report,
            'bob_mount': mounts[bob.name],
            'carol_mount': mounts[carol.name]}


def links_made_by(stores, user_id):
    with db.session(stores.engine) as session:
        return session.scalars(select(web_store.PublicLink.id).where(
            web_store.PublicLink.owner_id == user_id)).all()


def test_a_viewer_cannot_make_a_public_link(stores, people, shared):
    carol = people['carol']
    report = shared['report']['id']

    # The page does not offer the button, and says why.
    page = carol.get('item/%d' % report)
    assert page.status_code == 200
    assert 'Make a read-only link' not in page.text
    assert VIEWER_REFUSAL in page.text

    # A forged POST (to the file, and to carol's mount of the folder) is
    # refused with the same words, and makes nothing.
    for item_id in (report, shared['carol_mount']['id']):
        resp, url = carol.make_link(item_id)
        assert resp.status_code == 403, resp.text
        assert VIEWER_REFUSAL in resp.text
        assert url is None and 'Traceback' not in resp.text
    assert links_made_by(stores, carol.id) == []

    # Her own files she may still publish.
    own = carol.api.upload(b'mine', name='mine.txt')
    resp, url = carol.make_link(own['id'])
    assert resp.status_code == 200 and url
    assert requests.get(url, timeout=TIMEOUT).status_code == 200


def test_the_store_refuses_a_viewers_link(stores, people, shared):
    """No other path of the web site's code can make one either: the
    check is in the metadata store's own transaction."""
    store = web_store.WebStore(stores.engine)
    carol = people['carol']
    for item_id in (shared['report']['id'], shared['carol_mount']['id']):
        with pytest.raises(errors.Forbidden) as refused:
            store.create_link('t-' + uuid.uuid4().hex, carol.id, item_id)
        assert VIEWER_REFUSAL in refused.value.description
    # Nor for someone who is no member at all (as if the item were not).
    with pytest.raises(errors.NotFound):
        store.create_link('t-' + uuid.uuid4().hex, people['mallory'].id,
                          shared['report']['id'])
    assert links_made_by(stores, carol.id) == []
    assert links_made_by(stores, people['mallory'].id) == []


def test_a_viewers_old_link_is_dead_and_its_owner_revokes_it(
        stores, people, shared):
    """A link a viewer made before viewers were refused (a row written
    straight into the table) opens nothing, and the folder's owner sees
    it, with who made it, and revokes it."""
    alice, carol = people['alice'], people['carol']
    token = 'old-' + uuid.uuid4().hex
    with db.session(stores.engine) as session:
        row = web_store.PublicLink(
            token_hash=web_store.token_hash(token), owner_id=carol.id,
            item_id=shared['report']['id'],
            workspace_id=shared['report']['workspace_id'])
        session.add(row)
        session.flush()
        link_id = row.id
    url = alice.base + 's/' + token
    resp = requests.get(url, timeout=TIMEOUT)
    assert resp.status_code == 404, resp.text
    assert 'first draft' not in resp.text
    download = requests.get('%s/file/%d' % (url, shared['report']['id']),
                            timeout=TIMEOUT)
    assert download.status_code == 404 and download.content != \
        b'first draft'

    account = alice.get('account')
    assert 'link/%d/revoke' % link_id in account.text
    assert carol.name in account.text
    resp = alice.post('link/%d/revoke' % link_id)
    assert resp.status_code == 303
    assert 'link/%d/revoke' % link_id not in alice.get('account').text


def test_the_owner_sees_and_revokes_every_link_of_the_folder(
        stores, people, shared):
    alice, bob, carol, mallory = (people['alice'], people['bob'],
                                  people['carol'], people['mallory'])
    report = shared['report']['id']

    # bob, an editor, links the file and his mount of the folder.
    resp, file_url = bob.make_link(report)
    assert resp.status_code == 200 and file_url, resp.text
    resp, folder_url = bob.make_link(shared['bob_mount']['id'])
    assert resp.status_code == 200 and folder_url, resp.text
    for url in (file_url, folder_url):
        assert requests.get(url, timeout=TIMEOUT).status_code == 200
    file_link, folder_link = sorted(links_made_by(stores, bob.id))

    # alice sees both on her account page, bob's name beside them, and
    # the file's on the file's page.
    account = alice.get('account').text
    for link_id in (file_link, folder_link):
        assert 'link/%d/revoke' % link_id in account
    assert bob.name in account
    item_page = alice.get('item/%d' % report).text
    assert 'link/%d/revoke' % file_link in item_page
    assert bob.name in item_page

    # Nobody else may revoke them: carol (a viewer) and mallory (no
    # member) get a 404 and the links stay alive.
    for other in (carol, mallory):
        for link_id in (file_link, folder_link):
            resp = other.post('link/%d/revoke' % link_id)
            assert resp.status_code == 404, resp.text
            assert 'Traceback' not in resp.text
        assert 'link/%d/revoke' % file_link not in \
            other.get('account').text
    assert requests.get(file_url, timeout=TIMEOUT).status_code == 200

    # alice revokes the file's link from its page (back to that page),
    # bob revokes his own folder link.
    resp = alice.post('link/%d/revoke' % file_link,
                      {'item': str(report)})
    assert resp.status_code == 303
    assert resp.headers['Location'].split('?')[0].endswith(
        '/stacksync/item/%d' % report)
    assert requests.get(file_url, timeout=TIMEOUT).status_code == 404
    assert 'link/%d/revoke' % folder_link in bob.get('account').text
    assert bob.post('link/%d/revoke' % folder_link).status_code == 303
    assert requests.get(folder_url, timeout=TIMEOUT).status_code == 404
    for person in (alice, bob):
        assert 'revoke' not in person.get('account').text


def _set_cookies(resp):
    """Every ``Set-Cookie`` header of a response (not folded)."""
    return resp.raw.headers.getlist('Set-Cookie')


def _session_cookie(resp):
    [found] = [value for value in _set_cookies(resp)
               if value.startswith('stacksync_session=')]
    return found


@pytest.mark.parametrize('headers, secure', [
    ({}, False),
    ({'X-Forwarded-Proto': 'http'}, False),
    ({'X-Forwarded-Proto': 'https'}, True),
    ({'X-Forwarded-Proto': 'HTTPS'}, True),
    ({'Forwarded': 'for=192.0.2.60;proto=https;by=203.0.113.43'}, True),
])
def test_the_session_cookie_is_secure_behind_a_tls_terminator(
        cluster, stores, headers, secure):
    person = WebUser(cluster, stores, 'tls')
    try:
        form = person.get('signin', headers=headers)
        [csrf] = [value for value in _set_cookies(form)
                  if value.startswith('stacksync_csrf=')]
        resp = person.sign_in(headers=headers)
        cookie = _session_cookie(resp)
        assert 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
        for value in (csrf, cookie):
            flags = [part.strip() for part in value.split(';')]
            assert ('Secure' in flags) is secure, value
    finally:
        person.close()


def test_a_public_link_url_is_https_behind_a_tls_terminator(
        cluster, stores):
    person = WebUser(cluster, stores, 'tls')
    try:
        person.sign_in()
        own = person.api.upload(b'x', name='x.txt')
        resp = person.post('item/%d/link' % own['id'], {},
                           headers={'X-Forwarded-Proto': 'https'})
        found = re.search(r'id="link-url"[^>]*value="([^"]+)"', resp.text)
        assert found and found.group(1).startswith('https://'), resp.text
    finally:
        person.close()


def test_in_the_browser_viewer_has_no_button_owner_revokes_editors_link(
        cluster, stores, people, shared, browsers, shots):  # noqa: F811
    """The same rules in a real browser: carol is offered no button; bob
    makes a link; alice sees it on her account page and revokes it from
    the file's page."""
    report = shared['report']['id']

    def signed_in(person):
        driver = Person(browsers(), person.base, person.name,
                        person.password, shots)
        driver.sign_in()
        return driver

    carol = signed_in(people['carol'])
    carol.go('item/%d' % report)
    carol.wait_text(VIEWER_REFUSAL)
    assert 'Make a read-only link' not in [
        button.text.strip()
        for button in carol.driver.find_elements(By.TAG_NAME, 'button')]
    carol.shot('link-viewer')

    bob = signed_in(people['bob'])
    bob.go('item/%d' % report)
    bob.wait_text('report.txt')
    bob.click_button('Make a read-only link')
    bob.wait_text('Copy it now')
    url = bob.find('#link-url').get_attribute('value')
    assert requests.get(url, timeout=TIMEOUT).status_code == 200

    alice = signed_in(people['alice'])
    alice.go('account')
    alice.wait_text('report.txt')
    alice.wait_text(people['bob'].name)
    alice.go('item/%d' % report)
    alice.wait_text('Made by %s' % people['bob'].name)
    alice.shot('link-owner')
    alice.click_button('Revoke')
    alice.wait_text('The link was revoked.')
    assert alice.driver.current_url.split('?')[0].endswith(
        '/item/%d' % report)
    assert requests.get(url, timeout=TIMEOUT).status_code == 404
    bob.go('account')
    bob.wait_text('No public links.')
