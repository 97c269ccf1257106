"""The ``stacksync`` sync client: a library with a command on top.

It talks to the REST API only (and optionally consumes events); it never
imports server modules, only pure shared ones (``stacksync_swift.chunking``,
``stacksync_swift.metadata.names``).

Layout (each module one job; all I/O behind small interfaces so the
deterministic simulation of ``tests/simulation`` can drive the engine):

``tree``      pure data: the entries of a synced tree
``planner``   pure: (remote, local, base) trees -> operations
``state``     the local state database: the merge base and cursors
``engine``    one sync pass / the watch loop, over the interfaces below
``interfaces`` ``FileSystem``, ``Remote``, ``ChunkCodec``, ``Clock``
``api``       the HTTP ``Remote`` (OAuth 1.0a signed, requests-oauthlib)
``codec``     chunk encoding: zstd compression, client-side encryption
``localfs``   the real ``FileSystem`` and the watchdog watcher
``cli``       the ``stacksync`` command
"""
