"""The composition root: ``create_app`` builds one process's application.

Nothing here runs at import time. gunicorn calls ``create_asgi_app()`` in each worker after it
forks (``'app.factory:create_asgi_app()'``), so every worker gets its own Mongo client.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import connexion
from connexion.middleware import ConnexionMiddleware, MiddlewarePosition
from connexion.middleware.security import SecurityMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver

from app import errors
from app.container import Container, build_container
from app.docs_page import install_docs
from app.health import install_health
from app.json_codec import FastFlaskJSONProvider, FastJsonifier
from app.metrics import install_observability
from app.middleware import BodyGuard
from app.request_log import configure_logging
from app.settings import Settings
from app.spec import normalise, official_document
from app.validation import validator_map
from app.wsgi_bridge import WSGIBridge
from app.wsgi_bridge import install as install_bridge
from handlers import hub, listener, query_product_recommendation
from handlers.context import EXTENSION
from mcp_edge.endpoint import install_mcp

OPERATIONS = {
    "createQueryProductRecommendation": query_product_recommendation.create,
    "listQueryProductRecommendation": query_product_recommendation.list_,
    "retrieveQueryProductRecommendation": query_product_recommendation.retrieve,
    "registerListener": hub.register,
    "unregisterListener": hub.unregister,
    "listenToQueryProductRecommendationCreateEvent": listener.create_event,
    "listenToQueryProductRecommendationStateChangeEvent": listener.state_change_event,
}


# Connexion's stack without the two layers this server does not use: its Swagger UI (the docs page
# is app.docs_page, the document <mount>/openapi.json) and its security handlers (the document
# declares no securityDefinitions). Each is a router every request passes through.
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m not in (SwaggerUIMiddleware, SecurityMiddleware)]


def resolve_operation(operation_id: str) -> Any:
    """The one resolver hook: operationId → handler. An unknown operationId fails at start-up."""
    try:
        return OPERATIONS[operation_id]
    except KeyError:
        raise LookupError(f"no handler for operationId {operation_id!r}") from None


def create_app(settings: Settings | None = None, container: Container | None = None) -> connexion.FlaskApp:
    settings = settings or Settings.load()
    configure_logging(settings.log_level, settings.log_format)
    container = container or build_container(settings)

    bridges: list[WSGIBridge] = []  # filled below, once the app exists

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        if settings.workers:
            container.workers.start()
        yield
        for each in bridges:
            each.close()
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
    document = official_document()
    for mount in settings.mount_paths:
        app.add_api(
            normalise(document, base_path=mount),
            base_path=mount,
            name=mount.strip("/").replace("/", "_") or "root",
            resolver=Resolver(function_resolver=resolve_operation),
            strict_validation=False,
            validate_responses=settings.validate_responses,
        )
        _serve_document(app, document, mount)
    install_health(app)
    install_docs(app, settings.mount_paths)
    install_mcp(app, container, settings)  # before auth and the body guard: the endpoint does its own
    if settings.auth == "jwt":  # PyJWT and cryptography (~9 MB per worker) only when used
        from app.auth import install_auth

        install_auth(app, settings)  # before BodyGuard: no body is read for an anonymous caller
    app.add_middleware(BodyGuard, position=MiddlewarePosition.BEFORE_ROUTING, max_bytes=settings.max_body_bytes)
    errors.install(app, errors.allowed_methods(document, settings.mount_paths))
    install_observability(app, container, settings)
    return app


def _serve_document(app: connexion.FlaskApp, document: dict[str, Any], mount: str) -> None:
    """``<mount>/openapi.json``: the document as this server applies it (normalised, this mount)."""
    served = normalise(document, base_path=mount)

    def openapi_json() -> Any:
        return served

    app.add_url_rule(f"{mount}/openapi.json", endpoint=f"openapi_{mount}", view_func=openapi_json)


def create_asgi_app() -> Any:
    """ASGI callable for gunicorn/uvicorn factories."""
    return create_app()
