"""
=============
``stacksync``
=============

The sync client's command. The library (:mod:`.api`, :mod:`.codec`,
:mod:`.localfs`, :mod:`.engine`) does the work; this module parses the
command line, prints one line per result, and maps every failure in one
place (:func:`main`) to ``ERROR: <what happened> (<what to do>)`` on
stderr with exit status 1. Ctrl-C stops cleanly with status 130.

Usage::

    stacksync login https://cloud.example.com --consumer-key K \\
        --consumer-secret S            # opens or prints the approval page
    stacksync sync ~/StackSync         # one pass
    stacksync sync ~/StackSync --watch # keep in sync; prints who changed what
    stacksync ls [PATH] [-l] [--deleted]
    stacksync get PATH [LOCAL]
    stacksync put FILE... [--to FOLDER]
    stacksync mkdir PATH
    stacksync history PATH
    stacksync restore PATH VERSION
    stacksync share FOLDER USER... [--role viewer]
    stacksync proposals
    stacksync accept ID                # and: stacksync decline ID
    stacksync workspace create NAME --encrypted [--encrypt-names]
    stacksync status [DIR]

Options every command takes: ``--quiet`` (only errors), ``--no-progress``
(no progress bars; they are off anyway when stderr is not a terminal),
``--dry-run`` where a command changes something (``put``,
``restore``), ``--config DIR`` (default ``$XDG_CONFIG_HOME/stacksync``),
``--workspace ID`` to address a workspace's own root instead of the
private one (an encrypted workspace made with ``workspace create``).

Encrypted workspaces ask for their passphrase once (``$STACKSYNC_PASSPHRASE``,
``--passphrase-file`` or a prompt); the scrypt-derived key is then kept
``0600`` in the config folder, never the passphrase. A wrong passphrase is
refused before anything is sent or received: the workspace's passphrase
verifier (:class:`.codec.Verifier`) does not open. ``--encrypt-names``
(with ``workspace create --encrypted``) also encrypts file and folder
names; the verifier records that choice, so every device and member
follows it, ``sync`` included (:mod:`.names`). A folder shared out of
an encrypted workspace keeps that workspace's key: its members give the
same passphrase, which the sharer tells them out of band (``share``
reminds them). The first client to open such a folder checks its key
against the files in it before it seals the folder's verifier; the
sharer's saved key opens it without asking. Deleting many files in one
sync pass needs ``--allow-mass-delete``.
"""

import argparse
import getpass
import os
import sys
import webbrowser

from stacksync_swift.client import api
from stacksync_swift.client import codec as codecs
from stacksync_swift.client import credentials
from stacksync_swift.client import names

MiB = 1024 * 1024
# A sync pass that would delete more than this many local or remote items
# stops unless --allow-mass-delete is given.
MASS_DELETE = 100


class UsageError(Exception):
    hint = 'see stacksync --help'


class Printer:
    """Where the command's output goes: one line per result."""

    def __init__(self, quiet=False, progress=True, out=None, err=None):
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.progress = progress and not quiet and self.err.isatty()

    def line(self, text):
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def error(self, text):
        print(text, file=self.err, flush=True)

    def bar(self, total, what):
        """A tqdm bytes bar (or a no-op) with ``update(n)`` and ``close``.
        """
        if not self.progress or total < MiB:
            return _NoBar()
        import tqdm
        return tqdm.tqdm(total=total, desc=what, unit='B', unit_scale=True,
                         unit_divisor=1024, file=self.err, leave=False)


class _NoBar:
    def update(self, count):
        pass

    def close(self):
        pass


# -- sessions: connection, workspaces and their codecs --

class Session:
    """What a command needs: the connection and the codec of workspaces.
    """

    def __init__(self, args):
        self.args = args
        self.config = args.config or credentials.config_dir()
        creds = credentials.load_credentials(self.config)
        if creds is None:
            raise api.AuthExpired('not logged in')
        self.conn = api.Connection.from_credentials(
            creds, device=args.device or creds.get('device'))
        self.user = creds.get('user')
        self._codecs = {}

    def close(self):
        self.conn.close()

    def codec(self, workspace_id):
        if workspace_id not in self._codecs:
            self._codecs[workspace_id] = self._make_codec(workspace_id)
        return self._codecs[workspace_id]

    def _make_codec(self, workspace_id):
        """The workspace's codec; an encrypted one only with the right key.

        The keys saved in the config folder are tried first
        (:meth:`_keys_at_hand`); one the workspace refuses is stale and
        the passphrase is asked for instead. The key is derived with the
        workspace's key container as the salt (:func:`.codec.key_container`:
        a folder shared out of an encrypted workspace keeps that one's).
        :class:`~.codec.WrongPassphrase` before any file is sent or
        received when the passphrase does not open the workspace.
        """
        workspace = self.conn.workspace(workspace_id)
        if not workspace.get('encrypted'):
            return codecs.PlainCodec()
        saved = credentials.load_key(workspace_id, self.config)
        for known in self._keys_at_hand(workspace, saved):
            try:
                return self._open(workspace, saved, *known)
            except codecs.WrongPassphrase:
                pass
        master = codecs.derive_master_key(
            self.passphrase(workspace),
            codecs.workspace_salt(codecs.key_container(workspace)))
        try:
            return self._open(workspace, saved, master, bool(
                getattr(self.args, 'encrypt_names', False)))
        except codecs.WrongPassphrase:
            raise codecs.WrongPassphrase(
                'the passphrase of workspace %r (id %d) is wrong: it does '
                'not open the workspace' % (workspace['name'],
                                            workspace['id']))

    def _keys_at_hand(self, workspace, saved):
        """Saved ``(key, encrypt_names)`` that may open ``workspace``.

        Its own first, then those saved for other workspaces keyed with
        the same container: a shared folder's owner holds the key of the
        encrypted workspace it was shared from, and needs no passphrase
        for it. The workspaces are listed only when the first one fails.
        """
        if saved is not None:
            yield saved
        wanted = codecs.key_container(workspace)
        for other in self.conn.workspaces():
            if other['id'] == workspace['id'] or \
                    not other.get('encrypted') or \
                    codecs.key_container(other) != wanted:
                continue
            found = credentials.load_key(other['id'], self.config)
            if found is not None and found != saved:
                yield found

    def _open(self, workspace, saved, master, encrypt_names):
        """The codec of ``master`` once the verifier accepts it.

        ``encrypt_names`` is this client's wish, which only counts when it
        sets the workspace up; after that the verifier's setting rules.
        The key and that setting are saved for the next command.
        """
        settings = self._settings(workspace, master, encrypt_names)
        opened = (master, settings['encrypt_names'])
        if opened != saved:
            credentials.save_key(workspace['id'], *opened,
                                 folder=self.config)
        return codecs.EncryptedCodec(*opened)

    def _settings(self, workspace, master, encrypt_names):
        """The settings sealed in the workspace's verifier.

        Writes the verifier first when the workspace has none (it was just
        created, shared out of an encrypted workspace, or set up by a
        client older than verifiers), once the key has opened the files
        it may already hold (:meth:`_settings_from_data`). Chunks are
        write-once, so a client racing ours may have won: the stored one
        is read back and rules. A viewer cannot write one and goes on
        with the settings found.
        """
        verifier = codecs.Verifier(master, workspace['container'])
        try:
            return verifier.open(self.conn.get_chunk(workspace['id'],
                                                     verifier.name))
        except api.NotFound:
            pass
        encrypt_names = self._settings_from_data(workspace, master,
                                                 encrypt_names)
        try:
            self.conn.put_chunk(workspace['id'], verifier.name,
                                verifier.seal(encrypt_names))
        except api.Forbidden:
            return {'encrypt_names': encrypt_names}
        return verifier.open(self.conn.get_chunk(workspace['id'],
                                                 verifier.name))

    def _settings_from_data(self, workspace, master, encrypt_names):
        """``encrypt_names`` as the workspace's files show it, key checked.

        A workspace that already holds a file must be opened by
        ``master``: one chunk of that file is authenticated with it
        (:class:`~.codec.WrongPassphrase` otherwise), so the first
        client can never seal a verifier for a key that does not match
        the data. Names are encrypted if any stored name opens with the
        key. Only a workspace without a file takes this client's wish.
        """
        sample, names = self._a_stored_file(workspace)
        if sample is None:
            return encrypt_names
        codec = codecs.EncryptedCodec(master)
        chunk = sample['chunks'][0]
        codec.check_key(chunk, self.conn.get_chunk(workspace['id'], chunk))
        return any(codec.opens_name(name) for name in names)

    def _a_stored_file(self, workspace):
        """``(a file with content or None, the names read on the way)``.

        Reads the workspace's changes from the start, a page at a time,
        only until a file turns up.
        """
        cursor, names = 0, []
        while True:
            page = self.conn.changes(workspace['id'], cursor)
            for entry in page['entries']:
                names.append(entry['filename'])
                if not entry['is_folder'] and entry.get('chunks'):
                    return entry, names
            if not page.get('has_more') or page['cursor'] <= cursor:
                return None, names
            cursor = page['cursor']

    def passphrase(self, workspace):
        found = os.environ.get('STACKSYNC_PASSPHRASE')
        path = getattr(self.args, 'passphrase_file', None)
        if path:
            with open(path) as source:
                found = source.read().rstrip('\n')
        if not found and sys.stdin.isatty():
            found = getpass.getpass('Passphrase of encrypted workspace '
                                    '%r: ' % workspace['name'])
        if not found:
            raise UsageError('workspace %d is encrypted and no passphrase '
                             'was given (set STACKSYNC_PASSPHRASE or use '
                             '--passphrase-file)' % workspace['id'])
        return found

    def root(self):
        """``(folder id, workspace id)`` of the root commands address."""
        if self.args.workspace is not None:
            return 0, self.args.workspace
        return 0, self.conn.list_folder(0)['workspace_id']

    def listing(self, folder_id, workspace_id, deleted=False):
        """A folder's contents with names decrypted."""
        found = self.conn.list_folder(
            folder_id, workspace_id if folder_id == 0 else None,
            include_deleted=deleted)
        for child in found['contents']:
            child['name'] = self.clear_name(child)
        return found

    def clear_name(self, item):
        workspace_id = item.get('workspace_id')
        name = item['filename']
        if workspace_id is None:
            return name
        codec = self.codec(workspace_id)
        try:
            return codec.decrypt_name(name)
        except codecs.CorruptChunk:
            return name

    def resolve(self, path, deleted=False):
        """The item at a ``/``-separated remote path (``''``: the root).
        """
        folder_id, workspace_id = self.root()
        item = {'id': 0, 'is_folder': True, 'workspace_id': workspace_id,
                'filename': ''}
        for part in [p for p in path.split('/') if p]:
            if not item['is_folder']:
                raise api.NotFound('%s is not a folder' % item['filename'])
            item = self._child(item, part, deleted)
        return item

    def _child(self, folder, name, deleted):
        listing = self.listing(folder['id'], folder['workspace_id'],
                               deleted)
        for child in listing['contents']:
            if child['name'] == name:
                if child.get('mount_workspace_id'):
                    child['workspace_id'] = child['mount_workspace_id']
                return child
        raise api.NotFound('no %r in %s' % (name,
                                            folder['filename'] or 'the root'))


# -- commands --

def cmd_login(args, printer):
    url = args.url.rstrip('/')
    key = args.consumer_key or os.environ.get('STACKSYNC_CONSUMER_KEY')
    secret = args.consumer_secret or \
        os.environ.get('STACKSYNC_CONSUMER_SECRET')
    if not key or not secret:
        raise UsageError('give the --consumer-key and --consumer-secret your '
                         'operator issued')
    session, authorize_url, token = credentials.request_token(url, key,
                                                              secret)
    verifier = _verifier(args, printer, url, authorize_url, token)
    access = credentials.access_token(url, session, verifier)
    creds = credentials.credentials_from(url, key, secret, access)
    config = args.config or credentials.config_dir()
    with api.Connection.from_credentials(creds) as conn:
        creds['user'] = conn.account()['name']
    if args.device:
        creds['device'] = args.device
    credentials.save_credentials(creds, config)
    printer.line('Logged in to %s as %s; the token is in %s'
                 % (url, creds['user'],
                    os.path.join(config, credentials.CREDENTIALS)))


def _verifier(args, printer, url, authorize_url, token):
    password = os.environ.get('STACKSYNC_PASSWORD')
    if args.username and password:
        return credentials.verifier_with_password(url, token, args.username,
                                                  password)
    printer.error('Approve stacksync at:\n  %s' % authorize_url)
    if not args.no_browser:
        webbrowser.open(authorize_url)
    return input('Verifier shown after approval: ').strip()


def cmd_ls(args, printer, session):
    item = session.resolve(args.path, args.deleted)
    if not item['is_folder']:
        printer.line(_describe(item, args.long, session.clear_name(item)))
        return
    workspace_id = item.get('workspace_id')
    listing = session.listing(item['id'], workspace_id, args.deleted)
    for child in sorted(listing['contents'], key=lambda c: c['name']):
        printer.line(_describe(child, args.long, child['name']))


def _describe(item, long, name):
    suffix = '/' if item['is_folder'] else ''
    if item.get('mount_workspace_id'):
        suffix = '/ (shared)'
    if item['status'] == 'DELETED':
        suffix += ' (deleted)'
    if not long:
        return name + suffix
    return '%10s  v%-4d %s  %s%s' % (
        '-' if item['is_folder'] else _size(item.get('size') or 0),
        item['version'], (item.get('modified_at') or '')[:19], name,
        suffix)


def _size(count):
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if count < 1024 or unit == 'GiB':
            return ('%d %s' if unit == 'B' else '%.1f %s') % (count, unit)
        count /= 1024.0


def cmd_get(args, printer, session):
    item = session.resolve(args.path)
    if item['is_folder']:
        raise UsageError('%s is a folder; use stacksync sync to copy '
                         'folders' % args.path)
    name = session.clear_name(item)
    target = args.local or name
    if os.path.isdir(target):
        target = os.path.join(target, name)
    workspace_id = item['workspace_id']
    bar = printer.bar(item['size'], name)
    temp = target + '.stacksync-part'
    try:
        with open(temp, 'wb') as out:
            for data in session.conn.download(
                    workspace_id, session.codec(workspace_id), item,
                    bar.update):
                out.write(data)
        os.replace(temp, target)
    finally:
        bar.close()
        if os.path.exists(temp):
            os.unlink(temp)
    printer.line('%s -> %s (%s)' % (args.path, target, _size(item['size'])))


def cmd_put(args, printer, session):
    folder = session.resolve(args.to)
    if not folder['is_folder']:
        raise UsageError('%s is not a folder' % args.to)
    workspace_id = folder.get('mount_workspace_id') or \
        folder['workspace_id']
    parent_id = 0 if folder.get('mount_workspace_id') else folder['id']
    existing = {child['name']: child for child in session.listing(
        folder['id'], folder['workspace_id'])['contents']}
    files = [_put_entry(path, existing) for path in args.files]
    if args.dry_run:
        for _path, name, old in files:
            printer.line('would %s %s' % ('update' if old else 'upload',
                                          name))
        return
    total = sum(os.path.getsize(path) for path, _n, _e in files)
    bar = printer.bar(total, 'upload')
    failed = False
    try:
        for name, result in session.conn.upload_many(
                workspace_id, session.codec(workspace_id), files,
                parent_id, bar.update):
            failed = _report_put(printer, name, result) or failed
    finally:
        bar.close()
    printer.line('sent %s' % _size(session.conn.stats.bytes_sent))
    return 1 if failed else 0


def _put_entry(path, existing):
    if not os.path.isfile(path):
        raise UsageError('%s is not a file' % path)
    name = os.path.basename(path)
    old = existing.get(name)
    if old is not None and old['is_folder']:
        raise api.Conflict('%s is a folder on the server' % name, 409)
    if old is not None and old['status'] == 'DELETED':
        old = None
    return path, name, old


def _report_put(printer, name, result):
    if isinstance(result, api.ClientError):
        printer.error('ERROR: %s: %s (%s)' % (name, result, result.hint))
        return True
    printer.line('%s: version %d' % (name, result['version']))
    return False


def cmd_mkdir(args, printer, session):
    parent_path, _, name = args.path.rstrip('/').rpartition('/')
    parent = session.resolve(parent_path)
    if parent['id'] == 0 and args.workspace is not None:
        created = _commit_folder(session, args.workspace, name)
    else:
        created = session.conn.create_folder(name, parent['id'])
    printer.line('created %s (id %d)' % (args.path, created['id']))


def _commit_folder(session, workspace_id, name):
    stored = session.codec(workspace_id).encrypt_name(name)
    item = {'id': None, 'client_id': stored, 'base_version': None,
            'parent_id': 0, 'is_folder': True, 'filename': stored}
    result = session.conn.commit(workspace_id, [item])['results'][0]
    return api.committed_item(result, name)


def cmd_history(args, printer, session):
    item = session.resolve(args.path, deleted=True)
    if item['is_folder']:
        raise UsageError('%s is a folder; history is kept per file'
                         % args.path)
    for version in session.conn.versions(item['id']):
        printer.line('v%-4d %-8s %10s  %s  %s' % (
            version['version'], version['status'],
            _size(version.get('size') or 0),
            (version.get('modified_at') or '')[:19],
            session.clear_name(version)))


def cmd_restore(args, printer, session):
    item = session.resolve(args.path, deleted=True)
    if args.dry_run:
        printer.line('would restore %s to version %d'
                     % (args.path, args.version))
        return
    restored = session.conn.restore(item['id'], args.version)
    printer.line('%s: version %d restored as version %d'
                 % (args.path, args.version, restored['version']))


def cmd_share(args, printer, session):
    folder = session.resolve(args.path)
    if not folder['is_folder']:
        raise UsageError('only folders are shared')
    proposals = session.conn.share(folder['id'], args.users,
                                   args.role)['proposals']
    for proposal in proposals:
        printer.line('proposed %s to %s as %s (proposal %d)' % (
            args.path, proposal['addressee'], args.role, proposal['id']))
    if session.conn.workspace(folder['workspace_id']).get('encrypted'):
        _set_up_shared_key(session, folder)
        printer.line('%s is encrypted: tell %s its passphrase yourself '
                     '(the server never sees it)'
                     % (args.path, ', '.join(args.users)))


def _set_up_shared_key(session, folder):
    """Seal the verifier of an encrypted folder's shared workspace now.

    The shared workspace exists once a proposal of the folder was
    accepted (``mount_workspace_id``); the sharer's key, saved for the
    workspace the folder came from, opens it, and the verifier it writes
    lets every member's client check its passphrase at once. Before the
    first accept there is nothing to write: the first client to open the
    workspace checks its key against the copied chunks instead.
    """
    shared_id = folder.get('mount_workspace_id')
    if shared_id is not None:
        session.codec(shared_id)


def cmd_proposals(args, printer, session):
    for proposal in session.conn.proposals():
        printer.line('%d  %s shares %r as %s' % (
            proposal['id'], proposal['sender'], proposal['folder_name'],
            proposal['role']))


def cmd_accept(args, printer, session):
    result = session.conn.accept(args.proposal)
    printer.line('joined %r: it is the folder %s in your root'
                 % (result['workspace']['name'],
                    result['mount']['filename']))


def cmd_decline(args, printer, session):
    session.conn.decline(args.proposal)
    printer.line('declined proposal %d' % args.proposal)


def cmd_workspace(args, printer, session):
    created = session.conn.create_workspace(args.name, args.encrypted)
    if args.encrypted:
        session.codec(created['id'])
    printer.line('created %sworkspace %r (id %d); sync it with: stacksync '
                 'sync DIR --workspace %d'
                 % ('encrypted ' if args.encrypted else '', args.name,
                    created['id'], created['id']))


def cmd_status(args, printer, session):
    account = session.conn.account()
    used, limit = account.get('quota_used', 0), account.get('quota_limit')
    quota = '%s used' % _size(used)
    if limit:
        quota = '%s of %s used' % (_size(used), _size(limit))
    line = '%s at %s: %s, %d workspaces' % (
        account['name'], session.conn.url, quota,
        len(account.get('workspaces', [])))
    if args.dir:
        line += '; %s' % _folder_status(args.dir)
    printer.line(line)


def _folder_status(folder):
    state = os.path.join(folder, '.stacksync')
    if not os.path.isdir(state):
        return '%s was never synced' % folder
    return '%s is a sync folder' % folder


def cmd_sync(args, printer, session):
    try:
        from stacksync_swift.client import engine
        from stacksync_swift.client import state
    except ImportError:
        raise UsageError('the sync engine is not part of this build yet; '
                         'use get and put')
    from stacksync_swift.client import localfs
    from stacksync_swift.client import mounts
    os.makedirs(args.dir, exist_ok=True)
    fs = localfs.LocalFileSystem(args.dir)
    db = state.State.open(os.path.join(fs.control, 'state.sqlite'))
    options = engine.SyncOptions(workspace_id=args.workspace,
                                 allow_mass_delete=args.allow_mass_delete)
    # Names are sealed for the server and opened for the engine in the
    # workspaces that encrypt them; the others pass through.
    remote = names.NameCipher(session.conn, session.codec)
    # A workspace syncs with the shared folders mounted in it (see
    # mounts.py), unless --no-mounts.
    parts = (fs, remote, lambda space: session.codec(space['id']), db,
             localfs.SystemClock(), session.conn.device, options)
    if not args.no_mounts:
        syncer = mounts.MountedSync(*parts, notify=printer.line)
    else:
        syncer = engine.SyncEngine(*parts)
    try:
        if args.watch:
            return _watch(syncer, fs, session, printer, args)
        return _report_pass(printer, syncer.sync_once(), args.dir,
                            session.conn.stats, People(session.conn))
    except engine.SyncStopped as error:
        raise UsageError(str(error))
    finally:
        db.close()


# What a finished operation means to the person, by the engine's kind.
# The first five bring someone's server change here and name them
# (``who``, see :class:`People`); the others send our own changes.
NOTICES = {'download': '%(who)s changed %(path)s',
           'local_mkdir': '%(who)s created folder %(path)s',
           'local_move': '%(who)s %(moved)s %(path)s to %(dest)s',
           'local_delete': '%(who)s deleted %(path)s (kept in '
                           '.stacksync/trash)',
           'conflict_copy': '%(who)s changed %(path)s while you did too: '
                            'your copy was kept as a conflicted copy, '
                            '%(dest)s',
           'upload': '%(path)s uploaded', 'remote_mkdir': '%(path)s/ created',
           'remote_move': '%(path)s %(moved)s to %(dest)s',
           'remote_delete': '%(path)s deleted'}


class People:
    """Who the user and device ids of the server's metadata are, in words.

    ``bob`` for another member of the workspace, ``you (on laptop)`` for
    the caller's own device. The caller comes from ``/v1/account`` and
    their devices from ``/v1/devices``; other people from the members of
    the shared folders mounted in the root (``/v1/folder/{id}/members``).
    Each list is asked once per command and again only when an id it
    lacks shows up (someone joined, a new device); a failed lookup
    leaves the id unnamed instead of failing the sync.
    """

    def __init__(self, conn):
        self.conn = conn
        self._me = None
        self._devices = {}
        self._names = {}
        self._asked = set()

    def who(self, user_id, device_id, workspace_id):
        """``bob``, ``you (on laptop)``, ``you`` or ``someone``."""
        if user_id is None:
            return 'someone'
        try:
            if user_id != self._my_id():
                return self._name(user_id, workspace_id)
            if device_id is None:
                return 'you'
            return 'you (on %s)' % self._device(device_id)
        except api.ClientError:
            return 'someone'

    def _my_id(self):
        if self._me is None:
            self._me = self.conn.account()
        return self._me['id']

    def _device(self, device_id):
        if self._worth_asking(self._devices, 'devices', device_id):
            self._devices = {device['id']: device['name']
                             for device in self.conn.devices()}
            self._asked.add(('devices', device_id))
        return self._devices.get(device_id, 'another device')

    def _name(self, user_id, workspace_id):
        # A user's name is the same in every workspace: the members of
        # all the shared folders in the root are asked at once.
        if self._worth_asking(self._names, 'members', user_id):
            self._names.update(self._members())
            self._asked.add(('members', user_id))
        return self._names.get(user_id, 'user %d' % user_id)

    def _worth_asking(self, known, where, key):
        """True unless ``key`` is known or ``where`` was asked for it.

        A list that came back without the id is not asked again for it;
        one that failed is (the failure did not record the question).
        """
        return key not in known and (where, key) not in self._asked

    def _members(self):
        """``{user id: name}`` of the shared folders mounted in the root.
        """
        names = {}
        for child in self.conn.list_folder(0)['contents']:
            if child.get('mount_workspace_id'):
                names.update((member['user_id'], member['name'])
                              for member in self.conn.members(child['id']))
        return names


def notice(item, who):
    """The line for one :class:`~.engine.ItemResult`, or None.

    ``who(user_id, device_id)`` names the author of a remote change.
    """
    template = NOTICES.get(item.kind)
    if template is None or item.outcome == 'skipped':
        return None
    dest = item.dest or ''
    same_folder = os.path.dirname(dest) == os.path.dirname(item.path)
    line = template % {
        'path': item.path, 'who': who(item.user, item.device),
        'moved': 'renamed' if same_folder else 'moved',
        'dest': os.path.basename(dest) if same_folder and
        item.kind != 'conflict_copy' else dest}
    if item.outcome != 'done':
        line += ' [%s%s]' % (item.outcome, item.detail and
                             ': ' + item.detail)
    return line


def _report_pass(printer, summary, folder, stats, people, idle_line=True):
    """Print a line per change of a pass and its status line.

    The exit status: 0 when the pass converged. ``idle_line=False``
    leaves out the status line of a pass that changed nothing (watch mode
    wakes up for our own commits and every ``interval``).
    """
    def who(user_id, device_id):
        return people.who(user_id, device_id, summary.workspace_id)

    for item in summary.items:
        line = notice(item, who)
        if line is not None:
            printer.line(line)
    if summary.error:
        raise api.Offline('sync of %s stopped: %s' % (folder,
                                                       summary.error))
    done = summary.count('done')
    if done or idle_line or not summary.converged:
        printer.line('%s: %s; %d changes, %s sent, %s received' % (
            folder,
            'up to date' if summary.converged else 'not converged yet',
            done, _size(stats.bytes_sent), _size(stats.bytes_received)))
    return 0 if summary.converged else 1


# Seconds before watch mode tries again after a pass that failed or did
# not converge (the server unreachable, a file changing as it was read).
RETRY_AFTER = 5.0


def _watch(syncer, fs, session, printer, args, interval=60.0):
    """Sync on local changes (watchdog) and remote ones (long poll).

    Prints who changed what as the changes arrive, and says once the
    first pass is done that it is watching. Runs until Ctrl-C
    (:func:`main` turns it into exit status 130).
    """
    import threading

    from stacksync_swift.client import localfs
    stop = threading.Event()
    people = People(session.conn)
    positions = {}
    with localfs.Watcher(fs.root) as watcher:
        try:
            synced = _watch_pass(syncer, session, printer, args.dir, people,
                                 idle_line=True)
            positions.update(synced_cursors(syncer))
            # A remote change wakes the watcher at once, without the
            # settle time local bursts get.
            threading.Thread(target=_long_poll, daemon=True,
                             args=(syncer, session, watcher.poke, stop,
                                   positions)).start()
            printer.line('%s: watching for changes (Ctrl-C stops)'
                         % args.dir)
            while True:
                watcher.wait(interval if synced else RETRY_AFTER)
                synced = _watch_pass(syncer, session, printer, args.dir,
                                     people)
                positions.update(synced_cursors(syncer))
        finally:
            stop.set()


def _watch_pass(syncer, session, printer, folder, people, idle_line=False):
    """One pass of watch mode; False unless it left everything in sync.

    A failed pass is a warning: the next one retries.
    """
    try:
        return _report_pass(printer, syncer.sync_once(), folder,
                            session.conn.stats, people, idle_line) == 0
    except api.ClientError as error:
        printer.error('WARNING: %s (retrying)' % error)
        return False


def _long_poll(syncer, session, wake, stop, positions):
    """Call ``wake()`` whenever a synced workspace's cursor moves on.

    Runs in a daemon thread until ``stop``, with one waiting thread per
    workspace: the private one and each shared folder mounted in it (the
    set is looked at again every few seconds, as shares come and go). It
    only hurries the next pass, so a failed wait is retried after a
    pause: watch mode still syncs every ``interval`` without it.
    """
    import threading
    waiting = {}
    while not stop.is_set():
        for workspace_id in _watched_workspaces(syncer):
            if workspace_id not in waiting or \
                    not waiting[workspace_id].is_alive():
                waiting[workspace_id] = threading.Thread(
                    target=_wait_for_changes, daemon=True,
                    args=(workspace_id, syncer, session, wake, stop,
                          positions))
                waiting[workspace_id].start()
        stop.wait(RETRY_AFTER)


def _watched_workspaces(syncer):
    """The ids of the workspaces a pass syncs (none before the first)."""
    if syncer.workspace is None:        # the first pass failed early
        return set()
    return {syncer.workspace['id']} | set(getattr(syncer, 'engines', ()))


def synced_cursors(syncer):
    """``{workspace id: cursor}`` where the last pass left each watched
    workspace (read in the main thread: the state database is its own).
    """
    return {workspace_id: syncer.state.cursor(workspace_id)
            for workspace_id in _watched_workspaces(syncer)}


def _wait_for_changes(workspace_id, syncer, session, wake, stop, positions):
    """Long-poll one workspace from where its sync left off.

    It starts at ``positions`` (:func:`synced_cursors` after the last
    pass; 0, so it wakes at once, for a workspace not synced yet), never
    at the server's cursor: a change landing between a pass and the start
    of the wait would then go unseen until the periodic pass.
    """
    import requests
    cursor = None
    while not stop.is_set() and \
            workspace_id in _watched_workspaces(syncer):
        try:
            if cursor is None:
                cursor = positions.get(workspace_id, 0)
            answer = session.conn.wait(workspace_id, cursor, 25)
        except (api.ClientError, requests.RequestException):
            stop.wait(RETRY_AFTER)
            continue
        if answer['cursor'] > cursor:
            cursor = answer['cursor']
            wake()


# -- the parser --

ENCRYPT_NAMES_HELP = ('encrypt file names too, when this command sets up '
                      'an encrypted workspace (later commands follow the '
                      'workspace\'s setting)')

def build_parser():
    parser = argparse.ArgumentParser(
        prog='stacksync',
        description='Sync a folder with a StackSync cloud in OpenStack '
        'Swift.')
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--quiet', '-q', action='store_true',
                        help='print errors only')
    common.add_argument('--no-progress', action='store_true',
                        help='no progress bars')
    common.add_argument('--config', metavar='DIR',
                        help='config folder (default: '
                        '$XDG_CONFIG_HOME/stacksync)')
    common.add_argument('--device', help='the name this computer commits '
                        'under (default: the host name)')
    common.add_argument('--workspace', type=int, metavar='ID',
                        help='address this workspace\'s root')
    common.add_argument('--passphrase-file', metavar='FILE',
                        help='passphrase of an encrypted workspace')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True

    def add(name, func, text):
        command = sub.add_parser(name, parents=[common], help=text,
                                 description=text)
        command.set_defaults(func=func)
        return command

    login = add('login', cmd_login, 'log in and keep the token (0600)')
    login.add_argument('url')
    login.add_argument('--consumer-key')
    login.add_argument('--consumer-secret')
    login.add_argument('--username', help='approve with this user and '
                       '$STACKSYNC_PASSWORD instead of a browser')
    login.add_argument('--no-browser', action='store_true')
    sync = add('sync', cmd_sync, 'sync a folder (one pass, or --watch)')
    sync.add_argument('dir')
    sync.add_argument('--watch', action='store_true',
                      help='keep syncing; print what others change')
    sync.add_argument('--allow-mass-delete', action='store_true',
                      help='allow a pass to delete more than %d items'
                      % MASS_DELETE)
    sync.add_argument('--no-mounts', action='store_true',
                      help='leave out the shared folders mounted in it')
    sync.add_argument('--encrypt-names', action='store_true',
                      help=ENCRYPT_NAMES_HELP)
    ls = add('ls', cmd_ls, 'list a folder')
    ls.add_argument('path', nargs='?', default='')
    ls.add_argument('--long', '-l', action='store_true')
    ls.add_argument('--deleted', action='store_true')
    get = add('get', cmd_get, 'download a file')
    get.add_argument('path')
    get.add_argument('local', nargs='?')
    put = add('put', cmd_put, 'upload files (one commit)')
    put.add_argument('files', nargs='+')
    put.add_argument('--to', default='', metavar='FOLDER')
    put.add_argument('--dry-run', action='store_true')
    put.add_argument('--encrypt-names', action='store_true',
                     help=ENCRYPT_NAMES_HELP)
    mkdir = add('mkdir', cmd_mkdir, 'create a folder')
    mkdir.add_argument('path')
    history = add('history', cmd_history, 'the versions of a file')
    history.add_argument('path')
    restore = add('restore', cmd_restore, 'make an old version the newest')
    restore.add_argument('path')
    restore.add_argument('version', type=int)
    restore.add_argument('--dry-run', action='store_true')
    share = add('share', cmd_share, 'propose a folder to other users')
    share.add_argument('path')
    share.add_argument('users', nargs='+')
    share.add_argument('--role', choices=('editor', 'viewer'),
                       default='editor')
    add('proposals', cmd_proposals, 'folders proposed to you')
    for name, func in (('accept', cmd_accept), ('decline', cmd_decline)):
        answer = add(name, func, '%s a proposal' % name)
        answer.add_argument('proposal', type=int)
    workspace = add('workspace', cmd_workspace, 'create a workspace')
    workspace.add_argument('action', choices=('create',))
    workspace.add_argument('name')
    workspace.add_argument('--encrypted', action='store_true',
                           help='client-side encryption (passphrase)')
    workspace.add_argument('--encrypt-names', action='store_true',
                           help=ENCRYPT_NAMES_HELP)
    status = add('status', cmd_status, 'account and folder status')
    status.add_argument('dir', nargs='?')
    return parser


ERRORS = (api.ClientError, credentials.LoginFailed, UsageError,
          codecs.CorruptChunk, codecs.WrongPassphrase)


def main(argv=None, out=None, err=None):
    args = build_parser().parse_args(argv)
    printer = Printer(args.quiet, not args.no_progress, out, err)
    try:
        return _run(args, printer) or 0
    except ERRORS as error:
        printer.error('ERROR: %s (%s)' % (error, error.hint))
        return 1
    except OSError as error:
        printer.error('ERROR: %s (check the path and its permissions)'
                      % error)
        return 1
    except KeyboardInterrupt:
        printer.error('interrupted; nothing half-written was kept')
        return 130


def _run(args, printer):
    if args.func is cmd_login:
        return cmd_login(args, printer)
    session = Session(args)
    try:
        return args.func(args, printer, session)
    finally:
        session.close()


if __name__ == '__main__':
    sys.exit(main())
