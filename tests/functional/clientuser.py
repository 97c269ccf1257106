"""Users of the real ``stacksync`` command, for the client's functional tests.

A :class:`User` is a StackSync user (an :class:`.apiclient.APIClient`)
whose login is saved the way ``stacksync login`` saves it; its commands run
in-process through :func:`stacksync_swift.client.cli.main`. ``alice`` and
``bob`` are fixtures of such users, which a test module takes by assignment
(``alice = clientuser.alice``, as with :mod:`.apiclient`'s); a module whose
devices need config folders of their own overrides the
``config_per_device`` fixture (conftest.py) to return True.
"""

import io
import os

import pytest

from stacksync_swift.client import cli
from stacksync_swift.client import credentials
from tests.functional.apiclient import APIClient

PASSPHRASE = 'correct horse battery staple'


class User:
    """A user with a saved login.

    By default all the user's devices share one config folder,
    ``config``. With ``config_per_device`` each device has its own (saved
    on its first command, ``config`` is None), so a key one device saves
    is not on the others.
    """

    def __init__(self, cluster, stores, tmp_path, name,
                 config_per_device=False):
        self.api = APIClient(cluster, stores, name)
        self.name = self.api.user['name']
        self.tmp_path = tmp_path
        key, consumer_secret, token, secret = self.api.auth
        self.creds = {'url': cluster.url, 'consumer_key': key,
                      'consumer_secret': consumer_secret, 'token': token,
                      'token_secret': secret, 'user': self.name}
        self.config = None
        if not config_per_device:
            self.config = str(tmp_path / ('config-' + name))
            credentials.save_credentials(self.creds, self.config)

    def config_of(self, device):
        """The config folder ``device`` runs with."""
        if self.config:
            return self.config
        folder = str(self.tmp_path / ('config-%s-%s' % (self.name, device)))
        if not os.path.exists(folder):
            credentials.save_credentials(self.creds, folder)
        return folder

    def call(self, *argv, device='laptop'):
        """``(status, out, err)`` of one command on one device."""
        out, err = io.StringIO(), io.StringIO()
        status = cli.main(list(argv[:1]) + ['--config', self.config_of(device),
                                            '--device', device]
                          + list(argv[1:]), out, err)
        return status, out.getvalue(), err.getvalue()

    def run(self, *argv, device='laptop'):
        """A command that must succeed; its output."""
        status, out, err = self.call(*argv, device=device)
        assert status == 0, err
        return out

    def sync(self, folder, *extra, device=None):
        """``stacksync sync FOLDER``; the device is the folder's name
        unless given."""
        return self.run('sync', str(folder), *extra,
                        device=device or os.path.basename(str(folder)))

    def names(self, folder_id=0):
        """The names of the live items in one of the user's folders."""
        resp = self.api.get('/v1/folder/%d/contents' % folder_id)
        assert resp.status_code == 200, resp.text
        return {child['filename'] for child in resp.json()['contents']
                if child['status'] != 'DELETED'}


@pytest.fixture
def alice(cluster, stores, tmp_path, config_per_device):
    return User(cluster, stores, tmp_path, 'alice-%s' % tmp_path.name[-8:],
                config_per_device)


@pytest.fixture
def bob(cluster, stores, tmp_path, config_per_device):
    return User(cluster, stores, tmp_path, 'bob-%s' % tmp_path.name[-8:],
                config_per_device)


@pytest.fixture
def passphrase(monkeypatch):
    """``STACKSYNC_PASSPHRASE`` is :data:`PASSPHRASE`."""
    monkeypatch.setenv('STACKSYNC_PASSPHRASE', PASSPHRASE)


def tree(folder):
    """``{relative path: content}`` of a sync folder, without its
    ``.stacksync`` state."""
    found = {}
    for path, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != '.stacksync']
        for name in files:
            full = os.path.join(path, name)
            found[os.path.relpath(full, folder)] = open(full, 'rb').read()
    return found


def write(path, data):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(str(path), 'wb') as out:
        out.write(data)
