"""The MCP tools' input schemas come from the TMF680 document: inlining, parameters, the tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft4Validator, Draft202012Validator

from app.settings import Settings
from edge.mcp import schemas
from edge.mcp.tools import _filter_pairs, build_tools, query_context
from edge.spec.loader import TMF680, SpecError
from services.errors import InvalidRequest

DEFINITIONS = {
    "Leaf": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"],
             "discriminator": "id", "x-tmf": True, "example": {"id": "1"}},
    "Node": {"type": "object", "properties": {"leaf": {"$ref": "#/definitions/Leaf", "description": "the leaf"},
                                              "leaves": {"type": "array", "items": {"$ref": "#/definitions/Leaf"}}}},
    "Loop": {"type": "object", "properties": {"next": {"$ref": "#/definitions/Loop"}}},
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return TMF680.normalised()


@pytest.fixture(scope="module")
def tools(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tool.name: tool.input_schema for tool in build_tools(document, Settings(recommendation_limit=7))}


def test_inline_resolves_nested_refs_keeps_sibling_descriptions_and_drops_swagger_keywords() -> None:
    node = schemas.inline({"$ref": "#/definitions/Node"}, DEFINITIONS)
    leaf = {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
    assert node["properties"]["leaf"] == {**leaf, "description": "the leaf"}
    assert node["properties"]["leaves"]["items"] == leaf
    assert DEFINITIONS["Leaf"]["discriminator"] == "id"  # the input is not modified


@pytest.mark.parametrize(("ref", "message"), [
    ("#/definitions/Loop", "refers to itself through Loop -> Loop"),
    ("#/definitions/Missing", "not a definition"),
    ("other.json#/Leaf", "not a definition"),
])
def test_inline_refuses_what_cannot_be_inlined(ref: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        schemas.inline({"$ref": ref}, DEFINITIONS)


def test_the_recursive_create_definition_is_refused_whole_but_its_context_properties_inline(
        document: dict[str, Any]) -> None:
    with pytest.raises(SpecError, match="refers to itself"):
        schemas.definition(document, schemas.CREATE)  # recommendationItem → Product → ... → Product
    context = schemas.definition_properties(document, schemas.CREATE, schemas.CONTEXT)
    assert set(context) == set(schemas.CONTEXT)
    assert "$ref" not in json.dumps(context)


def test_parameters_come_from_the_operations(document: dict[str, Any]) -> None:
    assert schemas.parameter(document, schemas.LIST, "offset") == {
        "type": "integer", "description": "Requested index for start of resources to be provided in response",
        "minimum": 0}  # minimum: the loader's normalisation
    assert schemas.parameter(document, schemas.RETRIEVE, "id")["type"] == "string"
    with pytest.raises(SpecError, match="no parameter 'nope'"):
        schemas.parameter(document, schemas.LIST, "nope")


def test_tool_schemas_are_the_documents_definitions(tools: dict[str, dict[str, Any]], document: dict[str, Any]) -> None:
    definitions = document["definitions"]
    recommend = tools["recommend_offerings"]
    for name in ("channel", "category", "productOrder"):
        item = definitions[schemas.CREATE]["properties"][name]["items"]["$ref"].removeprefix("#/definitions/")
        assert recommend["properties"][name]["items"] == schemas.definition(document, item)
    assert recommend["properties"]["relatedParty"] == schemas.definition(document, "RelatedParty")
    place = recommend["properties"]["place"]
    assert place["required"] == definitions["RelatedPlaceRefOrValue"]["required"]
    assert place["description"] == definitions[schemas.CREATE]["properties"]["place"]["description"]
    assert recommend["properties"]["shoppingCartItem"]["items"] == schemas.definition(document, "ItemRef")
    assert recommend["properties"]["limit"]["maximum"] == 7  # TMF680_RECOMMENDATION_LIMIT
    assert recommend["additionalProperties"] is False
    explain = tools["explain_recommendation"]
    assert explain["properties"]["productOffering"]["required"] == ["id"]  # ProductOfferingRef
    assert tools["get_recommendation_query"]["required"] == ["id"]
    assert tools["list_recommendation_queries"]["properties"]["limit"]["minimum"] == 0
    for schema in tools.values():
        assert "$ref" not in json.dumps(schema)
        Draft4Validator.check_schema(schema)
        Draft202012Validator.check_schema(schema)  # MCP's default dialect


def test_a_changed_document_changes_the_tools(document: dict[str, Any]) -> None:
    changed = json.loads(json.dumps(document))
    changed["definitions"]["ChannelRef"]["properties"]["code"] = {"type": "string"}
    tools = {tool.name: tool.input_schema for tool in build_tools(changed, Settings())}
    assert "code" in tools["recommend_offerings"]["properties"]["channel"]["items"]["properties"]


def test_query_context_and_filters() -> None:
    assert query_context({"customerId": "c1", "channel": [{"id": "web"}], "limit": 3}) == {
        "channel": [{"id": "web"}], "relatedParty": {"id": "c1", "@referredType": "Customer", "role": "customer"}}
    with pytest.raises(InvalidRequest, match="not both"):
        query_context({"customerId": "c1", "relatedParty": {"id": "c2"}})
    assert list(_filter_pairs({"state": ["done", "accepted"], "instantSyncRecommendation": True, "n.gt": 3})) == [
        ("state", "done"), ("state", "accepted"), ("instantSyncRecommendation", "true"), ("n.gt", "3")]
    with pytest.raises(InvalidRequest, match="'sort' is not a filter"):
        list(_filter_pairs({"sort": "name"}))
