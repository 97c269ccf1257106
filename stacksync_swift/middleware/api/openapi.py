"""``GET /v1/openapi.json``: the OpenAPI 3 document of this API.

The document ships in the package (``stacksync_swift/openapi.json``) and is
served to anyone who sends the API header, without a signature: it
describes the API, it holds nothing about users or data.
"""

import functools
import importlib.resources
import json

from swift.common import swob

from stacksync_swift.middleware.api import router

DOCUMENT = 'openapi.json'


@functools.lru_cache(maxsize=1)
def document_bytes():
    return importlib.resources.files('stacksync_swift').joinpath(
        DOCUMENT).read_bytes()


def document():
    """The OpenAPI document as a dict."""
    return json.loads(document_bytes())


@router.route(r'/v1/openapi\.json')
class OpenAPI(router.Controller):
    needs_user = False

    def GET(self):
        """The OpenAPI 3 document."""
        return swob.Response(body=document_bytes(),
                             content_type='application/json',
                             charset='utf-8')
