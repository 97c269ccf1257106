"""Public links: read-only access to one file or folder without an account.

A link is a random token in the URL ``<prefix>s/<token>``; the database
keeps only its SHA-256 (:class:`stacksync_swift.metadata.web.PublicLink`),
so the owner sees the URL once, when making it. A link may expire and may
need a password (hashed like user passwords). Every request looks the
link up again: a revoked or expired link is a 404 at once.

The link acts as its owner with the owner's current rights: the metadata
service checks that the owner still sees the item (an owner who lost a
shared folder loses its links too), and a folder link reaches only the
folder's subtree (:meth:`Links.item_below`). After a correct password,
the browser gets a cookie scoped to the link's path holding
SHA-256(password hash, token): only someone who knew the password (or
the hash and the token) has it, and it dies with the link.
"""

import datetime
import hashlib
import hmac

from stacksync_swift.metadata import errors
from stacksync_swift.metadata import service
from stacksync_swift.web import sessions

UNLOCK_COOKIE = 'stacksync_link'
MAX_DAYS = 3650
# Folders between an item and a linked folder that are walked at most.
MAX_DEPTH = 256


class Links:
    def __init__(self, store, metadata, clock=None):
        self.store = store
        self.metadata = metadata
        self.clock = clock or store.clock

    def create(self, user_id, item_id, days=None, password=None):
        """``(token, link)``: a new link to a live item the user sees."""
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
                                      meta['workspace_id'], expires_at,
                                      password_hash)
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

    def owned(self, user_id):
        """The user's live links, each with its item's current metadata
        (None when the item is gone)."""
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
        return self.store.revoke_link(user_id, link_id)
