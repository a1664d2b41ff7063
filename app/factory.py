"""The composition root: ``create_app`` builds one process's application.

Nothing here runs at import time. gunicorn calls ``create_asgi_app()`` in each worker after it
forks (``'app.factory:create_asgi_app()'``), so every worker gets its own Mongo client. The APIs'
handlers come from ``handlers.<api>.OPERATIONS``; the edge (``edge/``) mounts each document.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import connexion
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware

from app.container import Container, build_container
from app.settings import Settings
from edge import errors
from edge.apis import Api, add_api
from edge.context import EXTENSION
from edge.docs_page import install_docs
from edge.event_batcher import EventBatcher
from edge.event_callback import EventSchemas
from edge.event_intake import EventIntake
from edge.event_intake import routes as event_routes
from edge.health import install_health
from edge.json_codec import FastFlaskJSONProvider, FastJsonifier
from edge.mcp.endpoint import install_mcp
from edge.metrics import install_observability
from edge.middleware import BodyGuard
from edge.request_log import configure_logging, observation
from edge.spec.loader import LISTENER_PREFIX, TMF620, TMF622, TMF637, TMF669, TMF680, VendoredDocument
from edge.validation import validator_map
from edge.wsgi_bridge import WSGIBridge
from edge.wsgi_bridge import install as install_bridge
from handlers import catalog_events, inventory_events, ordering_events, party_role, recommendation
from runtime.memory import freeze_long_lived_objects

# Connexion's stack without the two layers this server does not use: its Swagger UI (the docs page
# is edge.docs_page, the document <mount>/openapi.json) and its security handlers (the document
# declares no securityDefinitions). Each is a router every request passes through.
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m not in (SwaggerUIMiddleware, SecurityMiddleware)]


# The events this component receives: only the listener operations of these documents are mounted,
# each at its document's own base path (services.inbound_events says what each event does).
INBOUND = ((TMF620, catalog_events.OPERATIONS), (TMF637, inventory_events.OPERATIONS),
           (TMF622, ordering_events.OPERATIONS))


def own_base_path(document: VendoredDocument) -> str:
    """The document's ``basePath`` (``/tmf-api/productCatalogManagement/v4``)."""
    return str(document.unvalidated().get("basePath") or "/").rstrip("/")


def prepare_documents(settings: Settings) -> None:
    """Read, normalise and validate every mounted document once, and compile the listener events'
    schemas (cached for the process): the gunicorn master calls it before forking, so workers inherit
    the result instead of each spending seconds on it at start."""
    for mount in settings.mount_paths:
        TMF680.normalised(mount)
    TMF680.raw()
    for mount in settings.party_role_mounts:
        TMF669.normalised(mount)
    TMF669.raw()
    for document, _ in INBOUND:
        EventSchemas(document.normalised(own_base_path(document), only=LISTENER_PREFIX)).compile_all()


def create_app(settings: Settings | None = None, container: Container | None = None) -> connexion.FlaskApp:
    settings = settings or Settings.load()
    configure_logging(settings.log_level, settings.log_format)
    container = container or build_container(settings)

    bridges: list[WSGIBridge] = []  # filled below, once the app exists
    batcher = EventBatcher(container.inbound_events.receive_many)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if settings.workers:
            container.workers.start()
        freeze_long_lived_objects()  # the app is built: full collections no longer walk it (tail latency)
        yield
        for each in bridges:
            each.close()
        batcher.close()  # the events queued are still stored and answered
        container.close()

    app = connexion.FlaskApp(
        __name__,
        lifespan=lifespan,
        jsonifier=FastJsonifier(),
        validator_map=validator_map(),
        middlewares=list(MIDDLEWARES),
    )
    bridges.append(install_bridge(app))
    app.app.extensions[EXTENSION] = container
    app.app.json = FastFlaskJSONProvider(app.app)
    app.app.json.sort_keys = False  # type: ignore[attr-defined]
    app.app.json.compact = True  # type: ignore[attr-defined]
    add_api(app, Api(TMF680, recommendation.OPERATIONS, settings.mount_paths), settings.validate_responses)
    allowed = errors.allowed_methods(TMF680.raw(), settings.mount_paths)
    # TMF669 Party Role Management beside it, and the inbound listeners: each with its own document
    inbound: list[tuple[dict[str, Any], tuple[str, ...]]] = []
    party_roles = Api(TMF669, party_role.OPERATIONS, settings.party_role_mounts)
    add_api(app, party_roles, settings.validate_responses)
    inbound.append(party_roles.mounted())
    allowed += errors.allowed_methods(*inbound[-1])
    listeners: list[tuple[EventSchemas, str]] = []
    for document, operations in INBOUND:
        api = Api(document, operations, (own_base_path(document),), only=LISTENER_PREFIX)
        mounted = add_api(app, api, settings.validate_responses)
        inbound.append((mounted.spec, api.mounts))
        listeners.append((mounted.events, api.mounts[0]))
        allowed += errors.allowed_methods(*inbound[-1])
    install_health(app)
    install_docs(app, settings.mount_paths)
    install_docs(app, settings.party_role_mounts,
                 title="TMF669 Party Role Management API v4 – interactive documentation")
    install_mcp(app, container, settings)  # before auth and the body guard: the endpoint does its own
    if settings.auth == "jwt":  # PyJWT and cryptography (~9 MB per worker) only when used
        from edge.auth import install_auth

        # before BodyGuard: no body is read for an anonymous caller
        install_auth(app, settings, [m for _, mounts in inbound for m in mounts],
                     rights=container.party_roles if settings.role_rights else None)
    app.add_middleware(BodyGuard, position=MiddlewarePosition.BEFORE_ROUTING, max_bytes=settings.max_body_bytes)
    # after BodyGuard, right before Connexion's routing: the hub's valid events skip Connexion's stack
    app.add_middleware(EventIntake, position=MiddlewarePosition.BEFORE_ROUTING, routes=event_routes(listeners),
                       batcher=batcher)
    errors.install(app, allowed)
    install_observability(app, container, settings)
    for spec, mounts in inbound:
        observation(app, spec, mounts).add_api(spec, mounts)
    observation(app, *inbound[0]).add_pages(party_roles.mounts)  # TMF669's root and docs page
    ensure_system_role(container, settings)
    return app


def ensure_system_role(container: Container, settings: Settings) -> None:
    """The party role an ODA Canvas looks for (``TMF680_CANVAS_SYSTEM_ROLE``), created once for the
    whole deployment: every process asks, the store's unique seed index lets one insert it."""
    if settings.canvas_system_role:
        url = f"{settings.public_url}{settings.party_role_base_path.rstrip('/')}/partyRole"
        container.party_roles.ensure_system_role(settings.canvas_system_role, url)


def create_asgi_app() -> Any:
    """ASGI callable for gunicorn/uvicorn factories."""
    return create_app()
