"""File and folder names: what is valid, and conflicted-copy names.

Pure functions with no dependency beyond the standard library (and the
service's error classes), so the sync client imports this module too and
both sides agree on every rule:

* a name is normalised to Unicode NFC, so the same name typed on macOS
  (which decomposes accents) and on Linux is one name;
* it may not be empty, ``.`` or ``..``, contain ``/`` or a NUL or other
  control character (they break paths, Swift object names and terminals),
  or be longer than :data:`MAX_NAME_BYTES` bytes of UTF-8 (the limit of
  common local file systems, so every synced name can exist on disk);
* names are compared exactly (case-sensitive), as Swift and POSIX do.

A conflicted copy is named
``<stem> (<who>'s conflicted copy <YYYY-MM-DD HH-MM-SS>)<ext>``, the form
of DESIGN.md section 5.
"""

import datetime
import os
import re
import unicodedata

from stacksync_swift.metadata.errors import InvalidName

MAX_NAME_BYTES = 255
RESERVED_NAMES = ('.', '..')
CONFLICT_TIME_FORMAT = '%Y-%m-%d %H-%M-%S'

_FORBIDDEN = re.compile('[/\x00-\x1f\x7f]')


def normalize_name(name):
    """The NFC form of ``name``, or :class:`InvalidName` if it is invalid."""
    if not isinstance(name, str):
        raise InvalidName('a name must be a string, not %s'
                          % type(name).__name__)
    name = unicodedata.normalize('NFC', name)
    if not name:
        raise InvalidName('a name may not be empty')
    if name in RESERVED_NAMES:
        raise InvalidName('%r is not a valid name' % name)
    bad = _FORBIDDEN.search(name)
    if bad:
        raise InvalidName('a name may not contain %r' % bad.group())
    try:
        size = len(name.encode('utf-8'))
    except UnicodeEncodeError:
        # Lone surrogates: not text any file system can store.
        raise InvalidName('a name must be valid Unicode text')
    if size > MAX_NAME_BYTES:
        raise InvalidName('a name may have at most %d bytes of UTF-8, '
                          'not %d' % (MAX_NAME_BYTES, size))
    return name


def is_valid_name(name):
    try:
        normalize_name(name)
    except InvalidName:
        return False
    return True


def split_extension(name):
    """``('report', '.pdf')``; a leading dot is not an extension."""
    return os.path.splitext(name)


def conflicted_copy_name(name, who, when=None):
    """The name a losing client gives its own data after a conflict.

    ``who`` is the device or user name, ``when`` a datetime (default now,
    UTC). The result is always a valid name: ``who`` loses characters that
    names may not hold, and the stem is shortened, never the suffix, when
    the whole would be too long.
    """
    name = normalize_name(name)
    when = when or datetime.datetime.now(datetime.timezone.utc)
    who = _FORBIDDEN.sub('', unicodedata.normalize('NFC', str(who)))
    who = _truncate_utf8(who, 64) or 'unknown'
    label = " (%s's conflicted copy %s)" % (
        who, when.strftime(CONFLICT_TIME_FORMAT))
    stem, ext = split_extension(name)
    if len((label + ext).encode('utf-8')) >= MAX_NAME_BYTES:
        # An absurdly long "extension" is really part of the stem.
        stem, ext = name, ''
    room = MAX_NAME_BYTES - len((label + ext).encode('utf-8'))
    return normalize_name(_truncate_utf8(stem, room) + label + ext)


def _truncate_utf8(text, max_bytes):
    """``text`` cut to at most ``max_bytes`` of UTF-8, on a character."""
    encoded = text.encode('utf-8')
    if len(encoded) <= max_bytes:
        return text
    return encoded[:max(max_bytes, 0)].decode('utf-8', 'ignore')
