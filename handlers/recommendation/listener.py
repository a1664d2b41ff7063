"""The client-side listener operations: store a received event and acknowledge it.

The document declares a 201 with an ``EventSubscription`` body for these operations; the answer
carries the stored record's id and the listener URL as ``callback``.
"""

from __future__ import annotations

from typing import Any

import flask

from edge.context import services
from edge.responses import JsonResponse
from services.listener import CREATE_EVENT, STATE_CHANGE_EVENT


def _receive(event_type: str, data: dict[str, Any]) -> JsonResponse:
    record = services().listener.receive(event_type, data)
    return {"id": record["id"], "callback": flask.request.base_url}, 201, {}


def create_event(data: dict[str, Any]) -> JsonResponse:
    return _receive(CREATE_EVENT, data)


def state_change_event(data: dict[str, Any]) -> JsonResponse:
    return _receive(STATE_CHANGE_EVENT, data)
