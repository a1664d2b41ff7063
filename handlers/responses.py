"""Response shaping shared by handlers: list headers and status."""

from __future__ import annotations

from typing import Any

JsonResponse = tuple[Any, int, dict[str, str]]


def paged_headers(items: list[dict[str, Any]], total: int, offset: int, limit: int | None) -> JsonResponse:
    """200 when the whole matching set is returned, 206 when this is only a part of it."""
    count = len(items)
    status = 206 if count < total else 200
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(count)}
    return items, status, headers
