import textwrap

import pytest

from stacksync_swift import config


def test_defaults():
    settings = config.parse({})
    assert settings.storage_account == 'AUTH_stacksync'
    assert settings.database_url.startswith('sqlite:///')
    assert settings.auth_mode == 'oauth'
    assert settings.default_quota == 10 * 1024 ** 3
    assert settings.pipeline_check is True
    assert settings.chunk_etag is False


def test_values_are_parsed():
    settings = config.parse({'storage_account': ' AUTH_ss ',
                             'database_url': 'postgresql+psycopg2://h/db',
                             'auth_mode': 'Keystone',
                             'keystone_auth_url': 'http://ks:5000/v3',
                             'default_quota': '0',
                             'events_url': 'amqp://rabbit//',
                             'long_poll_timeout': '60',
                             'events_keep_days': '0.5',
                             'pipeline_check': 'no',
                             'chunk_etag': 'true'})
    assert settings == config.Settings(
        storage_account='AUTH_ss', database_url='postgresql+psycopg2://h/db',
        auth_mode='keystone', keystone_auth_url='http://ks:5000/v3',
        default_quota=0, events_url='amqp://rabbit//',
        long_poll_timeout=60, events_keep_days=0.5, pipeline_check=False,
        chunk_etag=True)
    assert settings.event_transport_url == 'amqp://rabbit//'


def test_embedded_event_transport_uses_the_database():
    settings = config.parse({'database_url': 'sqlite:////x/db'})
    assert settings.event_transport_url == 'sqla+sqlite:////x/db'


@pytest.mark.parametrize('option, value, message', [
    ('storage_account', '', 'storage_account'),
    ('storage_account', 'AUTH_a/b', 'storage_account'),
    ('database_url', 'not-a-url', 'database_url'),
    ('auth_mode', 'tempauth', 'auth_mode'),
    ('default_quota', '-1', 'default_quota'),
    ('default_quota', 'lots', 'default_quota'),
    ('oauth_base_url', 'proxy.example.com', 'oauth_base_url'),
    ('long_poll_timeout', '0', 'long_poll_timeout'),
    ('events_keep_days', '-1', 'events_keep_days'),
    ('events_keep_days', 'a week', 'events_keep_days'),
    ('events_keep_days', 'nan', 'events_keep_days'),
    ('events_exchange', ' ', 'events_exchange'),
    ('auth_mode', 'keystone', 'keystone_auth_url'),
    ('web_prefix', '/v1/', 'web_prefix'),
    ('web_prefix', '/a/b/', 'web_prefix'),
    ('web_prefix', 'stacksync/', 'web_prefix'),
])
def test_bad_values_name_the_option(option, value, message):
    with pytest.raises(ValueError, match=message):
        config.parse({option: value})


@pytest.mark.parametrize('value, prefix', [
    (None, '/stacksync/'),
    ('/files', '/files/'),
    (' /web/ ', '/web/'),
    ('', ''),
])
def test_web_prefix(value, prefix):
    conf = {} if value is None else {'web_prefix': value}
    assert config.parse(conf).web_prefix == prefix


def _write(tmp_path, text):
    path = tmp_path / 'proxy-server.conf'
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_options_are_shared_between_the_two_sections(tmp_path):
    path = _write(tmp_path, """
        [DEFAULT]
        default_quota = 5

        [filter:ss_auth]
        use = egg:stacksync_swift#stacksync_auth
        auth_mode = keystone
        keystone_auth_url = http://keystone/v3

        [filter:ss_api]
        use = egg:stacksync_swift#stacksync_api
        storage_account = AUTH_shared
        database_url = sqlite:///%(here)s/db
        """)
    auth = config.load({'__file__': path, 'default_quota': '5'},
                       {'auth_mode': 'keystone',
                        'keystone_auth_url': 'http://keystone/v3'})
    api = config.load({'__file__': path, 'default_quota': '5'},
                      {'storage_account': 'AUTH_shared',
                       'database_url': 'sqlite:///x/db'})
    assert auth.storage_account == api.storage_account == 'AUTH_shared'
    assert auth.auth_mode == api.auth_mode == 'keystone'
    assert auth.default_quota == api.default_quota == 5
    # A filter's own section wins over its sibling's.
    assert api.database_url == 'sqlite:///x/db'


def test_sibling_values_are_read_as_swift_gives_them_to_filters(tmp_path):
    # Swift's Paste loading interpolates only a value holding "%(": a
    # URL-encoded password stays as written, %(here)s is expanded.
    path = tmp_path / 'proxy-server.conf'
    path.write_text(textwrap.dedent("""
        [filter:stacksync_auth]
        use = egg:stacksync_swift#stacksync_auth

        [filter:stacksync_api]
        use = egg:stacksync_swift#stacksync_api
        database_url = postgresql+psycopg2://ss:p%40ss%@db/ss
        events_url = sqla+sqlite:///%(here)s/events.db
        """))
    settings = config.load({'__file__': str(path)}, {})
    assert settings.database_url == 'postgresql+psycopg2://ss:p%40ss%@db/ss'
    assert settings.events_url == 'sqla+sqlite:///%s/events.db' % tmp_path


def test_conf_d_directories_are_read(tmp_path):
    (tmp_path / '10-api.conf').write_text(
        '[filter:stacksync_api]\nuse = egg:stacksync_swift#stacksync_api\n'
        'storage_account = AUTH_fromdir\n')
    settings = config.load({'__file__': str(tmp_path)}, {})
    assert settings.storage_account == 'AUTH_fromdir'


PIPELINE_CONF = """
    [pipeline:main]
    pipeline = %s

    [filter:tempauth]
    use = egg:swift#tempauth
    [filter:listing_formats]
    use = egg:swift#listing_formats
    [filter:authtoken]
    paste.filter_factory = keystonemiddleware.auth_token:filter_factory
    [filter:keystoneauth]
    use = egg:swift#keystoneauth
    [filter:stacksync_auth]
    use = egg:stacksync_swift#stacksync_auth
    [filter:stacksync_api]
    use = egg:stacksync_swift#stacksync_api
    [app:proxy-server]
    use = egg:swift#proxy
    """


@pytest.mark.parametrize('pipeline', [
    'catch_errors stacksync_auth stacksync_api listing_formats tempauth '
    'proxy-server',
    'tempauth stacksync_auth stacksync_api proxy-server',
    'authtoken stacksync_auth stacksync_api listing_formats keystoneauth '
    'copy proxy-server',
    'stacksync_auth stacksync_api slo proxy-server',
])
def test_good_pipelines_pass(tmp_path, pipeline):
    config.check_pipeline(_write(tmp_path, PIPELINE_CONF % pipeline))


@pytest.mark.parametrize('pipeline, message', [
    ('tempauth stacksync_api proxy-server', 'must contain both'),
    ('tempauth stacksync_api stacksync_auth proxy-server', 'before'),
    ('tempauth stacksync_auth proxy-server stacksync_api', 'before'),
    ('listing_formats stacksync_auth stacksync_api proxy-server',
     'before listing_formats'),
    ('stacksync_auth listing_formats stacksync_api proxy-server',
     'before listing_formats'),
    ('stacksync_auth stacksync_api authtoken keystoneauth proxy-server',
     'after authtoken'),
])
def test_bad_pipelines_are_refused(tmp_path, pipeline, message):
    with pytest.raises(ValueError, match=message):
        config.check_pipeline(_write(tmp_path, PIPELINE_CONF % pipeline))


def test_keystone_mode_needs_auth_token_first(tmp_path):
    path = _write(tmp_path, PIPELINE_CONF % (
        'stacksync_auth stacksync_api keystoneauth proxy-server'))
    with pytest.raises(ValueError, match='auth_token'):
        config.check_pipeline(path, 'keystone')
    config.check_pipeline(_write(tmp_path, PIPELINE_CONF % (
        'authtoken stacksync_auth stacksync_api keystoneauth proxy-server')),
        'keystone')


def test_pipeline_not_loaded_from_a_file_is_not_checked():
    config.check_pipeline(None)
