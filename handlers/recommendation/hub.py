"""Operations on /hub (event subscriptions)."""

from __future__ import annotations

from typing import Any

from edge.context import collection_url, party, services
from edge.responses import JsonResponse


def register(data: dict[str, Any]) -> JsonResponse:
    subscription = services().hub.register(data, owner=party())
    return subscription, 201, {"Location": f"{collection_url()}/{subscription['id']}"}


def unregister(id: str) -> JsonResponse:  # noqa: A002 - spec name
    services().hub.unregister(id, owner=party())
    return None, 204, {}
