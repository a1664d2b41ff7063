"""Response shaping shared by handlers: list headers and status."""

from __future__ import annotations

from typing import Any

JsonResponse = tuple[Any, int, dict[str, str]]


def paged_headers(items: list[dict[str, Any]], total: int, offset: int, limit: int) -> JsonResponse:
    """206 Partial Content when a limit (the client's, or the server's cap) cut the list short and
    more items match; 200 otherwise, e.g. for an unpaged request or the last page."""
    count = len(items)
    status = 206 if count == limit and offset + count < total else 200
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(count)}
    return items, status, headers
