"""``GET <mount>`` and ``<mount>/``: what an API root answers (the ODA Canvas expects a 2xx there).

The official documents declare no operation at their base path, so without this a client (and the ODA
component test kit, which GETs each exposed API's root) meets a 404. The answer is a small JSON
description read from the document as this mount applies it (``<mount>/openapi.json``), so it says no
more than the document does: its title and version, links to the document, the docs page and the
hub, and each resource with the operations the document declares for it (the ODA Component's
``resources`` notation: ``GET``, ``POST``, ``GET /id``, ``PATCH /id``, ``DELETE /id``).

The vendored documents are untouched (the root is not added to the served document: it is not an
operation of the API); like ``<mount>/openapi.json`` and the docs page it is open without a token.
Links are absolute, built as resource ``href`` values are (``TMF680_PUBLIC_URL`` when set, else the
request's scheme and host).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import connexion
import flask

from edge.context import services
from edge.spec.loader import LISTENER_PREFIX, VendoredDocument

OPERATION = "api_root"  # the access log's and metrics' label
HUB = "/hub"
_METHODS = ("get", "post", "put", "patch", "delete")  # the order operations are listed in
_API_ID = re.compile(r"tmf\d+")


def root_paths(mount: str) -> tuple[str, ...]:
    """The paths that answer for ``mount``: with and without the trailing slash."""
    prefix = mount.rstrip("/")
    return (prefix, prefix + "/") if prefix else ("/",)


def resources(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each resource of the document (its paths' first segment, hub and listeners aside) with its operations."""
    found: dict[str, list[str]] = {}
    for template, item in document.get("paths", {}).items():
        name, _, rest = template.strip("/").partition("/")
        if "/" + name in (HUB, LISTENER_PREFIX.rstrip("/")):
            continue
        suffix = " /id" if rest else ""
        operations = found.setdefault(name, [])
        operations.extend(m.upper() + suffix for m in _METHODS if isinstance(item.get(m), dict))
    return [{"name": name, "operations": operations} for name, operations in found.items()]


def describe(document: Mapping[str, Any], api_id: str | None, mount: str) -> dict[str, Any]:
    """The root's body, with links relative to the mount (``absolute`` turns them into URLs)."""
    info = document.get("info", {})
    prefix = mount.rstrip("/")
    links = {"self": prefix or "/", "openapi": f"{prefix}/openapi.json", "docs": f"{prefix}/docs"}
    if HUB in document.get("paths", {}):
        links["hub"] = prefix + HUB
    body: dict[str, Any] = {"id": api_id} if api_id else {}
    body |= {
        "name": info.get("title"),
        "version": info.get("version"),
        "basePath": prefix or "/",
        "links": links,
        "resources": [{**r, "href": f"{prefix}/{r['name']}"} for r in resources(document)],
    }
    return body


def absolute(body: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """``body`` with its paths prefixed by ``origin`` (scheme, host and any path prefix)."""
    return {**body, "links": {k: origin + v for k, v in body["links"].items()},
            "resources": [{**r, "href": origin + r["href"]} for r in body["resources"]]}


def install_root(app: connexion.FlaskApp, document: VendoredDocument, served: Mapping[str, Any], mount: str) -> None:
    """Answer ``GET <mount>`` and ``<mount>/`` with ``describe`` of ``served`` (the document as applied)."""
    api_id = document.folder.upper() if _API_ID.fullmatch(document.folder) else None
    body = describe(served, api_id, mount)

    def api_root() -> flask.Response:
        origin = services().settings.public_url or flask.request.host_url.rstrip("/")
        return flask.jsonify(absolute(body, origin + flask.request.script_root))

    name = mount.strip("/").replace("/", "_") or "root"
    for number, path in enumerate(root_paths(mount)):
        app.add_url_rule(path, endpoint=f"{OPERATION}_{number}_{name}", view_func=api_root, methods=["GET"])
