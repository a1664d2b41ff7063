"""What the MCP endpoint needs of the composition root, as protocols (``app.container.Container`` and
``app.settings.Settings`` provide them): the edge never imports the root."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from edge.auth_settings import AuthSettings
from edge.context import EdgeSettings, ProcessServices

if TYPE_CHECKING:
    from services.recommendations import RecommendationProcessor


class McpSettings(EdgeSettings, AuthSettings, Protocol):
    """The endpoint's own settings; the ``TMF680_AUTH*`` ones are ``AuthSettings`` (no PyJWT loaded)."""

    @property
    def mcp(self) -> bool: ...
    @property
    def mcp_path(self) -> str: ...
    @property
    def base_path(self) -> str: ...
    @property
    def max_body_bytes(self) -> int: ...
    @property
    def recommendation_limit(self) -> int: ...


class McpServices(ProcessServices, Protocol):
    @property
    def settings(self) -> McpSettings: ...
    @property
    def recommendations(self) -> RecommendationProcessor: ...
