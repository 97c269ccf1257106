"""API v2: the original StackSync API's shapes over the same resources.

StackSync's own apps (its Android app, its web site, the test client of
``stacksync/swift-API``) speak the API documented in that repository's
``StackSync_API_Specifications.md``. They send ``StackSync-API: v2``
instead of ``X-StackSync-API: v1`` and use the same paths under the same
base URL (``…/v1``). The filter serves both with the same controllers
and records the version in the request environment
(:data:`ENV_KEY`); a controller asks :func:`is_v2` and, for v2, renders
with the functions here. Everything v2 changes is in this module:

Items
    Exactly the spec's fields: ``id``, ``parent_id``, ``filename``,
    ``is_folder``, ``status``, ``modified_at``, ``version``, ``checksum``,
    ``size``, ``mimetype``, then ``chunks`` for files and ``is_root`` for
    folders (:func:`item`). The root folder is ``/folder/0``; it renders
    as the spec shows it, ``id`` null, ``filename`` ``"root"`` and
    ``is_root`` true, and the items in it have ``parent_id`` null (ours
    say 0). An item at the root of a shared workspace has the id of the
    user's own folder for that workspace as its ``parent_id``.
    ``modified_at`` is ``YYYY-MM-DD HH:MM:SS.mmm`` in UTC, as the
    original server wrote it. ``checksum`` is a number (the original sent
    the Adler-32 of the content); here it is the first 32 bits of the
    content's SHA-256, 0 for folders. Folders have ``size`` 0 and
    ``mimetype`` ``inode/directory``.
Listings
    ``/folder/{id}/contents`` is the folder with ``contents`` (and
    ``include_deleted``, as in v1). ``/file/{id}/versions`` is the file
    with ``versions``, newest first (:func:`versions`).
Creation
    ``201`` with a ``Location`` header naming the new item.
Sharing
    ``/folder/{id}/share`` and ``/unshare`` take a JSON array of e-mail
    addresses (:func:`addresses`) and answer ``200`` with
    ``{"shared_to": [...]}`` / ``{"unshared_to": [...]}``; the members are
    ``[{"name", "email", "joined_at", "is_owner"}]`` (:func:`members`).
    The rules (unknown addresses skipped, none left is ``400``) are in
    :mod:`.sharing`.
Errors
    ``{"error": CODE, "description": ...}`` and nothing else, with the
    spec's codes: 400, 401, 403, 404, 405 and 5xx. Our other 4xx answers
    (409 conflicts, 413 quota or size, 416 ranges) become 400 with their
    description (:func:`error_response`).
"""

import datetime
import json

from swift.common import swob

V1 = 'v1'
V2 = 'v2'
# Where the filter records the version the request asked for.
ENV_KEY = 'stacksync.api_version'

FOLDER_MIMETYPE = 'inode/directory'
ROOT_NAME = 'root'
# The status codes the v2 spec lists below 500; any other 4xx is a 400.
V2_CLIENT_ERRORS = (400, 401, 403, 404, 405)


def is_v2(req):
    """True when ``req`` (a swob request) asked for API v2."""
    return req.environ.get(ENV_KEY) == V2


# -- items --------------------------------------------------------------

def item(meta, parent_id=None):
    """One item (file, folder, version or a root) in v2's fields.

    ``meta`` is the metadata service's item; ``parent_id`` is the v2
    parent (None: the root), which the caller resolves (see
    :meth:`ItemController.v2_parent`).
    """
    if meta.get('id') is None:
        return root(meta)
    rendered = {
        'id': meta['id'],
        'parent_id': parent_id,
        'filename': meta['filename'],
        'is_folder': meta['is_folder'],
        'status': meta['status'],
        'modified_at': timestamp(meta.get('modified_at')),
        'version': meta['version'],
    }
    if meta['is_folder']:
        rendered.update(checksum=0, size=0, mimetype=FOLDER_MIMETYPE,
                        is_root=False)
    else:
        rendered.update(checksum=checksum(meta.get('content_hash')),
                        size=meta.get('size') or 0,
                        mimetype=meta.get('mimetype'),
                        chunks=list(meta.get('chunks') or []))
    return rendered


def root(meta=None):
    """A root folder as the spec shows it."""
    return {'id': None, 'parent_id': None, 'filename': ROOT_NAME,
            'is_folder': True, 'status': None, 'modified_at': None,
            'version': None, 'checksum': None, 'size': None,
            'mimetype': None, 'is_root': True}


def listing(meta, folder_id, parent_id=None):
    """A folder with its ``contents``; the children's parent is the
    folder the client listed (``folder_id``; 0 or None: the root)."""
    rendered = item(meta, parent_id)
    rendered['contents'] = [item(child, folder_id or None)
                            for child in meta.get('contents', ())]
    return rendered


def versions(current, history, parent_id=None):
    """The file with ``versions``: every version, newest first."""
    rendered = item(current, parent_id)
    rendered['versions'] = [item(version, parent_id)
                            for version in reversed(history)]
    return rendered


def timestamp(iso):
    """Our ISO 8601 time (UTC, ``…Z``) as ``YYYY-MM-DD HH:MM:SS.mmm``."""
    if not iso:
        return None
    try:
        moment = datetime.datetime.fromisoformat(iso.replace('Z', '+00:00'))
    except ValueError:
        return iso
    moment = moment.astimezone(datetime.timezone.utc)
    return moment.strftime('%Y-%m-%d %H:%M:%S.') + \
        '%03d' % (moment.microsecond // 1000)


def checksum(content_hash):
    """A number for v2's ``checksum``: 32 bits of the SHA-256 (or 0)."""
    try:
        return int(content_hash[:8], 16)
    except (TypeError, ValueError):
        return 0


# -- sharing ------------------------------------------------------------

def addresses(body):
    """The e-mail addresses of a v2 share or unshare body, or None.

    The spec's body is a JSON array of addresses; an object with
    ``share_to`` / ``unshare_to`` (the names its tables use) is accepted
    too. Blank entries are dropped, duplicates kept once.
    """
    if isinstance(body, dict):
        body = body.get('share_to', body.get('unshare_to'))
    if not isinstance(body, list) or \
            not all(isinstance(entry, str) for entry in body):
        return None
    return list(dict.fromkeys(entry.strip() for entry in body
                              if entry.strip()))


def members(people):
    """The service's member list in v2's fields, owner first."""
    return [{'name': person['name'], 'email': person.get('email'),
             'joined_at': timestamp(person.get('joined_at')),
             'is_owner': person.get('role') == 'owner'}
            for person in people]


# -- errors -------------------------------------------------------------

def error_status(status):
    """The v2 status code for one of ours."""
    if 400 <= status < 500 and status not in V2_CLIENT_ERRORS:
        return 400
    return status


def error_response(err):
    """An :class:`~stacksync_swift.middleware.errors.APIError` as v2.

    Only ``error`` and ``description`` stay in the body; headers the
    client needs (``Allow``, ``WWW-Authenticate``) are kept.
    """
    status = error_status(err.status_int)
    body = {'error': status,
            'description': getattr(err, 'description', None) or
            err.status}
    headers = {name: value for name, value in err.headers.items()
               if name.lower() in ('allow', 'www-authenticate')}
    return swob.Response(status=status, headers=headers,
                         body=json.dumps(body).encode('utf-8'),
                         content_type='application/json', charset='utf-8')
