"""The seams of the sync engine: everything it does to the world.

The engine (``engine.py``) only calls these; the real client plugs in the
HTTP API, the local disk and the wall clock, the simulation plugs in fakes
with a seeded random and a virtual clock. Keep them small.

Contract shared by the engine, the real adapters and the fakes:

``Remote`` (one user's view of the REST API, DESIGN.md section 4)
    ``workspaces()`` -> list of dicts (``id``, ``name``, ``cursor``,
    ``role``, ``encrypted``, ...), as ``GET /v1/workspaces``.
    ``changes(workspace_id, cursor, limit)`` -> ``{"entries", "cursor",
    "has_more"}``, as ``GET /v1/workspace/{wid}/changes``; entries are item
    metadata dicts (``id``, ``parent_id`` (0 = workspace root),
    ``filename``, ``is_folder``, ``status``, ``version``, ``content_hash``,
    ``size``, ``chunks``, ``modified_at``, ``mount_workspace_id`` for
    mounts).
    ``wait(workspace_id, cursor, timeout)`` -> ``{"changes": bool,
    "cursor": int}`` (long poll).
    ``commit(workspace_id, items)`` -> ``{"results": [...], "cursor"}``:
    each item names ``id`` (None for new, with ``client_id``),
    ``base_version`` and the desired state (``parent_id``, ``filename``,
    ``is_folder``, ``status``, ``size``, ``content_hash``, ``chunks``,
    ``mimetype``, ``modified_at``); each result is ``{"result":
    "committed"|"conflict"|"error", "item": ...}``.
    A deleting commit item may add ``"if_empty": true``: a folder that
    still has live contents is then refused (``conflict``) instead of
    taking them along (the engine never deletes what it has not seen).
    Calls that fail for now raise :class:`RemoteError`.
    ``missing_chunks(workspace_id, names)`` -> the subset not stored.
    ``put_chunk(workspace_id, name, body)`` / ``get_chunk(workspace_id,
    name)`` -> bytes (the stored body: what the codec produced).
    ``put_chunks(workspace_id, {name: body})``: store them all, returning
    once all landed (the HTTP remote sends them many per request, several
    requests in parallel; the in-memory one stores them one by one, so a
    seed stays one run).

``ChunkCodec`` (per workspace)
    ``encode(plaintext)`` -> ``(name, body)``: the chunk's name
    (``chk-<sha256 hex>`` of the plaintext in plain workspaces,
    ``chk-<HMAC-SHA256(key, plaintext)>`` in encrypted ones) and the body
    to store. ``decode(name, body)`` -> plaintext, verifying it.
    ``content_hash(sha256_hex)`` -> the ``content_hash`` file metadata
    carries: the SHA-256 itself in plain workspaces, a keyed hash of it in
    encrypted ones (the server never learns a content hash).

``FileSystem`` (the sync folder; paths are relative, ``/``-separated)
    ``scan()`` -> ``{path: LocalEntry(is_folder, size, mtime_ns,
    content_hash)}``; ``read(path)`` -> a binary file object;
    ``write_atomic(path, chunks_iterable, expected)`` (refuses, raising
    ``LocalChanged``, if the file changed since ``expected`` was scanned:
    never overwrite a local edit), ``mkdir``, ``move``, ``delete``
    (to a trash, never a hard delete), ``exists``.

``Clock``
    ``now()`` -> a timezone-aware UTC datetime; ``sleep(seconds)``.
"""

import dataclasses
import datetime
from typing import Optional
from typing import Protocol


class LocalChanged(Exception):
    """A local file changed after it was scanned; retry next pass."""


class RemoteError(Exception):
    """A ``Remote`` call failed for now (network, timeout, 5xx).

    Added for the engine: the real ``Remote`` raises it (or a subclass)
    for anything worth retrying later; the engine ends the pass and keeps
    its state. Other exceptions are bugs and propagate.
    """


@dataclasses.dataclass(frozen=True)
class LocalEntry:
    is_folder: bool
    size: int = 0
    mtime_ns: int = 0
    content_hash: Optional[str] = None


class Remote(Protocol):
    def workspaces(self) -> list: ...
    def changes(self, workspace_id, cursor, limit=1000) -> dict: ...
    def wait(self, workspace_id, cursor, timeout) -> dict: ...
    def commit(self, workspace_id, items) -> dict: ...
    def missing_chunks(self, workspace_id, names) -> set: ...
    def put_chunk(self, workspace_id, name, body) -> None: ...
    def put_chunks(self, workspace_id, chunks) -> None: ...
    def get_chunk(self, workspace_id, name) -> bytes: ...


class ChunkCodec(Protocol):
    def encode(self, plaintext: bytes) -> tuple: ...
    def decode(self, name: str, body: bytes) -> bytes: ...
    def content_hash(self, sha256_hex: str) -> str: ...


class FileSystem(Protocol):
    def scan(self) -> dict: ...
    def read(self, path): ...
    def write_atomic(self, path, chunks, expected) -> LocalEntry: ...
    def mkdir(self, path) -> None: ...
    def move(self, src, dst) -> None: ...
    def delete(self, path) -> None: ...
    def exists(self, path) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime.datetime: ...
    def sleep(self, seconds: float) -> None: ...
