"""Swagger UI at /docs, from the files of the swagger-ui-bundle-v2 package (no CDN: the
machines that run this reach none), started on our document, with its "Authorize" button for
the bearer token of every /v1 route.

The page is ours: it loads Swagger UI's script and style from /docs/ and starts it with a
short inline script, which the Content Security Policy allows by its hash; nothing else may
run, and the page may load from and call only this origin.
"""

from __future__ import annotations

import base64
import hashlib

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from swagger_ui_bundle import swagger_ui_path

from api.spec import ROUTE_SCOPE_KEY

ASSETS_PREFIX = "/docs"
# What the page loads; the package's other files (its demo index.html, source maps) are not
# served.
ASSETS = frozenset({"swagger-ui.css", "index.css", "swagger-ui-bundle.js", "favicon-32x32.png"})

_INIT = """
"use strict";
window.ui = SwaggerUIBundle({
  url: document.getElementById("swagger-ui").dataset.openapi,
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  displayRequestDuration: true,
  // The online validator's badge would call a service these machines cannot reach.
  validatorUrl: null,
  // A token lives as long as the page: never written to the browser's storage.
  persistAuthorization: false,
});
"""

# Relative addresses: the page works behind a path prefix too.
DOCS_HTML = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Threadweaver API</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="stylesheet" href="docs/index.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi="openapi.json"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>{_INIT}</script>
</body>
</html>
"""


def _csp_hash(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


_NOSNIFF = {"X-Content-Type-Options": "nosniff"}
DOCS_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src {_csp_hash(_INIT)} 'self'; style-src 'self'; "
        # Swagger UI's own icons are data: URLs in its style sheet.
        "img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    **_NOSNIFF,
}


class SwaggerAssets(StaticFiles):
    """Swagger UI's files as the package ships them, mounted at /docs."""

    def __init__(self) -> None:
        super().__init__(directory=str(swagger_ui_path))

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ASSETS:
            raise HTTPException(404)
        scope[ROUTE_SCOPE_KEY] = f"{ASSETS_PREFIX}/{path}"
        response = await super().get_response(path, scope)
        response.headers.update(_NOSNIFF)
        return response
