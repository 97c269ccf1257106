"""The HTTP layer of the simulation: the real client, a fake wire.

:class:`SimConnection` is the real :class:`~stacksync_swift.client.api.
Connection` (batching, retries of 5xx answers, the mapping of statuses to
``ClientError`` classes, JSON bodies) with only ``_send`` replaced: instead
of a ``requests`` session, each request goes through the simulation's
:class:`~tests.simulation.fakes.Network` to :class:`ApiServer`.

:class:`ApiServer` answers the sync client's resources the way the API
filter does (``stacksync_swift/middleware/api/workspaces.py`` and
``chunks.py``), over the real metadata service, with one dict of chunk
bodies per Swift container:

* ``GET /v1/workspaces``, ``GET /v1/workspace/{wid}``;
* ``GET …/changes`` and the long poll ``GET …/changes/wait``: a wait on a
  workspace that has not moved is *held*: the network lets other users
  act and other clients sync (each may commit) until the cursor moves or
  the hold ends (the timeout), so a waiter can miss nothing and never
  wakes for nothing;
* ``POST …/commit``: items naming chunks the container lacks fail one by
  one (``missing_chunks``), the rest go to the service in one call;
* ``POST …/chunks`` (a batch), ``POST …/chunks/missing``,
  ``PUT``/``GET …/chunk/{name}``: a plain
  workspace's chunk must hash to its name (a zstd body is decompressed
  first, as the API does); an encrypted one is stored as sent. A viewer
  may not write (403).

Faults are the network's: a request dropped before the server sees it
(``Offline``), a 503 answer before anything is applied, and after the
server applied a request, an answer lost (``Offline``) or replaced by a
504: the client retries what it may, as it does on a real network.
"""

import io
import json
import re
import urllib.parse

import requests

from stacksync_swift import chunking
from stacksync_swift.client import api
from stacksync_swift.client import codec as codecs
from stacksync_swift.metadata import errors
from stacksync_swift.metadata import models
from stacksync_swift.middleware.api.items import changes_json
from stacksync_swift.middleware.api.items import commit_json

WID = r'/v1/workspace/(\d+)'
# How many other things may happen while a long poll is held.
HOLD = 3


class ApiServer:
    """The API's sync resources over ``server`` (a fakes.Server)."""

    def __init__(self, server):
        self.server = server
        self.service = server.service
        self.devices = {}
        self.hold = None            # callback(): let something else happen
        self.routes = [
            ('GET', re.compile(r'/v1/workspaces$'), self.workspaces),
            ('GET', re.compile(WID + r'$'), self.workspace),
            ('GET', re.compile(WID + r'/changes$'), self.changes),
            ('GET', re.compile(WID + r'/changes/wait$'), self.wait),
            ('POST', re.compile(WID + r'/commit$'), self.commit),
            ('POST', re.compile(WID + r'/chunks/missing$'), self.missing),
            ('POST', re.compile(WID + r'/chunks$'), self.put_batch),
            ('PUT', re.compile(WID + r'/chunk/([^/]+)$'), self.put_chunk),
            ('GET', re.compile(WID + r'/chunk/([^/]+)$'), self.get_chunk),
        ]

    # -- the dispatcher --

    def handle(self, user_id, method, path, params, body, headers):
        """``(status, body bytes)`` of one request."""
        request = _Request(user_id, params or {}, body, headers)
        for verb, pattern, handler in self.routes:
            match = pattern.match(path)
            if match and verb == method:
                try:
                    answer = handler(request, *match.groups())
                except errors.MetadataError as error:
                    return error.status, _json(error.as_dict())
                if isinstance(answer, tuple):
                    return answer
                return 200, _json(answer)
        return 404, _json({'error': 'not_found',
                           'description': 'no resource %s %s'
                           % (method, path)})

    def device_id(self, request):
        name = request.headers.get(api.DEVICE_HEADER)
        key = (request.user_id, name)
        if key not in self.devices:
            self.devices[key] = self.service.get_or_create_device(
                request.user_id, name)['id']
        return self.devices[key]

    def _workspace(self, request, wid):
        return self.service.get_workspace(request.user_id, int(wid))

    def store(self, workspace):
        return self.server.container(workspace['container'])

    # -- the resources --

    def workspaces(self, request):
        return self.service.get_workspaces(request.user_id)

    def workspace(self, request, wid):
        return self._workspace(request, wid)

    def changes(self, request, wid):
        return changes_json(self.service.get_changes(
            request.user_id, int(wid), int(request.params.get('cursor', 0)),
            int(request.params.get('limit', 1000))))

    def wait(self, request, wid):
        cursor = int(request.params.get('cursor', 0))
        current = self._workspace(request, wid)['cursor']
        for _held in range(HOLD):
            if current > cursor or self.hold is None:
                break
            self.hold()
            current = self._workspace(request, wid)['cursor']
        return {'changes': current > cursor, 'cursor': current}

    def commit(self, request, wid):
        workspace = self._workspace(request, wid)
        items = json.loads(request.body)
        store = self.store(workspace)
        wanted = {name for item in items for name in item.get('chunks')
                  or ()}
        sizes = {name: len(store[name]) if name in store else None
                 for name in wanted}
        missing = {name for name, size in sizes.items() if size is None}
        ready = [item for item in items
                 if not missing.intersection(item.get('chunks') or ())]
        outcome = self.service.commit(request.user_id,
                                      self.device_id(request),
                                      workspace['id'], ready,
                                      chunk_sizes=sizes)
        committed = iter(outcome['results'])
        results = []
        for item in items:
            lacking = missing.intersection(item.get('chunks') or ())
            if not lacking:
                results.append(next(committed))
                continue
            result = {'result': 'error', 'error': 'missing_chunks',
                      'description': 'chunks not stored in the workspace: '
                      + ', '.join(sorted(lacking))}
            if 'client_id' in item:
                result['client_id'] = item['client_id']
            results.append(result)
        return commit_json(dict(outcome, results=results))

    def missing(self, request, wid):
        store = self.store(self._workspace(request, wid))
        names = json.loads(request.body)['names']
        return {'missing': sorted(name for name in names
                                  if name not in store)}

    def put_chunk(self, request, wid, name):
        workspace = self._workspace(request, wid)
        if workspace['role'] not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace['id'])
        data = request.body
        if request.headers.get(api.ENCODING_HEADER) == 'zstd':
            if workspace['encrypted']:
                raise errors.BadRequest('an encrypted workspace stores '
                                        'chunks as they are sent')
            data = codecs.decompress(data)
        if not workspace['encrypted'] and chunking.chunk_name(data) != name:
            raise errors.BadRequest('the body does not hash to %s' % name)
        store = self.store(workspace)
        created = name not in store
        store.setdefault(name, bytes(data))
        return (201 if created else 200), _json(
            {'name': name, 'size': len(data), 'created': created})

    def put_batch(self, request, wid):
        """``POST …/chunks``: a JSON index line, then the bodies; a result
        per chunk, as ``chunks.ChunkBatch`` answers."""
        workspace = self._workspace(request, wid)
        if workspace['role'] not in models.WRITER_ROLES:
            raise errors.Forbidden('you may only read workspace %d'
                                   % workspace['id'])
        line, _, rest = bytes(request.body).partition(b'\n')
        store, results, offset = self.store(workspace), [], 0
        for entry in json.loads(line)['chunks']:
            name, size = entry['name'], entry['size']
            data, offset = rest[offset:offset + size], offset + size
            if entry.get('encoding') == 'zstd':
                data = codecs.decompress(data)
            if not workspace['encrypted'] and \
                    chunking.chunk_name(data) != name:
                results.append({'name': name, 'result': 'mismatch'})
                continue
            created = name not in store
            store.setdefault(name, bytes(data))
            results.append({'name': name,
                            'result': 'created' if created else 'exists'})
        return 200, _json({'results': results})

    def get_chunk(self, request, wid, name):
        store = self.store(self._workspace(request, wid))
        if name not in store:
            raise errors.NotFound('no chunk %s' % name)
        return 200, store[name]


class _Request:
    def __init__(self, user_id, params, body, headers):
        self.user_id = user_id
        self.params = params
        self.body = body
        self.headers = headers


def _json(value):
    return json.dumps(value).encode('utf-8')


class SimConnection(api.Connection):
    """The real HTTP remote of one device, over the simulated wire."""

    def __init__(self, api_server, network, client, user_id, device,
                 clock):
        super().__init__('http://stacksync.sim', ('key', 'secret', 'token',
                                                  'token-secret'),
                         device=device, concurrency=1, sleep=clock.sleep)
        self.api_server = api_server
        self.network = network
        self.client = client
        self.user_id = user_id

    def _send(self, method, path, headers, kwargs):
        url = urllib.parse.urlsplit(self.url + path)
        params = dict(kwargs.get('params') or {})
        params.update(urllib.parse.parse_qsl(url.query))
        body = kwargs.get('data')

        def exchange():
            return self.api_server.handle(self.user_id, method, url.path,
                                          params, body, headers)
        status, content = self.network.exchange(self.client, exchange)
        return _response(status, content)


def _response(status, content):
    resp = requests.Response()
    resp.status_code = status
    resp.reason = {200: 'OK', 201: 'Created', 503: 'Service Unavailable',
                   504: 'Gateway Timeout'}.get(status, 'Error')
    resp._content = content
    resp.raw = io.BytesIO(content)
    resp.headers['Content-Type'] = 'application/json'
    return resp
