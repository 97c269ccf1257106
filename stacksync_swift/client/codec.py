"""
============
Chunk codecs
============

A :class:`~stacksync_swift.client.interfaces.ChunkCodec` turns the
plaintext of one chunk (cut by :mod:`stacksync_swift.chunking`, the same
cuts as the server's) into the name and body the workspace stores, and
back. There is one codec per workspace: :class:`PlainCodec` for ordinary
workspaces, :class:`EncryptedCodec` for client-side encrypted ones.

Plain workspaces
----------------

``name = chk-<sha256(plaintext)>``, the name the server checks.
The body is the plaintext, or its zstd frame when compressing saves at
least :data:`MIN_SAVING` of it (text, office documents, logs; not photos,
video or archives, which are sent as they are without a second try). The
two are told apart without a marker byte: a body whose SHA-256 is the name
is the plaintext; anything else must be a zstd frame that decompresses
(bounded by :data:`~stacksync_swift.chunking.MAX_SIZE`) to bytes with
that hash. :func:`wire_encoding` says which, so the HTTP remote can send a
compressed body with ``X-StackSync-Chunk-Encoding: zstd``; the server
decompresses it, checks the name and stores the plaintext (compression
saves network, and server-side downloads keep working). Downloads come
back as plaintext, which :meth:`PlainCodec.decode` accepts as well.

Encrypted workspaces
--------------------

Keys come from a passphrase that the members share out of band::

    master   = scrypt(passphrase, salt, n=2**15, r=8, p=1) (32 bytes)
    salt     = SHA-256("stacksync-workspace-salt:" + key container)
    name key = HKDF-SHA256(master, info="stacksync chunk names")
    data key = HKDF-SHA256(master, info="stacksync chunk data")
    file key = HKDF-SHA256(master, info="stacksync file names", 64 bytes)
    hash key = HKDF-SHA256(master, info="stacksync content hashes")

The key container is a container name (``ws-`` and a random UUID chosen
by the server when a workspace is created), which makes the salt unique
per workspace; every member reads it as ``key_container`` from
``GET /v1/workspaces`` (:func:`key_container`). It is the workspace's
own ``container``, except for a folder shared out of an encrypted
workspace: the server moves it into a new workspace with a new
container and copies its chunks there as they are, still sealed with
the key of the workspace it came from, so it keeps that workspace's key
container, and members of the shared folder share that passphrase (out
of band, like any other).

``name = chk-<HMAC-SHA256(name key, plaintext)>``: identical chunks still
get one name, so deduplication works within the workspace, but the name
reveals no content hash. The body is::

    0x01 || nonce (12 random bytes) || AES-256-GCM(data key, nonce,
        flag || payload, associated data = the chunk name)

where ``flag`` is ``0`` (payload = plaintext) or ``1`` (payload = zstd
frame). Binding the name as associated data stops the server from
answering one chunk's name with another chunk's body; after decrypting,
the HMAC is checked again. File names may be encrypted too
(:meth:`EncryptedCodec.encrypt_name`): AES-SIV, deterministic so the same
name always encrypts the same way (conflict detection by name keeps
working), written in URL-safe base64 without padding; the name is put
in Unicode NFC first, as the server does with clear names, so one name
typed on two systems seals alike. A file's ``content_hash`` is
HMAC-SHA256(hash key, its SHA-256) (:meth:`EncryptedCodec.content_hash`).

The passphrase verifier
-----------------------

A wrong passphrase would otherwise show only later, as chunks that fail
their GCM tag. So every encrypted workspace holds one well-known chunk,
the :class:`Verifier`, written by the first client that sets it up (the
one running ``stacksync workspace create --encrypted``)::

    name = chk-<SHA-256("stacksync-passphrase-verifier:" + container)>
    body = 0x01 || nonce || AES-256-GCM(verifier key, nonce, settings,
        associated data = the name)
    verifier key = HKDF-SHA256(master, info="stacksync passphrase verifier")

Everyone can find it (the name comes from the container's public name:
the workspace's own, even when the key container is another), only the
right key opens it. The sealed ``settings`` are the workspace's
choices every member must share, ``{"encrypt_names": bool}``: a second
device learns from them whether names are encrypted instead of trusting
its own command line. Chunks are write-once, so the first verifier stays;
a client that writes one reads it back and follows what is stored. The
verifier tells an attacker nothing that a sealed chunk does not already
allow (each guess costs an scrypt derivation either way).

A workspace may hold files before it holds a verifier: a folder shared
out of an encrypted workspace arrives with its sealed chunks, and the
verifier of the workspace it came from is not copied. Then the first
client must not seal a verifier for whatever key it was given: it opens
one chunk of one file first (:meth:`EncryptedCodec.check_key`; a wrong
key fails AES-GCM's authentication), and learns the names setting from
that file's stored name (:meth:`EncryptedCodec.opens_name`). Only a
workspace with no file yet takes the first client's key as it is.

Everything here is ``cryptography``'s primitives; nothing is hand-made.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import unicodedata

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from stacksync_swift import chunking

ZSTD_MAGIC = b'\x28\xb5\x2f\xfd'
ZSTD_LEVEL = 3
# Compress only when it saves at least this fraction of the chunk.
MIN_SAVING = 0.05
# scrypt's cost: 32 MiB of memory and about 0.1 s per derivation.
SCRYPT_N = 2 ** 15
SCRYPT_R = 8
SCRYPT_P = 1
ENCRYPTED_VERSION = b'\x01'
NONCE_SIZE = 12
FLAG_RAW = b'\x00'
FLAG_ZSTD = b'\x01'
SALT_PREFIX = b'stacksync-workspace-salt:'
NAME_AD = b'stacksync file name'
VERIFIER_PREFIX = b'stacksync-passphrase-verifier:'
VERIFIER_LABEL = 'stacksync passphrase verifier'


class CorruptChunk(ValueError):
    """A chunk's body does not match its name (or cannot be decrypted)."""

    hint = 'the stored data is damaged, or the passphrase is wrong'


class WrongPassphrase(ValueError):
    """The key does not open the workspace's passphrase verifier."""

    hint = 'give the passphrase the workspace was created with, in ' \
        '$STACKSYNC_PASSPHRASE or --passphrase-file'


def compress(data):
    """A zstd frame of ``data``, or None when it does not pay."""
    if not data:
        return None
    frame = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)
    if len(frame) > len(data) * (1 - MIN_SAVING):
        return None
    return frame


def decompress(frame, limit=chunking.MAX_SIZE):
    """The bytes of a zstd frame, refusing more than ``limit`` of them."""
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(frame))
        data = reader.read(limit + 1)
    except zstandard.ZstdError as error:
        raise CorruptChunk('not a zstd frame: %s' % error)
    if len(data) > limit:
        raise CorruptChunk('a chunk decompresses to more than %d bytes'
                           % limit)
    return data


def wire_encoding(name, body):
    """``'zstd'`` when a plain workspace's body is compressed, else None.

    Encrypted bodies start with :data:`ENCRYPTED_VERSION`, never with the
    zstd magic; a plaintext that happens to (a chunk of a ``.zst`` file)
    hashes to its own name.
    """
    if body[:4] == ZSTD_MAGIC and chunking.chunk_name(body) != name:
        return 'zstd'
    return None


class PlainCodec:
    """Chunks of an ordinary workspace: SHA-256 names, zstd when it pays.
    """

    encrypted = False

    def encode(self, plaintext):
        name = chunking.chunk_name(plaintext)
        frame = compress(plaintext)
        return name, plaintext if frame is None else frame

    def decode(self, name, body):
        if chunking.chunk_name(body) == name:
            return body
        if body[:4] != ZSTD_MAGIC:
            raise CorruptChunk('chunk %s: the body does not match' % name)
        plaintext = decompress(body)
        if chunking.chunk_name(plaintext) != name:
            raise CorruptChunk('chunk %s: the body does not match' % name)
        return plaintext

    def namer(self, plaintext):
        """The chunk name alone (for :func:`chunking.iter_chunks`)."""
        return chunking.chunk_name(plaintext)

    def content_hash(self, sha256_hex):
        """The ``content_hash`` a file's metadata carries: its SHA-256."""
        return sha256_hex

    def encrypt_name(self, name):
        return name

    def decrypt_name(self, name):
        return name


def workspace_salt(container):
    """The scrypt salt of a workspace, from its key container's name."""
    return hashlib.sha256(SALT_PREFIX + container.encode('utf-8')).digest()


def key_container(workspace):
    """The container name that salts a workspace's key (module doc).

    ``workspace`` is its JSON from the API. A server older than
    ``key_container`` knows no shared encrypted folders: every workspace
    keys with its own container there.
    """
    return workspace.get('key_container') or workspace['container']


def derive_master_key(passphrase, salt):
    """scrypt(passphrase, salt): 32 bytes to keep instead of the phrase."""
    if isinstance(passphrase, str):
        passphrase = passphrase.encode('utf-8')
    if not passphrase:
        raise ValueError('an empty passphrase protects nothing')
    kdf = Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(passphrase)


def _subkey(master, info, length=32):
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                info=info).derive(master)


class EncryptedCodec:
    """Chunks of a client-side encrypted workspace (see the module doc).

    Build it from the 32-byte master key (:func:`derive_master_key`) or
    with :meth:`from_passphrase`. ``encrypt_names`` turns on file-name
    encryption for :meth:`encrypt_name` / :meth:`decrypt_name`.
    """

    encrypted = True

    def __init__(self, master_key, encrypt_names=False):
        if len(master_key) != 32:
            raise ValueError('the master key has 32 bytes')
        self._name_key = _subkey(master_key, b'stacksync chunk names')
        self._aead = AESGCM(_subkey(master_key, b'stacksync chunk data'))
        self._siv = AESSIV(_subkey(master_key, b'stacksync file names', 64))
        self._hash_key = _subkey(master_key, b'stacksync content hashes')
        self.encrypt_names = encrypt_names

    @classmethod
    def from_passphrase(cls, passphrase, container, encrypt_names=False):
        return cls(derive_master_key(passphrase, workspace_salt(container)),
                   encrypt_names)

    def namer(self, plaintext):
        digest = hmac.new(self._name_key, plaintext, hashlib.sha256)
        return chunking.CHUNK_PREFIX + digest.hexdigest()

    def encode(self, plaintext):
        name = self.namer(plaintext)
        frame = compress(plaintext)
        sealed = FLAG_RAW + plaintext if frame is None else FLAG_ZSTD + frame
        nonce = os.urandom(NONCE_SIZE)
        body = self._aead.encrypt(nonce, sealed, name.encode('ascii'))
        return name, ENCRYPTED_VERSION + nonce + body

    def decode(self, name, body):
        if body[:1] != ENCRYPTED_VERSION:
            raise CorruptChunk('chunk %s is not sealed by this client' % name)
        nonce = body[1:1 + NONCE_SIZE]
        try:
            sealed = self._aead.decrypt(nonce, body[1 + NONCE_SIZE:],
                                        name.encode('ascii'))
        except Exception:
            raise CorruptChunk('chunk %s does not decrypt: wrong passphrase '
                               'or a damaged chunk' % name)
        flag, payload = sealed[:1], sealed[1:]
        plaintext = decompress(payload) if flag == FLAG_ZSTD else payload
        if not hmac.compare_digest(self.namer(plaintext), name):
            raise CorruptChunk('chunk %s: the content does not match its '
                               'name' % name)
        return plaintext

    def check_key(self, name, body):
        """Refuse a key that did not seal the stored chunk ``name``.

        :class:`WrongPassphrase` when AES-GCM does not authenticate
        ``body`` with this key; :class:`CorruptChunk` when it is no
        sealed chunk at all. Only the tag is checked, not the content.
        """
        if body[:1] != ENCRYPTED_VERSION or \
                len(body) < 1 + NONCE_SIZE + 16:
            raise CorruptChunk('chunk %s is not sealed by this client'
                               % name)
        nonce = body[1:1 + NONCE_SIZE]
        try:
            self._aead.decrypt(nonce, body[1 + NONCE_SIZE:],
                               name.encode('ascii'))
        except InvalidTag:
            raise WrongPassphrase('the passphrase is wrong: it does not '
                                  'open the chunks of this workspace')

    def opens_name(self, stored):
        """True if ``stored`` is a file name sealed with this key.

        Deterministic AES-SIV authenticates too: a clear name, or one
        sealed with another key, never opens.
        """
        try:
            self._open_name(stored)
        except CorruptChunk:
            return False
        return True

    def content_hash(self, sha256_hex):
        """A keyed stand-in for the SHA-256 in a file's metadata.

        HMAC-SHA256(hash key, SHA-256 of the content): members can still
        tell whether two versions hold the same bytes; the server cannot.
        """
        return hmac.new(self._hash_key, bytes.fromhex(sha256_hex),
                        hashlib.sha256).hexdigest()

    def encrypt_name(self, name):
        """A file name as stored (deterministic AES-SIV), if enabled."""
        if not self.encrypt_names:
            return name
        name = unicodedata.normalize('NFC', name)
        sealed = self._siv.encrypt(name.encode('utf-8'), [NAME_AD])
        return base64.urlsafe_b64encode(sealed).rstrip(b'=').decode('ascii')

    def decrypt_name(self, stored):
        """The file name of a stored (encrypted) name."""
        if not self.encrypt_names:
            return stored
        return self._open_name(stored)

    def _open_name(self, stored):
        padded = stored + '=' * (-len(stored) % 4)
        try:
            sealed = base64.urlsafe_b64decode(padded.encode('ascii'))
            return self._siv.decrypt(sealed, [NAME_AD]).decode('utf-8')
        except Exception:
            raise CorruptChunk('the name %r does not decrypt' % stored)


def verifier_chunk_name(container):
    """The well-known chunk name of a workspace's passphrase verifier."""
    return chunking.chunk_name(VERIFIER_PREFIX + container.encode('utf-8'))


class Verifier:
    """Seals and opens a workspace's passphrase verifier (module doc).

    ``Verifier(master_key, container)``; :attr:`name` is the chunk to
    store :meth:`seal`'s body under and to read for :meth:`open`.
    """

    def __init__(self, master_key, container):
        self.name = verifier_chunk_name(container)
        self._aead = AESGCM(_subkey(master_key,
                                    b'stacksync passphrase verifier'))

    def seal(self, encrypt_names):
        """The verifier's body, carrying the workspace's settings."""
        settings = {'label': VERIFIER_LABEL,
                    'encrypt_names': bool(encrypt_names)}
        payload = json.dumps(settings, sort_keys=True).encode('utf-8')
        nonce = os.urandom(NONCE_SIZE)
        return ENCRYPTED_VERSION + nonce + self._aead.encrypt(
            nonce, payload, self.name.encode('ascii'))

    def open(self, body):
        """The settings a verifier holds: ``{"encrypt_names": bool}``.

        :class:`WrongPassphrase` when this key did not seal it;
        :class:`CorruptChunk` when it is not a verifier at all.
        """
        if body[:1] != ENCRYPTED_VERSION or \
                len(body) < 1 + NONCE_SIZE + 16:
            raise CorruptChunk('the passphrase verifier %s is damaged'
                               % self.name)
        nonce = body[1:1 + NONCE_SIZE]
        try:
            payload = self._aead.decrypt(nonce, body[1 + NONCE_SIZE:],
                                         self.name.encode('ascii'))
        except InvalidTag:
            raise WrongPassphrase('the passphrase is wrong: it does not '
                                  'open this workspace')
        try:
            settings = json.loads(payload.decode('utf-8'))
            if settings['label'] != VERIFIER_LABEL:
                raise ValueError('another label')
            return {'encrypt_names': bool(settings['encrypt_names'])}
        except (ValueError, TypeError, KeyError):
            raise CorruptChunk('the passphrase verifier %s holds no '
                               'settings' % self.name)
