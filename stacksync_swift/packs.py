"""The pack format: many chunks in one write-once Swift object.

Shared by the proxy (which writes and reads packs), the operator commands
that rebuild the chunk index from Swift, and the tests. Pure Python: no
Swift, no database.

A pack is the bodies of its chunks back to back, then its own index, then
a fixed 16-byte trailer::

    body 0 | body 1 | ... | body n-1 | index (JSON, UTF-8) | trailer

    trailer = index length (8 bytes, big-endian) + MAGIC (8 bytes)
    index   = {"format": 1, "chunks": [[name, offset, length], ...]}

Offsets count from the pack's first byte. A reader that knows where a
chunk is (the chunk index in the metadata database) fetches exactly its
bytes with a ranged GET; a reader that knows nothing fetches the last 16
bytes (``Range: bytes=-16``), then the index, and learns every chunk of
the pack. So the database's chunk index can always be rebuilt from Swift
alone (``stacksync-swift chunk-index rebuild``).

Chunk names are content hashes (``chk-<sha256>``) or, in an encrypted
workspace, HMACs of the plaintext; neither says anything the container
listing of one-object-per-chunk storage did not already say, so the index
is stored in the clear. Pack names are random (:func:`new_pack_name`):
an encrypted workspace seals the same plaintext to different bytes each
time, so two packs with equal chunk names may differ in content, and a
name must never be reused for other bytes.
"""

import json
import re
import struct
import uuid

MAGIC = b'SSPACK01'
TRAILER = struct.Struct('>Q8s')
TRAILER_SIZE = TRAILER.size
FORMAT = 1
PACK_PREFIX = 'pack-'
PACK_NAME = re.compile(r'^pack-[0-9a-f]{32}$')
# An index line is at most ~90 bytes (a 68-byte name and two numbers); a
# pack of the largest size holds at most this many bytes of index.
MAX_INDEX_SIZE = 64 * 1024 * 1024


class BadPack(ValueError):
    """The bytes are not a pack (or not a whole one)."""


def new_pack_name():
    return PACK_PREFIX + uuid.uuid4().hex


def is_pack_name(name):
    return bool(PACK_NAME.match(name or ''))


def encode_index(entries):
    """The index and trailer that end a pack of ``entries``.

    :param entries: ``[(name, offset, length), ...]`` in pack order
    """
    index = json.dumps({'format': FORMAT,
                        'chunks': [list(entry) for entry in entries]},
                       separators=(',', ':')).encode('utf-8')
    return index + TRAILER.pack(len(index), MAGIC)


def index_length(trailer):
    """The index's length, from a pack's last :data:`TRAILER_SIZE` bytes.
    """
    if len(trailer) != TRAILER_SIZE:
        raise BadPack('a pack trailer has %d bytes, not %d'
                      % (TRAILER_SIZE, len(trailer)))
    length, magic = TRAILER.unpack(trailer)
    if magic != MAGIC:
        raise BadPack('no pack trailer (magic %r)' % (magic,))
    if length > MAX_INDEX_SIZE:
        raise BadPack('a pack index of %d bytes is too large' % length)
    return length


def decode_index(index, pack_size):
    """The ``[(name, offset, length), ...]`` a pack's index lists.

    :param index: the index's bytes (without the trailer)
    :param pack_size: the pack object's size, to check every entry lies
        within the bodies
    :raises BadPack: the bytes are not a well-formed index of such a pack
    """
    try:
        document = json.loads(index.decode('utf-8'))
        if document.get('format') != FORMAT:
            raise BadPack('unknown pack format %r'
                          % (document.get('format'),))
        entries = [(str(name), int(offset), int(length))
                   for name, offset, length in document['chunks']]
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise BadPack('unreadable pack index: %s' % error)
    bodies_end = pack_size - len(index) - TRAILER_SIZE
    for name, offset, length in entries:
        if offset < 0 or length < 0 or offset + length > bodies_end:
            raise BadPack('chunk %s at %d+%d lies outside the pack\'s '
                          '%d bytes of bodies'
                          % (name, offset, length, bodies_end))
    return entries


def entries(pack):
    """``[(name, offset, length), ...]`` of a whole pack held in memory."""
    length = index_length(pack[-TRAILER_SIZE:])
    index_start = len(pack) - TRAILER_SIZE - length
    if index_start < 0:
        raise BadPack('a pack of %d bytes cannot hold an index of %d'
                      % (len(pack), length))
    return decode_index(pack[index_start:len(pack) - TRAILER_SIZE],
                        len(pack))


def split(pack):
    """Every ``(name, body)`` of a whole pack held in memory (tests and
    tools; the proxy reads ranges)."""
    return [(name, pack[offset:offset + length])
            for name, offset, length in entries(pack)]
