"""A fake Swift for unit tests of one filter, after Swift's own FakeSwift.

Register responses per (method, path); every call is recorded with its
headers and ``swift.source`` so a test can assert the exact subrequests a
filter made, and that every response body was read and closed.
"""

from swift.common import swob


class FakeSwift:
    def __init__(self):
        self.responses = {}
        self.calls = []
        self.open_bodies = 0

    def register(self, method, path, status, headers=None, body=b''):
        self.responses[(method, path)] = (status, headers or {}, body)

    def __call__(self, env, start_response):
        req = swob.Request(env)
        body = req.body_file.read() if req.content_length else b''
        self.calls.append({'method': req.method, 'path': req.path,
                           'query': req.query_string,
                           'headers': dict(req.headers), 'body': body,
                           'source': env.get('swift.source'),
                           'environ': dict(env)})
        status, headers, resp_body = self.responses.get(
            (req.method, req.path), (404, {}, b'Not Found'))
        return _TrackedBody(self, swob.Response(
            status=status, headers=headers, body=resp_body)(
                env, start_response))

    @property
    def call_paths(self):
        return [(call['method'], call['path']) for call in self.calls]


class _TrackedBody:
    """Counts bodies left unclosed by the filter under test."""

    def __init__(self, fake, app_iter):
        self.fake = fake
        self.app_iter = app_iter
        fake.open_bodies += 1

    def __iter__(self):
        return iter(self.app_iter)

    def close(self):
        self.fake.open_bodies -= 1
        getattr(self.app_iter, 'close', lambda: None)()
