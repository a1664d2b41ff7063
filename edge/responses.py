"""Response shaping shared by handlers: list headers and status."""

from __future__ import annotations

from typing import Any

JsonResponse = tuple[Any, int, dict[str, str]]


def paged_headers(items: list[dict[str, Any]], total: int, offset: int, limit: int,
                  paged: bool = True) -> JsonResponse:
    """206 Partial Content when the client asked for a page (``paged``: it sent ``limit``) and the
    limit cut the list short; 200 otherwise: the last page, or an unpaged request, even one the
    server's cap cut (TMF630 and the TM Forum kit require 200 there; the headers tell the rest)."""
    count = len(items)
    status = 206 if paged and count == limit and offset + count < total else 200
    headers = {"X-Total-Count": str(total), "X-Result-Count": str(count)}
    return items, status, headers
