"""``stacksync-swift aio`` as a developer runs it, and the sample config."""

import os
import re
import shutil
import signal
import subprocess
import sys
import types

import requests
from swiftclient import client as swiftclient

from stacksync_swift import aio
from tests import servers
from tests.functional import test_oauth

REPO = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _processes_mentioning(text, besides):
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as fp:
                cmdline = fp.read().decode(errors='replace')
        except OSError:
            continue
        if text in cmdline and int(pid) != besides:
            pids.append(int(pid))
    return pids


def _demo_oauth_dance(banner):
    """The printed demo user and consumer complete the OAuth dance."""
    def field(label):
        return re.search(r'%s\s+(\S+)' % label, banner).group(1)

    consumer = types.SimpleNamespace(key=field('Consumer key'),
                                     secret=field('Consumer secret'))
    user = {'name': field('User name'), 'password': field('Password')}
    endpoint = types.SimpleNamespace(url=field('Proxy endpoint'))
    tokens = test_oauth.dance(endpoint, consumer, user)
    account = test_oauth.signed(consumer, tokens).get(
        endpoint.url + '/v1/account', headers=test_oauth.API).json()
    assert account['name'] == 'demo'


def test_aio_command_serves_swift_and_stops_on_ctrl_c(tmp_path):
    state = tmp_path / 'state'
    proc = subprocess.Popen(
        [sys.executable, '-m', 'stacksync_swift.cli', 'aio',
         '--state', str(state), '--port', '0'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        preexec_fn=servers.interruptible)
    banner = []
    try:
        for line in proc.stdout:
            banner.append(line)
            if line.startswith('Press Ctrl-C'):
                break
        text = ''.join(banner)
        auth_url = re.search(r'Swift auth\s+(\S+)', text).group(1)
        user = re.search(r'Admin user\s+(\S+)', text).group(1)
        key = re.search(r'Admin key\s+(\S+)', text).group(1)
        conn = swiftclient.Connection(auth_url, user, key, retries=0)
        conn.put_container('c')
        conn.put_object('c', 'o', b'kept')
        assert conn.get_object('c', 'o')[1] == b'kept'
        conn.close()
        _demo_oauth_dance(text)
        children = _processes_mentioning(str(state), besides=proc.pid)
        assert len(children) == 4
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, text + rest
    assert 'Stopping' in rest
    assert _processes_mentioning(str(state), besides=proc.pid) == []
    # The state folder keeps the data and the secrets for the next start.
    assert (state / 'aio.json').stat().st_mode & 0o777 == 0o600
    assert any((state / 'srv' / 'node' / 'sdb1').iterdir())


LOAD_PIPELINE = """
import sys
from swift.common.utils import set_swift_dir
from swift.common.wsgi import loadapp
set_swift_dir(sys.argv[2])
app = loadapp(sys.argv[1])
while app is not None:
    print(type(app).__name__)
    app = getattr(app, 'app', None)
"""


def test_sample_proxy_config_loads_with_our_filters_in_place(
        cluster, tmp_path):
    """Paste loads etc/proxy-server.conf-sample, pipeline check included.

    In a child process: loading a proxy sets Swift's process-wide swift_dir.
    """
    conf = tmp_path / 'proxy-server.conf'
    shutil.copy(os.path.join(REPO, 'etc', 'proxy-server.conf-sample'), conf)
    text = conf.read_text().replace(
        '[DEFAULT]\n', '[DEFAULT]\nswift_dir = %s\n' % cluster.swift_dir, 1)
    conf.write_text(text)
    names = subprocess.run(
        [sys.executable, '-c', LOAD_PIPELINE, str(conf), cluster.swift_dir],
        check=True, capture_output=True, text=True, timeout=60,
        cwd=tmp_path).stdout.split()
    assert names.index('StackSyncAuth') + 1 == names.index('StackSyncAPI')
    assert names.index('StackSyncAPI') < names.index('ListingFilter') < \
        names.index('TempAuth')
    assert names[-1] == 'Application'


def test_a_percent_sign_in_the_config_reaches_the_filters_as_written(
        tmp_path):
    """A ``%`` in an option (a URL-encoded password, a folder name) is
    given to the filters as written, by Swift and by our own reading of
    the sibling filter's section (which the API filter's options come
    through here: the all-in-one sets them on both)."""
    state = tmp_path / '100% state'
    with aio.AllInOne(str(state), port=0) as cluster:
        assert '%' in cluster.database_url
        resp = requests.get(cluster.url + '/v1/account',
                            headers=test_oauth.API, timeout=30)
        assert resp.status_code == 401
        assert resp.json()['error']
        assert os.path.exists(os.path.join(str(state), 'metadata.sqlite'))
        info = requests.get(cluster.url + '/info', timeout=30).json()
        assert 'stacksync_api' in info
