"""The MCP tools: thin over the services the HTTP handlers use (parse → call a service → shape).

Each tool is plain synchronous code (the services are), run in a worker thread by ``edge.mcp.server``.
Its arguments have been validated against its schema (``edge.mcp.schemas``) before it runs; it
raises the services' domain exceptions, which the server turns into tool errors with the messages
the API's TMF Errors carry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from edge.mcp import schemas
from edge.mcp.ports import McpServices, McpSettings
from edge.responses import paged_headers
from services.errors import InvalidRequest
from services.list_query import RESERVED, parse_fields, parse_list_query

READ = "read"
WRITE = "write"
Result = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """What one tool call runs with: the process's services, the caller's party (the per-party
    restriction's owner, else None) and the URL ``href``s of new queries are made under."""

    container: McpServices
    owner: str | None
    collection_url: str


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    input_schema: dict[str, Any]
    access: str  # READ or WRITE: the token scope (TMF680_AUTH_READ/WRITE_SCOPE) it needs
    run: Callable[[Call, Mapping[str, Any]], Result]


def query_context(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The queryProductRecommendation attributes a tool's context arguments stand for."""
    query = {name: arguments[name] for name in schemas.CONTEXT if name in arguments}
    customer = arguments.get("customerId")
    if customer is not None:
        if "relatedParty" in query:
            raise InvalidRequest("give customerId or relatedParty, not both")
        query["relatedParty"] = {"id": customer, "@referredType": "Customer", "role": "customer"}
    return query


def recommend_offerings(call: Call, arguments: Mapping[str, Any]) -> Result:
    """Create a synchronous queryProductRecommendation, exactly as ``POST /queryProductRecommendation``
    with ``instantSyncRecommendation: true`` does (stored, with its create event), and answer its
    ranked offerings."""
    payload = {**query_context(arguments), "instantSyncRecommendation": True}
    payload.update({name: arguments[name] for name in ("name", "description") if name in arguments})
    resource = call.container.queries.create(payload, call.collection_url, owner=call.owner)
    items = resource.get("recommendationItem") or []
    limit = arguments.get("limit")
    result: Result = {
        "queryProductRecommendation": {key: resource[key] for key in ("id", "href", "state") if key in resource},
        "recommendations": [
            {"priority": item["priority"], **{k: v for k, v in item["productOffering"].items() if k != "@referredType"}}
            for item in (items[:limit] if limit else items)
        ],
    }
    if "stateReason" in resource:
        result["queryProductRecommendation"]["stateReason"] = resource["stateReason"]
    return result


def get_recommendation_query(call: Call, arguments: Mapping[str, Any]) -> Result:
    """``GET /queryProductRecommendation/{id}``."""
    return call.container.queries.retrieve(arguments["id"], parse_fields(arguments.get("fields")), owner=call.owner)


def _filter_pairs(filters: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """``{"state": ["done", "accepted"]}`` → the query-string pairs ``state=done&state=accepted``."""
    for name, value in filters.items():
        if name in RESERVED:
            raise InvalidRequest(f"{name!r} is not a filter: it is an argument of its own")
        for each in value if isinstance(value, list) else [value]:
            yield name, (str(each).lower() if isinstance(each, bool) else str(each))


def list_recommendation_queries(call: Call, arguments: Mapping[str, Any]) -> Result:
    """``GET /queryProductRecommendation`` with TMF630 filters, ``fields``, ``sort``, ``offset``, ``limit``."""
    pairs = list(_filter_pairs(arguments.get("filter") or {}))
    pairs += [(name, arguments[name]) for name in ("fields", "sort") if name in arguments]
    container = call.container
    query = parse_list_query(pairs, offset=arguments.get("offset"), limit=arguments.get("limit"),
                             max_limit=container.settings.max_limit)
    page = container.queries.list(query, owner=call.owner)
    _, status, _ = paged_headers(page.items, page.total, query.offset, query.limit)
    return {"items": page.items, "totalCount": page.total, "resultCount": len(page.items), "offset": query.offset,
            "partial": status == 206}


def explain_recommendation(call: Call, arguments: Mapping[str, Any]) -> Result:
    """Why one offering is (or is not) recommended for one customer in a context (``Engine.explain``)."""
    return call.container.recommendations.explain(query_context(arguments), arguments["productOffering"]["id"])


def build_tools(document: Mapping[str, Any], settings: McpSettings) -> tuple[Tool, ...]:
    """The tools, their schemas derived from the (normalised) TMF680 document."""
    return (
        Tool("recommend_offerings", "Recommend product offerings",
             "Rank the product offerings to offer a customer now (TMF680 queryProductRecommendation, synchronous). "
             "Give the customer (customerId or relatedParty) and the real-time context: sales channel, category, "
             "place, shopping-cart / order items, recommendationType (cross-sell, upsell, next-best-offer). "
             "The query is stored like an API POST (its id and href are returned, events are sent); the answer "
             "lists the offerings by priority, with ids and names. Never an offering the customer already holds.",
             schemas.recommend_schema(document, settings.recommendation_limit), WRITE, recommend_offerings),
        Tool("get_recommendation_query", "Get a recommendation query",
             "Read one stored queryProductRecommendation by id (optionally only some first-level attributes: "
             "fields=name,state).",
             schemas.get_schema(document), READ, get_recommendation_query),
        Tool("list_recommendation_queries", "List recommendation queries",
             "List stored queryProductRecommendation resources, newest first, with TMF630 filters "
             "(e.g. {\"relatedParty.id\": \"7590-VHVEG\", \"state\": [\"done\", \"accepted\"]}), fields, sort, "
             "offset and limit. totalCount counts every match; partial is true when more pages follow.",
             schemas.list_schema(document), READ, list_recommendation_queries),
        Tool("explain_recommendation", "Explain a recommendation",
             "Explain why one product offering is or is not recommended for a customer in a context: the rules "
             "it passes or fails (sellable, channel, place, category, recommendation type, requires / excludes "
             "relationships, already held), its score and place in the ranking, and the held or in-cart "
             "offerings that contribute most to its score with their weights. Stores nothing.",
             schemas.explain_schema(document), READ, explain_recommendation),
    )
