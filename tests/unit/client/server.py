"""A local HTTP server running the real ``stacksync_api`` filter over a
fake Swift, for the client's unit tests.

A small filter in front stands in for ``stacksync_auth``: a request with
an OAuth ``Authorization`` header whose token names a user acts as that
user; anything else gets the filter's 401. ``faults`` lets a test answer
the next requests with an error status instead.
"""

import re
import threading
import wsgiref.simple_server

from swift.common import swob

from stacksync_swift.metadata import db
from stacksync_swift.metadata import service
from stacksync_swift.middleware import api
from tests.unit.test_storage import ObjectSwift

TOKEN_RE = re.compile(r'oauth_token="([^"]+)"')


class FakeAuth:
    def __init__(self, app, users):
        self.app = app
        self.users = users
        self.faults = []
        self.requests = []

    def __call__(self, env, start_response):
        req = swob.Request(env)
        self.requests.append((req.method, req.path, dict(req.headers)))
        if self.faults:
            status = self.faults.pop(0)
            return swob.Response(status=status, body=b'{}',
                                 content_type='application/json')(
                env, start_response)
        found = TOKEN_RE.search(req.headers.get('Authorization', ''))
        if found and found.group(1) in self.users:
            env['stacksync.user'] = self.users[found.group(1)]
        return self.app(env, start_response)


class QuietHandler(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


class Server:
    def __init__(self, tmp_path):
        url = 'sqlite:///%s' % (tmp_path / 'metadata.sqlite')
        db.upgrade(url)
        self.engine = db.create_engine(url)
        self.metadata = service.MetadataService(self.engine)
        self.swift = ObjectSwift()
        conf = {'storage_account': 'AUTH_ss', 'database_url': url,
                'long_poll_timeout': '2'}
        self.users = {}
        self.auth = FakeAuth(api.filter_factory({}, **conf)(self.swift),
                             self.users)
        self.httpd = wsgiref.simple_server.make_server(
            '127.0.0.1', 0, self.auth, handler_class=QuietHandler)
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def add_user(self, name, **kwargs):
        user = self.metadata.create_user(name, **kwargs)
        self.users[name + '-token'] = user
        return user

    def oauth(self, name):
        return ('consumer', 'consumer-secret', name + '-token', 'secret')

    def chunk_objects(self):
        """``{path: body}`` of every stored chunk, in a pack or alone."""
        return self.swift.chunks()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.engine.dispose()
