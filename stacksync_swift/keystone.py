"""Keystone mode: who a Keystone identity is, and checking its password.

With ``auth_mode = keystone`` the proxy runs keystonemiddleware
``auth_token`` before ``stacksync_auth``. ``auth_token`` validates the
``X-Auth-Token`` and, having first removed any identity headers the client
sent, puts the confirmed identity in the request (``X-Identity-Status:
Confirmed``, ``X-User-Id``, ``X-User-Name``). :func:`identity` reads it;
the filter maps it to a StackSync user, created on first use.

The OAuth authorize page checks a Keystone user name and password with
:func:`check_password` (keystoneauth1, an unscoped v3 password
authentication against ``keystone_auth_url``, in ``keystone_user_domain``).

The identity headers carry no e-mail address (API v2 shares by e-mail);
:func:`user_email` reads it with the user's own token (``GET
/v3/users/{id}``, which Keystone's default policy lets a user do for
themselves).
"""

from urllib.parse import quote

from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import v3

TIMEOUT = 10


class KeystoneUnavailable(Exception):
    """Keystone could not be asked."""


def identity(env):
    """``(keystone user id, user name)`` of a confirmed token, or None."""
    if env.get('HTTP_X_IDENTITY_STATUS') != 'Confirmed':
        return None
    user_id = env.get('HTTP_X_USER_ID')
    if not user_id:
        return None
    return user_id, env.get('HTTP_X_USER_NAME') or user_id


def check_password(settings, name, password):
    """``(user id, user name, token)`` if Keystone accepts, else None."""
    if not name or not password:
        return None
    auth = v3.Password(auth_url=settings.keystone_auth_url, username=name,
                       password=password,
                       user_domain_name=settings.keystone_user_domain,
                       unscoped=True)
    try:
        access = auth.get_access(ks_session.Session(auth=auth,
                                                    timeout=TIMEOUT))
    except ks_exceptions.Unauthorized:
        return None
    except ks_exceptions.ClientException as err:
        raise KeystoneUnavailable(str(err))
    return access.user_id, access.username, access.auth_token


def user_email(settings, user_id, token):
    """The e-mail of Keystone user ``user_id``, read with ``token``.

    None when the user has none or may not read it; raises
    :class:`KeystoneUnavailable` when Keystone cannot be asked.
    """
    url = '%s/users/%s' % (settings.keystone_auth_url.rstrip('/'),
                           quote(user_id, safe=''))
    session = ks_session.Session(
        auth=token_endpoint.Token(settings.keystone_auth_url, token),
        timeout=TIMEOUT)
    try:
        resp = session.get(url, raise_exc=False)
    except ks_exceptions.ClientException as err:
        raise KeystoneUnavailable(str(err))
    if resp.status_code != 200:
        return None
    try:
        email = resp.json()['user'].get('email')
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return email if isinstance(email, str) and email.strip() else None
