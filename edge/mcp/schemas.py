"""The MCP tools' input schemas, derived from the TMF680 document the API is served from.

Nothing here is a hand-written copy of a TM Forum schema: each tool argument that the document
defines is taken from it (``edge.spec.loader``'s normalised document) with every ``#/definitions/...``
reference inlined, so a tool's schema is self-contained JSON Schema as MCP clients expect, and a
change of the document changes the tools. What the document does not define (the ``customerId``
shortcut, TMF630 list filters) is the tool's own and says so in its description.

Swagger 2.0 schema objects are JSON Schema (draft 4) plus a few keywords of their own; those
(``discriminator``, ``example``, ``readOnly``, ``xml``, ``externalDocs``, ``x-*``) are dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from edge.spec.loader import SpecError

REF_PREFIX = "#/definitions/"
_SWAGGER_ONLY = frozenset({"discriminator", "example", "readOnly", "xml", "externalDocs"})
# Parameter fields that are JSON Schema keywords (the rest: name, in, required, collectionFormat...).
_PARAMETER_KEYWORDS = ("type", "format", "description", "minimum", "maximum", "enum", "default", "items")

CREATE = "QueryProductRecommendation_Create"
RETRIEVE = "retrieveQueryProductRecommendation"
LIST = "listQueryProductRecommendation"
# The query's real-time context: what the engine reads (services.recommendations).
CONTEXT = ("relatedParty", "channel", "category", "place", "shoppingCartItem", "productOrderItem", "productOrder",
           "recommendationType")
FILTER_VALUE: dict[str, Any] = {"type": ["string", "number", "boolean"]}


def inline(schema: Any, definitions: Mapping[str, Any], trail: tuple[str, ...] = ()) -> Any:
    """``schema`` with every ``#/definitions/X`` replaced by (a copy of) X, recursively.

    A reference that is not in ``definitions`` or leads back to itself cannot be inlined: a
    ``SpecError`` names it (the tools use only non-recursive parts of the document).
    """
    if isinstance(schema, list):
        return [inline(item, definitions, trail) for item in schema]
    if not isinstance(schema, Mapping):
        return copy.deepcopy(schema)
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix(REF_PREFIX)
        if not ref.startswith(REF_PREFIX) or name not in definitions:
            raise SpecError(f"cannot inline {ref!r}: not a definition of the document")
        if name in trail:
            raise SpecError(f"cannot inline {ref!r}: it refers to itself through {' -> '.join((*trail, name))}")
        resolved = dict(inline(definitions[name], definitions, (*trail, name)))
        # siblings of $ref (a property's own description) refine the definition
        resolved.update({k: inline(v, definitions, trail) for k, v in schema.items() if k != "$ref"})
        return resolved
    return {key: inline(value, definitions, trail) for key, value in schema.items()
            if key not in _SWAGGER_ONLY and not key.startswith("x-")}


def definition(document: Mapping[str, Any], name: str) -> dict[str, Any]:
    """One definition of the document as self-contained JSON Schema."""
    definitions = document.get("definitions", {})
    if name not in definitions:
        raise SpecError(f"the document has no definition {name!r}")
    return inline({"$ref": REF_PREFIX + name}, definitions)  # type: ignore[no-any-return]


def definition_properties(document: Mapping[str, Any], name: str, names: tuple[str, ...]) -> dict[str, Any]:
    """Some properties of a definition, each self-contained (the definition as a whole may be
    recursive: ``QueryProductRecommendation_Create.recommendationItem`` is)."""
    definitions = document.get("definitions", {})
    found = definitions.get(name, {}).get("properties", {})
    missing = [n for n in names if n not in found]
    if missing:
        raise SpecError(f"definition {name!r} has no properties {', '.join(missing)}")
    return {n: inline(found[n], definitions, (name,)) for n in names}


def parameter(document: Mapping[str, Any], operation_id: str, name: str) -> dict[str, Any]:
    """A path or query parameter of an operation as JSON Schema (type, description, bounds)."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, Mapping) or operation.get("operationId") != operation_id:
                continue
            for param in operation.get("parameters", []):
                if param.get("name") == name and param.get("in") != "body":
                    return {k: copy.deepcopy(param[k]) for k in _PARAMETER_KEYWORDS if k in param}
    raise SpecError(f"operation {operation_id!r} has no parameter {name!r}")


def _tool_object(arguments: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A tool's arguments: an object with exactly these properties (a misspelt one is an error)."""
    schema: dict[str, Any] = {"type": "object", "properties": dict(arguments), "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def context_properties(document: Mapping[str, Any]) -> dict[str, Any]:
    """The query-context properties of ``QueryProductRecommendation_Create``, plus ``customerId``."""
    create = definition_properties(document, CREATE, CONTEXT)
    party_id = definition_properties(document, "RelatedParty", ("id",))["id"]
    found: dict[str, Any] = {
        "customerId": {**party_id, "description": "The customer's id: a shortcut for relatedParty "
                       "{id, @referredType: Customer, role: customer} (give one or the other)"},
    }
    found.update({name: create[name] for name in CONTEXT})
    for name in ("shoppingCartItem", "productOrderItem"):
        found[name] = {**found[name], "description": (
            "Items the customer is buying now; an offering as {itemId: <offering id>, "
            "@referredType: ProductOffering}" + ("" if name == "shoppingCartItem" else
                                                 ", an order item as {entityId: <order id>, itemId: <item id>}"))}
    return found


def recommend_schema(document: Mapping[str, Any], most: int) -> dict[str, Any]:
    create = definition_properties(document, CREATE, ("name", "description"))
    limit = parameter(document, LIST, "limit")
    arguments = {
        **context_properties(document),
        "name": create["name"],
        "description": create["description"],
        "limit": {**limit, "minimum": 1, "maximum": most,
                  "description": f"How many ranked offerings to return (at most {most}, "
                                 "TMF680_RECOMMENDATION_LIMIT; the stored query keeps them all)"},
    }
    return _tool_object(arguments)


def explain_schema(document: Mapping[str, Any]) -> dict[str, Any]:
    arguments = {
        "productOffering": {**definition(document, "ProductOfferingRef"),
                            "description": "The offering to explain (its id is enough)"},
        **context_properties(document),
    }
    return _tool_object(arguments, required=("productOffering",))


def get_schema(document: Mapping[str, Any]) -> dict[str, Any]:
    return _tool_object({"id": parameter(document, RETRIEVE, "id"), "fields": parameter(document, RETRIEVE, "fields")},
                        required=("id",))


def list_schema(document: Mapping[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = {name: parameter(document, LIST, name) for name in ("fields", "offset", "limit")}
    arguments["filter"] = {
        "type": "object",
        "description": "TMF630 attribute filters, ANDed: {\"state\": \"done\", \"relatedParty.id\": \"C1\", "
                       "\"name.regex\": \"^web\", \"recommendationType.ne\": \"upsell\"}; dotted names reach "
                       "nested attributes, an operator suffix (.gt .gte .lt .lte .ne .regex) compares, a list of "
                       "values is an OR",
        "additionalProperties": {"anyOf": [FILTER_VALUE, {"type": "array", "items": FILTER_VALUE, "minItems": 1}]},
    }
    arguments["sort"] = {"type": "string", "description": "Attributes to sort by, comma-separated, '-' for "
                                                           "descending (e.g. -name,state); default newest first"}
    return _tool_object(arguments)
