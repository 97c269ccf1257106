"""The stacksync_api filter, built with its factory, over a fake Swift.

A tiny filter in front puts the user into the environment, as
``stacksync_auth`` does for a signed request; the metadata database is a
real SQLite one. ``ObjectSwift`` keeps the objects PUT to it, so uploads can
be downloaded again and every subrequest asserted.
"""

import json

import pytest
from swift.common import swob

from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from stacksync_swift.middleware import api
from tests.unit.test_storage import ObjectSwift

ACCOUNT = 'AUTH_ss'


@pytest.fixture
def swift():
    fake = ObjectSwift()
    yield fake
    assert fake.open_bodies == 0, 'a response body was left open'


@pytest.fixture
def metadata(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
    db.upgrade(url)
    engine = db.create_engine(url)
    yield service.MetadataService(engine)
    engine.dispose()


@pytest.fixture
def users(metadata):
    return {name: metadata.create_user(name) for name in ('alice', 'bob')}


@pytest.fixture
def filter_app(swift, metadata):
    conf = {'storage_account': ACCOUNT,
            'database_url': str(metadata.engine.url),
            'long_poll_timeout': '2'}
    return api.filter_factory({}, **conf)(swift)


class Client:
    """Sends API requests as one user through the filter."""

    # The header naming the API dialect (the v2 tests use the original).
    api_header = ('X-StackSync-API', 'v1')

    def __init__(self, app, user):
        self.app = app
        self.user = user

    def request(self, method, path, body=None, headers=None, **kwargs):
        headers = dict([self.api_header], **(headers or {}))
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault('Content-Type', 'application/json')
        req = swob.Request.blank(path, method=method, headers=headers,
                                 body=body, **kwargs)
        if self.user is not None:
            req.environ['stacksync.user'] = self.user
        resp = req.get_response(self.app)
        resp.json = json.loads(resp.body) if resp.content_type == \
            'application/json' and resp.body else None
        return resp

    def get(self, path, **kwargs):
        return self.request('GET', path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request('POST', path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request('PUT', path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request('DELETE', path, **kwargs)


@pytest.fixture
def alice(filter_app, users):
    return Client(filter_app, users['alice'])


@pytest.fixture
def bob(filter_app, users):
    return Client(filter_app, users['bob'])


@pytest.fixture
def anonymous(filter_app):
    return Client(filter_app, None)
