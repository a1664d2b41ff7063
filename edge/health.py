"""Liveness and readiness for orchestrators: ``/health/live`` and ``/health/ready``.

Live: the process answers. Ready: MongoDB answers a ping and the engine has a catalogue and a
trained model to recommend with. Both are plain JSON outside the API's base path (no TMF ``Error``
body: they are for probes, not clients).
"""

from __future__ import annotations

from typing import Any

import connexion
import flask

from edge.context import services
from services.errors import StoreUnavailable


def _live() -> Any:
    return flask.jsonify(status="ok")


def _ready() -> Any:
    container = services()
    checks: dict[str, str] = {}
    try:
        container.client.admin.command("ping")
        checks["mongodb"] = "ok"
        state = container.engines.current()
        checks["catalogue"] = f"v{state.catalog_version}, {len(state.engine.catalog)} offerings" \
            if len(state.engine.catalog) else "missing"
        checks["model"] = f"v{state.model_version}" if state.engine.model is not None else "missing"
    except (StoreUnavailable, Exception) as exc:
        checks["mongodb"] = f"unavailable: {type(exc).__name__}"
    ready = checks.get("mongodb") == "ok" and "missing" not in checks.values()
    response = flask.jsonify(status="ready" if ready else "not ready", checks=checks)
    response.status_code = 200 if ready else 503
    return response


def install_health(app: connexion.FlaskApp) -> None:
    app.add_url_rule("/health/live", endpoint="health_live", view_func=_live)
    app.add_url_rule("/health/ready", endpoint="health_ready", view_func=_ready)
