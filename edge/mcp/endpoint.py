"""``TMF680_MCP_PATH`` (default ``/mcp``) in the application every server process runs.

``install_mcp`` adds one ASGI middleware in front of Connexion's routing. It answers the MCP path
with the SDK's streamable-HTTP session manager and passes every other request on, so ``tmf680
serve`` and every gunicorn worker serve the endpoint beside the API, with the same access log and
metrics (operation ``mcp``).

Lifespan: the session manager runs its requests in an anyio task group that must be open while the
app serves. The middleware sees the app's ASGI lifespan go by and keeps the manager running for
exactly that long (entered before the app's start-up, left after its shutdown); a request that
arrives without it (a server run without lifespan) is a 503.

Stateless, JSON responses: each POST is a complete MCP exchange answered with one JSON body, with no
session kept in the process. With several gunicorn workers (or machines) a client's next request may
reach another process, which does not know a session another one created (the stateful mode would
answer 404 "Session not found" there), and an SSE stream would pin a connection to one worker. The
tools need nothing across requests (no server-initiated sampling, elicitation or notifications), so
statelessness costs nothing and any worker serves any call. For the same reason only POST is served:
GET (a stream for server-initiated messages) and DELETE (the end of a session) are 405.

Authentication (``TMF680_AUTH=jwt``): the bearer token is verified as for the API (``edge.auth``),
before the body is read; a missing or invalid one is the API's 401 TMF Error with its
``WWW-Authenticate`` challenge, which MCP clients expect at the HTTP level. The scope is per tool
(read or write), checked by ``edge.mcp.server`` as a tool error with the API's 403 message.
Request bodies are bounded by ``TMF680_MAX_BODY_BYTES`` (the SDK's own limit, answered 413).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from connexion.middleware import MiddlewarePosition
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from edge.context import PARTY_SCOPE_KEY
from edge.errors import RequestRejected
from edge.mcp.ports import McpServices, McpSettings
from edge.mcp.server import CLAIMS_SCOPE_KEY, build_server
from edge.mcp.tools import build_tools
from edge.request_log import observation
from edge.spec.loader import TMF680

if TYPE_CHECKING:
    from edge.auth import AccessPolicy, TokenVerifier

OPERATION = "mcp"  # the access log's and metrics' operation label


class McpEndpoint:
    """ASGI middleware: the MCP path goes to the session manager, everything else to ``app``."""

    def __init__(self, app: ASGIApp, manager: StreamableHTTPSessionManager, path: str,
                 auth: tuple[TokenVerifier, AccessPolicy] | None = None) -> None:
        self.app = app
        self.manager = manager
        self.paths = frozenset({path, path + "/"})
        self.auth = auth
        self.running = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            async with self.manager.run():
                self.running = True
                try:
                    await self.app(scope, receive, send)
                finally:
                    self.running = False
            return
        if scope["type"] != "http" or scope.get("path") not in self.paths:
            await self.app(scope, receive, send)
            return
        if scope.get("method") != "POST":
            # No server-initiated messages, no sessions: the GET stream would only hold a connection
            # open, and there is no session to DELETE. The MCP transport answers 405 for these.
            raise RequestRejected(405, "this method is not defined for this resource", headers={"Allow": "POST"})
        if self.auth is not None:
            from edge.auth import identify

            verifier, policy = self.auth
            claims, party = await identify(verifier, policy, Headers(scope=scope).get("authorization"))
            scope = {**scope, CLAIMS_SCOPE_KEY: claims, PARTY_SCOPE_KEY: party}
        if not self.running:
            raise RequestRejected(503, "the MCP endpoint is not running (the server started without its lifespan)")
        await self.manager.handle_request(scope, receive, send)


def install_mcp(app: Any, container: McpServices, settings: McpSettings) -> None:
    """Serve the MCP endpoint at ``settings.mcp_path`` when ``TMF680_MCP`` is on (nothing otherwise).

    Call before the API's authentication and body guard are added: the endpoint is then in front of
    them (it authenticates and bounds bodies itself) and they never see its requests.
    """
    if not settings.mcp:
        return
    tools = build_tools(TMF680.normalised(base_path=settings.base_path), settings)
    manager = StreamableHTTPSessionManager(build_server(tools, container, settings), json_response=True,
                                           stateless=True, max_request_body_size=settings.max_body_bytes)
    auth = None
    if settings.auth == "jwt":  # PyJWT only when used, as for the API
        from edge.auth import AccessPolicy, build_verifier

        party_claim = settings.auth_party_claim if settings.restrict_to_party else None
        auth = (build_verifier(settings), AccessPolicy.for_mounts((), party_claim=party_claim))
    app.add_middleware(McpEndpoint, position=MiddlewarePosition.BEFORE_ROUTING, manager=manager,
                       path=settings.mcp_path, auth=auth)
    routes = observation(app, TMF680.raw(), settings.mount_paths).static_routes
    routes.update({settings.mcp_path: OPERATION, settings.mcp_path + "/": OPERATION})
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:  # the SDK logs every request at INFO
        logging.getLogger("mcp").setLevel(logging.WARNING)
