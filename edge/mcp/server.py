"""The MCP server (the SDK's low-level ``Server``): lists the tools, validates and runs a call.

The low-level server is used rather than FastMCP because FastMCP derives input schemas from Python
signatures, and ours come from the TMF680 document. A call is checked in the API's order: the
token's scope for the tool (read or write, as for GET or POST), then the arguments against the
tool's schema with Connexion's own request validator (so a bad argument gets the message the API
gives the same mistake in a body), then the tool runs in a worker thread (the services block on
MongoDB). Every failure is a tool error (``isError``) whose text is the message of the TMF Error the
API would answer, mapped by ``edge.errors.status_of``; the TMF Error itself is the structured content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import anyio.to_thread
from connexion.json_schema import Draft4RequestValidator, format_error_with_path
from jsonschema import Draft4Validator
from mcp import types
from mcp.server.lowlevel import Server
from starlette.requests import Request

from edge.context import PARTY_SCOPE_KEY
from edge.errors import error_body, status_of
from edge.mcp.ports import McpServices, McpSettings
from edge.mcp.tools import READ, WRITE, Call, Tool
from services.errors import InvalidRequest, NotFound

log = logging.getLogger(__name__)
CLAIMS_SCOPE_KEY = "tmf680.claims"  # mcp_edge.endpoint puts the verified token's claims here
COLLECTION = "queryProductRecommendation"
INSTRUCTIONS = (
    "Product recommendations of a TM Forum TMF680 Recommendation Management server. Use recommend_offerings to "
    "get the offerings to propose to a customer now (it records the query like the REST API does), "
    "explain_recommendation to say why an offering is or is not proposed, and get_recommendation_query / "
    "list_recommendation_queries to read recorded queries."
)


def _version() -> str | None:
    try:
        return metadata.version("tmf680-recommendation")
    except metadata.PackageNotFoundError:
        return None


def error_result(exc: BaseException) -> types.CallToolResult:
    """The tool error for an exception: the API's TMF Error message as text, the Error as structure."""
    status, message = status_of(exc)
    if status >= 500:
        log.error("MCP tool call failed with %s: %r", status, exc, exc_info=status == 500)
    else:
        log.info("MCP tool call rejected with %s: %s", status, exc)
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)],
                                structuredContent=error_body(status, message), isError=True)


def collection_url(request: Request | None, settings: McpSettings) -> str:
    """Where the API serves the queries this request creates (for their ``href``), like
    ``edge.context.collection_url``: ``TMF680_PUBLIC_URL`` or the request's own host."""
    origin = settings.public_url
    if not origin:
        origin = str(request.base_url).rstrip("/") if request is not None else ""
    return f"{origin}{settings.base_path.rstrip('/')}/{COLLECTION}"


def build_server(tools: Sequence[Tool], container: McpServices, settings: McpSettings) -> Server[Any, Any]:
    server: Server[Any, Any] = Server("tmf680-recommendation", version=_version(), instructions=INSTRUCTIONS)
    by_name = {tool.name: tool for tool in tools}
    validators = {tool.name: Draft4RequestValidator(tool.input_schema, format_checker=Draft4Validator.FORMAT_CHECKER)
                  for tool in tools}
    listed = [
        types.Tool(name=tool.name, title=tool.title, description=tool.description, inputSchema=tool.input_schema,
                   annotations=types.ToolAnnotations(title=tool.title, readOnlyHint=tool.access == READ,
                                                     destructiveHint=False, idempotentHint=tool.access == READ,
                                                     openWorldHint=False))
        for tool in tools
    ]
    scopes = {READ: settings.auth_read_scope, WRITE: settings.auth_write_scope}

    @server.list_tools()  # type: ignore[no-untyped-call,untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        return listed

    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: Mapping[str, Any]) -> types.CallToolResult:
        request = server.request_context.request
        scope: Mapping[str, Any] = request.scope if isinstance(request, Request) else {}
        try:
            tool = by_name.get(name)
            if tool is None:
                raise NotFound(f"no tool named {name!r}; the tools are {', '.join(by_name)}")
            claims = scope.get(CLAIMS_SCOPE_KEY)
            if claims is not None:  # TMF680_AUTH=jwt (PyJWT is imported only then)
                from edge.auth import require_scope

                require_scope(scopes[tool.access], claims)
            error = next(iter(validators[name].iter_errors(arguments)), None)  # as Connexion's validate()
            if error is not None:
                raise InvalidRequest(f"{error.message}{format_error_with_path(error)}")
            owner = scope.get(PARTY_SCOPE_KEY)
            call = Call(container, owner if isinstance(owner, str) else None,
                        collection_url(request if isinstance(request, Request) else None, settings))
            result = await anyio.to_thread.run_sync(tool.run, call, arguments)
        except Exception as exc:
            return error_result(exc)
        text = json.dumps(result, ensure_ascii=False, default=str)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], structuredContent=result,
                                    isError=False)

    return server
