"""The web site in a real browser (headless Chromium via selenium) on the
all-in-one.

One story, step by step, as two users would live it: sign in, upload two
files, make a folder, move a file into it, rename, delete and restore
from the trash, restore an old version, share with a second user who
accepts in their own browser and sees the files, make a public link and
download through it signed out, revoke it and get 404; a hostile file
name shows as text; a POST without the CSRF token is refused.

Screenshots of the main pages go to ``$STACKSYNC_SCREENSHOT_DIR`` (CI
uploads that folder as an artifact; ``doc/screenshots/`` in the
repository holds copies the README shows), or to the test's temporary
folder when the variable is unset.

Needs selenium, and Debian's ``chromium`` and ``chromium-driver`` (or
``CHROME_BIN`` and ``CHROMEDRIVER``): without them the tests skip, or fail
when ``CI`` is ``true`` (``tests.servers.unavailable``).
"""

import os
import shutil
import uuid

import pytest
import requests

from tests import servers

webdriver = servers.require_module(
    'selenium.webdriver', 'the browser tests (headless Chromium)')
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROME = os.environ.get('CHROME_BIN', '/usr/bin/chromium')
DRIVER = os.environ.get('CHROMEDRIVER', '/usr/bin/chromedriver')
XSS_NAME = '<script>alert(1)<\\script>.txt'
WAIT = 30


@pytest.fixture(scope='session')
def chromium():
    """Chromium and its driver, or :func:`servers.unavailable`."""
    missing = [path for path in (CHROME, DRIVER) if not shutil.which(path)]
    if missing:
        servers.unavailable('the browser tests need chromium and '
                            'chromedriver: %s not found' % ', '.join(missing))
    return CHROME, DRIVER


@pytest.fixture
def shots(tmp_path):
    folder = os.environ.get('STACKSYNC_SCREENSHOT_DIR') or \
        str(tmp_path / 'screenshots')
    os.makedirs(folder, exist_ok=True)
    return folder


@pytest.fixture
def browsers(tmp_path, chromium):
    opened = []

    def open_browser():
        options = webdriver.ChromeOptions()
        options.binary_location = CHROME
        for flag in ('--headless=new', '--no-sandbox',
                     '--disable-dev-shm-usage', '--disable-gpu',
                     '--disable-background-networking',
                     '--disable-component-update', '--disable-sync',
                     '--no-first-run', '--window-size=1200,900',
                     '--user-data-dir=%s' % (
                         tmp_path / ('profile-%d' % len(opened)))):
            options.add_argument(flag)
        service = webdriver.ChromeService(executable_path=DRIVER)
        driver = webdriver.Chrome(options=options, service=service)
        driver.set_page_load_timeout(WAIT)
        opened.append(driver)
        return driver
    yield open_browser
    for driver in opened:
        driver.quit()


def waiting(driver):
    """A wait that polls through the page being replaced under it.

    While a page navigates, chromedriver may answer a poll with an
    "unhandled inspector error" instead of the element: poll again.
    """
    return WebDriverWait(driver, WAIT,
                         ignored_exceptions=(WebDriverException,))


class Person:
    """A user driving one browser."""

    def __init__(self, driver, base, name, password, shots):
        self.driver = driver
        self.base = base
        self.name = name
        self.password = password
        self.shots = shots

    def go(self, path=''):
        self.driver.get(self.base + path)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def click_button(self, text, scope=None):
        scope = scope or self.driver
        for button in scope.find_elements(By.TAG_NAME, 'button'):
            if button.text.strip() == text:
                button.click()
                return
        raise AssertionError('no button %r' % text)

    def wait_text(self, text):
        try:
            waiting(self.driver).until(
                expected_conditions.text_to_be_present_in_element(
                    (By.TAG_NAME, 'body'), text))
        except Exception:
            self.shot('failed-%s' % self.name)
            raise AssertionError('%r not on %s:\n%s' % (
                text, self.driver.current_url,
                self.find('body').text[:2000]))

    def shot(self, name):
        self.driver.save_screenshot(os.path.join(self.shots, name + '.png'))

    def sign_in(self):
        self.go('signin')
        self.find('input[name=username]').send_keys(self.name)
        self.find('input[name=password]').send_keys(self.password)
        self.click_button('Sign in')
        self.wait_text('Sign out')

    def upload(self, *paths):
        self.find('#files').send_keys('\n'.join(str(p) for p in paths))
        for path in paths:
            self.wait_text(os.path.basename(str(path)))
        waiting(self.driver).until(
            lambda driver: not driver.find_elements(
                By.CSS_SELECTOR, '#progress li'))

    def new_folder(self, name):
        self.find('input[name=name]').send_keys(name)
        self.click_button('New folder')
        self.wait_text('Folder %s created.' % name)

    def manage(self, name):
        self.driver.find_element(
            By.CSS_SELECTOR, 'a[aria-label="Manage %s"]' % name).click()
        self.wait_text('Rename')

    def open_folder(self, name):
        self.driver.find_element(By.LINK_TEXT, name).click()

    def http(self):
        """requests with this browser's cookies (to check downloads)."""
        session = requests.Session()
        for cookie in self.driver.get_cookies():
            session.cookies.set(cookie['name'], cookie['value'])
        return session

    def item_id(self, name):
        link = self.driver.find_element(
            By.CSS_SELECTOR, 'a[aria-label="Manage %s"]' % name)
        return int(link.get_attribute('href').rstrip('/').split('/')[-1])


def _person(stores, driver, cluster, shots, tag):
    name = '%s-%s' % (tag, uuid.uuid4().hex[:6])
    password = 'pw-' + uuid.uuid4().hex
    stores.metadata.create_user(name, password=password,
                                quota_limit=10 ** 9)
    return Person(driver, cluster.url + '/stacksync/', name, password,
                  shots)


def test_the_web_site_in_a_real_browser(cluster, stores, browsers, shots,
                                        tmp_path):
    alice = _person(stores, browsers(), cluster, shots, 'alice')
    bob = _person(stores, browsers(), cluster, shots, 'bob')
    base = alice.base

    # Sign in.
    alice.go()
    assert '/signin' in alice.driver.current_url
    alice.shot('signin')
    alice.sign_in()

    # Upload two files at once.
    notes, plan = tmp_path / 'notes.txt', tmp_path / 'plan.txt'
    notes.write_bytes(b'notes v1')
    plan.write_bytes(b'plan v1')
    alice.upload(notes, plan)
    assert '8 bytes' in alice.find('table.items').text

    # A folder, and a file moved into it, then renamed.
    alice.new_folder('Reports')
    alice.manage('notes.txt')
    Select(alice.find('select[name=parent]')).select_by_visible_text(
        '/Reports/')
    alice.click_button('Move')
    alice.wait_text('Moved notes.txt here.')
    alice.manage('notes.txt')
    name_field = alice.find('input[name=name]')
    name_field.clear()
    name_field.send_keys('minutes.txt')
    alice.click_button('Rename')
    alice.wait_text('Renamed to minutes.txt.')
    alice.go()
    alice.open_folder('Reports')
    alice.wait_text('minutes.txt')
    assert 'My files' in alice.find('nav.crumbs').text

    # Delete, then restore from the trash.
    alice.go()
    alice.manage('plan.txt')
    alice.shot('item')
    alice.click_button('Delete')
    alice.wait_text('plan.txt moved to the trash.')
    assert 'plan.txt' not in alice.find('table.items').text
    alice.driver.find_element(By.LINK_TEXT, 'Trash of this folder').click()
    alice.wait_text('plan.txt')
    alice.shot('trash')
    alice.click_button('Restore')
    alice.wait_text('plan.txt restored.')
    assert 'plan.txt' in alice.find('table.items').text

    # A new version by uploading the same name; restore the old one.
    plan.write_bytes(b'plan v2, longer')
    alice.upload(plan)
    plan_id = alice.item_id('plan.txt')
    http = alice.http()
    assert http.get(base + 'download/%d' % plan_id).content == \
        b'plan v2, longer'
    alice.go('file/%d/versions' % plan_id)
    alice.shot('versions')
    alice.driver.find_element(
        By.CSS_SELECTOR, 'button[aria-label="Restore version 1"]').click()
    alice.wait_text('Version 1 restored')
    assert http.get(base + 'download/%d' % plan_id).content == b'plan v1'

    # Share Reports with bob, who accepts in his own browser.
    alice.go()
    reports_id = alice.item_id('Reports')
    alice.manage('Reports')
    alice.find('input[name=users]').send_keys(bob.name)
    alice.click_button('Invite')
    alice.wait_text('Invitation sent to %s.' % bob.name)
    bob.sign_in()
    bob.wait_text('1 invitation')
    bob.go('shares')
    bob.wait_text('Reports')
    bob.shot('invitations')
    bob.click_button('Accept')
    bob.wait_text('Invitation accepted.')
    bob.open_folder('Reports')
    bob.wait_text('minutes.txt')
    alice.go('item/%d' % reports_id)
    alice.wait_text(bob.name)

    # A public link to the file, used signed out, then revoked.
    alice.go('folder/%d' % reports_id)
    alice.manage('minutes.txt')
    alice.find('input[name=days]').send_keys('7')
    alice.click_button('Make a read-only link')
    alice.wait_text('Copy it now')
    link = alice.find('#link-url').get_attribute('value')
    assert link.startswith(base + 's/')
    stranger = browsers()
    stranger.get(link)
    waiting(stranger).until(
        expected_conditions.presence_of_element_located(
            (By.ID, 'public-download')))
    stranger.save_screenshot(os.path.join(shots, 'public-link.png'))
    href = stranger.find_element(By.ID, 'public-download') \
        .get_attribute('href')
    assert requests.get(href, timeout=WAIT).content == b'notes v1'
    alice.go('account')
    alice.wait_text('minutes.txt')
    alice.shot('account')
    alice.click_button('Revoke')
    alice.wait_text('The link was revoked.')
    assert requests.get(link, timeout=WAIT).status_code == 404
    assert requests.get(href, timeout=WAIT).status_code == 404

    # A hostile name is shown as text, and runs nothing.
    hostile = tmp_path / XSS_NAME
    hostile.write_bytes(b'x')
    alice.go()
    alice.upload(hostile)
    shown = alice.driver.find_element(By.PARTIAL_LINK_TEXT, XSS_NAME)
    assert shown.text.endswith(XSS_NAME)
    assert not alice.driver.find_elements(By.XPATH,
                                          '//td//script')
    with pytest.raises(NoAlertPresentException):
        alice.driver.switch_to.alert.accept()
    alice.shot('folder')
    alice.driver.set_window_size(390, 844)
    alice.go()
    alice.shot('folder-phone')

    # A POST without the CSRF token is refused, even with the session.
    refused = alice.http().post(base + 'folder/0/new',
                                data={'name': 'forged'})
    assert refused.status_code == 403
    assert 'Traceback' not in refused.text
    alice.go()
    assert 'forged' not in alice.find('table.items').text
