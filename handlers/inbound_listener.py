"""The listener operations of the documents this component subscribes to (TMF620, TMF637, TMF622).

One handler per event type: apply the event (``services.inbound_events``) and acknowledge it as the
documents declare, 201 with an ``EventSubscription``-shaped body (``edge.event_callback.acknowledgement``,
which the fast path of ``edge.event_intake`` answers with too). ``POST <base>/listener`` (any event, by
``eventType``) reaches the same handlers through ``edge.event_callback``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import flask

from edge.context import services
from edge.event_callback import acknowledgement
from edge.responses import JsonResponse

Handler = Callable[..., JsonResponse]


def listener(event_type: str) -> Handler:
    def receive(data: dict[str, Any]) -> JsonResponse:
        services().inbound_events.receive(event_type, data)
        return acknowledgement(data, flask.request.base_url), 201, {}

    receive.__name__ = receive.__qualname__ = f"listen_to_{event_type}"
    return receive


def operations(event_types: Iterable[str]) -> dict[str, Handler]:
    """operationId → handler: the documents name each listener operation ``listenTo<EventType>``."""
    return {f"listenTo{event_type}": listener(event_type) for event_type in event_types}
