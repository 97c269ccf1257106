"""The pages: one function per route, each a few service calls.

A view gets a :class:`~stacksync_swift.web.Page` (the request, the
signed-in user, rendering helpers) and its path arguments, and returns a
swob response. Rules live in the metadata service and in
:mod:`stacksync_swift.sharing`, exactly the calls the REST API makes;
file data goes through the API's :mod:`~stacksync_swift.middleware.api
.transfer` (streamed uploads into chunks, streamed downloads with
``Range``). Errors are raised (metadata errors, API errors, or
:class:`WebError`) and rendered once, as friendly pages, by the app.

Routes are relative to the web prefix; ``public=True`` routes need no
session (sign-in, public links, static files).
"""

import datetime
import json
import os
import re
import urllib.parse

from swift.common import swob

from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.metadata import names
from stacksync_swift.middleware import errors as api_errors
from stacksync_swift.middleware.api import base
from stacksync_swift.middleware.api import transfer
from stacksync_swift.web import links
from stacksync_swift.web import sessions

STATIC_DIR = os.path.join(os.path.dirname(__file__), 'static')
STATIC_TYPES = {'.css': 'text/css', '.js': 'application/javascript',
                '.png': 'image/png', '.svg': 'image/svg+xml'}
# Folders offered as move targets, at most.
MAX_MOVE_TARGETS = 500
# A long poll from the folder page waits this long (capped by the
# operator's long_poll_timeout).
POLL_SECONDS = 25

ROUTES = []


class WebError(Exception):
    """A refused request, shown as a friendly page with ``status``."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def route(method, pattern, public=False):
    def register(view):
        ROUTES.append((method, re.compile('^%s$' % pattern), view, public))
        return view
    return register


def match(method, path):
    """``(view, path arguments, public)``; WebError 404 or 405."""
    allowed = False
    for verb, pattern, view, public in ROUTES:
        found = pattern.match(path)
        if found is None:
            continue
        if verb == method or (verb == 'GET' and method == 'HEAD'):
            return view, found.groupdict(), public
        allowed = True
    if allowed:
        raise WebError(405, 'This page cannot be used that way.')
    raise WebError(404, 'There is no such page.')


def controller(page, item_id=0):
    """An API item controller over this request (the shared helpers)."""
    return base.ItemController(page.app.api, page.req, item_id=str(item_id))


def as_int(value, what='number'):
    if value is None or not str(value).isdigit() or len(str(value)) > 18:
        raise WebError(400, 'That %s is not valid.' % what)
    return int(value)


# -- signing in and out -----------------------------------------------------

@route('GET', r'signin', public=True)
def signin_form(page):
    if page.user is not None:
        return page.redirect('')
    return page.render('signin.html', next=page.req.params.get('next', ''))


@route('POST', r'signin', public=True)
def signin(page):
    form = page.form()
    name = form.get('username', '')[:255]
    password = form.get('password', '')
    throttle = page.app.throttle
    keys = throttle.keys(name, page.client_address())
    throttle.wait(keys)
    user = page.app.check_credentials(name, password)
    if user is None:
        throttle.failed(keys)
        return page.render('signin.html', status=401, username=name,
                           next=form.get('next', ''),
                           error='Wrong user name or password.')
    throttle.succeeded(keys)
    token, _session = page.app.sessions.start(user['id'])
    response = page.redirect(safe_next(form.get('next', '')))
    response.headers['Set-Cookie'] = page.cookie(
        sessions.SESSION_COOKIE, token)
    return response


def safe_next(value):
    """A relative page inside the site to go to after sign-in, or home."""
    if not value or not re.match(r'^[A-Za-z0-9/_\-.?=&%]*$', value) or \
            value.startswith('/') or '//' in value or '..' in value:
        return ''
    return value


@route('POST', r'signout')
def signout(page):
    page.app.sessions.end(page.session)
    response = page.redirect('signin')
    response.headers['Set-Cookie'] = page.cookie(
        sessions.SESSION_COOKIE, '', max_age=0)
    return response


# -- folders and files -------------------------------------------------------

@route('GET', r'')
def home(page):
    return folder(page, '0')


@route('GET', r'folder/(?P<folder_id>\d+)')
def folder(page, folder_id):
    folder_id = as_int(folder_id)
    metadata = page.metadata
    listing = metadata.list_folder(page.user_id, folder_id or None)
    if folder_id and listing['status'] == 'DELETED':
        raise WebError(404, 'That folder is in the trash.')
    workspace = controller(page).folder_workspace(folder_id)
    cursor = metadata.get_workspace(page.user_id, workspace['id'])['cursor']
    return page.render(
        'folder.html', folder=listing, folder_id=folder_id,
        items=listing['contents'], crumbs=breadcrumbs(page, folder_id),
        workspace=workspace, cursor=cursor,
        writable=workspace.get('role', 'owner') in ('owner', 'editor'),
        proposals=len(page.app.sharing.proposals(page.env, page.user)))


def breadcrumbs(page, folder_id):
    """``[(id, name)]`` from the root to ``folder_id``."""
    crumbs = []
    metadata = page.metadata
    private = page.app.api.containers.private_workspace(page.user_id)
    current = metadata.get_item(page.user_id, folder_id) if folder_id \
        else None
    for _step in range(links.MAX_DEPTH):
        if current is None:
            break
        crumbs.append((current['id'], current['filename']))
        parent = current['parent_id']
        if parent is None and current['workspace_id'] != private['id']:
            parent = metadata.mount_of(page.user_id, current['workspace_id'])
            if parent == current['id']:
                break
        current = metadata.get_item(page.user_id, parent) if parent \
            else None
    crumbs.append((0, 'My files'))
    return list(reversed(crumbs))


@route('POST', r'folder/(?P<folder_id>\d+)/new')
def new_folder(page, folder_id):
    folder_id = as_int(folder_id)
    name = names.normalize_name(page.form().get('name', ''))
    workspace = controller(page).folder_workspace(folder_id)
    page.metadata.create_folder(page.user_id, workspace['id'],
                                folder_id or None, name)
    return page.redirect('folder/%d' % folder_id,
                         'Folder %s created.' % name)


@route('POST', r'upload')
def upload(page):
    """One file per request, the body streamed into chunks (the JS sends
    each dropped or chosen file this way). A live file of the same name
    gets a new version."""
    folder_id = page.query_int('folder')
    name = names.normalize_name(page.req.params.get('name', ''))
    helper = controller(page)
    workspace = helper.folder_workspace(folder_id)
    existing = _live_child(page, folder_id, name)
    metadata = page.metadata
    if existing is not None and not existing['is_folder']:
        stored = transfer.receive(helper, workspace, freed=existing['size'])
        meta = metadata.update_file_data(
            page.user_id, existing['id'], stored.size, stored.sha256,
            stored.names, mimetype=transfer.mimetype(page.req, name),
            packed=stored.packed)
    else:
        stored = transfer.receive(helper, workspace)
        meta = metadata.create_file(
            page.user_id, workspace['id'], folder_id or None, name,
            stored.size, stored.sha256, stored.names,
            mimetype=transfer.mimetype(page.req, name), packed=stored.packed)
    return page.json({'id': meta['id'], 'name': meta['filename'],
                      'version': meta['version']}, status=201)


def _live_child(page, folder_id, name):
    listing = page.metadata.list_folder(page.user_id, folder_id or None)
    for child in listing['contents']:
        if child['filename'] == name:
            return child
    return None


@route('GET', r'download/(?P<item_id>\d+)')
def download(page, item_id):
    meta = live_item(page, item_id)
    return send(page, meta, controller(page, meta['id']).workspace_of(meta))


def send(page, meta, workspace):
    if meta['is_folder']:
        raise WebError(404, 'A folder cannot be downloaded as a file.')
    response = transfer.send(controller(page, meta['id']), workspace, meta)
    response.headers['Content-Disposition'] = attachment(meta['filename'])
    return response


def attachment(name):
    """``Content-Disposition`` saving the data as ``name`` (RFC 6266)."""
    plain = ''.join(c if 32 <= ord(c) < 127 and c not in '"\\' else '_'
                    for c in name)
    return 'attachment; filename="%s"; filename*=UTF-8\'\'%s' % (
        plain, urllib.parse.quote(name, safe=''))


def live_item(page, item_id):
    meta = page.metadata.get_item(page.user_id, as_int(item_id))
    if meta['status'] == 'DELETED':
        raise WebError(404, 'That item is in the trash.')
    return meta


@route('GET', r'item/(?P<item_id>\d+)')
def item(page, item_id):
    meta = live_item(page, item_id)
    shared = None
    if meta['is_folder']:
        shared = _members_or_none(page, meta['id'])
    return page.render(
        'item.html', item=meta, crumbs=breadcrumbs(
            page, meta['parent_id'] or _mount_parent(page, meta)),
        targets=move_targets(page, meta), members=shared,
        links=_links_of(page, meta),
        can_publish=page.app.links.may_publish(page.user_id, meta['id']),
        publish_refusal=links.VIEWER_CANNOT_PUBLISH)


def _links_of(page, meta):
    """The links to this item the user manages; on a shared folder's
    mount point, the links to every member's mount of it as well."""
    mounted = meta.get('mount_workspace_id')
    return [link for link in page.app.links.listed(page.user_id)
            if link['item_id'] == meta['id'] or
            (mounted and link['mounted_workspace_id'] == mounted)]


def _mount_parent(page, meta):
    """The folder standing for the root of the item's workspace (0 for the
    private workspace)."""
    private = page.app.api.containers.private_workspace(page.user_id)
    if meta['workspace_id'] == private['id']:
        return 0
    return page.metadata.mount_of(page.user_id, meta['workspace_id']) or 0


def _members_or_none(page, folder_id):
    try:
        return page.app.sharing.members(page.env, page.user, folder_id)
    except (metadata_errors.MetadataError, api_errors.APIError):
        return None


def move_targets(page, meta):
    """``[(id, path)]``: the folders of the item's workspace it may move
    to (not itself, nor below itself, nor where it is)."""
    top = _mount_parent(page, meta)
    found = [(top, '/')]
    queue = [(top, '/')]
    while queue and len(found) < MAX_MOVE_TARGETS:
        folder_id, path = queue.pop(0)
        listing = page.metadata.list_folder(page.user_id, folder_id or None)
        for child in listing['contents']:
            if child['is_folder'] and child['id'] != meta['id'] and \
                    'mount_workspace_id' not in child:
                entry = (child['id'], path + child['filename'] + '/')
                found.append(entry)
                queue.append(entry)
    current = meta['parent_id'] or top
    return [target for target in found if target[0] != current]


@route('POST', r'item/(?P<item_id>\d+)/rename')
def rename(page, item_id):
    meta = live_item(page, item_id)
    name = names.normalize_name(page.form().get('name', ''))
    page.metadata.rename_item(page.user_id, meta['id'], name)
    return page.redirect('item/%d' % meta['id'], 'Renamed to %s.' % name)


@route('POST', r'item/(?P<item_id>\d+)/move')
def move(page, item_id):
    meta = live_item(page, item_id)
    target = as_int(page.form().get('parent'), 'folder')
    page.metadata.move_item(page.user_id, meta['id'], target or None)
    return page.redirect('folder/%d' % target,
                         'Moved %s here.' % meta['filename'])


@route('POST', r'item/(?P<item_id>\d+)/delete')
def delete(page, item_id):
    meta = live_item(page, item_id)
    page.metadata.delete_item(page.user_id, meta['id'])
    parent = meta['parent_id'] or _mount_parent(page, meta)
    return page.redirect('folder/%d' % parent,
                         '%s moved to the trash.' % meta['filename'])


# -- trash and versions -------------------------------------------------------

@route('GET', r'trash/(?P<folder_id>\d+)')
def trash(page, folder_id):
    folder_id = as_int(folder_id)
    listing = page.metadata.list_folder(page.user_id, folder_id or None,
                                        include_deleted=True)
    deleted = [child for child in listing['contents']
               if child['status'] == 'DELETED']
    return page.render('trash.html', folder=listing, folder_id=folder_id,
                       items=deleted, crumbs=breadcrumbs(page, folder_id))


@route('POST', r'item/(?P<item_id>\d+)/restore')
def restore(page, item_id):
    meta = page.metadata.get_item(page.user_id, as_int(item_id))
    if meta['status'] != 'DELETED':
        raise WebError(409, 'That item is not in the trash.')
    version = meta['version'] if meta['is_folder'] else \
        _last_live_version(page, meta)
    _check_restorable(page, meta['id'], version)
    page.metadata.restore_version(page.user_id, meta['id'], version)
    parent = meta['parent_id'] or _mount_parent(page, meta)
    return page.redirect('folder/%d' % parent,
                         '%s restored.' % meta['filename'])


def _check_restorable(page, item_id, version):
    """Refuse to restore a version whose chunks are gone from storage: it
    would make a version nobody can read."""
    old = page.metadata.get_version(page.user_id, item_id, version)
    if not old['is_folder'] and old['status'] != 'DELETED':
        api = controller(page, item_id)
        try:
            transfer.check_stored(api, api.workspace_of(old), old)
        except transfer.ChunksMissing:
            raise WebError(409, 'That version cannot be restored: part of '
                           'its data is missing from storage.')


def _last_live_version(page, meta):
    for version in reversed(page.metadata.get_versions(page.user_id,
                                                       meta['id'])):
        if version['status'] != 'DELETED':
            return version['version']
    raise WebError(409, 'That file has no version to restore.')


@route('GET', r'file/(?P<item_id>\d+)/versions')
def versions(page, item_id):
    meta = page.metadata.get_item(page.user_id, as_int(item_id))
    if meta['is_folder']:
        raise WebError(404, 'Folders have no versions.')
    history = page.metadata.get_versions(page.user_id, meta['id'])
    return page.render('versions.html', item=meta,
                       versions=list(reversed(history)))


@route('GET', r'file/(?P<item_id>\d+)/version/(?P<version>\d+)')
def version_download(page, item_id, version):
    meta = page.metadata.get_version(page.user_id, as_int(item_id),
                                     as_int(version) or 1)
    if meta['status'] == 'DELETED':
        raise WebError(404, 'That version is a deletion; it has no data.')
    return send(page, meta, controller(page, meta['id']).workspace_of(meta))


@route('POST', r'file/(?P<item_id>\d+)/version/(?P<version>\d+)/restore')
def version_restore(page, item_id, version):
    _check_restorable(page, as_int(item_id), as_int(version) or 1)
    meta = page.metadata.restore_version(page.user_id, as_int(item_id),
                                         as_int(version) or 1)
    return page.redirect('file/%d/versions' % meta['id'],
                         'Version %s restored as version %d.'
                         % (version, meta['version']))


# -- sharing ------------------------------------------------------------------

@route('POST', r'item/(?P<item_id>\d+)/share')
def share(page, item_id):
    meta = live_item(page, item_id)
    form = page.form()
    users = [name.strip() for name in
             re.split(r'[,\s]+', form.get('users', '')) if name.strip()]
    if not users:
        raise WebError(400, 'Name at least one user to share with.')
    page.app.sharing.share(page.env, page.user, meta['id'], users,
                           form.get('role', 'editor'))
    return page.redirect('item/%d' % meta['id'],
                         'Invitation sent to %s.' % ', '.join(users))


@route('POST', r'item/(?P<item_id>\d+)/unshare')
def unshare(page, item_id):
    meta = live_item(page, item_id)
    name = page.form().get('user')
    if name:
        page.app.sharing.unshare(page.env, page.user, meta['id'], name)
        return page.redirect('item/%d' % meta['id'],
                             '%s no longer shares this folder.' % name)
    page.app.sharing.leave(page.env, page.user, meta['id'])
    return page.redirect('', 'You left %s.' % meta['filename'])


@route('GET', r'shares')
def shares(page):
    return page.render('shares.html', proposals=page.app.sharing.proposals(
        page.env, page.user))


@route('POST', r'proposal/(?P<proposal_id>\d+)/(?P<answer>accept|decline)')
def answer_proposal(page, proposal_id, answer):
    proposal_id = as_int(proposal_id)
    if answer == 'accept':
        page.app.sharing.accept(page.env, page.user, proposal_id)
        return page.redirect('', 'Invitation accepted.')
    page.app.sharing.decline(page.env, page.user, proposal_id)
    return page.redirect('shares', 'Invitation declined.')


# -- account and public links -------------------------------------------------

@route('GET', r'account')
def account(page):
    return page.render('account.html',
                       account=page.metadata.get_account(page.user_id),
                       links=page.app.links.listed(page.user_id))


@route('POST', r'item/(?P<item_id>\d+)/link')
def make_link(page, item_id):
    meta = live_item(page, item_id)
    form = page.form()
    days = form.get('days', '').strip()
    token, link = page.app.links.create(
        page.user_id, meta['id'], days=as_int(days, 'number of days')
        if days else None, password=form.get('password') or None)
    return page.render('link_created.html', item=meta, link=link,
                       link_url=page.absolute('s/%s' % token))


@route('POST', r'link/(?P<link_id>\d+)/revoke')
def revoke_link(page, link_id):
    """Revoke a link the user made, or one to what their workspaces hold
    (a 404 for any other); back to the item's page when sent from it."""
    page.app.links.revoke(page.user_id, as_int(link_id))
    back = page.form().get('item', '')
    return page.redirect('item/%d' % as_int(back, 'item') if back
                         else 'account', 'The link was revoked.')


@route('GET', r's/(?P<token>[A-Za-z0-9_-]{1,100})', public=True)
def public_link(page, token):
    link, meta = _open_link(page, token)
    if not page.app.links.unlocked(link, token, page.req):
        return page.render('public_password.html', token=token)
    return _public_view(page, token, link, meta)


@route('POST', r's/(?P<token>[A-Za-z0-9_-]{1,100})', public=True)
def public_unlock(page, token):
    link, _meta = _open_link(page, token)
    password = page.form().get('password', '')
    throttle = page.app.throttle
    keys = throttle.keys('link:%d' % link['id'], page.client_address())
    throttle.wait(keys)
    if not link['password_hash'] or \
            not page.app.links.password_ok(link, password):
        throttle.failed(keys)
        return page.render('public_password.html', token=token, status=401,
                           error='Wrong password.')
    throttle.succeeded(keys)
    response = page.redirect('s/%s' % token)
    response.headers['Set-Cookie'] = page.cookie(
        links.UNLOCK_COOKIE, page.app.links.unlock_value(link, token),
        path=page.app.prefix + 's/' + token)
    return response


@route('GET', r's/(?P<token>[A-Za-z0-9_-]{1,100})/(?P<kind>folder|file)/'
       r'(?P<item_id>\d+)', public=True)
def public_item(page, token, kind, item_id):
    link, _meta = _open_link(page, token)
    if not page.app.links.unlocked(link, token, page.req):
        return page.redirect('s/%s' % token)
    meta = page.app.links.item_below(link, as_int(item_id))
    if kind == 'file':
        return _public_send(page, link, meta)
    return _public_view(page, token, link, meta)


def _open_link(page, token):
    link = page.app.links.find(token)
    return link, page.app.links.item(link)


def _public_view(page, token, link, meta):
    if not meta['is_folder']:
        return page.render('public.html', token=token, item=meta,
                           items=None)
    listing = page.metadata.list_folder(link['owner_id'], meta['id'])
    # Shared folders mounted below the linked folder are not reached
    # (Links.item_below): do not show them either.
    shown = [child for child in listing['contents']
             if 'mount_workspace_id' not in child]
    return page.render('public.html', token=token, item=meta, items=shown)


def _public_send(page, link, meta):
    owner = page.metadata.get_user(link['owner_id'])
    page.env['stacksync.user'] = owner
    workspace = page.metadata.get_workspace(owner['id'],
                                            meta['workspace_id'])
    return send(page, meta, workspace)


# -- live refresh and static files ------------------------------------------

@route('GET', r'poll')
def poll(page):
    """Long poll for the folder page: ``{"changes", "cursor"}``."""
    workspace_id = page.query_int('workspace')
    cursor = page.query_int('cursor')
    wait = min(POLL_SECONDS, page.app.settings.long_poll_timeout)
    current = page.app.api.events.wait(page.user_id, workspace_id, cursor,
                                       wait)
    return page.json({'changes': current > cursor, 'cursor': current})


@route('GET', r'static/(?P<name>[a-z0-9_-]+\.[a-z]{2,3})', public=True)
def static(page, name):
    kind = STATIC_TYPES.get(os.path.splitext(name)[1])
    path = os.path.join(STATIC_DIR, name)
    if kind is None or not os.path.isfile(path):
        raise WebError(404, 'There is no such file.')
    with open(path, 'rb') as source:
        body = source.read()
    return swob.Response(body=body, content_type=kind, headers={
        'Cache-Control': 'public, max-age=3600'})


def json_response(value, status=200):
    return swob.Response(status=status, body=json.dumps(value).encode(),
                         content_type='application/json')


def days_left(moment, now=None):
    """Whole days until ``moment`` (for the templates)."""
    if moment is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return max((moment - now).days, 0)
