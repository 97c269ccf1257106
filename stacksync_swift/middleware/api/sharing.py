"""Sharing: proposals, accept or decline, members, unshare.

Thin handlers over :class:`stacksync_swift.sharing.Sharing`, one call each:

``POST /v1/folder/{id}/share``
    Body ``{"users": ["bob", ...], "role": "editor" | "viewer"}`` (or the
    query ``?users=bob,carol&role=viewer``): one proposal per user, ``201``
    with ``{"proposals": [...]}``. Only the folder's owner shares; a folder
    inside a shared folder, or one holding a shared folder, is ``409``;
    oneself or a bad role ``400``; an unknown user ``404``.
``POST /v1/folder/{id}/unshare``
    The owner removes ``{"user": "bob"}`` (or cancels bob's pending
    proposal); a member without a body leaves. API access ends at once;
    ``acl_synced`` says whether the container's ACLs already followed
    (otherwise the reconciler finishes the job).
``GET /v1/folder/{id}/members``
    ``[{"user_id", "name", "role", "joined_at"}]``, owner first.
``GET /v1/proposals``
    The pending proposals addressed to the user.
``POST /v1/proposal/{id}/accept``, ``POST /v1/proposal/{id}/decline``
    Only the addressee answers (``403`` for the sender, ``404`` for
    others); answering twice is ``409``. Accept returns the ``proposal``,
    the shared ``workspace`` and the ``mount`` item that appeared in the
    user's root folder.

API v2 (``StackSync-API: v2``) shares by e-mail, with the original
spec's rules:

``POST /v1/folder/{id}/share`` with ``["a@example.com", ...]``
    Each known address other than one's own gets the same ``editor``
    proposal as above (addressees accept as usual); addresses of current
    members need none. Unknown addresses are skipped; if none is left,
    ``400`` "No addressees found". ``200`` with ``{"shared_to": [...]}``.
``POST /v1/folder/{id}/unshare`` with ``["a@example.com", ...]``
    The v1 unshare for each known address, one's own skipped; a member
    naming the owner is ``400``; addresses that are neither members nor
    invited are skipped, and ``400`` "No addressees found" if nothing is
    left. ``200`` with ``{"unshared_to": [...]}``.
``GET /v1/folder/{id}/members``
    ``[{"name", "email", "joined_at", "is_owner"}]``.
"""

from stacksync_swift import sharing
from stacksync_swift.metadata import errors as metadata_errors
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import dialects
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api.items import item_json

FOLDER = r'/v1/folder/(?P<item_id>\d+)'
PROPOSAL = r'/v1/proposal/(?P<proposal_id>\d+)'


class SharingController(router.Controller):
    @property
    def sharing(self):
        return sharing.Sharing(self.api.metadata, self.api.storage,
                               self.api.logger)

    @property
    def env(self):
        return self.req.environ

    def folder_id(self):
        folder_id = self.path_int('item_id')
        if folder_id == 0:
            raise errors.BadRequest('the root folder cannot be shared')
        return folder_id

    def body_or_query(self, name):
        """``name`` from the JSON body, else from the query string."""
        if not hasattr(self, '_body'):
            self._body = self.json_object()
        value = self._body.get(name)
        if value is None:
            value = self.params.get(name)
        return value

    def addressees(self):
        """v2: ``[(address, user)]`` for the body's known addresses,
        each user once, with the folder's members."""
        found = dialects.addresses(self.json_body())
        if found is None:
            raise errors.BadRequest(
                'the body must be a JSON array of e-mail addresses')
        users = self.api.metadata.users_by_email(found)
        members = self.sharing.members(self.env, self.user,
                                       self.folder_id())
        unique = {}
        for address in found:
            user = users.get(address)
            if user is not None:
                unique.setdefault(user['id'], (address, user))
        return list(unique.values()), members


def no_addressees():
    return errors.BadRequest('No addressees found')


@router.route(FOLDER + '/share')
class Share(SharingController):
    def POST(self):
        """Propose the folder to ``users`` with ``role``."""
        if self.v2:
            return self.share_by_email()
        users = self.body_or_query('users')
        if isinstance(users, str):
            users = [name for name in users.split(',') if name]
        role = self.body_or_query('role')
        proposals = self.sharing.share(self.env, self.user, self.folder_id(),
                                       users, role)
        return router.json_response({'proposals': proposals}, status=201)

    def share_by_email(self):
        targets, members = self.addressees()
        joined = {person['user_id'] for person in members}
        targets = [(address, user) for address, user in targets
                   if user['id'] != self.user_id]
        if not targets:
            raise no_addressees()
        invite = [user['name'] for _address, user in targets
                  if user['id'] not in joined]
        if invite:
            self.sharing.share(self.env, self.user, self.folder_id(),
                               invite, 'editor')
        return router.json_response(
            {'shared_to': [address for address, _user in targets]})


@router.route(FOLDER + '/unshare')
class Unshare(SharingController):
    def POST(self):
        """The owner removes ``user``; a member without one leaves."""
        if self.v2:
            return self.unshare_by_email()
        name = self.body_or_query('user')
        if name is None:
            result = self.sharing.leave(self.env, self.user,
                                        self.folder_id())
        else:
            result = self.sharing.unshare(self.env, self.user,
                                          self.folder_id(), name)
        return router.json_response(result)

    def unshare_by_email(self):
        targets, members = self.addressees()
        owner = [person['user_id'] for person in members
                 if person['role'] == 'owner']
        for address, user in targets:
            if user['id'] in owner and user['id'] != self.user_id:
                raise errors.BadRequest(
                    'Email %s corresponds with owner of the folder.'
                    % address)
        removed = []
        for address, user in targets:
            if user['id'] == self.user_id:
                continue
            try:
                self.sharing.unshare(self.env, self.user, self.folder_id(),
                                     user['name'])
            except metadata_errors.NotFound:
                continue
            removed.append(address)
        if not removed:
            raise no_addressees()
        return router.json_response({'unshared_to': removed})


@router.route(FOLDER + '/members')
class Members(SharingController):
    def GET(self):
        members = self.sharing.members(self.env, self.user,
                                       self.folder_id())
        if self.v2:
            members = dialects.members(members)
        return router.json_response(members)


@router.route(r'/v1/proposals')
class Proposals(SharingController):
    def GET(self):
        return router.json_response(self.sharing.proposals(self.env,
                                                           self.user))


@router.route(PROPOSAL + '/accept')
class Accept(SharingController):
    def POST(self):
        result = self.sharing.accept(self.env, self.user,
                                     self.path_int('proposal_id'))
        result['mount'] = item_json(result['mount'])
        return router.json_response(result)


@router.route(PROPOSAL + '/decline')
class Decline(SharingController):
    def POST(self):
        return router.json_response(self.sharing.decline(
            self.env, self.user, self.path_int('proposal_id')))
