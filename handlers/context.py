"""Access from a handler to the services the composition root built for this process."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import flask
from connexion.context import scope

if TYPE_CHECKING:
    from app.container import Container

EXTENSION = "tmf680"
PARTY_SCOPE_KEY = "tmf680.party"  # app.auth puts the party here


def services() -> Container:
    return cast("Container", flask.current_app.extensions[EXTENSION])


def party() -> str | None:
    """The authenticated caller's party id when ``TMF680_AUTH_RESTRICT_TO_PARTY`` is on (set by
    ``app.auth``), else None: the owner the services keep each party's resources under."""
    value = scope.get(PARTY_SCOPE_KEY)
    return value if isinstance(value, str) else None


def collection_url() -> str:
    """The URL of the collection this request addressed, for ``href`` and ``Location``.

    With ``TMF680_PUBLIC_URL`` set, that prefix replaces the request's scheme and host.
    """
    request = flask.request
    container = services()
    public = container.settings.public_url
    url = request.base_url
    if public:
        url = public + request.script_root + request.path
    return url.rstrip("/")


def query_pairs() -> list[tuple[str, str]]:
    """The query string as (name, value) pairs, repetition kept, in order."""
    return list(flask.request.args.items(multi=True))
