"""The OAuth 1.0a provider rules, on a real credential store (SQLite).

oauthlib's own client signs the requests, as an application would.
"""

import time
import urllib.parse

import pytest
from oauthlib.oauth1 import Client

from stacksync_swift import oauth
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import service

BASE = 'http://proxy.example.com'


@pytest.fixture
def stores(tmp_path):
    engine = db.create_engine('sqlite:///%s' % (tmp_path / 'meta.sqlite'))
    db.upgrade(engine)
    yield service.MetadataService(engine), \
        credentials.CredentialStore(engine)
    engine.dispose()


@pytest.fixture
def provider(stores):
    return oauth.Provider(stores[1])


@pytest.fixture
def consumer(stores):
    return stores[1].create_consumer('app')


@pytest.fixture
def user(stores):
    return stores[0].create_user('alice', password='pw')


def sign(client, uri, method='POST', body=None, headers=None):
    return client.sign(uri, http_method=method, body=body, headers=headers)


def three_legs(provider, consumer, user, callback='oob'):
    client = Client(consumer.key, client_secret=consumer.secret,
                    callback_uri=callback)
    uri, headers, body = sign(client, BASE + '/oauth/request_token')
    _, answer, status = provider.request_token(uri, 'POST', body, headers)
    assert status == 200
    fields = dict(pair.split('=') for pair in answer.split('&'))
    assert fields['oauth_callback_confirmed'] == 'true'
    token, secret = fields['oauth_token'], fields['oauth_token_secret']
    headers, answer, status = provider.authorize(
        BASE + '/oauth/authorize?oauth_token=' + token, 'GET', None, {},
        user['id'])
    if callback == 'oob':
        verifier = dict(pair.split('=') for pair in
                        answer.split('&'))['oauth_verifier']
    else:
        assert status == 302
        query = urllib.parse.urlsplit(headers['Location']).query
        verifier = dict(urllib.parse.parse_qsl(query))['oauth_verifier']
    client = Client(consumer.key, client_secret=consumer.secret,
                    resource_owner_key=token,
                    resource_owner_secret=secret, verifier=verifier)
    uri, headers, body = sign(client, BASE + '/oauth/access_token')
    _, answer, status = provider.access_token(uri, 'POST', body, headers)
    assert status == 200, answer
    fields = dict(pair.split('=') for pair in answer.split('&'))
    return fields['oauth_token'], fields['oauth_token_secret']


def access_client(consumer, token, secret, **kwargs):
    return Client(consumer.key, client_secret=consumer.secret,
                  resource_owner_key=token, resource_owner_secret=secret,
                  **kwargs)


def verify(provider, client, uri=BASE + '/v1/account', method='GET'):
    uri, headers, body = sign(client, uri, method)
    return provider.verify(uri, method, body, headers)


def test_three_legs_then_signed_requests(provider, consumer, user):
    token, secret = three_legs(provider, consumer, user)
    assert verify(provider, access_client(consumer, token, secret)) == \
        (True, user['id'])


def test_callback_receives_the_verifier(provider, stores, user):
    consumer = stores[1].create_consumer(
        'web app', callback='https://app.example.com/cb')
    token, secret = three_legs(provider, consumer, user,
                               callback='https://app.example.com/cb')
    assert verify(provider, access_client(consumer, token, secret))[0]


def test_replayed_request_is_refused(provider, consumer, user):
    token, secret = three_legs(provider, consumer, user)
    uri, headers, body = sign(access_client(consumer, token, secret),
                              BASE + '/v1/account', 'GET')
    assert provider.verify(uri, 'GET', body, headers)[0]
    assert provider.verify(uri, 'GET', body, headers) == (False, None)


def test_the_signature_covers_the_url(provider, consumer, user):
    token, secret = three_legs(provider, consumer, user)
    uri, headers, body = sign(access_client(consumer, token, secret),
                              BASE + '/v1/file/1', 'GET')
    assert provider.verify(BASE + '/v1/file/2', 'GET', body, headers) == \
        (False, None)


class CountingStore:
    """The real store, counting the reads a signed request makes."""

    def __init__(self, store):
        self.store = store
        self.reads = []

    def __getattr__(self, name):
        method = getattr(self.store, name)
        if not name.startswith('get_'):
            return method

        def counted(*args):
            self.reads.append(name)
            return method(*args)
        return counted


def test_a_signed_request_reads_its_consumer_and_token_once(
        stores, consumer, user):
    token, secret = three_legs(oauth.Provider(stores[1]), consumer, user)
    counting = CountingStore(stores[1])
    provider = oauth.Provider(counting)
    client = access_client(consumer, token, secret)
    for _ in range(2):
        counting.reads.clear()
        assert verify(provider, client) == (True, user['id'])
        assert sorted(counting.reads) == ['get_access_token', 'get_consumer']
    # Each request reads afresh: a revocation counts from the next one.
    stores[1].revoke_access_token(token)
    assert verify(provider, client) == (False, None)


@pytest.mark.parametrize('skew', [-700, 700])
def test_timestamps_outside_the_window_are_refused(
        provider, consumer, user, skew):
    token, secret = three_legs(provider, consumer, user)
    client = access_client(consumer, token, secret,
                           timestamp=str(int(time.time()) + skew))
    assert verify(provider, client) == (False, None)


def test_revoked_token_and_deleted_consumer_are_refused(
        provider, stores, consumer, user):
    token, secret = three_legs(provider, consumer, user)
    stores[1].revoke_access_token(token)
    assert verify(provider, access_client(consumer, token, secret)) == \
        (False, None)
    token, secret = three_legs(provider, consumer, user)
    stores[1].delete_consumer(consumer.key)
    assert verify(provider, access_client(consumer, token, secret)) == \
        (False, None)


def test_expired_request_token_is_useless(stores, consumer, user):
    clock = [time.time()]
    store = credentials.CredentialStore(stores[1].engine,
                                        clock=lambda: clock[0])
    store.save_request_token(consumer.key, 'r' * 20, 's' * 20, 'oob', 60)
    assert store.get_request_token('r' * 20) is not None
    clock[0] += 61
    assert store.get_request_token('r' * 20) is None


def test_nonces_are_single_use_and_forgotten_when_stale(stores, consumer):
    clock = [1_000_000.0]
    store = credentials.CredentialStore(stores[1].engine,
                                        clock=lambda: clock[0])
    assert store.use_nonce(consumer.key, 1_000_000, 'nonce1', 'tok')
    assert not store.use_nonce(consumer.key, 1_000_000, 'nonce1', 'tok')
    # Another token or timestamp makes it a different nonce.
    assert store.use_nonce(consumer.key, 1_000_000, 'nonce1', 'other')
    clock[0] += credentials.NONCE_MEMORY + 1
    assert store.use_nonce(consumer.key, int(clock[0]), 'nonce2', 'tok')
    # The old rows are gone: the table does not grow without bound.
    assert store.use_nonce(consumer.key, 1_000_000, 'nonce1', 'tok')


def test_signature_method_is_read_from_every_place():
    client = Client('k' * 20, client_secret='s', signature_method='PLAINTEXT')
    uri, headers, body = client.sign(BASE + '/x')
    assert oauth.signature_method(uri, body, headers) == 'PLAINTEXT'
    client = Client('k' * 20, client_secret='s', signature_type='QUERY')
    uri, headers, body = client.sign(BASE + '/x')
    assert oauth.signature_method(uri, body, headers) == 'HMAC-SHA1'
    assert oauth.signature_method(BASE + '/x', None, {
        'Authorization': 'OAuth garbage=='}) is None


# -- registered callbacks --

APP = 'https://app.example.com/cb'


@pytest.mark.parametrize('registered, callback, allowed', [
    ('oob', 'oob', True),
    ('oob', 'http://127.0.0.1/cb', False),
    (APP, APP, True),
    (APP, APP + '?state=1&x=2', True),
    (APP, 'HTTPS://App.Example.COM/cb', True),
    (APP, 'https://app.example.com:443/cb', True),
    (APP, 'oob', False),
    (APP, 'http://app.example.com/cb', False),
    (APP, 'https://app.example.com:444/cb', False),
    (APP, 'https://app.example.com/cb/', False),
    (APP, 'https://app.example.com/cb/../x', False),
    (APP, 'https://app.example.com/c', False),
    (APP, 'https://app.example.com.evil/cb', False),
    (APP, 'https://app.example.com@evil/cb', False),
    (APP, 'https://evil@app.example.com/cb', False),
    (APP, APP + '#frag', False),
    (APP, APP + '?x=\n', False),
    (APP, 'https://app.example.com:99999/cb', False),
    (APP, APP + '?' + 'x' * 3000, False),
    (None, 'oob', True),
    (None, 'http://127.0.0.1:8123/cb', True),
    (None, 'https://localhost/', True),
    (None, 'http://[::1]:9/x', True),
    (None, 'http://evil.example/cb', False),
    (None, 'http://127.0.0.1.evil/cb', False),
    (None, 'http://127.0.0.1@evil/cb', False),
    (None, 'ftp://127.0.0.1/cb', False),
    (None, 'javascript://127.0.0.1/%0aalert(1)', False),
])
def test_callbacks_must_match_the_registration(registered, callback,
                                               allowed):
    assert oauth.callback_allowed(registered, callback) is allowed


def request_token(provider, consumer, callback='oob'):
    client = Client(consumer.key, client_secret=consumer.secret,
                    callback_uri=callback)
    uri, headers, body = sign(client, BASE + '/oauth/request_token')
    return provider.request_token(uri, 'POST', body, headers)


def test_request_token_refuses_another_callback(provider, consumer):
    assert consumer.callback == 'oob'
    assert request_token(provider, consumer, 'https://evil.example/')[2] \
        == 401
    assert request_token(provider, consumer)[2] == 200


@pytest.mark.parametrize('callback', [
    'javascript:alert(1)', 'ftp://a.example/', 'relative/cb', '',
    'https://u:p@a.example/', 'https://a.example/#x', 'https:///x',
    'https://a.example/ x', 'https://a.example:99999/', None, 'OOB',
    'https://a.example/' + 'x' * 2100])
def test_bad_callbacks_cannot_be_registered(stores, callback):
    before = stores[1].list_consumers()
    with pytest.raises(errors.BadRequest):
        stores[1].create_consumer('app', callback=callback)
    assert stores[1].list_consumers() == before


def test_the_redirect_names_no_user(provider, stores, user):
    consumer = stores[1].create_consumer('web app', callback=APP)
    _, answer, _ = request_token(provider, consumer, APP + '?s=1')
    token = dict(urllib.parse.parse_qsl(answer))['oauth_token']
    assert provider.pending(token) == consumer
    headers, _, status = provider.authorize(
        BASE + '/oauth/authorize?oauth_token=' + token, 'GET', None, {},
        user['id'])
    assert status == 302
    query = dict(urllib.parse.parse_qsl(
        urllib.parse.urlsplit(headers['Location']).query))
    assert sorted(query) == ['oauth_token', 'oauth_verifier', 's']
    # Authorized once: nothing is pending any more.
    assert provider.pending(token) is None
    with pytest.raises(oauth.OAuthError):
        provider.authorize(BASE + '/oauth/authorize?oauth_token=' + token,
                           'GET', None, {}, user['id'])


def test_the_oob_answer_names_no_user(provider, consumer, user):
    _, answer, _ = request_token(provider, consumer)
    token = dict(urllib.parse.parse_qsl(answer))['oauth_token']
    _, body, status = provider.authorize(
        BASE + '/oauth/authorize?oauth_token=' + token, 'GET', None, {},
        user['id'])
    assert status == 200
    assert sorted(dict(urllib.parse.parse_qsl(body))) == \
        ['oauth_token', 'oauth_verifier']


@pytest.mark.parametrize('token', ['', 'nosuchtoken000000000', 'x' * 100,
                                   'token\x00withnul0000', "x' OR '1'='1"])
def test_nothing_is_pending_for_unknown_tokens(provider, token):
    assert provider.pending(token) is None


# -- unknown consumers write nothing --

class WatchingStore(CountingStore):
    """The real store, recording the nonces it is asked to keep."""

    def __init__(self, store):
        super().__init__(store)
        self.nonces = []

    def use_nonce(self, *args):
        self.nonces.append(args)
        return self.store.use_nonce(*args)


def test_unknown_consumers_record_no_nonce(stores, consumer, user):
    watching = WatchingStore(stores[1])
    provider = oauth.Provider(watching)
    stranger = credentials.ConsumerRecord('nosuchconsumer000000', 'x',
                                          'none', None)
    assert request_token(provider, stranger)[2] == 401
    client = access_client(stranger, 't' * 20, 's' * 20)
    assert verify(provider, client) == (False, None)
    assert watching.nonces == []
    # Known consumers' nonces are recorded, and replays refused.
    assert request_token(provider, consumer)[2] == 200
    assert len(watching.nonces) == 1
