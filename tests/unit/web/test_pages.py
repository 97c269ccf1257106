"""Signing in, CSRF, folders, files, trash and versions in the web site."""

from urllib.parse import quote


def test_pages_need_a_session(browser):
    resp = browser.get('/stacksync/folder/0')
    assert resp.status_int == 303
    assert '/stacksync/signin?next=folder' in resp.headers['Location']
    assert browser.get('/stacksync').status_int == 303


def test_sign_in_sets_a_safe_cookie_and_sign_out_ends_it(browser):
    resp = browser.sign_in('alice')
    assert resp.status_int == 303
    cookie = resp.headers['Set-Cookie']
    assert 'HttpOnly' in cookie and 'SameSite=Lax' in cookie
    assert 'Path=/stacksync/' in cookie and 'Secure' not in cookie
    page = browser.get('/stacksync/')
    assert page.status_int == 200 and 'alice' in page.text
    assert "frame-ancestors 'none'" in \
        page.headers['Content-Security-Policy']
    assert page.headers['X-Frame-Options'] == 'DENY'
    stolen = dict(browser.cookies)
    browser.post('/stacksync/signout')
    browser.cookies = stolen
    assert browser.get('/stacksync/').status_int == 303


def test_wrong_passwords_are_slowed_down(browser, sleeps):
    for _attempt in range(5):
        resp = browser.sign_in('alice', 'wrong')
        assert resp.status_int == 401
        assert 'Wrong user name or password' in resp.text
    assert sleeps == [1, 2]
    assert browser.sign_in('alice').status_int == 303


def test_a_post_without_csrf_token_is_refused(alice):
    resp = alice.post('/stacksync/folder/0/new', {'name': 'x'}, csrf=False)
    assert resp.status_int == 403
    resp = alice.post('/stacksync/folder/0/new',
                      {'name': 'x', 'csrf_token': 'forged'}, csrf=False)
    assert resp.status_int == 403
    assert 'Traceback' not in resp.text


def test_sign_in_form_needs_its_csrf_cookie(browser):
    resp = browser.post('/stacksync/signin', {
        'username': 'alice', 'password': 'alice-secret'}, csrf=False)
    assert resp.status_int == 403


def test_upload_list_download(alice):
    assert alice.upload('a.txt', b'hello').status_int == 201
    page = alice.get('/stacksync/')
    assert 'a.txt' in page.text and '5 bytes' in page.text
    item_id = int(page.text.split('/stacksync/download/')[1].split('"')[0])
    resp = alice.get('/stacksync/download/%d' % item_id)
    assert resp.body == b'hello'
    assert resp.headers['Content-Disposition'].startswith('attachment')


def test_names_are_escaped(alice):
    # "/" cannot be part of a name (names.py): the closing tag uses "\\".
    for name in ('<script>alert(1)<\\script>.txt',
                 '"><img src=x onerror=alert(1)>.txt'):
        assert alice.upload(quote(name), b'x').status_int == 201
    page = alice.get('/stacksync/')
    assert '<script>alert' not in page.text and '<img src=x' not in page.text
    assert '&lt;script&gt;alert(1)&lt;\\script&gt;.txt' in page.text


def _id_of(page, name):
    marker = '>%s</a>' % name
    before = page.text.split(marker)[0]
    return int(before.rsplit('/', 1)[1].rstrip('"'))


def test_folder_rename_move_delete_restore(alice):
    alice.upload('a.txt', b'one')
    resp = alice.post('/stacksync/folder/0/new', {'name': 'Docs'})
    assert resp.status_int == 303
    page = alice.get('/stacksync/')
    docs, file_id = _id_of(page, 'Docs'), _id_of(page, 'a.txt')
    item = alice.get('/stacksync/item/%d' % file_id)
    assert 'Docs/' in item.text
    alice.post('/stacksync/item/%d/move' % file_id, {'parent': docs})
    assert 'a.txt' in alice.get('/stacksync/folder/%d' % docs).text
    alice.post('/stacksync/item/%d/rename' % file_id, {'name': 'b.txt'})
    inside = alice.get('/stacksync/folder/%d' % docs)
    assert 'b.txt' in inside.text and 'My files' in inside.text
    alice.post('/stacksync/item/%d/delete' % file_id)
    assert 'b.txt' not in alice.get('/stacksync/folder/%d' % docs).text
    assert 'b.txt' in alice.get('/stacksync/trash/%d' % docs).text
    resp = alice.post('/stacksync/item/%d/restore' % file_id)
    assert resp.status_int == 303
    assert alice.get('/stacksync/download/%d' % file_id).body == b'one'


def test_versions_download_and_restore(alice):
    alice.upload('v.txt', b'first')
    alice.upload('v.txt', b'second')
    file_id = _id_of(alice.get('/stacksync/'), 'v.txt')
    page = alice.get('/stacksync/file/%d/versions' % file_id)
    assert 'Restore version 1' in page.text
    old = alice.get('/stacksync/file/%d/version/1' % file_id)
    assert old.body == b'first'
    alice.post('/stacksync/file/%d/version/1/restore' % file_id)
    assert alice.get('/stacksync/download/%d' % file_id).body == b'first'


def test_other_users_items_are_not_found(alice, bob):
    alice.upload('secret.txt', b'mine')
    file_id = _id_of(alice.get('/stacksync/'), 'secret.txt')
    for path in ('/stacksync/download/%d', '/stacksync/item/%d',
                 '/stacksync/file/%d/versions'):
        resp = bob.get(path % file_id)
        assert resp.status_int == 404, path
        assert 'mine' not in resp.text
    resp = bob.post('/stacksync/item/%d/delete' % file_id)
    assert resp.status_int == 404


def test_errors_are_friendly_pages(alice):
    resp = alice.get('/stacksync/nowhere')
    assert resp.status_int == 404 and 'Not found' in resp.text
    resp = alice.post('/stacksync/folder/0/new', {'name': 'a/b'})
    assert resp.status_int == 400 and 'Traceback' not in resp.text


def test_only_paths_under_the_prefix_are_the_web_sites(filter_app):
    owns = filter_app.web.owns
    assert owns({'PATH_INFO': '/stacksync/'})
    assert owns({'PATH_INFO': '/stacksync'})
    assert owns({'PATH_INFO': '/stacksync/folder/1'})
    assert not owns({'PATH_INFO': '/stacksyncx'})
    assert not owns({'PATH_INFO': '/v1/AUTH_x/stacksync/'})
