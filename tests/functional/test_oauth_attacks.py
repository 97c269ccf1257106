"""Password guessing and table filling through the OAuth endpoints.

Against the real all-in-one, over HTTP:

* ``POST /oauth/authorize`` checks the request token before the password:
  with an unknown token the answer is the same whatever the password, and
  the password is not even checked (no failure is counted);
* failed authorizations are throttled per user name and per client
  address, with the web sign-in's own throttle and counters;
* requests naming an unknown consumer write nothing (no nonce row).

Each throttle test speaks from a loopback address of its own
(127.0.0.0/8 is all loopback on Linux), so the per-address counters of
the tests, and of the rest of the suite, never mix.
"""

import time
import uuid

import pytest
import requests
from requests_oauthlib import OAuth1Session
from sqlalchemy import func
from sqlalchemy import select

from stacksync_swift import throttle
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from tests.functional.apiclient import SourceAddress
from tests.functional.apiclient import loopback

TIMEOUT = 60
WINDOW = throttle.FAILURE_WINDOW


def browser(address):
    session = requests.Session()
    adapter = SourceAddress(address)
    session.mount('http://', adapter)
    return session


@pytest.fixture(scope='module')
def consumer(stores):
    return stores.credentials.create_consumer('attack-tests')


@pytest.fixture
def user(stores):
    name = 'victim-%s' % uuid.uuid4().hex[:8]
    created = stores.metadata.create_user(name, password='the right one')
    return dict(created, password='the right one')


@pytest.fixture
def address():
    return loopback()


@pytest.fixture(autouse=True)
def forget(stores):
    """Forget the counters a test made (by their keys)."""
    keys = []
    yield keys
    stores.web.forget_failures(keys)


def request_token(cluster, consumer):
    session = OAuth1Session(consumer.key, client_secret=consumer.secret,
                            callback_uri='oob')
    return session.fetch_request_token(
        cluster.url + '/oauth/request_token')['oauth_token']


def authorize(client, cluster, token, name, password):
    return client.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                       allow_redirects=False,
                       data={'oauth_token': token, 'username': name,
                             'password': password})


def failures(stores, key):
    return stores.web.failures([key], WINDOW)


# -- the request token first --

def test_an_unknown_token_answers_the_same_whatever_the_password(
        cluster, stores, user, address, forget):
    forget.extend(['user:' + user['name'], 'ip:' + address])
    client = browser(address)
    made_up = 'madeuptoken%s' % uuid.uuid4().hex[:12]
    right = authorize(client, cluster, made_up, user['name'],
                      user['password'])
    wrong = authorize(client, cluster, made_up, user['name'], 'wrong')
    assert (right.status_code, right.headers['Content-Type'], right.text) \
        == (wrong.status_code, wrong.headers['Content-Type'], wrong.text)
    assert right.status_code == 401
    assert 'unknown or has expired' in right.text
    # The password was not checked at all: no failure was counted.
    for _ in range(throttle.FREE_ATTEMPTS + 1):
        authorize(client, cluster, made_up, user['name'], 'wrong')
    assert failures(stores, 'user:' + user['name']) == 0
    assert failures(stores, 'ip:' + address) == 0


def test_a_spent_token_answers_the_same_whatever_the_password(
        cluster, consumer, user, address, forget):
    forget.extend(['user:' + user['name'], 'ip:' + address])
    client = browser(address)
    token = request_token(cluster, consumer)
    granted = authorize(client, cluster, token, user['name'],
                        user['password'])
    assert granted.status_code == 200
    # The token is authorized now: it cannot be authorized again, and
    # the page says so without looking at the password.
    again = authorize(client, cluster, token, user['name'],
                      user['password'])
    wrong = authorize(client, cluster, token, user['name'], 'wrong')
    assert again.status_code == wrong.status_code == 401
    assert again.text == wrong.text


# -- throttling --

def test_wrong_passwords_are_slowed_down_per_user_name(
        cluster, consumer, stores, user, address, forget):
    forget.extend(['user:' + user['name'], 'ip:' + address])
    client = browser(address)
    token = request_token(cluster, consumer)
    for attempt in range(1, throttle.FREE_ATTEMPTS + 1):
        answer = authorize(client, cluster, token, user['name'], 'wrong')
        assert answer.status_code == 401
        assert 'Wrong user name or password' in answer.text
        assert failures(stores, 'user:' + user['name']) == attempt
    # The free attempts are spent: the next one waits at least a second
    # before the password is even checked (a lower bound only).
    started = time.monotonic()
    answer = authorize(client, cluster, token, user['name'], 'wrong')
    assert time.monotonic() - started >= 1
    assert answer.status_code == 401
    assert failures(stores, 'user:' + user['name']) == \
        throttle.FREE_ATTEMPTS + 1

    # From another address the user name's count still applies: even the
    # right password waits (2 s now), then succeeds and forgets the name's
    # failures.
    elsewhere = loopback()
    forget.append('ip:' + elsewhere)
    other = browser(elsewhere)
    started = time.monotonic()
    answer = authorize(other, cluster, token, user['name'],
                       user['password'])
    assert time.monotonic() - started >= 2
    assert answer.status_code == 200 and '<code>' in answer.text
    assert failures(stores, 'user:' + user['name']) == 0
    # The address keeps its count: one valid account must not reset it.
    assert failures(stores, 'ip:' + address) == throttle.FREE_ATTEMPTS + 1


def test_wrong_passwords_are_slowed_down_per_client_address(
        cluster, consumer, stores, address, forget):
    forget.append('ip:' + address)
    client = browser(address)
    token = request_token(cluster, consumer)
    # A different user name each time: only the address ties them.
    names = ['nobody-%s' % uuid.uuid4().hex[:8]
             for _ in range(throttle.FREE_ATTEMPTS + 1)]
    forget.extend('user:' + name for name in names)
    for name in names[:-1]:
        answer = authorize(client, cluster, token, name, 'guess')
        assert answer.status_code == 401
    assert failures(stores, 'ip:' + address) == throttle.FREE_ATTEMPTS
    started = time.monotonic()
    answer = authorize(client, cluster, token, names[-1], 'guess')
    assert time.monotonic() - started >= 1
    assert answer.status_code == 401
    assert failures(stores, 'ip:' + address) == throttle.FREE_ATTEMPTS + 1


def test_web_sign_in_and_authorize_share_the_counters(
        cluster, consumer, stores, user, address, forget):
    """A guess is a guess, wherever it is made."""
    forget.extend(['user:' + user['name'], 'ip:' + address])
    stores.web.record_failure(['user:' + user['name']], WINDOW)
    client = browser(address)
    token = request_token(cluster, consumer)
    authorize(client, cluster, token, user['name'], 'wrong')
    assert failures(stores, 'user:' + user['name']) == 2


# -- unknown consumers write nothing --

def nonce_rows(stores, key):
    with db.session(stores.engine) as session:
        return session.scalar(select(func.count()).select_from(
            credentials.Nonce).where(credentials.Nonce.consumer_key == key))


def test_unknown_consumers_write_no_nonce(cluster, stores, consumer):
    made_up = 'nosuchconsumer%s' % uuid.uuid4().hex[:10]
    for _ in range(3):
        session = OAuth1Session(made_up, client_secret='x',
                                callback_uri='oob')
        assert session.post(cluster.url + '/oauth/request_token',
                            timeout=TIMEOUT).status_code == 401
        session = OAuth1Session(made_up, client_secret='x',
                                resource_owner_key='t' * 20,
                                resource_owner_secret='s' * 20,
                                verifier='v' * 20)
        assert session.post(cluster.url + '/oauth/access_token',
                            timeout=TIMEOUT).status_code == 401
        assert session.get(cluster.url + '/v1/account', timeout=TIMEOUT,
                           headers={'X-StackSync-API': 'v1'}
                           ).status_code == 401
    assert nonce_rows(stores, made_up) == 0
    # A known consumer's nonces are still recorded (replays stay refused).
    request_token(cluster, consumer)
    assert nonce_rows(stores, consumer.key) >= 1


# -- bad input: a clear 4xx, nothing counted, no traceback --

@pytest.mark.parametrize('fields', [
    {'username': 'a', 'password': 'b'},
    {'oauth_token': 'token\x00withnul0000', 'username': 'a',
     'password': 'b'},
    {'oauth_token': 'x' * 5000, 'username': 'a', 'password': 'b'},
    {'oauth_token': "x' OR '1'='1", 'username': 'a\x00', 'password': ''},
    {'oauth_token': ['a' * 20, 'b' * 20], 'username': 'a'},
])
def test_junk_tokens_get_the_unknown_request_page(
        cluster, stores, address, forget, fields):
    forget.append('ip:' + address)
    answer = browser(address).post(cluster.url + '/oauth/authorize',
                                   data=fields, timeout=TIMEOUT)
    assert answer.status_code == 401
    assert 'unknown or has expired' in answer.text
    assert failures(stores, 'ip:' + address) == 0
    page = requests.get(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                        params={'oauth_token': fields.get('oauth_token')})
    assert page.status_code == 401 and 'Traceback' not in page.text


def test_the_authorize_form_must_be_a_form(cluster, consumer):
    token = request_token(cluster, consumer)
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                           json={'oauth_token': token})
    assert answer.status_code == 400
    assert answer.json()['error'] == 400
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT)
    assert answer.status_code == 400
    answer = requests.post(cluster.url + '/oauth/authorize', timeout=TIMEOUT,
                           data={'oauth_token': token, 'pad': 'x' * 70000})
    assert answer.status_code == 413
