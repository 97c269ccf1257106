"""The web site through the real ``stacksync_api`` filter over a fake Swift.

:class:`Browser` keeps cookies like a browser and finds the CSRF token in
the pages it gets; failed sign-ins do not sleep (the throttle's sleep is
recorded instead).
"""

import re
from http import cookies

import pytest
from swift.common import swob

from tests.unit.middleware.api.conftest import filter_app  # noqa: F401
from tests.unit.middleware.api.conftest import metadata  # noqa: F401
from tests.unit.middleware.api.conftest import swift  # noqa: F401

PASSWORDS = {'alice': 'alice-secret', 'bob': 'bob-secret',
             'mallory': 'mallory-secret'}


@pytest.fixture
def people(metadata):  # noqa: F811
    return {name: metadata.create_user(name, password=password)
            for name, password in PASSWORDS.items()}


@pytest.fixture
def sleeps(filter_app):  # noqa: F811
    slept = []
    filter_app.web.throttle.sleep = slept.append
    return slept


class Browser:
    def __init__(self, app):
        self.app = app
        self.cookies = {}
        self.csrf = None

    def request(self, method, path, body=None, headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers['Cookie'] = '; '.join(
                '%s=%s' % pair for pair in self.cookies.items())
        req = swob.Request.blank(path, method=method, headers=headers,
                                 body=body)
        resp = req.get_response(self.app)
        value = resp.headers.get('Set-Cookie')
        if value:
            jar = cookies.SimpleCookie(value)
            for name, morsel in jar.items():
                if morsel['max-age'] == '0':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        found = re.search(rb'data-csrf="([^"]+)"', resp.body or b'')
        if found and resp.content_type == 'text/html':
            self.csrf = found.group(1).decode()
        resp.text = resp.body.decode('utf-8', 'replace')
        return resp

    def get(self, path, **kwargs):
        return self.request('GET', path, **kwargs)

    def post(self, path, fields=None, csrf=True, **kwargs):
        fields = dict(fields or {})
        if csrf:
            fields.setdefault('csrf_token', self.csrf)
        from urllib.parse import urlencode
        headers = dict(kwargs.pop('headers', None) or {}, **{
            'Content-Type': 'application/x-www-form-urlencoded'})
        return self.request('POST', path, body=urlencode(fields).encode(),
                            headers=headers, **kwargs)

    def sign_in(self, name, password=None):
        self.get('/stacksync/signin')
        return self.post('/stacksync/signin', {
            'username': name, 'password': password or PASSWORDS[name]})

    def upload(self, name, data, folder=0):
        return self.request(
            'POST', '/stacksync/upload?folder=%d&name=%s' % (folder, name),
            body=data, headers={'X-CSRF-Token': self.csrf,
                                'Accept': 'application/json'})


@pytest.fixture
def browser(filter_app, people, sleeps):  # noqa: F811
    return Browser(filter_app)


@pytest.fixture
def alice(browser):
    browser.sign_in('alice')
    browser.get('/stacksync/')
    return browser


@pytest.fixture
def bob(filter_app, people, sleeps):  # noqa: F811
    other = Browser(filter_app)
    other.sign_in('bob')
    other.get('/stacksync/')
    return other
