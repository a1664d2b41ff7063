"""The list operation of every API: TMF630 filters, ``fields``, paging, and the caller's party."""

from __future__ import annotations

from collections.abc import Callable

from edge.context import party, query_pairs, services
from edge.responses import JsonResponse, paged_headers
from services.list_query import ListQuery, parse_list_query
from services.ports import Page


def list_response(lister: Callable[..., Page], offset: int | None, limit: int | None) -> JsonResponse:
    """``lister(query, owner=...)`` (a service's ``list``) for this request's query string."""
    query: ListQuery = parse_list_query(query_pairs(), offset=offset, limit=limit,
                                        max_limit=services().settings.max_limit)
    page = lister(query, owner=party())
    return paged_headers(page.items, page.total, query.offset, query.limit, paged=limit is not None)
