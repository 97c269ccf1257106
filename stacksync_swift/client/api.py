"""
==============
The HTTP remote
==============

:class:`Connection` is one user's signed view of the REST API (DESIGN.md
section 4): the :class:`~stacksync_swift.client.interfaces.Remote` the
sync engine runs over, plus the calls the ``stacksync`` command needs
besides syncing (folders, files, history, sharing). Another program can
use it directly::

    from stacksync_swift.client import api
    conn = api.Connection.from_credentials(api.load_credentials())
    conn.list_folder(0)['contents']

Signing and retries
-------------------

Every request is signed with OAuth 1.0a (requests-oauthlib's ``OAuth1``)
and carries ``X-StackSync-API: v1`` and ``X-StackSync-Device``. Nonces are
single-use, so a request that reached the server is never re-sent as it
was: connection failures (nothing was sent) are retried by urllib3's
``Retry`` in requests' ``HTTPAdapter`` with exponential backoff, and
``502``/``503``/``504`` answers are retried here, each attempt signed
anew. Only idempotent requests are retried after an answer; a commit is
idempotent by design (an unchanged item is not versioned twice), so it is
too.

Errors
------

Every failure is a :class:`ClientError` with a ``hint`` saying what to
do: :class:`Offline` (the server cannot be reached), :class:`AuthExpired`
(401: log in again), :class:`QuotaFull` (413), :class:`Conflict` (409,
with the server's ``item``), :class:`NotFound`, :class:`Forbidden`,
:class:`BadRequest`, :class:`ServerError`. ``Offline`` and
``ServerError`` are also ``RemoteError`` (interfaces), the
failures the engine retries on its next pass.

Transfers
---------

:meth:`Connection.upload` cuts a file with the server's content-defined
chunking, asks which chunks are missing in one request per thousand
(``POST …/chunks/missing``), sends only those, :data:`CONCURRENCY` at a
time, through the workspace's codec (compressed when it pays, sealed in an
encrypted workspace), then commits the file. A crashed upload therefore
resumes without re-sending what landed. :meth:`Connection.download`
fetches and checks the chunks in parallel and yields them in order.
``stats`` counts the bytes sent and received.

The sync engine batches the other way round: it asks ``missing_chunks``
for up to a thousand chunks of many files at once and hands the missing
ones to :meth:`Connection.put_chunks`, which sends them many per request
(``POST …/chunks``: up to :data:`UPLOAD_BATCH_CHUNKS` chunks and about
:data:`UPLOAD_BATCH_BYTES`, one pack on the server), :data:`CONCURRENCY`
requests at a time. The chunks of a thousand small files cost one
request, not a thousand. Threads share the one ``requests`` session: its
connection pool holds :data:`CONCURRENCY` connections, and :class:`Stats`
locks.
"""

import concurrent.futures
import json
import mimetypes
import os
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth1
from urllib3.util.retry import Retry

from stacksync_swift import chunking
from stacksync_swift.client import codec as codecs
from stacksync_swift.client.interfaces import RemoteError

API_HEADERS = {'X-StackSync-API': 'v1'}
DEVICE_HEADER = 'X-StackSync-Device'
ENCODING_HEADER = 'X-StackSync-Chunk-Encoding'
TIMEOUT = 60
RETRIES = 5
BACKOFF = 0.5
RETRY_STATUSES = (502, 503, 504)
CONCURRENCY = 8
# The server's bounds on one commit and one missing-chunk check.
BATCH = 1000


# One batch upload: at most the server's 1,000 chunks, and about one pack
# of bytes (the server stores a batch as one pack when it fits).
UPLOAD_BATCH_CHUNKS = 1000
UPLOAD_BATCH_BYTES = 16 * chunking.MiB
BATCH_TYPE = 'application/vnd.stacksync.chunks'


class ClientError(Exception):
    """A request failed; ``hint`` says what the person can do."""

    hint = 'try again later'

    def __init__(self, message, status=None, body=None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


class Offline(ClientError, RemoteError):
    hint = 'check the network connection and the server address'


class AuthExpired(ClientError):
    hint = 'log in again with: stacksync login URL'


class QuotaFull(ClientError):
    hint = 'free some space or ask the operator for a larger quota'


class Conflict(ClientError):
    hint = 'someone changed it first; sync and try again'

    @property
    def item(self):
        return self.body.get('item')


class NotFound(ClientError):
    hint = 'check the path with: stacksync ls'


class Forbidden(ClientError):
    hint = 'ask the owner for access'


class BadRequest(ClientError):
    hint = 'check the command line'


class ServerError(ClientError, RemoteError):
    hint = 'the server failed; try again later or tell its operator'


_BY_STATUS = {400: BadRequest, 401: AuthExpired, 403: Forbidden,
              404: NotFound, 409: Conflict, 413: QuotaFull}


def error_for(resp):
    """The :class:`ClientError` of an unsuccessful response."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = body.get('description') or resp.reason or 'HTTP error'
    cls = _BY_STATUS.get(resp.status_code)
    if cls is None:
        cls = ServerError if resp.status_code >= 500 else ClientError
    if resp.status_code == 413 and 'quota' not in message.lower():
        cls = ClientError
    return cls('%s (HTTP %d)' % (message, resp.status_code),
               resp.status_code, body)


class Stats:
    """Bytes and requests on the wire, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.chunks_sent = 0
        self.chunks_skipped = 0

    def add(self, **counts):
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)


def upload_batches(chunks):
    """``{name: body}`` cut into batches for :meth:`Connection.put_batch`:
    at most :data:`UPLOAD_BATCH_CHUNKS` chunks each, and no more than
    :data:`UPLOAD_BATCH_BYTES` unless one chunk alone is larger."""
    batches, batch, size = [], {}, 0
    for name, body in chunks.items():
        if batch and (len(batch) == UPLOAD_BATCH_CHUNKS or
                      size + len(body) > UPLOAD_BATCH_BYTES):
            batches.append(batch)
            batch, size = {}, 0
        batch[name] = body
        size += len(body)
    if batch:
        batches.append(batch)
    return batches


def new_session(concurrency=CONCURRENCY, retries=RETRIES):
    """A requests session retrying failed connections (urllib3 Retry)."""
    retry = Retry(total=retries, connect=retries, read=0, status=0,
                  other=0, backoff_factor=BACKOFF, raise_on_status=False)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=2,
                          pool_maxsize=max(concurrency, 2))
    session = requests.Session()
    session.mount('http://', adapter)
    session.mount('https://', adapter)
    return session


class Connection:
    """One user's signed connection to a StackSync API.

    :param url: the proxy's base URL (``https://cloud.example.com``)
    :param oauth: ``(consumer key, consumer secret, token, token secret)``
    :param device: the name this client commits under
    """

    def __init__(self, url, oauth, device=None, timeout=TIMEOUT,
                 retries=RETRIES, concurrency=CONCURRENCY, sleep=time.sleep):
        self.url = url.rstrip('/')
        key, consumer_secret, token, secret = oauth
        self.auth = OAuth1(key, client_secret=consumer_secret,
                           resource_owner_key=token,
                           resource_owner_secret=secret)
        self.device = device or socket.gethostname()
        self.timeout = timeout
        self.retries = retries
        self.concurrency = concurrency
        self.session = new_session(concurrency, retries)
        self.stats = Stats()
        # Waits between retries; the simulation passes its virtual clock's.
        self.sleep = sleep
        self._workspaces = {}

    @classmethod
    def from_credentials(cls, creds, **kwargs):
        """From the dict :mod:`~stacksync_swift.client.credentials` keeps.
        """
        return cls(creds['url'], (creds['consumer_key'],
                                  creds['consumer_secret'], creds['token'],
                                  creds['token_secret']), **kwargs)

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # -- the wire --

    def request(self, method, path, retry=True, **kwargs):
        """Send a signed request; return the response or raise."""
        headers = dict(API_HEADERS, **kwargs.pop('headers', {}))
        headers[DEVICE_HEADER] = self.device
        kwargs.setdefault('timeout', self.timeout)
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            resp = self._send(method, path, headers, kwargs)
            if resp.status_code not in RETRY_STATUSES or \
                    attempt == attempts - 1:
                break
            resp.close()
            self.sleep(BACKOFF * 2 ** attempt)
        if resp.status_code >= 400:
            raise error_for(resp)
        return resp

    def _send(self, method, path, headers, kwargs):
        try:
            return self.session.request(method, self.url + path,
                                        headers=headers, auth=self.auth,
                                        **kwargs)
        except requests.ConnectionError as error:
            raise Offline('cannot reach %s: %s' % (self.url,
                                                   _reason(error)))
        except requests.Timeout:
            raise Offline('%s did not answer in time' % self.url)

    def json(self, method, path, body=None, **kwargs):
        if body is not None:
            kwargs['data'] = json.dumps(body).encode('utf-8')
            kwargs.setdefault('headers', {})['Content-Type'] = \
                'application/json'
        return self.request(method, path, **kwargs).json()

    # -- Remote (the sync engine's interface) --

    def workspaces(self):
        found = self.json('GET', '/v1/workspaces')
        self._workspaces = {each['id']: each for each in found}
        return found

    def workspace(self, workspace_id):
        if workspace_id not in self._workspaces:
            self._workspaces[workspace_id] = self.json(
                'GET', '/v1/workspace/%d' % workspace_id)
        return self._workspaces[workspace_id]

    def changes(self, workspace_id, cursor, limit=1000):
        return self.json('GET', '/v1/workspace/%d/changes' % workspace_id,
                         params={'cursor': cursor, 'limit': limit})

    def wait(self, workspace_id, cursor, timeout):
        return self.json(
            'GET', '/v1/workspace/%d/changes/wait' % workspace_id,
            params={'cursor': cursor, 'timeout': int(timeout)},
            timeout=timeout + self.timeout)

    def commit(self, workspace_id, items):
        """Commit in batches the server accepts; one result per item."""
        items = list(items)
        results, cursor = [], None
        for start in range(0, max(len(items), 1), BATCH):
            outcome = self.json(
                'POST', '/v1/workspace/%d/commit' % workspace_id,
                body=items[start:start + BATCH])
            results.extend(outcome['results'])
            cursor = outcome['cursor']
        return {'results': results, 'cursor': cursor}

    def missing_chunks(self, workspace_id, names):
        names = sorted(set(names))
        missing = set()
        for start in range(0, len(names), BATCH):
            missing.update(self.json(
                'POST', '/v1/workspace/%d/chunks/missing' % workspace_id,
                body={'names': names[start:start + BATCH]})['missing'])
        self.stats.add(chunks_skipped=len(names) - len(missing))
        return missing

    def put_chunk(self, workspace_id, name, body):
        headers = {'Content-Type': 'application/octet-stream'}
        if codecs.wire_encoding(name, body):
            headers[ENCODING_HEADER] = 'zstd'
        self.request('PUT', self._chunk_path(workspace_id, name),
                     data=body, headers=headers)
        self.stats.add(bytes_sent=len(body), chunks_sent=1)

    def put_chunks(self, workspace_id, chunks):
        """Store ``{name: body}`` in batch requests (``POST …/chunks``),
        :attr:`concurrency` at a time.

        Returns once every chunk landed; the first failure cancels what
        has not started and is raised once the running requests end. A
        batch is content-addressed, so a retried one stores nothing twice.
        """
        batches = upload_batches(chunks)
        if self.concurrency <= 1 or len(batches) <= 1:
            for batch in batches:
                self.put_batch(workspace_id, batch)
            return
        pool = concurrent.futures.ThreadPoolExecutor(
            min(self.concurrency, len(batches)))
        try:
            futures = [pool.submit(self.put_batch, workspace_id, batch)
                       for batch in batches]
            for future in futures:
                future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def put_batch(self, workspace_id, chunks):
        """Store ``{name: body}`` in one request: a JSON index line, then
        the bodies (compressed ones marked ``zstd``)."""
        index = []
        for name, body in chunks.items():
            entry = {'name': name, 'size': len(body)}
            if codecs.wire_encoding(name, body):
                entry['encoding'] = 'zstd'
            index.append(entry)
        head = json.dumps({'chunks': index}).encode('utf-8') + b'\n'
        results = self.request(
            'POST', '/v1/workspace/%d/chunks' % workspace_id,
            data=b''.join([head] + list(chunks.values())),
            headers={'Content-Type': BATCH_TYPE}).json()['results']
        refused = [result['name'] for result in results
                   if result['result'] == 'mismatch']
        if refused:
            # Our own bytes did not hash to the names we computed: a bug
            # or failing memory here, never something to retry.
            raise BadRequest('the server refused chunks whose bytes do not '
                             'match their names: %s' % ', '.join(refused))
        self.stats.add(bytes_sent=sum(map(len, chunks.values())),
                       chunks_sent=len(chunks))

    def get_chunk(self, workspace_id, name):
        body = self.request('GET', self._chunk_path(workspace_id,
                                                    name)).content
        self.stats.add(bytes_received=len(body))
        return body

    @staticmethod
    def _chunk_path(workspace_id, name):
        return '/v1/workspace/%d/chunk/%s' % (workspace_id, name)

    # -- the account, folders and files --

    def account(self):
        return self.json('GET', '/v1/account')

    def devices(self):
        """The user's devices: ``[{"id", "name", ...}]``."""
        return self.json('GET', '/v1/devices')

    def create_workspace(self, name, encrypted=False):
        return self.json('POST', '/v1/workspaces',
                         body={'name': name, 'encrypted': encrypted})

    def list_folder(self, folder_id=0, workspace_id=None,
                    include_deleted=False):
        params = {}
        if workspace_id is not None:
            params['workspace'] = workspace_id
        if include_deleted:
            params['include_deleted'] = 'true'
        return self.json('GET', '/v1/folder/%d/contents' % folder_id,
                         params=params)

    def item(self, item_id, is_folder=False):
        return self.json('GET', '/v1/%s/%d' % (_kind(is_folder), item_id))

    def create_folder(self, name, parent=0):
        return self.json('POST', '/v1/folder',
                         body={'name': name, 'parent': parent})

    def move(self, item, name=None, parent=None):
        body = {key: value for key, value in
                (('name', name), ('parent', parent)) if value is not None}
        return self.json('PUT', '/v1/%s/%d' % (_kind(item['is_folder']),
                                               item['id']),
                         body=body, headers=_if_match(item))

    def delete(self, item):
        return self.json('DELETE', '/v1/%s/%d' % (_kind(item['is_folder']),
                                                  item['id']),
                         headers=_if_match(item))

    def versions(self, file_id):
        return self.json('GET', '/v1/file/%d/versions' % file_id)

    def version(self, file_id, version):
        return self.json('GET', '/v1/file/%d/version/%d'
                         % (file_id, version))

    def restore(self, file_id, version):
        return self.json('POST', '/v1/file/%d/restore' % file_id,
                         body={'version': version})

    # -- sharing --

    def share(self, folder_id, users, role='editor'):
        return self.json('POST', '/v1/folder/%d/share' % folder_id,
                         body={'users': list(users), 'role': role})

    def unshare(self, folder_id, user=None):
        body = {} if user is None else {'user': user}
        return self.json('POST', '/v1/folder/%d/unshare' % folder_id,
                         body=body)

    def members(self, folder_id):
        return self.json('GET', '/v1/folder/%d/members' % folder_id)

    def proposals(self):
        return self.json('GET', '/v1/proposals')

    def accept(self, proposal_id):
        return self.json('POST', '/v1/proposal/%d/accept' % proposal_id)

    def decline(self, proposal_id):
        return self.json('POST', '/v1/proposal/%d/decline' % proposal_id)

    # -- transfers --

    def upload_chunks(self, workspace_id, codec, fileobj, progress=None):
        """Chunk ``fileobj``; store the chunks the workspace lacks.

        Returns ``(names, size, sha256 hex)``. ``progress(n)`` is called
        with the plaintext bytes of each chunk once it is safe.
        """
        content = chunking.iter_chunks(fileobj, namer=codec.namer)
        names, window = [], []
        with concurrent.futures.ThreadPoolExecutor(
                self.concurrency) as pool:
            for chunk in content:
                names.append(chunk.name)
                window.append(chunk)
                if len(window) >= 4 * self.concurrency:
                    self._store(pool, workspace_id, codec, window, progress)
                    window = []
            self._store(pool, workspace_id, codec, window, progress)
        return names, content.size, content.sha256

    def _store(self, pool, workspace_id, codec, chunks, progress):
        if not chunks:
            return
        missing = self.missing_chunks(workspace_id,
                                      [chunk.name for chunk in chunks])
        # Sealing or compressing costs CPU: in parallel, then the window
        # goes up in batch requests (one pack each on the server).
        wanted = {chunk.name: chunk.data for chunk in chunks
                  if chunk.name in missing}
        encoded = dict(pool.map(codec.encode, wanted.values()))
        self.put_chunks(workspace_id, encoded)
        if progress:
            for chunk in chunks:
                progress(chunk.size)

    def upload(self, workspace_id, codec, fileobj, name, parent_id=0,
               existing=None, progress=None):
        """Upload a file's data and commit it as one item.

        ``existing`` (the file's current metadata) makes it a new version
        based on that one; a stale base answers :class:`Conflict`.
        """
        names, size, sha256 = self.upload_chunks(workspace_id, codec,
                                                 fileobj, progress)
        item = _commit_item(codec, name, parent_id, names, size, sha256,
                            existing)
        result = self.commit(workspace_id, [item])['results'][0]
        return committed_item(result, name)

    def upload_many(self, workspace_id, codec, files, parent_id=0,
                    progress=None):
        """Upload several files and commit them in one request.

        ``files`` is a list of ``(path, name, existing)``; yields one
        ``(name, item or ClientError)`` per file, in order.
        """
        items = []
        for path, name, existing in files:
            with open(path, 'rb') as source:
                names, size, sha256 = self.upload_chunks(
                    workspace_id, codec, source, progress)
            items.append(_commit_item(codec, name, parent_id, names, size,
                                      sha256, existing))
        outcome = self.commit(workspace_id, items)
        for (_path, name, _existing), result in zip(files,
                                                    outcome['results']):
            try:
                yield name, committed_item(result, name)
            except ClientError as error:
                yield name, error

    def download(self, workspace_id, codec, item, progress=None):
        """Yield a file's plaintext chunk by chunk, checked, in order."""
        names = item.get('chunks') or []
        with concurrent.futures.ThreadPoolExecutor(
                self.concurrency) as pool:
            ahead = []
            for name in names:
                ahead.append((name, pool.submit(self.get_chunk,
                                                workspace_id, name)))
                if len(ahead) >= 2 * self.concurrency:
                    yield self._decoded(codec, ahead.pop(0), progress)
            while ahead:
                yield self._decoded(codec, ahead.pop(0), progress)

    @staticmethod
    def _decoded(codec, pending, progress):
        name, future = pending
        plaintext = codec.decode(name, future.result())
        if progress:
            progress(len(plaintext))
        return plaintext


def _commit_item(codec, name, parent_id, names, size, sha256, existing):
    """The commit item of a file's new content.

    With encrypted names the server sees neither the name (``client_id``
    included) nor a mimetype, which would give the extension away.
    """
    stored = codec.encrypt_name(name)
    mimetype = None if getattr(codec, 'encrypt_names', False) else \
        mimetypes.guess_type(name)[0]
    item = {'id': None, 'client_id': stored, 'base_version': None,
            'parent_id': parent_id, 'filename': stored,
            'is_folder': False, 'size': size,
            'content_hash': codec.content_hash(sha256), 'chunks': names,
            'mimetype': mimetype}
    if existing is not None:
        item.update(id=existing['id'], base_version=existing['version'])
        del item['client_id']
    return item


def committed_item(result, name):
    if result['result'] == 'committed':
        return result['item']
    description = result.get('description') or result.get('error') or \
        'the server kept the version it has'
    if result['result'] == 'conflict':
        raise Conflict('%s changed on the server first' % name,
                       409, result)
    if 'quota' in description.lower():
        raise QuotaFull(description, 413, result)
    raise ClientError('%s: %s' % (name, description), None, result)


def _kind(is_folder):
    return 'folder' if is_folder else 'file'


def _if_match(item):
    version = item.get('version')
    return {'If-Match': str(version)} if version else {}


def _reason(error):
    """The innermost reason of a requests connection error, briefly."""
    while error.__context__ is not None and error.args and \
            isinstance(error.args[0], Exception):
        error = error.args[0]
    reason = getattr(error, 'reason', None) or error
    return str(reason).rsplit('>: ', 1)[-1].rstrip(')')


def environ_device():
    """The device name: ``$STACKSYNC_DEVICE`` or the host name."""
    return os.environ.get('STACKSYNC_DEVICE') or socket.gethostname()
