"""``<mount>/docs``: interactive API documentation (Swagger UI) for each mount.

Connexion's own Swagger UI is disabled because it cannot render this recursive document
(connexion issue 2095), so this module serves the page itself:

- ``<mount>/docs`` and ``<mount>/docs/``: an HTML page that runs Swagger UI on this mount's
  ``openapi.json`` (the normalised Swagger 2.0 document ``app.factory`` serves);
- ``<mount>/docs/static/<name>``: Swagger UI's files, straight from the ``swagger-ui-bundle``
  wheel, plus the small script that starts it.

Every URL in the page is relative, so it works behind any host, scheme or path prefix, and nothing
loads from anywhere but this server (no CDN, fonts or analytics; the ``Content-Security-Policy``
enforces it in the browser). The served document has no ``host``/``schemes`` and its ``basePath``
is the mount, so "Try it out" sends its requests to this server, at this mount.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import connexion
import flask
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

TITLE = "TMF680 Recommendation Management API v4 – interactive documentation"
STATIC_MAX_AGE = 86_400  # asset URLs carry a version query, so a day of caching is safe

# The files of the Swagger UI distribution the page uses, and their content types. Anything
# else the wheel ships (its petstore index.html and initializer, the ES bundles) is not served.
# (werkzeug adds ``; charset=utf-8`` to the text types.)
_JS = "text/javascript"
_CSS = "text/css"
_MAP = "application/json"
BUNDLE_ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": _JS,
    "swagger-ui.css": _CSS,
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
    "swagger-ui-bundle.js.map": _MAP,
    "swagger-ui.css.map": _MAP,
}
INIT_SCRIPT = "tmf680-docs.js"

# Starts Swagger UI. A file, not an inline <script>, so the page's CSP can be ``script-src 'self'``.
# validatorUrl null: Swagger UI would otherwise show a badge fetched from validator.swagger.io.
DOCS_JS = """\
"use strict";
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  var specUrl = new URL(root.getAttribute("data-openapi-url"), document.baseURI).href;
  window.ui = SwaggerUIBundle({
    url: specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayOperationId: true,
    displayRequestDuration: true,
    defaultModelsExpandDepth: 0,
    validatorUrl: null,
    queryConfigEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout"
  });
});
"""

# Swagger UI needs inline styles and data: images (its CSS icons); requests ("Try it out") go
# only to this origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
  <link rel="stylesheet" type="text/css" href="{static}swagger-ui.css?v={version}">
  <link rel="icon" type="image/png" href="{static}favicon-32x32.png?v={version}" sizes="32x32">
  <link rel="icon" type="image/png" href="{static}favicon-16x16.png?v={version}" sizes="16x16">
  <style>
    html {{ box-sizing: border-box; overflow-y: scroll; }}
    *, *::before, *::after {{ box-sizing: inherit; }}
    body {{ margin: 0; background: #fafafa; }}
  </style>
</head>
<body>
  <noscript>Swagger UI needs JavaScript. The API document is at <a href="{openapi}">{openapi}</a>.</noscript>
  <div id="swagger-ui" data-openapi-url="{openapi}"></div>
  <script src="{static}swagger-ui-bundle.js?v={version}" charset="utf-8"></script>
  <script src="{static}{init_script}?v={version}" charset="utf-8"></script>
</body>
</html>
"""


def _bundle_dir() -> Path:
    return Path(str(swagger_ui_path))


def _asset_version(bundle_dir: Path) -> str:
    """Cache-busting token: the Swagger UI version and a digest of this module's script."""
    name = bundle_dir.name
    ui_version = name.removeprefix("swagger-ui-") if name.startswith("swagger-ui-") else ""
    if not ui_version:
        ui_version = metadata.version("swagger-ui-bundle")
    return f"{ui_version}-{hashlib.sha256(DOCS_JS.encode()).hexdigest()[:8]}"


def render_page(trailing_slash: bool, version: str, title: str = TITLE) -> str:
    """The docs page. Its URLs are relative to where it was requested: ``docs`` or ``docs/``."""
    static, openapi = ("static/", "../openapi.json") if trailing_slash else ("docs/static/", "openapi.json")
    return PAGE.format(
        title=html.escape(title),
        static=html.escape(static),
        openapi=html.escape(openapi),
        version=html.escape(version),
        init_script=INIT_SCRIPT,
    )


def install_docs(app: connexion.FlaskApp, mounts: Sequence[str], title: str = TITLE) -> None:
    """Serve ``<mount>/docs`` (Swagger UI on ``<mount>/openapi.json``) and its assets for each mount.

    Call it once per API (``title``: its page title), after the APIs are added (``app.factory.create_app``).
    The assets come from the ``swagger-ui-bundle`` package; a missing asset directory fails here, at start-up.
    """
    bundle_dir = _bundle_dir()
    missing = [name for name in BUNDLE_ASSETS if not (bundle_dir / name).is_file()]
    if missing:
        raise RuntimeError(f"swagger-ui-bundle at {bundle_dir} lacks {', '.join(missing)}")
    version = _asset_version(bundle_dir)
    pages = {slash: render_page(slash, version, title) for slash in (False, True)}

    def docs_page() -> flask.Response:
        response = flask.Response(pages[flask.request.path.endswith("/")], content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def docs_static(name: str) -> flask.Response:
        if name == INIT_SCRIPT:
            response = flask.Response(DOCS_JS, mimetype=_JS)
            response.cache_control.public = True
            response.cache_control.max_age = STATIC_MAX_AGE
        elif name in BUNDLE_ASSETS:
            response = flask.send_file(bundle_dir / name, mimetype=BUNDLE_ASSETS[name], max_age=STATIC_MAX_AGE,
                                       conditional=True, etag=True)
        else:
            raise NotFound()
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    for mount in mounts:
        prefix = mount.rstrip("/")
        name = prefix.strip("/").replace("/", "_") or "root"
        app.add_url_rule(f"{prefix}/docs", endpoint=f"docs_{name}", view_func=docs_page, methods=["GET"])
        app.add_url_rule(f"{prefix}/docs/", endpoint=f"docs_slash_{name}", view_func=docs_page, methods=["GET"])
        app.add_url_rule(f"{prefix}/docs/static/<name>", endpoint=f"docs_static_{name}", view_func=docs_static,
                         methods=["GET"])
