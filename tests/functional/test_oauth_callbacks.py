"""Registered callbacks and the authorize page, against the real all-in-one.

A consumer is registered with its callback (``consumer-add --callback``,
``oob`` by default); ``request_token`` refuses any other callback, so a
stolen consumer key cannot send a user's verifier to someone else's site.
The redirect after authorize carries ``oauth_token`` and
``oauth_verifier`` only, and the page names the application that asks.
"""

import html
import re
import uuid
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest
import requests
from requests_oauthlib import OAuth1Session
from sqlalchemy import update

from stacksync_swift import cli
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db

TIMEOUT = 60
APP = 'https://app.example.com/oauth/done'


@pytest.fixture(scope='module')
def user(stores):
    name = 'carol-%s' % uuid.uuid4().hex[:8]
    return dict(stores.metadata.create_user(name, password='pw for carol'),
                password='pw for carol')


def consumer(stores, callback, name='callback-tests'):
    return stores.credentials.create_consumer(name, callback=callback)


def ask(cluster, app, callback):
    """``POST /oauth/request_token`` with this callback."""
    return OAuth1Session(app.key, client_secret=app.secret,
                         callback_uri=callback).post(
        cluster.url + '/oauth/request_token', timeout=TIMEOUT)


def assert_refused(resp):
    assert resp.status_code == 401, resp.text
    assert resp.headers['Content-Type'].startswith('application/json')
    assert resp.json()['error'] == 401
    assert 'oauth_token' not in resp.text


def token_of(resp):
    assert resp.status_code == 200, resp.text
    return parse_qs(resp.text)['oauth_token'][0]


def allow(cluster, token, user):
    return requests.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                         allow_redirects=False,
                         data={'oauth_token': token, 'username': user['name'],
                               'password': user['password']})


# -- request_token follows the registration --

@pytest.mark.parametrize('callback', [
    'http://evil.example.com/steal',
    'https://127.0.0.1/cb',
    'http://localhost:8000/',
])
def test_an_oob_consumer_gets_no_redirect(cluster, stores, callback):
    app = consumer(stores, 'oob')
    assert_refused(ask(cluster, app, callback))
    token_of(ask(cluster, app, 'oob'))


@pytest.mark.parametrize('callback', [
    'https://evil.example.com/oauth/done',
    'http://app.example.com/oauth/done',          # another scheme
    'https://app.example.com:8443/oauth/done',    # another port
    'https://app.example.com/oauth/done/more',    # another path
    'https://app.example.com/oauth/done/../../evil',
    'https://app.example.com/oauth/don',
    'https://app.example.com.evil.example/oauth/done',
    'https://evil@app.example.com/oauth/done',
    'https://app.example.com/oauth/done#fragment',
    'oob',
])
def test_a_url_consumer_gets_only_its_url(cluster, stores, callback):
    app = consumer(stores, APP)
    assert_refused(ask(cluster, app, callback))


@pytest.mark.parametrize('callback', [
    APP, APP + '?state=xyz', 'HTTPS://APP.EXAMPLE.COM/oauth/done',
    'https://app.example.com:443/oauth/done'])
def test_a_url_consumer_may_add_a_query(cluster, stores, callback):
    token_of(ask(cluster, consumer(stores, APP), callback))


def test_the_redirect_carries_token_and_verifier_only(
        cluster, stores, user):
    app = consumer(stores, APP)
    token = token_of(ask(cluster, app, APP + '?state=xyz'))
    answer = allow(cluster, token, user)
    assert answer.status_code == 302
    location = urlsplit(answer.headers['Location'])
    assert location._replace(query='').geturl() == APP
    query = parse_qs(location.query)
    assert sorted(query) == ['oauth_token', 'oauth_verifier', 'state']
    assert str(user['id']) not in location.query.replace(
        query['oauth_verifier'][0], '').replace(token, '')


def test_the_oob_page_shows_the_verifier_only(cluster, stores, user):
    app = consumer(stores, 'oob')
    token = token_of(ask(cluster, app, 'oob'))
    answer = allow(cluster, token, user)
    assert answer.status_code == 200
    assert re.search(r'<code>[A-Za-z0-9]+</code>', answer.text)
    assert 'user=' not in answer.text


# -- consumers registered before callbacks were --

@pytest.fixture
def legacy(stores):
    app = consumer(stores, 'oob', name='registered before 0009')
    with db.session(stores.engine) as session:
        session.execute(update(credentials.Consumer).where(
            credentials.Consumer.key == app.key).values(callback=None))
    return app


@pytest.mark.parametrize('callback', [
    'oob', 'http://127.0.0.1:8123/cb', 'http://localhost/', 'http://[::1]:9/'])
def test_a_legacy_consumer_keeps_oob_and_loopback(cluster, legacy, callback):
    token_of(ask(cluster, legacy, callback))


@pytest.mark.parametrize('callback', [
    'http://evil.example.com/cb', 'https://127.0.0.1.evil.example/cb',
    'http://127.0.0.1@evil.example/cb', 'ftp://127.0.0.1/cb'])
def test_a_legacy_consumer_gets_no_other_callback(cluster, legacy, callback):
    assert_refused(ask(cluster, legacy, callback))


def test_a_legacy_consumer_completes_a_loopback_dance(
        cluster, legacy, user):
    token = token_of(ask(cluster, legacy, 'http://127.0.0.1:9/cb'))
    answer = allow(cluster, token, user)
    assert answer.status_code == 302
    assert answer.headers['Location'].startswith('http://127.0.0.1:9/cb?')


# -- the authorize page names the application --

def test_the_authorize_page_names_the_application_escaped(
        cluster, stores, user):
    name = '<script>alert("x")</script> Photos & Co'
    app = consumer(stores, 'oob', name=name)
    token = token_of(ask(cluster, app, 'oob'))
    page = requests.get(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                        params={'oauth_token': token})
    assert page.status_code == 200
    assert html.escape(name) in page.text
    assert '<script>' not in page.text
    # So does the page that asks again after a wrong password.
    again = requests.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                          data={'oauth_token': token,
                                'username': user['name'],
                                'password': 'wrong'})
    assert again.status_code == 401
    assert html.escape(name) in again.text and '<script>' not in again.text


# -- the operator's command --

@pytest.fixture
def command(cluster, capsys):
    def run(*args):
        status = cli.main(['--database-url', cluster.database_url] +
                          list(args))
        out, err = capsys.readouterr()
        return status, out, err
    return run


def test_consumer_add_registers_the_callback(cluster, command, stores):
    name = 'cli-%s' % uuid.uuid4().hex[:8]
    status, out, _ = command('consumer-add', name, '--callback', APP)
    assert status == 0 and APP in out
    key = re.search(r'key:\s+(\S+)', out).group(1)
    assert re.search(r'%s\s+%s\s+%s' % (key, re.escape(name),
                                        re.escape(APP)),
                     command('consumer-list')[1])
    app = stores.credentials.get_consumer(key)
    token_of(ask(cluster, app, APP))
    assert_refused(ask(cluster, app, 'oob'))


def test_consumer_add_defaults_to_oob(cluster, command, stores):
    name = 'cli-%s' % uuid.uuid4().hex[:8]
    status, out, _ = command('consumer-add', name)
    assert status == 0
    key = re.search(r'key:\s+(\S+)', out).group(1)
    assert re.search(r'%s\s+%s\s+oob' % (key, re.escape(name)),
                     command('consumer-list')[1])
    assert_refused(ask(cluster, stores.credentials.get_consumer(key),
                       'http://127.0.0.1:9/cb'))


@pytest.mark.parametrize('callback', [
    'javascript:alert(1)', 'ftp://app.example.com/cb', '/relative/cb',
    'https://user:pw@app.example.com/cb', 'https://app.example.com/cb#x',
    'https:///nohost', 'OOB ',
    pytest.param('https://app.example.com/' + 'x' * 2100, id='too-long')])
def test_consumer_add_refuses_bad_callbacks(command, callback):
    name = 'bad-%s' % uuid.uuid4().hex[:8]
    before = command('consumer-list')[1]
    status, out, err = command('consumer-add', name, '--callback', callback)
    assert status == 1 and err.startswith('ERROR: ') and 'callback' in err
    assert 'Traceback' not in err and out == ''
    assert command('consumer-list')[1] == before


# -- the sync client's login keeps working --

def client_login(cluster, key, secret, user):
    from stacksync_swift.client import credentials as client_credentials

    session, _url, token = client_credentials.request_token(
        cluster.url, key, secret)
    verifier = client_credentials.verifier_with_password(
        cluster.url, token, user['name'], user['password'])
    return client_credentials.access_token(cluster.url, session, verifier)


def test_the_sync_client_logs_in_with_the_all_in_one_consumer(cluster):
    demo = cluster.demo
    access = client_login(cluster, demo['consumer_key'],
                          demo['consumer_secret'],
                          {'name': demo['user'], 'password': demo['password']})
    resp = OAuth1Session(demo['consumer_key'],
                         client_secret=demo['consumer_secret'],
                         resource_owner_key=access['oauth_token'],
                         resource_owner_secret=access['oauth_token_secret']
                         ).get(cluster.url + '/v1/account', timeout=TIMEOUT,
                               headers={'X-StackSync-API': 'v1'})
    assert resp.status_code == 200 and resp.json()['name'] == demo['user']


def test_the_sync_client_logs_in_with_a_legacy_consumer(
        cluster, legacy, user):
    assert client_login(cluster, legacy.key, legacy.secret, user)[
        'oauth_token']
