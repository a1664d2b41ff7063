"""Operations on /partyRole."""

from __future__ import annotations

from typing import Any

from edge.context import collection_url, party, services
from edge.responses import JsonResponse
from handlers.listing import list_response
from services.list_query import parse_fields


def create(partyRole: dict[str, Any]) -> JsonResponse:  # noqa: N803 - spec name
    resource = services().party_roles.create(partyRole, collection_url(), owner=party())
    return resource, 201, {"Location": resource["href"]}


def retrieve(id: str, fields: str | None = None) -> JsonResponse:  # noqa: A002 - spec name
    return services().party_roles.retrieve(id, parse_fields(fields), owner=party()), 200, {}


def list_(fields: str | None = None, offset: int | None = None, limit: int | None = None) -> JsonResponse:
    return list_response(services().party_roles.list, offset, limit)


def patch(id: str, partyRole: dict[str, Any]) -> JsonResponse:  # noqa: A002, N803 - spec names
    return services().party_roles.patch(id, partyRole, owner=party()), 200, {}


def delete(id: str) -> JsonResponse:  # noqa: A002 - spec name
    services().party_roles.delete(id, owner=party())
    return None, 204, {}
