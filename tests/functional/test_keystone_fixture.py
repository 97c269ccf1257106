"""The real Keystone the Keystone-mode tests run against, proven to work.

:class:`tests.functional.keystone.KeystoneServer` starts Keystone from its
own venv on a free loopback port, once per session (``keystone_server``
fixture). These tests check what the Keystone-mode tests rely on: the
bootstrapped admin gets a token, ``create_user`` makes a user whose token
is scoped to its project, a wrong password is refused with 401, the user's
e-mail reads back through the API, and several token requests can be
served at once.
"""

import concurrent.futures
import secrets

import pytest

from tests.functional.keystone import keystone_server  # noqa: F401

pytestmark = pytest.mark.keystone


def unique(prefix):
    return '%s-%s' % (prefix, secrets.token_hex(4))


def access_of(server, username, password, project):
    """The keystoneauth1 AccessInfo of a fresh project-scoped token."""
    session = server.session(username, password, project)
    return session.auth.get_access(session)


def test_version_document(keystone_server):  # noqa: F811
    import requests

    resp = requests.get(keystone_server.auth_url, timeout=10)
    assert resp.status_code == 200
    assert resp.json()['version']['id'].startswith('v3')


def test_admin_token(keystone_server):  # noqa: F811
    token = keystone_server.token('admin', keystone_server.admin_password,
                                  'admin')
    assert token
    access = keystone_server.admin_client().tokens.validate(token)
    assert access.username == 'admin'
    assert access.project_name == 'admin'
    assert 'admin' in access.role_names


def test_created_user_gets_project_scoped_token(keystone_server):  # noqa: F811
    name, project = unique('alice'), unique('demo')
    created = keystone_server.create_user(name, 'secret-1', project=project)
    access = access_of(keystone_server, name, 'secret-1', project)
    assert access.user_id == created.user_id
    assert access.project_id == created.project_id
    assert access.project_name == project
    assert 'member' in access.role_names
    assert keystone_server.token(name, 'secret-1', project)


def test_users_share_an_existing_project(keystone_server):  # noqa: F811
    project = unique('shared')
    first = keystone_server.create_user(unique('u'), 'pw', project=project)
    second = keystone_server.create_user(unique('u'), 'pw', project=project)
    assert first.project_id == second.project_id
    assert first.user_id != second.user_id


def test_wrong_password_is_refused(keystone_server):  # noqa: F811
    from keystoneauth1 import exceptions

    name = unique('bob')
    keystone_server.create_user(name, 'right')
    with pytest.raises(exceptions.Unauthorized) as caught:
        keystone_server.token(name, 'wrong')
    assert caught.value.http_status == 401


def test_email_reads_back(keystone_server):  # noqa: F811
    name = unique('carol')
    email = '%s@example.org' % name
    created = keystone_server.create_user(name, 'pw', email=email)
    user = keystone_server.admin_client().users.get(created.user_id)
    assert user.email == email
    assert user.name == name


def test_concurrent_token_requests(keystone_server):  # noqa: F811
    # Token requests write (last_active_at) while validations read, as
    # when tests log users in while a proxy's auth_token checks tokens.
    names = [unique('dave') for _ in range(3)]
    for name in names:
        keystone_server.create_user(name, 'pw')
    admin = keystone_server.admin_client()
    first = keystone_server.token(names[0], 'pw')

    def work(i):
        if i % 2:
            return admin.tokens.validate(first).username
        return keystone_server.token(names[i % 3], 'pw')

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(32)))
    assert results[1::2] == [names[0]] * 16
    assert all(results[::2])
