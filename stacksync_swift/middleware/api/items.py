"""Item metadata as the API sends it.

The metadata service already returns the JSON of DESIGN.md section 4; the
API only renders its roots for clients: a workspace's root folder (the
service's ``None``) is id ``0``, so ``parent_id`` is always a number and
``GET /v1/folder/0/contents`` lists the root. ``parent_id`` 0 means "the
root of the item's ``workspace_id``"; for the user's private workspace
that is the root folder ``0`` itself (shared workspaces are mounted in it
by the sharing API, under folder ids of their own).
"""

ROOT_ID = 0


def item_json(meta):
    """One item (file, folder or version) with roots rendered as 0."""
    if meta is None:
        return None
    rendered = dict(meta)
    if rendered.get('id') is None:
        rendered['id'] = ROOT_ID
    if rendered.get('parent_id') is None:
        rendered['parent_id'] = ROOT_ID
    if 'contents' in rendered:
        rendered['contents'] = [item_json(child)
                                for child in rendered['contents']]
    return rendered


def items_json(metas):
    return [item_json(meta) for meta in metas]


def changes_json(delta):
    """A delta of ``get_changes`` with its entries rendered."""
    return dict(delta, entries=items_json(delta['entries']))


def commit_json(outcome):
    """The result of ``commit`` with each result's item rendered."""
    results = []
    for result in outcome['results']:
        if result.get('item') is not None:
            result = dict(result, item=item_json(result['item']))
        results.append(result)
    return dict(outcome, results=results)


def parent_for_service(parent_id):
    """The service's parent id for the API's (0 is the root: None)."""
    return parent_id or None
