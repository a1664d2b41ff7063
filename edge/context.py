"""The request context: what a handler reaches of the process's services and of the request.

The composition root (``app.factory``) puts its ``Container`` into the Flask app's extensions; the edge
sees it only through ``ProcessServices``, the protocol below, so nothing here imports the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, cast

import flask
from connexion.context import scope

if TYPE_CHECKING:
    from services.hub import HubService
    from services.inbound_events import InboundEvents
    from services.listener import ListenerService
    from services.notifications import Dispatcher
    from services.party_roles import PartyRoleService
    from services.queries import QueryService
    from services.recommendations import EngineProvider
    from services.tasks import TaskRunner

EXTENSION = "tmf680"
PARTY_SCOPE_KEY = "tmf680.party"  # edge.auth puts the party here


class EdgeSettings(Protocol):
    """The settings the edge reads per request."""

    @property
    def public_url(self) -> str: ...
    @property
    def max_limit(self) -> int: ...


class ProcessServices(Protocol):
    """What the HTTP edge serves with (the composition root's ``Container`` provides it)."""

    @property
    def settings(self) -> EdgeSettings: ...
    @property
    def queries(self) -> QueryService: ...
    @property
    def hubs(self) -> Mapping[str, HubService]: ...
    @property
    def party_roles(self) -> PartyRoleService: ...
    @property
    def listener(self) -> ListenerService: ...
    @property
    def inbound_events(self) -> InboundEvents: ...
    @property
    def engines(self) -> EngineProvider: ...
    @property
    def dispatcher(self) -> Dispatcher: ...
    @property
    def tasks(self) -> TaskRunner: ...
    # store read-outs for health and metrics (storage/*_repository.py)
    @property
    def client(self) -> Any: ...
    @property
    def query_store(self) -> Any: ...
    @property
    def notifications(self) -> Any: ...
    @property
    def models(self) -> Any: ...
    @property
    def catalog(self) -> Any: ...


def services() -> ProcessServices:
    return cast("ProcessServices", flask.current_app.extensions[EXTENSION])


def party() -> str | None:
    """The authenticated caller's party id when ``TMF680_AUTH_RESTRICT_TO_PARTY`` is on (set by
    ``edge.auth``), else None: the owner the services keep each party's resources under."""
    value = scope.get(PARTY_SCOPE_KEY)
    return value if isinstance(value, str) else None


def collection_url() -> str:
    """The URL of the collection this request addressed, for ``href`` and ``Location``.

    With ``TMF680_PUBLIC_URL`` set, that prefix replaces the request's scheme and host.
    """
    request = flask.request
    public = services().settings.public_url
    url = request.base_url
    if public:
        url = public + request.script_root + request.path
    return url.rstrip("/")


def query_pairs() -> list[tuple[str, str]]:
    """The query string as (name, value) pairs, repetition kept, in order."""
    return list(flask.request.args.items(multi=True))
