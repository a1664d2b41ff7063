"""The MCP endpoint end to end: the SDK's own client (``mcp.client.streamable_http``) over HTTP against
real server processes on the demo data: gunicorn with two workers (auth off) and ``tmf680 serve``
with ``TMF680_AUTH=jwt``, the per-party restriction and read/write scopes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest
from listener import Listener, wait_until
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from pymongo import MongoClient
from servers import terminate, tmf680, wait_for_port
from token_issuer import AUDIENCE, ISSUER, Issuer

from app.container import build_container
from app.settings import Settings
from cli.demo import load_demo_data
from edge.spec.loader import TMF680
from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
CUSTOMER = "9167-APMXZ"  # fiber, phone, multiple lines, streaming TV, month-to-month; no streaming movies
TOOLS = {"recommend_offerings", "get_recommendation_query", "list_recommendation_queries", "explain_recommendation"}
T = TypeVar("T")


def run(scenario: Callable[..., Awaitable[T]], *args: Any) -> T:
    return anyio.run(scenario, *args)


@asynccontextmanager
async def mcp_session(url: str, token: str | None = None) -> AsyncIterator[ClientSession]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http, \
            streamable_http_client(url, http_client=http) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(url: str, tool: str, arguments: dict[str, Any], token: str | None = None) -> types.CallToolResult:
    async with mcp_session(url, token) as session:
        return await session.call_tool(tool, arguments)


def ok(result: types.CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    text = result.content[0]
    assert isinstance(text, types.TextContent) and json.loads(text.text) == result.structuredContent
    return result.structuredContent


def error(result: types.CallToolResult) -> tuple[str, str]:
    """(status, message) of a tool error: the message is the text, the TMF Error the structure."""
    assert result.isError
    text = result.content[0]
    assert isinstance(text, types.TextContent)
    body = result.structuredContent or {}
    assert body["@type"] == "Error" and body["message"] == text.text
    return body["status"], text.text


@pytest.fixture(scope="module")
def demo_db(mongo_uri: str) -> Iterator[str]:
    name = f"mcp_{uuid.uuid4().hex[:8]}"
    container = build_container(Settings(mongodb_uri=mongo_uri, db_name=name, workers=False))
    try:
        load_demo_data(container)
    finally:
        container.close()
    yield name
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(name)
    client.close()


def server_env(mongo_uri: str, db: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    return {**env, "PYTHONUNBUFFERED": "1", "MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db,
            "TMF680_CALLBACK_ALLOW": "127.0.0.1", "TMF680_POLL_MS": "50", **extra}


@pytest.fixture(scope="module")
def gunicorn(mongo_uri: str, demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The production command with two workers: stateless MCP must work whichever worker answers."""
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    env = server_env(mongo_uri, demo_db, TMF680_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2")
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, cwd=Path(__file__).resolve().parents[2], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, log=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(server)


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer().add_rsa("k1")


@pytest.fixture(scope="module")
def secured(mongo_uri: str, demo_db: str, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tmf680 serve`` with JWT auth, scopes and the per-party restriction."""
    workdir = tmp_path_factory.mktemp("secured")
    jwks = issuer.write_jwks(workdir / "jwks.json")
    port = free_port()
    env = server_env(mongo_uri, demo_db, TMF680_AUTH="jwt", TMF680_AUTH_JWKS=str(jwks), TMF680_AUTH_ISSUER=ISSUER,
                     TMF680_AUTH_AUDIENCE=AUDIENCE, TMF680_AUTH_READ_SCOPE="tmf680.read",
                     TMF680_AUTH_WRITE_SCOPE="tmf680.write", TMF680_AUTH_RESTRICT_TO_PARTY="true")
    log = workdir / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([*tmf680(), "serve", "--port", str(port)], cwd=workdir, env=env, stdout=out,
                                  stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server, log=log)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(server)


def test_tools_are_listed_with_schemas_from_the_document(gunicorn: str) -> None:
    async def scenario() -> list[types.Tool]:
        async with mcp_session(f"{gunicorn}/mcp") as session:
            return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in run(scenario)}
    assert set(tools) == TOOLS
    assert "$ref" not in json.dumps([tool.inputSchema for tool in tools.values()])
    definitions = TMF680.normalised()["definitions"]
    recommend = tools["recommend_offerings"].inputSchema["properties"]
    assert recommend["channel"]["items"]["properties"] == definitions["ChannelRef"]["properties"]
    assert recommend["relatedParty"]["required"] == definitions["RelatedParty"]["required"]
    assert recommend["limit"]["maximum"] == 5  # TMF680_RECOMMENDATION_LIMIT
    explain = tools["explain_recommendation"].inputSchema
    assert explain["required"] == ["productOffering"]
    assert tools["get_recommendation_query"].annotations.readOnlyHint is True  # type: ignore[union-attr]
    assert tools["recommend_offerings"].annotations.readOnlyHint is False  # type: ignore[union-attr]


def test_recommend_offerings_stores_the_query_and_sends_its_event_like_a_post(gunicorn: str) -> None:
    listener = Listener()
    try:
        hub = httpx.post(f"{gunicorn}{BASE}/hub", json={
            "callback": listener.url(), "query": "eventType=QueryProductRecommendationCreateEvent"}, timeout=10)
        assert hub.status_code == 201, hub.text
        arguments = {"customerId": CUSTOMER, "channel": [{"id": "web"}], "name": "copilot"}
        answer = ok(run(call, f"{gunicorn}/mcp", "recommend_offerings", arguments))
        query = answer["queryProductRecommendation"]
        assert query["state"] == "done"
        offered = [item["id"] for item in answer["recommendations"]]
        assert offered[0] == "streaming-movies"
        assert answer["recommendations"][0] == {"priority": 1, "id": "streaming-movies", "name": "Streaming movies",
                                                **({"href": answer["recommendations"][0]["href"]}
                                                   if "href" in answer["recommendations"][0] else {})}
        assert [item["priority"] for item in answer["recommendations"]] == list(range(1, len(offered) + 1))

        stored = httpx.get(query["href"], timeout=10)  # the href points at the REST API of the same server
        assert stored.status_code == 200
        resource = stored.json()
        assert resource["name"] == "copilot" and resource["instantSyncRecommendation"] is True
        assert resource["relatedParty"] == {"id": CUSTOMER, "@referredType": "Customer", "role": "customer"}
        assert [item["productOffering"]["id"] for item in resource["recommendationItem"]] == offered
        same = {k: v for k, v in resource.items() if k in {"relatedParty", "channel", "instantSyncRecommendation"}}
        posted = httpx.post(f"{gunicorn}{QPR}", json=same, timeout=10).json()
        assert [item["productOffering"]["id"] for item in posted["recommendationItem"]] == offered

        events = wait_until(lambda: [e for e in listener.events()
                                     if e["event"]["queryProductRecommendation"]["id"] == query["id"]])
        assert events[0]["eventType"] == "QueryProductRecommendationCreateEvent"
        assert events[0]["event"]["queryProductRecommendation"]["state"] == "done"
    finally:
        listener.close()

    two = ok(run(call, f"{gunicorn}/mcp", "recommend_offerings", {"customerId": CUSTOMER, "limit": 2}))
    assert [item["id"] for item in two["recommendations"]] == offered[:2]


def test_get_and_list_recommendation_queries(gunicorn: str) -> None:
    async def scenario() -> tuple[dict[str, Any], ...]:
        async with mcp_session(f"{gunicorn}/mcp") as session:
            made = [ok(await session.call_tool("recommend_offerings", {"customerId": "7590-VHVEG", "name": f"q{i}"}))
                    for i in range(3)]
            query_id = made[-1]["queryProductRecommendation"]["id"]
            got = ok(await session.call_tool("get_recommendation_query", {"id": query_id, "fields": "name,state"}))
            page = ok(await session.call_tool("list_recommendation_queries", {
                "filter": {"relatedParty.id": "7590-VHVEG", "name": ["q0", "q1", "q2"]}, "fields": "name",
                "limit": 2, "sort": "name"}))
            rest = ok(await session.call_tool("list_recommendation_queries", {
                "filter": {"relatedParty.id": "7590-VHVEG", "name.regex": "^q[0-2]$"}, "offset": 2}))
            return got, page, rest

    got, page, rest = run(scenario)
    assert set(got) == {"id", "href", "name", "state"} and got["name"] == "q2" and got["state"] == "done"
    assert page["totalCount"] == 3 and page["resultCount"] == 2 and page["partial"] is True
    assert [item["name"] for item in page["items"]] == ["q0", "q1"]
    assert set(page["items"][0]) == {"id", "href", "name"}
    assert rest["totalCount"] == 3 and rest["resultCount"] == 1 and rest["partial"] is False


def test_explain_recommendation_from_the_engine(gunicorn: str) -> None:
    async def scenario() -> tuple[dict[str, Any], ...]:
        async with mcp_session(f"{gunicorn}/mcp") as session:
            movies = ok(await session.call_tool("explain_recommendation", {
                "customerId": CUSTOMER, "productOffering": {"id": "streaming-movies"}}))
            dsl = ok(await session.call_tool("explain_recommendation", {
                "relatedParty": {"id": CUSTOMER, "@referredType": "Customer"},
                "productOffering": {"id": "internet-dsl"}}))
            return movies, dsl

    movies, dsl = run(scenario)
    assert movies["eligible"] and movies["recommended"] and movies["priority"] == 1
    assert "internet-fiber-optic" in movies["held"] and "streaming-tv" in movies["held"]
    assert "requires one of internet-dsl, internet-fiber-optic: fulfilled by internet-fiber-optic" in movies["reasons"]
    assert movies["scoreBasis"] == "co-held offerings"
    weights = [c["weight"] for c in movies["contributions"]]
    assert weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(movies["score"], rel=1e-4, abs=1e-4)
    assert {c["productOffering"]["id"] for c in movies["contributions"]} <= set(movies["held"])
    assert movies["contributions"][0]["productOffering"]["id"] == "streaming-tv"  # movies go with TV
    assert not dsl["eligible"] and dsl["priority"] is None and dsl["failedRules"] == ["relationships"]
    assert any(r.startswith("excluded by internet-fiber-optic") for r in dsl["reasons"])


@pytest.mark.parametrize(
    ("tool", "arguments", "rest"),
    [
        ("recommend_offerings", {"channel": "web"}, ("POST", {"channel": "web"})),
        ("recommend_offerings", {"channel": [{"id": "fax"}], "category": [{"id": "nope"}]},
         ("POST", {"channel": [{"id": "fax"}], "category": [{"id": "nope"}]})),
        ("recommend_offerings", {"shoppingCartItem": [{"itemId": "ghost", "@referredType": "ProductOffering"}]},
         ("POST", {"shoppingCartItem": [{"itemId": "ghost", "@referredType": "ProductOffering"}]})),
        ("get_recommendation_query", {"id": "no-such-query"}, ("GET", "/no-such-query")),
        ("list_recommendation_queries", {"filter": {"name.regex": "("}}, ("GET", "?name.regex=(")),
        # a query parameter's message does not name it in the API; the tool's names the argument
        ("list_recommendation_queries", {"offset": -1}, ("GET", "?offset=-1", " - 'offset'")),
    ],
)
def test_bad_arguments_are_tool_errors_with_the_apis_messages(
        gunicorn: str, tool: str, arguments: dict[str, Any], rest: tuple[str, Any]) -> None:
    method, detail, *suffix = rest
    if method == "POST":
        api = httpx.post(f"{gunicorn}{QPR}", json={"instantSyncRecommendation": True, **detail}, timeout=10)
    else:
        api = httpx.get(f"{gunicorn}{QPR}{detail}", timeout=10)
    assert api.status_code in (400, 404), api.text
    status, message = error(run(call, f"{gunicorn}/mcp", tool, arguments))
    assert (status, message) == (api.json()["status"], api.json()["message"] + "".join(suffix))


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("recommend_offerings", {"customerId": 42}, "42 is not of type 'string' - 'customerId'"),
        ("recommend_offerings", {"limit": 6}, "6 is greater than the maximum of 5 - 'limit'"),
        ("recommend_offerings", {"custommerId": "x"},
         "Additional properties are not allowed ('custommerId' was unexpected)"),
        ("recommend_offerings", {"customerId": "a", "relatedParty": {"id": "b", "@referredType": "Customer"}},
         "give customerId or relatedParty, not both"),
        ("explain_recommendation", {"customerId": CUSTOMER}, "'productOffering' is a required property"),
        ("explain_recommendation", {"productOffering": {"id": "ghost"}},
         "unknown productOffering 'ghost' (not in the product catalogue)"),
        ("list_recommendation_queries", {"filter": {"limit": "3"}},
         "'limit' is not a filter: it is an argument of its own"),
        ("no_such_tool", {}, "no tool named 'no_such_tool'"),
    ],
)
def test_arguments_the_schemas_or_services_refuse(gunicorn: str, tool: str, arguments: dict[str, Any],
                                                  expected: str) -> None:
    status, message = error(run(call, f"{gunicorn}/mcp", tool, arguments))
    assert message.startswith(expected)
    assert status == ("404" if tool == "no_such_tool" else "400")


def test_auth_on_requires_the_apis_token_and_scopes(secured: str, issuer: Issuer) -> None:
    url = f"{secured}/mcp"
    anonymous = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"}, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == 'Bearer realm="tmf680"'
    assert anonymous.json()["@type"] == "Error"
    expired = httpx.post(url, json={}, headers={"Authorization": f"Bearer {issuer.token(exp=1)}"}, timeout=10)
    assert expired.status_code == 401 and expired.json()["message"] == "the token has expired"
    with pytest.raises(ExceptionGroup) as refused:  # the SDK's client gives up on the 401
        run(call, url, "list_recommendation_queries", {})
    assert refused.group_contains(httpx.HTTPStatusError, match="401 Unauthorized")

    reader = issuer.token(sub="agent-a", scope="tmf680.read")
    writer = issuer.token(sub="agent-a", scope="tmf680.read tmf680.write")
    other = issuer.token(sub="agent-b", scope="tmf680.read tmf680.write")

    async def scenario() -> dict[str, Any]:
        async with mcp_session(url, reader) as session:
            assert {tool.name for tool in (await session.list_tools()).tools} == TOOLS
            no_write = error(await session.call_tool("recommend_offerings", {"customerId": CUSTOMER}))
            explained = ok(await session.call_tool("explain_recommendation", {
                "customerId": CUSTOMER, "productOffering": {"id": "streaming-movies"}}))
        async with mcp_session(url, writer) as session:
            made = ok(await session.call_tool("recommend_offerings", {"customerId": CUSTOMER, "name": "secured"}))
            query_id = made["queryProductRecommendation"]["id"]
            mine = ok(await session.call_tool("get_recommendation_query", {"id": query_id}))
            listed = ok(await session.call_tool("list_recommendation_queries", {"filter": {"name": "secured"}}))
        async with mcp_session(url, other) as session:
            hidden = error(await session.call_tool("get_recommendation_query", {"id": query_id}))
            theirs = ok(await session.call_tool("list_recommendation_queries", {"filter": {"name": "secured"}}))
        return {"no_write": no_write, "explained": explained, "mine": mine, "listed": listed, "hidden": hidden,
                "theirs": theirs, "id": query_id}

    found = run(scenario)
    assert found["no_write"] == ("403", "the token lacks the tmf680.write scope this operation needs")
    assert found["explained"]["priority"] == 1
    assert found["mine"]["id"] == found["id"] and found["listed"]["totalCount"] == 1
    assert found["hidden"] == ("404", f"no queryProductRecommendation with id {found['id']!r}")
    assert found["theirs"]["totalCount"] == 0
    # the REST API agrees: the query belongs to agent-a
    rest = httpx.get(f"{secured}{QPR}/{found['id']}", headers={"Authorization": f"Bearer {writer}"}, timeout=10)
    assert rest.status_code == 200 and rest.json()["name"] == "secured"


INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}


def test_the_endpoint_follows_its_settings_and_the_apps_lifespan(settings: Settings) -> None:
    from app.factory import create_app

    moved = create_app(settings.replace(mcp_path="/agents/mcp"))
    with moved.test_client() as client:  # the lifespan runs: the session manager is started
        answer = client.post("/agents/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
        assert answer.json()["result"]["serverInfo"]["name"] == "tmf680-recommendation"
        assert "mcp-session-id" not in answer.headers  # stateless: any worker answers the next request
        assert client.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT).status_code == 404
        for method in ("GET", "DELETE"):  # no server-initiated stream, no session to end
            refused = client.request(method, "/agents/mcp", headers={"Accept": "text/event-stream"})
            assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
            assert refused.json()["message"] == "this method is not defined for this resource"
    no_lifespan = create_app(settings).test_client().post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
    assert no_lifespan.status_code == 503 and "not running" in no_lifespan.json()["message"]
    with create_app(settings.replace(mcp=False)).test_client() as client:
        off = client.post("/mcp", json=INITIALIZE, headers=MCP_ACCEPT)
        assert off.status_code == 404 and off.json()["@type"] == "Error"
