"""
=================================
File names the server cannot read
=================================

In a workspace whose codec encrypts names
(:meth:`.codec.EncryptedCodec.encrypt_name`, deterministic AES-SIV), the
server stores only ciphertext names, while the sync engine, its planner,
its merge base and the local folder work with the clear ones.
:class:`NameCipher` sits between the two: it is a
:class:`~.interfaces.Remote` wrapped around the real one, so the engine
needs no change to sync such a workspace::

    remote = NameCipher(connection, session.codec)
    SyncEngine(fs, remote, codec_for_workspace, ...)

Going up, in every item sent to ``commit``:

* ``filename`` is encrypted;
* ``client_id`` (the engine puts the item's local path there, and the
  server echoes it back) is replaced by the item's position in the batch,
  and the real one is put back into the result;
* ``mimetype`` is left out, since a type gives the extension away (a
  left-out key keeps the stored value, which sync clients never set).

Coming down, ``filename`` is decrypted in the entries of ``changes`` and
in the ``item`` of each ``commit`` result (committed or conflict).

A stored name that does not decrypt is kept **as it is stored**, never
an error: someone may have named the item in clear (a web upload, a
client without the key's settings) or written garbage, and one such item
must not stop a whole sync. The server has checked that stored name, so
it is safe as a local name; if the engine later renames or moves the item,
the new name goes up encrypted. The same holds for a name that decrypts
to something the server would refuse (``..``, a ``/``, text not in NFC):
only someone holding the key can seal such a name, but a local path is
never built from it. Two items showing one name in a folder are handled
as the engine handles any duplicate: the oldest item keeps the path.

A sealed name is the clear one plus 16 bytes, in base64: clear names of
more than 175 bytes of UTF-8 outgrow the server's 255 and that item's
commit is refused (an ``error`` result the engine reports; the rest of
the sync goes on).

Everything else (``missing_chunks``, ``put_chunk``, ``get_chunk`` and any
other call of the remote) goes straight through: chunk names are hashes
or HMACs, never file names.

Workspaces whose codec does not encrypt names (plain ones, and encrypted
ones set up without ``--encrypt-names``) pass through unchanged, so one
wrapper serves every workspace a session syncs.
"""

from stacksync_swift.client import codec as codecs
from stacksync_swift.metadata import names


class NameCipher:
    """A :class:`~.interfaces.Remote` that seals names on the way up.

    ``remote`` is the real remote; ``codec_for(workspace_id)`` returns the
    codec of a workspace (a :class:`~.codec.EncryptedCodec` with
    ``encrypt_names`` set turns the translation on for that workspace).
    """

    def __init__(self, remote, codec_for):
        self.remote = remote
        self.codec_for = codec_for

    def workspaces(self):
        return self.remote.workspaces()

    def changes(self, workspace_id, cursor, limit=1000):
        delta = self.remote.changes(workspace_id, cursor, limit)
        cipher = self._cipher(workspace_id)
        if cipher is None:
            return delta
        return dict(delta, entries=[clear_meta(cipher, meta)
                                    for meta in delta['entries']])

    def wait(self, workspace_id, cursor, timeout):
        return self.remote.wait(workspace_id, cursor, timeout)

    def commit(self, workspace_id, items):
        items = list(items)
        cipher = self._cipher(workspace_id)
        if cipher is None:
            return self.remote.commit(workspace_id, items)
        answer = self.remote.commit(
            workspace_id, [sealed_request(cipher, item, position)
                           for position, item in enumerate(items)])
        results = [clear_result(cipher, result, item)
                   for result, item in zip(answer['results'], items)]
        return dict(answer, results=results)

    def __getattr__(self, name):
        # Chunk transfer and any other call carry no file names.
        return getattr(self.remote, name)

    def _cipher(self, workspace_id):
        """The workspace's codec if it encrypts names, else None."""
        codec = self.codec_for(workspace_id)
        return codec if getattr(codec, 'encrypt_names', False) else None


def clear_name(cipher, stored):
    """The clear name of a stored one; ``stored`` if it does not decrypt.

    A name that decrypts to something no server would store (see the
    module doc) counts as one that does not decrypt.
    """
    if not isinstance(stored, str):
        return stored
    try:
        name = cipher.decrypt_name(stored)
    except codecs.CorruptChunk:
        return stored
    if not names.is_valid_name(name) or names.normalize_name(name) != name:
        return stored
    return name


def clear_meta(cipher, meta):
    """Item metadata with its ``filename`` decrypted."""
    if 'filename' not in meta:
        return meta
    return dict(meta, filename=clear_name(cipher, meta['filename']))


def sealed_request(cipher, item, position):
    """A commit item as the server may see it (see the module doc)."""
    request = dict(item)
    if request.get('filename') is not None:
        request['filename'] = cipher.encrypt_name(request['filename'])
    if 'client_id' in request:
        request['client_id'] = position
    request.pop('mimetype', None)
    return request


def clear_result(cipher, result, item):
    """A commit result with its item's name decrypted, as it was asked."""
    result = dict(result)
    if isinstance(result.get('item'), dict):
        result['item'] = clear_meta(cipher, result['item'])
    if 'client_id' in item and 'client_id' in result:
        result['client_id'] = item['client_id']
    return result
