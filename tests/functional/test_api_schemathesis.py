"""Property-based requests from the OpenAPI document: never a 5xx.

schemathesis generates requests for every operation of the document the
package ships (bounded: a few examples each) and sends them, signed by
requests-oauthlib as a fresh user, to the all-in-one. Any 5xx answer fails
the test. A few real items exist first, and half the generated ids are
mapped onto them, so requests also reach the code past the lookups.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings
from schemathesis.checks import not_a_server_error

from stacksync_swift.middleware.api import openapi
from tests.functional.apiclient import APIClient
from tests.functional.apiclient import Stores

MAX_EXAMPLES = 15


@pytest.fixture(scope='module')
def fuzzer(cluster):
    stores = Stores(cluster)
    client = APIClient(cluster, stores)
    folder = client.post('/v1/folder', json={'name': 'fuzz'}).json()
    files = [client.upload(b'some data', name='fuzz.txt',
                           parent=folder['id']),
             client.upload(b'more data', name='root.txt')]
    client.put('/v1/file/%d/data' % files[0]['id'], data=b'version 2')
    client.real_ids = {
        'item_id': [0, folder['id']] + [f['id'] for f in files],
        'workspace_id': [client.workspace_id]}
    yield client
    client.close()
    stores.close()


@pytest.fixture
def api_schema():
    return schemathesis.openapi.from_dict(openapi.document())


schema = schemathesis.pytest.from_fixture('api_schema')


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, cluster, fuzzer):
    aim_at_real_items(case, fuzzer.real_ids)
    if case.operation.path.endswith('/changes/wait'):
        # Bound the long poll: the generated timeout may be an hour.
        case.query = dict(case.query or {}, timeout=0)
    response = case.call(base_url=cluster.url, session=fuzzer.session,
                         timeout=60)
    case.validate_response(response, checks=[not_a_server_error])


def aim_at_real_items(case, real_ids):
    """Replace even generated ids with ids that exist."""
    for name, choices in real_ids.items():
        value = (case.path_parameters or {}).get(name)
        if isinstance(value, int) and value % 2 == 0:
            case.path_parameters[name] = choices[value // 2 % len(choices)]
