"""Mounting a TM Forum document as a Connexion API: routing and validation come from the document.

Every API the server exposes goes through ``add_api``: the document (normalised by ``edge.spec.loader``
for the mount), its operationId → handler table (``handlers.<api>.OPERATIONS``), and the document as
applied, served at ``<mount>/openapi.json``; a whole API's root (``GET <mount>``) describes it (``edge.api_root``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import connexion
from connexion.resolver import Resolver

from edge.api_root import install_root
from edge.event_callback import EventCallback, EventSchemas
from edge.spec.loader import EVENT_CALLBACK_OPERATION, VendoredDocument


@dataclass(frozen=True)
class Api:
    """One API: its vendored document, its handlers by operationId, and the paths it is mounted at.

    ``only``: a path prefix when only part of the document is mounted (``/listener/``: the events
    this server receives from another component's hub)."""

    document: VendoredDocument
    operations: Mapping[str, Callable[..., Any]]
    mounts: tuple[str, ...]
    only: str | None = None

    def mounted(self) -> tuple[dict[str, Any], tuple[str, ...]]:
        """(the document as published, its mounts): what the edge's route tables are built from."""
        return self.document.raw(), self.mounts

    def resolve(self, operation_id: str) -> Callable[..., Any]:
        """operationId → handler. An operationId without a handler fails at start-up."""
        try:
            return self.operations[operation_id]
        except KeyError:
            raise LookupError(f"no handler for operationId {operation_id!r} of {self.document.folder}") from None


@dataclass(frozen=True)
class Mounted:
    """What ``add_api`` mounted (of its last mount): the document as applied, and its listener events'
    validators (``edge.event_intake`` routes the same events with them)."""

    spec: dict[str, Any]
    events: EventSchemas


def add_api(app: connexion.FlaskApp, api: Api, validate_responses: bool) -> Mounted:
    """Mount ``api`` at each of its mounts."""
    mounted = Mounted({}, EventSchemas({}))
    for mount in api.mounts:
        spec = api.document.normalised(base_path=mount, only=api.only)
        mounted = Mounted(spec, EventSchemas(spec))
        callback = EventCallback(mounted.events, api.resolve)

        def resolve(operation_id: str, callback: EventCallback = callback) -> Callable[..., Any]:
            return callback if operation_id == EVENT_CALLBACK_OPERATION else api.resolve(operation_id)

        resolver = Resolver(function_resolver=resolve)
        app.add_api(
            spec,
            base_path=mount,
            name=mount.strip("/").replace("/", "_") or "root",
            resolver=resolver,
            strict_validation=False,
            validate_responses=validate_responses,
        )
        _serve_document(app, spec, mount)
        if api.only is None:  # a whole API (not another component's listeners): its root answers
            install_root(app, api.document, spec, mount)
    return mounted


def _serve_document(app: connexion.FlaskApp, served: dict[str, Any], mount: str) -> None:
    """``<mount>/openapi.json``: the document as this server applies it (normalised, this mount)."""

    def openapi_json() -> Any:
        return served

    app.add_url_rule(f"{mount}/openapi.json", endpoint=f"openapi_{mount}", view_func=openapi_json)
