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
from edge.health import install_health
from edge.json_codec import FastFlaskJSONProvider, FastJsonifier
from edge.metrics import install_observability
from edge.middleware import BodyGuard
from edge.request_log import configure_logging
from edge.spec.loader import TMF669, TMF680
from edge.validation import validator_map
from edge.wsgi_bridge import WSGIBridge
from edge.wsgi_bridge import install as install_bridge
from handlers import party_role, recommendation

# Connexion's stack without the two layers this server does not use: its Swagger UI (the docs page
# is edge.docs_page, the document <mount>/openapi.json) and its security handlers (the document
# declares no securityDefinitions). Each is a router every request passes through.
MIDDLEWARES = [m for m in ConnexionMiddleware.default_middlewares if m not in (SwaggerUIMiddleware, SecurityMiddleware)]


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
    apis = (Api(TMF680, recommendation.OPERATIONS, settings.mount_paths),
            Api(TMF669, party_role.OPERATIONS, settings.party_role_mounts))
    for api in apis:
        add_api(app, api, settings.validate_responses)
    mounted = [api.mounted() for api in apis]
    install_health(app)
    install_docs(app, settings.mount_paths)
    install_docs(app, settings.party_role_mounts,
                 title="TMF669 Party Role Management API v4 – interactive documentation")
    if settings.auth == "jwt":  # PyJWT and cryptography (~9 MB per worker) only when used
        from edge.auth import install_auth

        # before BodyGuard: no body is read for an anonymous caller
        install_auth(app, settings, rights=container.party_roles if settings.role_rights else None)
    app.add_middleware(BodyGuard, position=MiddlewarePosition.BEFORE_ROUTING, max_bytes=settings.max_body_bytes)
    errors.install(app, errors.allowed_methods(mounted))
    install_observability(app, container, settings, mounted)
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
