"""``stacksync-swift``: the operator's command.

Subcommands::

    stacksync-swift aio [--state DIR] [--port N]    run the all-in-one
        [--database-url URL] [--events-url URL] [--encryption]
        [--extra-proxies N] [--memcache-servers S]
        [--keystone-url URL --keystone-user NAME]
    stacksync-swift db upgrade                      migrate the database
    stacksync-swift user-add NAME [--password [P]] [--quota BYTES] [--email E]
    stacksync-swift user-list
    stacksync-swift user-del NAME
    stacksync-swift consumer-add NAME [--callback URL|oob]
                                                    prints key and secret
    stacksync-swift consumer-list
    stacksync-swift consumer-del KEY
    stacksync-swift token-list NAME                 a user's access tokens
    stacksync-swift token-revoke TOKEN
    stacksync-swift events --workspace W            print events live
    stacksync-swift sharing-reconcile               repair shared ACLs
    stacksync-swift chunk-index rebuild [--container C ...]
                                                    re-read packs from Swift
    stacksync-swift events [--workspace W] [--user U] [--events-url URL]

The database is found, in this order, from ``--database-url``, the
``STACKSYNC_DATABASE_URL`` environment variable, ``--config`` (a
``proxy-server.conf`` with the StackSync filters), ``--state`` (an
all-in-one's state folder), ``/etc/swift/proxy-server.conf``, and finally
the default all-in-one state folder.
"""

import argparse
import getpass
import os
import signal
import sys

from stacksync_swift import aio
from stacksync_swift import config

DEFAULT_PROXY_CONFIG = '/etc/swift/proxy-server.conf'
PROMPT = object()


class CommandError(Exception):
    """An error to report as ``ERROR: ...`` with exit status 1."""


def database_url(args):
    if args.database_url:
        return args.database_url
    if os.environ.get('STACKSYNC_DATABASE_URL'):
        return os.environ['STACKSYNC_DATABASE_URL']
    if args.config:
        return _url_from_proxy_config(args.config)
    if args.state:
        return aio.AllInOne(args.state).database_url
    if os.path.exists(DEFAULT_PROXY_CONFIG):
        return _url_from_proxy_config(DEFAULT_PROXY_CONFIG)
    return aio.AllInOne(aio.default_state_dir()).database_url


def _url_from_proxy_config(path):
    return _settings_from_proxy_config(path).database_url


def _settings_from_proxy_config(path):
    if not os.path.exists(path):
        raise CommandError('no such proxy config: %s' % path)
    return config.load({'__file__': path}, {})


def _settings(args):
    """The filters' settings when a proxy config is at hand, else defaults."""
    for path in (args.config, DEFAULT_PROXY_CONFIG):
        if path and os.path.exists(path) and not args.state:
            return _settings_from_proxy_config(path)
    return config.Settings()


def _services(args):
    # Imported here: `aio` must start without touching the database.
    from stacksync_swift.metadata import credentials
    from stacksync_swift.metadata import db
    from stacksync_swift.metadata import service

    engine = db.create_engine(database_url(args))
    return (service.MetadataService(engine),
            credentials.CredentialStore(engine))


# -- aio --

def cmd_aio(args):
    cluster = aio.AllInOne(args.state or aio.default_state_dir(),
                           port=args.port, host=args.host,
                           database_url=args.database_url,
                           events_url=args.events_url,
                           encryption=args.encryption,
                           extra_proxies=args.extra_proxies,
                           memcache_servers=args.memcache_servers,
                           keystone=_aio_keystone(args))
    print('Starting Swift and StackSync in %s ...' % cluster.state_dir,
          flush=True)
    cluster.start()
    # Ctrl-C stops cleanly even when started in the background of a
    # script (which ignores SIGINT); SIGTERM too (service managers, CI).
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    print(AIO_BANNER.format(c=cluster, demo=cluster.demo), flush=True)
    print(_aio_deployment(cluster), flush=True)
    try:
        while all(p.poll() is None for p in cluster.processes.values()):
            signal.pause()
    except KeyboardInterrupt:
        print('\nStopping ...', flush=True)
    finally:
        crashed = [name for name, p in cluster.processes.items()
                   if p.poll() is not None]
        cluster.stop()
    for name in crashed:
        print('ERROR: the %s server stopped on its own; its log:\n%s'
              % (name, cluster.log_tail(name)), file=sys.stderr)
    return 1 if crashed else 0


AIO_BANNER = """\
StackSync for Swift is running.

  Proxy endpoint   {c.url}
  Swift auth       {c.auth_url}  (tempauth, v1.0)
  Storage account  {c.storage_account}
  Admin user       {c.admin_user}
  Admin key        {c.admin_key}
  State folder     {c.state_dir}  (logs in log/)

A demo StackSync user and OAuth consumer:

  User name        {demo[user]}
  Password         {demo[password]}
  Consumer key     {demo[consumer_key]}
  Consumer secret  {demo[consumer_secret]}
  OAuth endpoints  {c.url}/oauth/request_token, /oauth/authorize,
                   /oauth/access_token

Try Swift with python-swiftclient:

  swift -A {c.auth_url} -U {c.admin_user} -K {c.admin_key} stat

Add users and applications:

  stacksync-swift --state {c.state_dir} user-add NAME --password
  stacksync-swift --state {c.state_dir} consumer-add NAME

Press Ctrl-C to stop."""


def _aio_keystone(args):
    """The all-in-one's Keystone settings, or None for tempauth."""
    if not args.keystone_url:
        return None
    password = args.keystone_password or os.environ.get(
        'STACKSYNC_KEYSTONE_PASSWORD')
    if not args.keystone_user or not password:
        raise CommandError('--keystone-url needs --keystone-user and a '
                           'password (--keystone-password or '
                           'STACKSYNC_KEYSTONE_PASSWORD)')
    return {'auth_url': args.keystone_url, 'username': args.keystone_user,
            'password': password, 'project_name': args.keystone_project}


def _aio_deployment(cluster):
    """Where the metadata and events go, and what else is switched on."""
    lines = ['', 'Deployment:',
             '  Metadata DB      %s' % _safe_url(cluster.database_url),
             '  Events           %s' % (
                 _safe_url(cluster.filter_options['events_url'])
                 if cluster.filter_options.get('events_url')
                 else 'embedded (in the metadata DB)'),
             '  Encryption       %s' % (
                 'on (root secret in aio.json)' if cluster.encryption
                 else 'off'),
             '  Auth             %s' % (
                 'Keystone at %s' % cluster.keystone['auth_url']
                 if cluster.keystone else 'tempauth + OAuth')]
    if cluster.extra_proxies:
        lines.append('  Proxies          %s' % ' '.join(cluster.proxy_urls))
    if cluster.memcache_servers:
        lines.append('  Memcache         %s' % cluster.memcache_servers)
    return '\n'.join(lines)


# -- database and users --

def cmd_db_upgrade(args):
    from stacksync_swift.metadata import db

    url = database_url(args)
    db.upgrade(url)
    print('Database at %s is at revision %s.'
          % (_safe_url(url), db.current_revision(url)))
    return 0


def _safe_url(url):
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_user_add(args):
    metadata, _ = _services(args)
    password = args.password
    if password is PROMPT:
        password = getpass.getpass('Password for %s: ' % args.name)
        if password != getpass.getpass('Again: '):
            raise CommandError('the passwords differ')
    quota = args.quota
    if quota is None:
        quota = _settings(args).default_quota
    user = metadata.create_user(args.name, password=password,
                                quota_limit=quota, email=args.email)
    print('Created user %s (id %d).' % (user['name'], user['id']))
    return 0


def cmd_user_list(args):
    metadata, _ = _services(args)
    rows = [(str(u['id']), u['name'], u.get('email') or '-',
             _quota(u['quota_used'], u['quota_limit']))
            for u in metadata.list_users()]
    _table(('ID', 'NAME', 'EMAIL', 'USED / QUOTA'), rows)
    return 0


def _quota(used, limit):
    return '%d / %s' % (used, limit if limit else 'unlimited')


def cmd_user_del(args):
    metadata, store = _services(args)
    user = metadata.get_user_by_name(args.name)
    tokens = [t.token for t in store.list_access_tokens(user['id'])]
    store.revoke_user_tokens(user['id'])
    removed = metadata.delete_user(user['id'])
    print('Deleted user %s and revoked their tokens.' % args.name)
    _forget_cached(args, tokens=tokens)
    if removed['containers']:
        print('Their workspace containers in the storage account can now '
              'be deleted:\n  %s' % '\n  '.join(removed['containers']))
    return 0


def cmd_consumer_add(args):
    _, store = _services(args)
    consumer = store.create_consumer(args.name, callback=args.callback)
    print('Consumer %s\n  key:      %s\n  secret:   %s\n  callback: %s'
          % (consumer.name, consumer.key, consumer.secret,
             consumer.callback))
    return 0


# How consumer-list shows a consumer registered before callbacks were.
LEGACY_CALLBACK = 'oob+loopback'


def cmd_consumer_list(args):
    _, store = _services(args)
    _table(('KEY', 'NAME', 'CALLBACK', 'CREATED'),
           [(c.key, c.name, c.callback or LEGACY_CALLBACK,
             c.created_at.strftime('%Y-%m-%d %H:%M:%S'))
            for c in store.list_consumers()])
    return 0


def cmd_consumer_del(args):
    _, store = _services(args)
    store.delete_consumer(args.key)
    print('Deleted consumer %s and every token it held.' % args.key)
    # Its tokens may stay cached: without the consumer they check nothing.
    _forget_cached(args, consumers=[args.key])
    return 0


def cmd_token_list(args):
    metadata, store = _services(args)
    user = metadata.get_user_by_name(args.name)
    consumers = {c.key: c.name for c in store.list_consumers()}
    _table(('TOKEN', 'APPLICATION', 'CREATED'),
           [(t.token, consumers.get(t.consumer_key, t.consumer_key),
             t.created_at.strftime('%Y-%m-%d %H:%M:%S'))
            for t in store.list_access_tokens(user['id'])])
    return 0


def cmd_token_revoke(args):
    _, store = _services(args)
    store.revoke_access_token(args.token)
    if _forget_cached(args, tokens=[args.token]):
        print('Revoked; requests signed with it are refused from now on.')
    return 0


def _forget_cached(args, consumers=(), tokens=()):
    """Clear revoked credentials from the proxies' memcache
    (:mod:`stacksync_swift.credcache`); False, after saying so, when no
    proxy config is found."""
    from stacksync_swift import credcache

    if args.config:
        path = args.config
    elif args.state:
        path = aio.AllInOne(args.state).proxy_conf_path()
    elif os.path.exists(DEFAULT_PROXY_CONFIG) or args.database_url:
        path = DEFAULT_PROXY_CONFIG
    else:   # the default all-in-one's database, as database_url() says
        path = aio.AllInOne(aio.default_state_dir()).proxy_conf_path()
    if not os.path.exists(path):
        print('No proxy config at %s: proxies whose cache is memcache may '
              'accept what was revoked for up to %d seconds (give '
              '--config).' % (path, credcache.TTL))
        return False
    memcache = credcache.memcache_of_proxy(path)
    if memcache is None:
        return True     # proxies cache credentials only in memcache
    credcache.forget(memcache, consumers=consumers, tokens=tokens)
    return True


def _table(header, rows):
    widths = [max(len(str(cell)) for cell in column)
              for column in zip(header, *rows)]
    for row in (header,) + tuple(rows):
        print('  '.join(str(cell).ljust(width)
                        for cell, width in zip(row, widths)).rstrip())


def cmd_events(args):
    """Print events as JSON lines until Ctrl-C.

    The code to copy for a consumer of your own is in
    :mod:`stacksync_swift.eventsclient`.
    """
    import dataclasses
    import json

    from stacksync_swift import events

    settings = dataclasses.replace(
        _settings(args), database_url=database_url(args))
    if args.events_url is not None:
        settings = dataclasses.replace(settings, events_url=args.events_url)
    if args.exchange:
        settings = dataclasses.replace(settings,
                                       events_exchange=args.exchange)
    keys = ', '.join(events.eventsclient.routing_keys(
        args.workspace, args.user)) or 'everything'
    for event in events.subscribe(settings, args.workspace, args.user,
                                  ready=lambda: print(
                                      'Listening to %s (Ctrl-C to stop)'
                                      % keys, file=sys.stderr, flush=True)):
        print(json.dumps(event, sort_keys=True), flush=True)
    return 0


def cmd_sharing_reconcile(args):
    from stacksync_swift import sharing

    report = sharing.reconcile_from_proxy_config(
        _proxy_config_path(args), full=not args.pending_only)
    print('Checked %d shared workspaces; repaired %s; failed %s.' % (
        report['checked'],
        ', '.join(map(str, report['repaired'])) or 'none',
        ', '.join(map(str, report['failed'])) or 'none'))
    for workspace_id, copied in sorted(report['copied'].items()):
        print('Finished copying the history of workspace %d (%d chunks).'
              % (workspace_id, copied))
    return 1 if report['failed'] else 0


def _proxy_config_path(args):
    if args.state:
        path = aio.AllInOne(args.state).proxy_conf_path()
    else:
        path = args.config or DEFAULT_PROXY_CONFIG
    if not os.path.exists(path):
        raise CommandError('no such proxy config: %s (give --config or '
                           '--state)' % path)
    return path


def cmd_chunk_index_rebuild(args):
    """Record every pack Swift holds in the chunk index, from the packs'
    own indexes: after a database restored from an older backup, or lost.
    Rows already there are kept, so it is safe on a live cluster."""
    from stacksync_swift import services

    _services, store = services.store_from_proxy_config(
        _proxy_config_path(args))
    containers = args.container or list(store.iter_containers({}))
    totals = {'packs': 0, 'chunks': 0, 'bad': 0}
    for container in containers:
        report = store.rebuild_index({}, container)
        for key in totals:
            totals[key] += report[key]
        if any(report.values()):
            print('%s: %d packs read, %d chunks added, %d bad objects'
                  % (container, report['packs'], report['chunks'],
                     report['bad']))
    print('Checked %d containers: %d packs read, %d chunks added to the '
          'index, %d objects named like packs were not packs.'
          % (len(containers), totals['packs'], totals['chunks'],
             totals['bad']))
    return 1 if totals['bad'] else 0


def cmd_chunk_index_repack(args):
    """Move chunks stored one per object (from before packs, or written
    by raw Swift) into packs; see ChunkStore.repack_objects."""
    import time

    from stacksync_swift import config
    from stacksync_swift import services
    from stacksync_swift.metadata import garbage

    path = _proxy_config_path(args)
    settings = config.load({'__file__': path}, {})
    found, store = services.store_from_proxy_config(path)
    grace = settings.gc_grace if args.grace is None else args.grace
    workspaces = garbage.Garbage(found.engine).workspaces()
    containers = args.container or sorted(workspaces)
    totals = {'chunks': 0, 'objects': 0, 'bytes': 0, 'bad': 0}
    for container in containers:
        if container not in workspaces:
            raise CommandError('%s is not the container of a workspace'
                               % container)
        report = store.repack_objects(
            {}, container, time.time() - grace,
            verify=not workspaces[container]['encrypted'])
        for key in totals:
            totals[key] += report[key]
        if any(report.values()):
            print('%s: %d chunks packed, %d objects (%d bytes) deleted, '
                  '%d damaged objects removed'
                  % (container, report['chunks'], report['objects'],
                     report['bytes'], report['bad']))
    print('Repacked %d containers: %d chunks packed, %d chunk objects '
          '(%d bytes) deleted, %d damaged objects removed.'
          % (len(containers), totals['chunks'], totals['objects'],
             totals['bytes'], totals['bad']))
    return 0


def cmd_gc(args):
    """Reclaim what no version needs: see :mod:`stacksync_swift.gc`."""
    from stacksync_swift import config
    from stacksync_swift import gc
    from stacksync_swift import services

    path = _proxy_config_path(args)
    settings = config.load({'__file__': path}, {})
    found, store = services.store_from_proxy_config(path)
    grace = settings.gc_grace if args.grace is None else args.grace
    keep = settings.keep_versions_days if args.keep_versions_days is None \
        else args.keep_versions_days
    if grace < 0 or keep < 0:
        raise CommandError('--grace and --keep-versions-days cannot be '
                           'negative')
    collector = gc.Collector(store, found.engine, grace, keep)
    report = collector.run(containers=args.container)
    for line in gc.format_report(report):
        print(line)
    return 0


# -- the parser --

def build_parser():
    parser = argparse.ArgumentParser(
        prog='stacksync-swift',
        description='Operate StackSync for OpenStack Swift.')
    parser.add_argument('--database-url', metavar='URL',
                        help='SQLAlchemy URL of the metadata database')
    parser.add_argument('--config', metavar='PATH',
                        help='proxy-server.conf holding the StackSync '
                             'filters (default: %s if present)'
                             % DEFAULT_PROXY_CONFIG)
    parser.add_argument('--state', metavar='DIR',
                        help='an all-in-one state folder (default: %s)'
                             % aio.default_state_dir())
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    run = commands.add_parser(
        'aio', help='run a single-node Swift with the StackSync filters',
        description='Start a real single-node Swift (account, container, '
                    'object and proxy servers) with stacksync_auth and '
                    'stacksync_api in the proxy pipeline, on loopback, '
                    'until Ctrl-C. The state folder is --state.')
    run.add_argument('--state', metavar='DIR', default=argparse.SUPPRESS,
                     help='state folder for configs, rings, data and logs '
                          '(default: %s)' % aio.default_state_dir())
    run.add_argument('--port', type=int, default=8080,
                     help='proxy port (default: %(default)s)')
    run.add_argument('--host', default='127.0.0.1',
                     help='address to bind (default: %(default)s)')
    run.add_argument('--database-url', metavar='URL',
                     default=argparse.SUPPRESS,
                     help='metadata database, e.g. postgresql+psycopg2://'
                          'user:password@host/db (default: SQLite in the '
                          'state folder)')
    run.add_argument('--events-url', metavar='URL',
                     help='event transport, e.g. amqp://user:password@'
                          'host:5672// for RabbitMQ (default: embedded, '
                          'in the metadata database)')
    run.add_argument('--encryption', action='store_true',
                     help="Swift's server-side encryption of object data "
                          '(keymaster + encryption; the root secret is '
                          'made once and kept in aio.json)')
    run.add_argument('--extra-proxies', type=int, default=0, metavar='N',
                     help='run N more proxies with the filters on free '
                          'ports (default: 0)')
    run.add_argument('--memcache-servers', metavar='HOST:PORT[,...]',
                     help="the proxies' cache: Swift's memcache on these "
                          'memcached servers (default: in-process, one '
                          'per proxy)')
    run.add_argument('--keystone-url', metavar='URL',
                     help='Keystone mode: the Keystone v3 URL (instead '
                          'of tempauth)')
    run.add_argument('--keystone-user', metavar='NAME',
                     help="the proxy's Keystone service user")
    run.add_argument('--keystone-password', metavar='PASSWORD',
                     help='its password (default: $STACKSYNC_KEYSTONE_'
                          'PASSWORD)')
    run.add_argument('--keystone-project', default='service',
                     metavar='NAME',
                     help='its project (default: %(default)s)')
    run.set_defaults(func=cmd_aio)

    database = commands.add_parser('db', help='manage the metadata database')
    db_commands = database.add_subparsers(dest='db_command',
                                          metavar='COMMAND')
    db_commands.required = True
    db_commands.add_parser(
        'upgrade', help='create or migrate the schema to the newest '
                        'revision').set_defaults(func=cmd_db_upgrade)

    add = commands.add_parser('user-add', help='create a StackSync user')
    add.add_argument('name')
    add.add_argument('--password', nargs='?', const=PROMPT,
                     help='the password; give the flag alone to be asked')
    add.add_argument('--quota', type=int, default=None, metavar='BYTES',
                     help='storage quota in bytes, 0 for none (default: '
                          'the default_quota option)')
    add.add_argument('--email', help='e-mail address')
    add.set_defaults(func=cmd_user_add)

    commands.add_parser('user-list', help='list users').set_defaults(
        func=cmd_user_list)
    delete = commands.add_parser(
        'user-del', help='delete a user and revoke their tokens')
    delete.add_argument('name')
    delete.set_defaults(func=cmd_user_del)

    consumer = commands.add_parser(
        'consumer-add', help='register an OAuth application; prints its '
                             'key and secret')
    consumer.add_argument('name')
    consumer.add_argument(
        '--callback', metavar='URL|oob', default='oob',
        help='where the application receives its verifier: "oob" (the '
             'default: the authorize page shows it to the user) or its '
             'http(s) URL; request tokens asking for another callback are '
             'refused (the query string may differ)')
    consumer.set_defaults(func=cmd_consumer_add)
    commands.add_parser('consumer-list', help='list OAuth applications'
                        ).set_defaults(func=cmd_consumer_list)
    drop = commands.add_parser(
        'consumer-del', help='delete an OAuth application and its tokens')
    drop.add_argument('key')
    drop.set_defaults(func=cmd_consumer_del)

    tokens = commands.add_parser('token-list',
                                 help="list a user's OAuth access tokens")
    tokens.add_argument('name')
    tokens.set_defaults(func=cmd_token_list)
    revoke = commands.add_parser('token-revoke',
                                 help='revoke an OAuth access token')
    revoke.add_argument('token')
    revoke.set_defaults(func=cmd_token_revoke)

    listen = commands.add_parser(
        'events', help='print change events as JSON lines until Ctrl-C')
    listen.add_argument('--workspace', type=int, action='append',
                        default=[], metavar='ID',
                        help='events of this workspace (repeatable)')
    listen.add_argument('--user', type=int, action='append', default=[],
                        metavar='ID',
                        help='membership events of this user (repeatable)')
    listen.add_argument('--events-url', metavar='URL',
                        help='the broker (amqp://...); default: the '
                             "filters' events_url, else the embedded "
                             'transport on the metadata database')
    listen.add_argument('--exchange', metavar='NAME',
                        help="the topic exchange; default: the filters' "
                             'events_exchange (stacksync)')
    listen.set_defaults(func=cmd_events)

    reconcile = commands.add_parser(
        'sharing-reconcile',
        help="make shared containers' ACLs match their membership",
        description='Rewrite the X-Container-Read/-Write ACLs of shared '
                    'workspace containers that differ from the membership '
                    '(or whose last update did not reach Swift). Runs the '
                    "proxy pipeline from --config (or the all-in-one's).")
    reconcile.add_argument('--pending-only', action='store_true',
                           help='only workspaces whose last ACL update '
                                'failed (no HEAD of every container)')
    reconcile.set_defaults(func=cmd_sharing_reconcile)

    index = commands.add_parser(
        'chunk-index', help='the chunk index of packs')
    index_commands = index.add_subparsers(dest='index_command',
                                          metavar='ACTION')
    index_commands.required = True
    rebuild = index_commands.add_parser(
        'rebuild', help='re-read every pack from Swift into the index',
        description='Read the index each pack object carries at its end '
                    'and record its chunks in the metadata database '
                    '(rows already there are kept). Runs the proxy '
                    "pipeline from --config (or the all-in-one's).")
    rebuild.add_argument('--container', action='append', metavar='NAME',
                         help='only this workspace container (repeat for '
                              'more); default: every container of the '
                              'storage account')
    rebuild.set_defaults(func=cmd_chunk_index_rebuild)
    repack = index_commands.add_parser(
        'repack', help='move chunks stored one per object into packs',
        description='Read every chunk stored as an object of its own '
                    '(before packs, or by raw Swift), check it, store it '
                    'in a pack and delete the object once the index '
                    'locates the chunk. Objects younger than the grace '
                    'period are left for the next run. Raw Swift readers '
                    '(the original StackSync client) then find these '
                    'chunks in packs only.')
    repack.add_argument('--container', action='append', metavar='NAME',
                        help='only this workspace container (repeat for '
                             'more); default: every workspace')
    repack.add_argument('--grace', type=float, metavar='SECONDS',
                        help='leave younger objects alone (default: '
                             'gc_grace from the proxy config)')
    repack.set_defaults(func=cmd_chunk_index_repack)

    collect = commands.add_parser(
        'gc', help='delete chunks, packs, old versions and containers '
                   'nothing needs',
        description='Garbage collection and history retention, from cron '
                    'or a systemd timer (one run at a time): old versions '
                    'past keep_versions_days, chunks no version references '
                    'and uploads never committed (after the grace period), '
                    'dead packs, packs mostly dead (rewritten), containers '
                    "of deleted workspaces. Runs the proxy pipeline from "
                    "--config (or the all-in-one's) and prints what it "
                    'freed.')
    collect.add_argument('--grace', type=float, metavar='SECONDS',
                         help='leave anything younger alone (default: '
                              'gc_grace from the proxy config, 86400)')
    collect.add_argument('--keep-versions-days', type=float, metavar='DAYS',
                         help='delete versions replaced longer ago; 0 keeps '
                              'them all (default: keep_versions_days from '
                              'the proxy config, 0)')
    collect.add_argument('--container', action='append', metavar='NAME',
                         help='only this workspace container (repeat for '
                              'more; containers of deleted workspaces, and '
                              'copies of shared folders into other '
                              'containers, are then left alone)')
    collect.set_defaults(func=cmd_gc)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from stacksync_swift.metadata import errors

    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except errors.MetadataError as err:
        print('ERROR: %s' % err.description, file=sys.stderr)
        return 1
    except (CommandError, OSError, RuntimeError, ValueError) as err:
        print('ERROR: %s' % err, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
