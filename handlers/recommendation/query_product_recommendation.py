"""Operations on /queryProductRecommendation."""

from __future__ import annotations

from typing import Any

from edge.context import collection_url, party, query_pairs, services
from edge.responses import JsonResponse, paged_headers
from services.list_query import parse_fields, parse_list_query


def create(queryProductRecommendation: dict[str, Any]) -> JsonResponse:  # noqa: N803 - spec name
    resource = services().queries.create(queryProductRecommendation, collection_url(), owner=party())
    return resource, 201, {"Location": resource["href"]}


def retrieve(id: str, fields: str | None = None) -> JsonResponse:  # noqa: A002 - spec name
    return services().queries.retrieve(id, parse_fields(fields), owner=party()), 200, {}


def list_(fields: str | None = None, offset: int | None = None, limit: int | None = None) -> JsonResponse:
    container = services()
    query = parse_list_query(query_pairs(), offset=offset, limit=limit, max_limit=container.settings.max_limit)
    page = container.queries.list(query, owner=party())
    return paged_headers(page.items, page.total, query.offset, query.limit, paged=limit is not None)
