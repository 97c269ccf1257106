"""The WSGI edge: the ``stacksync_auth`` and ``stacksync_api`` filters.

Modules here are thin: they classify a request, parse it, make one call to
the layers below and render the answer with swob. Requests that are not ours
pass through untouched (see :func:`stacksync_swift.middleware.common.owns`).
"""
