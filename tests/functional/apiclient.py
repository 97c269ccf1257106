"""A signed REST API client for the functional tests.

Each :class:`APIClient` is a new StackSync user with an OAuth access token
saved straight into the metadata database (the three-legged dance itself is
tested in ``test_oauth.py``); requests are signed by requests-oauthlib and
carry ``X-StackSync-API: v1``. ``alice``, ``bob`` and ``carol`` are
fixtures of such clients; a test module takes them by assignment
(``alice = apiclient.alice``), which, unlike an import, the tests'
arguments of that name do not redefine for ruff (F811).
"""

import hashlib
import secrets
import time
import uuid

import pytest
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1Session
from swiftclient import client as swiftclient

from stacksync_swift import packs
from stacksync_swift.metadata import credentials
from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from stacksync_swift.metadata import web

API = {'X-StackSync-API': 'v1'}
TIMEOUT = 120


class Stores:
    """The cluster's metadata service, credential store and web store."""

    def __init__(self, cluster):
        self.engine = db.create_engine(cluster.database_url)
        self.metadata = service.MetadataService(self.engine)
        self.credentials = credentials.CredentialStore(self.engine)
        self.web = web.WebStore(self.engine)
        self.consumer = self.credentials.create_consumer('api-tests')

    def close(self):
        self.engine.dispose()


class APIClient:
    def __init__(self, cluster, stores, name=None):
        self.base = cluster.url
        self.user = stores.metadata.create_user(
            name or 'user-%s' % uuid.uuid4().hex[:10])
        token, secret = secrets.token_hex(16), secrets.token_hex(16)
        stores.credentials.save_access_token(stores.consumer.key,
                                             self.user['id'], token, secret)
        self.auth = (stores.consumer.key, stores.consumer.secret, token,
                     secret)
        self.session = self.new_session()
        self.workspace_id = self.get('/v1/folder/0').json()['workspace_id']

    def new_session(self):
        key, consumer_secret, token, secret = self.auth
        return OAuth1Session(key, client_secret=consumer_secret,
                             resource_owner_key=token,
                             resource_owner_secret=secret)

    def request(self, method, path, headers=None, **kwargs):
        kwargs.setdefault('timeout', TIMEOUT)
        return self.session.request(method, self.base + path,
                                    headers=dict(API, **(headers or {})),
                                    **kwargs)

    def get(self, path, **kwargs):
        return self.request('GET', path, **kwargs)

    def head(self, path, **kwargs):
        return self.request('HEAD', path, **kwargs)

    def post(self, path, **kwargs):
        return self.request('POST', path, **kwargs)

    def put(self, path, **kwargs):
        return self.request('PUT', path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request('DELETE', path, **kwargs)

    def upload(self, data, name=None, parent=0, **kwargs):
        """Create a file; returns its metadata (asserting 201).

        ``data`` may be an iterator (sent chunked). It then needs a
        Content-Type: without one, requests-oauthlib looks for form
        parameters in the body and so eats the iterator's first piece.
        """
        name = name or 'file-%s' % uuid.uuid4().hex[:8]
        if not isinstance(data, (bytes, str)):
            kwargs['headers'] = dict(
                {'Content-Type': 'application/octet-stream'},
                **kwargs.get('headers', {}))
        resp = self.post('/v1/file', params={'name': name, 'parent': parent},
                         data=data, **kwargs)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def close(self):
        self.session.close()


def person(cluster, stores, name):
    """A new user named ``name`` and a random suffix."""
    return APIClient(cluster, stores, '%s-%s' % (name, uuid.uuid4().hex[:6]))


@pytest.fixture
def alice(cluster, stores):
    made = person(cluster, stores, 'alice')
    yield made
    made.close()


@pytest.fixture
def bob(cluster, stores):
    made = person(cluster, stores, 'bob')
    yield made
    made.close()


@pytest.fixture
def carol(cluster, stores):
    made = person(cluster, stores, 'carol')
    yield made
    made.close()


def chunk_name(data):
    return 'chk-' + hashlib.sha256(data).hexdigest()


def stored_chunks(objects):
    """``{chunk name: body}`` of a container's ``{object name: body}``:
    the chunks in its packs and those stored one per object."""
    chunks = {}
    for name, body in objects.items():
        if packs.is_pack_name(name):
            chunks.update(packs.split(body))
        elif name.startswith('chk-'):
            chunks[name] = body
    return chunks


def raw_url(cluster, container, obj=''):
    """The raw Swift URL of a container (or an object in it)."""
    return '%s/v1/%s/%s/%s' % (cluster.url, cluster.storage_account,
                               container, obj)


def raw_chunk_url(cluster, container, chunk):
    """The raw Swift URL of the object that holds ``chunk``: its pack, or
    the chunk's own object (found as the installation admin, through the
    proxy without our filters, so the proxy under test caches nothing of
    the container's, its ACLs included)."""
    conn = swiftclient.Connection(cluster.bare_url + '/auth/v1.0',
                                  cluster.admin_user, cluster.admin_key,
                                  retries=2)
    try:
        _headers, listing = conn.get_container(container, full_listing=True)
        for entry in listing:
            if entry['name'] == chunk or (
                    packs.is_pack_name(entry['name']) and chunk in dict(
                        packs.split(conn.get_object(container,
                                                    entry['name'])[1]))):
                return raw_url(cluster, container, entry['name'])
    finally:
        conn.close()
    raise KeyError(chunk)


def raw_chunk(resp, chunk):
    """The bytes of ``chunk`` in a raw GET's answer for
    :func:`raw_chunk_url`: the whole object, or the chunk's part of a
    pack."""
    if packs.is_pack_name(resp.url.rsplit('/', 1)[-1].split('?')[0]):
        return dict(packs.split(resp.content))[chunk]
    return resp.content


def wait_for_copy(client, workspace_id, timeout=60):
    """Wait until the history of a newly shared folder is in its own
    container (the proxy copies it after the first accept's answer)."""
    deadline = time.monotonic() + timeout
    while client.get('/v1/workspace/%d' % workspace_id).json()[
            'copy_source'] is not None:
        assert time.monotonic() < deadline, \
            'the copy of workspace %d never finished' % workspace_id
        time.sleep(0.1)


def loopback():
    """A loopback address that no other test speaks from (127.0.0.0/8 is
    all loopback on Linux): per-address counters stay the test's own."""
    return '127.%d.%d.%d' % (secrets.randbelow(250) + 2,
                             secrets.randbelow(256),
                             secrets.randbelow(250) + 2)


class SourceAddress(HTTPAdapter):
    """Connect from a given local address (mount it on a session)."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs['source_address'] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)
