"""Operations on /queryProductRecommendation."""

from __future__ import annotations

from typing import Any

from edge.context import collection_url, party, services
from edge.responses import JsonResponse
from handlers.listing import list_response
from services.list_query import parse_fields


def create(queryProductRecommendation: dict[str, Any]) -> JsonResponse:  # noqa: N803 - spec name
    resource = services().queries.create(queryProductRecommendation, collection_url(), owner=party())
    return resource, 201, {"Location": resource["href"]}


def retrieve(id: str, fields: str | None = None) -> JsonResponse:  # noqa: A002 - spec name
    return services().queries.retrieve(id, parse_fields(fields), owner=party()), 200, {}


def list_(fields: str | None = None, offset: int | None = None, limit: int | None = None) -> JsonResponse:
    return list_response(services().queries.list, offset, limit)
