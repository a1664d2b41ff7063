"""The benchmark's baseline: a stock Connexion 3 FlaskApp with trivial in-memory handlers.

    gunicorn -c python:app.gunicorn_conf 'bench.baseline_app:create_app()'

It is built from the same document as the server (``edge.spec.loader``'s normalised copy, mounted at the same
paths, so routing and request validation are the same work) with Connexion's stock settings: default
jsonifier, validators, error handlers and middleware stack, no response validation. The handlers keep
queries in a dict of the worker process: create assigns ``id``/``href`` and answers 201, retrieve 200 (404
when unknown), list filters by ``relatedParty.id`` (through a dict by party) and pages with
``offset``/``limit``. What the benchmark measures against it is the cost of everything the server does
beyond routing and validating a request.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import connexion
import flask
from connexion.resolver import Resolver

from app.settings import Settings
from edge.spec.loader import normalise, official_document

Json = dict[str, Any]
Response = tuple[Any, int] | tuple[Any, int, dict[str, str]]


class MemoryStore:
    """Queries by id, newest last, and by relatedParty id (an index, as the server has one in MongoDB);
    thread-safe (Flask handlers run in a thread pool behind ASGI)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.queries: dict[str, Json] = {}
        self._by_party: dict[str, list[Json]] = {}

    def create(self, body: Json, collection_url: str) -> Json:
        with self._lock:
            query_id = str(next(self._ids))
            resource = {**body, "id": query_id, "href": f"{collection_url}/{query_id}", "state": "accepted",
                        "@type": body.get("@type", "QueryProductRecommendation")}
            self.queries[query_id] = resource
            party = _party_id(resource)
            if party is not None:
                self._by_party.setdefault(party, []).append(resource)
        return resource

    def page(self, party_ids: list[str], offset: int, limit: int) -> tuple[list[Json], int]:
        """Newest first: the queries of any of ``party_ids`` (all queries when none is given)."""
        with self._lock:
            if party_ids:
                found = sorted((q for p in set(party_ids) for q in self._by_party.get(p, ())),
                               key=lambda q: int(q["id"]), reverse=True)
            else:
                found = list(reversed(self.queries.values()))
        return found[offset:offset + limit], len(found)


def _party_id(query: Json) -> str | None:
    party = query.get("relatedParty")
    return str(party.get("id")) if isinstance(party, dict) else None


class BaselineHandlers:
    def __init__(self, store: MemoryStore, max_limit: int) -> None:
        self.store = store
        self.max_limit = max_limit

    def create(self, queryProductRecommendation: Json) -> Response:  # noqa: N803 - spec name
        resource = self.store.create(queryProductRecommendation, flask.request.base_url.rstrip("/"))
        return resource, 201, {"Location": resource["href"]}

    def retrieve(self, id: str, fields: str | None = None) -> Response:  # noqa: A002 - spec name
        found = self.store.queries.get(id)
        if found is None:
            return {"code": "404", "reason": "Not Found", "message": f"no query {id}", "@type": "Error"}, 404
        return found, 200

    def list_(self, fields: str | None = None, offset: int | None = None, limit: int | None = None) -> Response:
        offset = offset or 0
        limit = min(limit if limit is not None else self.max_limit, self.max_limit)
        party_ids = flask.request.args.getlist("relatedParty.id")
        items, total = self.store.page(party_ids, offset, limit)
        status = 206 if len(items) == limit and offset + limit < total else 200
        return items, status, {"X-Total-Count": str(total), "X-Result-Count": str(len(items))}

    def register(self, data: Json) -> Response:
        return {"id": "1", **data}, 201

    def unregister(self, id: str) -> Response:  # noqa: A002 - spec name
        return None, 204

    def event(self, data: Json) -> Response:
        return {"id": "1", "callback": flask.request.base_url}, 201

    def operations(self) -> dict[str, Any]:
        return {
            "createQueryProductRecommendation": self.create,
            "retrieveQueryProductRecommendation": self.retrieve,
            "listQueryProductRecommendation": self.list_,
            "registerListener": self.register,
            "unregisterListener": self.unregister,
            "listenToQueryProductRecommendationCreateEvent": self.event,
            "listenToQueryProductRecommendationStateChangeEvent": self.event,
        }


def create_app(settings: Settings | None = None) -> connexion.FlaskApp:
    """A stock FlaskApp on the same normalised document and mount paths as the server."""
    settings = settings or Settings.load()
    operations = BaselineHandlers(MemoryStore(), settings.max_limit).operations()
    app = connexion.FlaskApp(__name__)
    document = official_document()
    for mount in settings.mount_paths:
        app.add_api(normalise(document, base_path=mount), base_path=mount,
                    name=mount.strip("/").replace("/", "_") or "root",
                    resolver=Resolver(function_resolver=operations.__getitem__))
    return app
