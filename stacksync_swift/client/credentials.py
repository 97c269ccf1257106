"""
==========================
Logging in and saved keys
==========================

``stacksync login URL`` runs the OAuth 1.0a dance (RFC 5849) of the
``stacksync_auth`` filter with requests-oauthlib: a request token, the
person's approval on the authorize page (opened in a browser or printed;
the page shows a verifier to paste back, the ``oob`` callback), then the
access token. The operator gives each client program a consumer key and
secret (``stacksync-swift consumer-create``).

What is kept, in ``$XDG_CONFIG_HOME/stacksync/`` (``~/.config/stacksync``),
the folder ``0700`` and every file ``0600``, written atomically:

``credentials.json``
    ``url``, ``consumer_key``, ``consumer_secret``, ``token``,
    ``token_secret``, ``user``.
``keys.json``
    the scrypt-derived master keys of encrypted workspaces, by workspace
    id (the passphrase itself is never stored), and whether file names are
    encrypted there.
"""

import base64
import json
import os
import re
import tempfile

import requests
from requests_oauthlib import OAuth1Session

CREDENTIALS = 'credentials.json'
KEYS = 'keys.json'
VERIFIER_RE = re.compile(r'<code>([^<]+)</code>')


class LoginFailed(Exception):
    """The OAuth dance did not end with an access token."""

    hint = 'check the URL, the consumer key and secret, and your password'


def config_dir():
    """``$XDG_CONFIG_HOME/stacksync`` (default ``~/.config/stacksync``)."""
    base = os.environ.get('XDG_CONFIG_HOME') or \
        os.path.join(os.path.expanduser('~'), '.config')
    return os.path.join(base, 'stacksync')


def write_private(path, value):
    """Write JSON to ``path`` with mode 0600, atomically."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix='.tmp-')
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'w') as out:
            json.dump(value, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def read_json(path, default=None):
    try:
        with open(path) as source:
            return json.load(source)
    except FileNotFoundError:
        return default


def load_credentials(folder=None):
    """The saved credentials, or None before the first login."""
    return read_json(os.path.join(folder or config_dir(), CREDENTIALS))


def save_credentials(creds, folder=None):
    write_private(os.path.join(folder or config_dir(), CREDENTIALS), creds)


def load_key(workspace_id, folder=None):
    """``(master key, encrypt_names)`` of a workspace, or None."""
    keys = read_json(os.path.join(folder or config_dir(), KEYS), {})
    found = keys.get(str(workspace_id))
    if found is None:
        return None
    return base64.b64decode(found['key']), found.get('encrypt_names', False)


def save_key(workspace_id, master_key, encrypt_names=False, folder=None):
    path = os.path.join(folder or config_dir(), KEYS)
    keys = read_json(path, {})
    keys[str(workspace_id)] = {
        'key': base64.b64encode(master_key).decode('ascii'),
        'encrypt_names': encrypt_names}
    write_private(path, keys)


# -- the OAuth dance --

def request_token(url, consumer_key, consumer_secret):
    """Leg one: ``(session, authorize URL)`` for the person to visit."""
    session = OAuth1Session(consumer_key, client_secret=consumer_secret,
                            callback_uri='oob')
    try:
        token = session.fetch_request_token(url + '/oauth/request_token',
                                            timeout=30)
    except (ValueError, requests.RequestException) as error:
        raise LoginFailed('no request token from %s: %s' % (url, error))
    return session, session.authorization_url(url + '/oauth/authorize'), \
        token


def verifier_with_password(url, token, username, password):
    """Approve the request token on the authorize page, as a form would.
    """
    resp = requests.post(url + '/oauth/authorize', allow_redirects=False,
                         timeout=30,
                         data={'oauth_token': token['oauth_token'],
                               'username': username, 'password': password})
    found = VERIFIER_RE.search(resp.text) if resp.status_code == 200 \
        else None
    if found is None:
        raise LoginFailed('the server did not approve %s (HTTP %d)'
                          % (username, resp.status_code))
    return found.group(1).strip()


def access_token(url, session, verifier):
    """Leg three: the access token dict."""
    session._client.client.verifier = verifier
    try:
        return session.fetch_access_token(url + '/oauth/access_token',
                                          timeout=30)
    except (ValueError, requests.RequestException) as error:
        raise LoginFailed('no access token: %s' % error)


def credentials_from(url, consumer_key, consumer_secret, access):
    return {'url': url, 'consumer_key': consumer_key,
            'consumer_secret': consumer_secret,
            'token': access['oauth_token'],
            'token_secret': access['oauth_token_secret']}
