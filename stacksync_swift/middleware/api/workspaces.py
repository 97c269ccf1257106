"""Sync-client resources of a workspace: deltas, long poll, commit.

``GET /v1/workspace/{wid}/changes`` is the delta since a cursor;
``…/changes/wait`` holds the request (a green thread, no database
connection: :meth:`~stacksync_swift.events.EventHub.wait` does short reads
only) until the workspace moves past the cursor or the timeout ends;
``POST …/commit`` applies a batch in one transaction after checking that
every chunk it references is stored in the workspace's container.
"""

from stacksync_swift.metadata import service
from stacksync_swift.middleware import errors
from stacksync_swift.middleware.api import router
from stacksync_swift.middleware.api.items import changes_json
from stacksync_swift.middleware.api.items import commit_json

WID = r'/v1/workspace/(?P<workspace_id>\d+)'
# A long poll without ?timeout= waits this long (capped by the
# long_poll_timeout option).
DEFAULT_WAIT = 30


class WorkspaceController(router.Controller):
    def workspace_id(self):
        return self.path_int('workspace_id')

    def workspace(self):
        return self.api.metadata.get_workspace(self.user_id,
                                               self.workspace_id())


@router.route(WID)
class Workspace(WorkspaceController):
    def GET(self):
        """The workspace, the user's role in it and its cursor."""
        return router.json_response(self.workspace())


@router.route(WID + r'/changes')
class Changes(WorkspaceController):
    def GET(self):
        """Items changed after ``cursor``: ``{entries, cursor, has_more}``.
        """
        delta = self.api.metadata.get_changes(
            self.user_id, self.workspace_id(),
            cursor=self.query_int('cursor', default=0),
            limit=self.query_int('limit',
                                 default=service.DEFAULT_CHANGES_LIMIT,
                                 minimum=1,
                                 maximum=service.MAX_CHANGES_LIMIT))
        return router.json_response(changes_json(delta))


@router.route(WID + r'/changes/wait')
class ChangesWait(WorkspaceController):
    def GET(self):
        """Wait until the cursor moves past ``cursor``, or ``timeout``."""
        cursor = self.query_int('cursor', default=0)
        longest = self.api.settings.long_poll_timeout
        timeout = self.query_int('timeout', default=min(DEFAULT_WAIT,
                                                         longest))
        current = self.api.events.wait(self.user_id, self.workspace_id(),
                                       cursor, min(timeout, longest))
        return router.json_response({'changes': current > cursor,
                                     'cursor': current})


@router.route(WID + r'/commit')
class Commit(WorkspaceController):
    def POST(self):
        """Commit a batch; items naming missing chunks fail one by one."""
        workspace = self.workspace()
        items = self.json_body()
        if isinstance(items, dict) and 'items' in items:
            items = items['items']
        if not isinstance(items, list):
            raise errors.BadRequest('a commit is a JSON list of items')
        if len(items) > service.MAX_COMMIT_ITEMS:
            raise errors.BadRequest('a commit has at most %d items'
                                    % service.MAX_COMMIT_ITEMS)
        packed = set()
        sizes = self.chunk_sizes(workspace, items, packed)
        missing = {name for name, size in sizes.items() if size is None}
        ready = [item for item in items if not _names_any(item, missing)]
        outcome = self.api.metadata.commit(
            self.user_id, self.device_id(), workspace['id'], ready,
            chunk_sizes=sizes, packed=packed)
        return router.json_response(commit_json(
            _with_missing(outcome, items, missing)))

    def chunk_sizes(self, workspace, items, packed):
        """Stored size (None: missing) of each chunk the items reference;
        the service checks each item's ``size`` against them, and that
        the chunks found in packs (added to ``packed``) are still there."""
        wanted = sorted({name for item in items
                         for name in _chunk_names(item)})
        sizes = self.api.storage.chunk_sizes(
            self.req.environ, workspace['container'], wanted, packed=packed)
        return dict(zip(wanted, sizes))


def _chunk_names(item):
    """The well-formed chunk names an item lists (the service checks the
    rest)."""
    chunks = item.get('chunks') if isinstance(item, dict) else None
    if not isinstance(chunks, list) or \
            len(chunks) > service.MAX_CHUNKS:
        return []
    return [name for name in chunks if isinstance(name, str)
            and service.CHUNK_NAME.match(name)]


def _names_any(item, missing):
    return bool(missing) and any(name in missing
                                 for name in _chunk_names(item))


def _with_missing(outcome, items, missing):
    """The service's results with the refused items put back in order."""
    committed = iter(outcome['results'])
    results = []
    for item in items:
        if _names_any(item, missing):
            result = {'result': 'error', 'error': 'missing_chunks',
                      'description': 'chunks not stored in the workspace: '
                      + ', '.join(sorted(set(_chunk_names(item))
                                         & missing))}
            if isinstance(item.get('client_id'), (str, int)):
                result['client_id'] = item['client_id']
            results.append(result)
        else:
            results.append(next(committed))
    return dict(outcome, results=results)
