"""Public links: read-only access to one file or folder without an account.

A link is a random token in the URL ``<prefix>s/<token>``; the database
keeps only its SHA-256 (:class:`stacksync_swift.metadata.web.PublicLink`),
so its maker sees the URL once, when making it. A link may expire and may
need a password (hashed like user passwords). Every request looks the
link up again: a revoked or expired link is a 404 at once.

Who may publish, and who sees the links
=======================================

Publishing is re-sharing, so the roles of a shared folder decide it
(the rule itself lives with the rows, in
:mod:`stacksync_swift.metadata.web`, so no other caller can skip it):

* the owner and the editors of a shared folder may make links to what it
  holds (and to their own mount of it); a **viewer may not**: the item
  page offers no button and says why, and a forged request is a 403;
* a link stays alive only while its maker may still publish: an editor
  turned viewer, or gone, takes their links down with them;
* the **owner of the shared folder sees every link** to what it holds,
  and to the members' mounts of it, whoever made it, on the account page
  and on the item's page, and may revoke it; a member sees and revokes
  the links they made.

What a link reaches
===================

The link acts as its maker with the maker's current rights: the metadata
service checks that the maker still sees the item (a maker who lost a
shared folder loses its links too), and a folder link reaches only the
folder's subtree in the folder's own workspace (:meth:`Links.item_below`).
A link to a shared folder's mount point reaches that folder's contents;
a link to a folder that merely holds a mount point does not go through
it (the mount is not listed): the shared folder's owner could not see
such a link, so it must not show their folder. After a correct password,
the browser gets a cookie scoped to the link's path holding
SHA-256(password hash, token): only someone who knew the password (or
the hash and the token) has it, and it dies with the link.
"""

import datetime
import hashlib
import hmac

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import service
from stacksync_swift.metadata import web as web_store
from stacksync_swift.web import sessions

UNLOCK_COOKIE = 'stacksync_link'
# What a viewer's item page says instead of offering a link.
VIEWER_CANNOT_PUBLISH = web_store.VIEWER_CANNOT_PUBLISH
MAX_DAYS = 3650
# Folders between an item and a linked folder that are walked at most.
MAX_DEPTH = 256


class Links:
    def __init__(self, store, metadata, clock=None):
        self.store = store
        self.metadata = metadata
        self.clock = clock or store.clock

    def may_publish(self, user_id, item_id):
        """True when the user may make a link to the item (not a
        viewer of the shared folder it belongs to)."""
        return self.store.may_publish(user_id, item_id)

    def create(self, user_id, item_id, days=None, password=None):
        """``(token, link)``: a new link to a live item the user sees and
        may publish (Forbidden for a viewer of a shared folder)."""
        meta = self.metadata.get_item(user_id, item_id)
        if meta['status'] == 'DELETED':
            raise errors.NotFound('item %d is deleted' % item_id)
        expires_at = None
        if days:
            if not 1 <= days <= MAX_DAYS:
                raise errors.BadRequest('a link lasts 1 to %d days'
                                        % MAX_DAYS)
            expires_at = self.clock() + datetime.timedelta(days=days)
        password_hash = service.hash_password(password) if password \
            else None
        token = sessions.new_token()
        link = self.store.create_link(token, user_id, meta['id'],
                                      expires_at, password_hash)
        return token, link

    def find(self, token):
        """The live link of ``token``; NotFound when revoked or expired."""
        link = self.store.find_link(token) if token else None
        if link is None:
            raise errors.NotFound('this link does not exist or has '
                                  'expired')
        return link

    def item(self, link):
        """The linked item as its owner sees it now (live only)."""
        try:
            meta = self.metadata.get_item(link['owner_id'], link['item_id'])
        except (errors.NotFound, errors.Forbidden):
            meta = None
        if meta is None or meta['status'] == 'DELETED':
            raise errors.NotFound('the linked item is gone')
        return meta

    def item_below(self, link, item_id):
        """Item ``item_id`` if it lies in the linked folder's subtree."""
        top = self.item(link)
        if item_id == top['id']:
            return top
        owner = link['owner_id']
        meta = current = self.metadata.get_item(owner, item_id)
        if 'mount_workspace_id' in meta:
            # A shared folder mounted below the linked one: not reached.
            raise errors.NotFound('no such item in this link')
        for _step in range(MAX_DEPTH):
            if current['status'] == 'DELETED':
                break
            parent = current.get('parent_id')
            if parent == top['id']:
                return meta
            if parent is None:
                # The root of a workspace: inside when it is the linked
                # (shared) folder's own workspace.
                if current['workspace_id'] == top.get('mount_workspace_id'):
                    return meta
                break
            current = self.metadata.get_item(owner, parent)
        raise errors.NotFound('no such item in this link')

    @staticmethod
    def unlock_value(link, token):
        """The cookie value proving the link's password was given."""
        return hashlib.sha256(('%s:%s' % (link['password_hash'], token))
                              .encode('utf-8')).hexdigest()

    def unlocked(self, link, token, req):
        if not link['password_hash']:
            return True
        sent = sessions.read_cookie(req, UNLOCK_COOKIE)
        return hmac.compare_digest(sent.encode('utf-8'), self.unlock_value(
            link, token).encode('utf-8'))

    @staticmethod
    def password_ok(link, password):
        return service.password_matches(link['password_hash'], password)

    def listed(self, user_id):
        """The links the user manages (made by them, or to what their
        workspaces hold), unexpired, each with its item's current
        metadata as its maker sees it (None when the item is gone)."""
        found = []
        for link in self.store.list_links(user_id):
            expires = link['expires_at']
            if expires is not None and expires <= self.clock():
                continue
            try:
                link['item'] = self.item(link)
            except errors.NotFound:
                link['item'] = None
            found.append(link)
        return found

    def revoke(self, user_id, link_id):
        """Revoke a link the user manages; NotFound for any other."""
        return self.store.revoke_link(user_id, link_id)
