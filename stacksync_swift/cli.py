"""``stacksync-swift``: the operator's command.

Subcommands::

    stacksync-swift aio [--state DIR] [--port N]   run the all-in-one
"""

import argparse
import signal
import sys

from stacksync_swift import aio


def _run_aio(args):
    cluster = aio.AllInOne(args.state, port=args.port, host=args.host)
    print('Starting Swift and StackSync in %s ...' % cluster.state_dir,
          flush=True)
    cluster.start()
    # SIGTERM stops cleanly too (service managers, CI).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(AIO_BANNER.format(c=cluster), flush=True)
    try:
        while all(p.poll() is None for p in cluster.processes.values()):
            signal.pause() if hasattr(signal, 'pause') else None
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

Try it with python-swiftclient:

  swift -A {c.auth_url} -U {c.admin_user} -K {c.admin_key} stat

Press Ctrl-C to stop."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog='stacksync-swift',
        description='Operate StackSync for OpenStack Swift.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    run = commands.add_parser(
        'aio', help='run a single-node Swift with the StackSync filters',
        description='Start a real single-node Swift (account, container, '
                    'object and proxy servers) with stacksync_auth and '
                    'stacksync_api in the proxy pipeline, on loopback, '
                    'until Ctrl-C.')
    run.add_argument('--state', default=aio.default_state_dir(),
                     help='state folder for configs, rings, data and logs '
                          '(default: %(default)s)')
    run.add_argument('--port', type=int, default=8080,
                     help='proxy port (default: %(default)s)')
    run.add_argument('--host', default='127.0.0.1',
                     help='address to bind (default: %(default)s)')
    run.set_defaults(func=_run_aio)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except (OSError, RuntimeError, ValueError) as err:
        print('ERROR: %s' % err, file=sys.stderr)
        return 1


if __name__ == '__main__':
    sys.exit(main())
