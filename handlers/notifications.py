"""The event operations every TM Forum API declares, one code path for all: ``/hub`` (subscriptions
to this API's events) and ``/listener/<event>`` (events this server receives as a client).

Each API's OPERATIONS table binds them to its hub (``services().hubs[<api>]``) and event types.
The documents declare a 201 with an ``EventSubscription`` body for the listener operations; the
answer carries the stored record's id and the listener URL as ``callback``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask

from edge.context import collection_url, party, services
from edge.responses import JsonResponse


def hub_operations(api: str) -> tuple[Callable[..., JsonResponse], Callable[..., JsonResponse]]:
    """(registerListener, unregisterListener) on the hub of ``api``."""

    def register(data: dict[str, Any]) -> JsonResponse:
        subscription = services().hubs[api].register(data, owner=party())
        return subscription, 201, {"Location": f"{collection_url()}/{subscription['id']}"}

    def unregister(id: str) -> JsonResponse:  # noqa: A002 - spec name
        services().hubs[api].unregister(id, owner=party())
        return None, 204, {}

    return register, unregister


def listener_operation(event_type: str) -> Callable[..., JsonResponse]:
    """The listener of one event type: store a received event and acknowledge it."""

    def receive(data: dict[str, Any]) -> JsonResponse:
        record = services().listener.receive(event_type, data)
        return {"id": record["id"], "callback": flask.request.base_url}, 201, {}

    return receive
