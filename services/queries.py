"""queryProductRecommendation: create, retrieve, list."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from services.errors import NotFound
from services.events import CREATE_EVENT, EventFactory, event_factory
from services.list_query import ListQuery
from services.ports import Document, Page, QueryRepository, TaskProcessor

RESOURCE_TYPE = "QueryProductRecommendation"
ITEMS = "recommendationItem"
SERVER_OWNED = ("id", "href", ITEMS)


def with_items(resource: Document, fields: tuple[str, ...] | None = None) -> Document:
    """A stored query as the API shows it: ``recommendationItem`` is always an array (empty while
    ``accepted``/``inProgress``, when nothing was eligible, or after an error), also for queries
    stored before the attribute was always set. With ``fields``, only when it is named."""
    if isinstance(resource.get(ITEMS), list) or (fields is not None and ITEMS not in fields):
        return resource
    return {**resource, ITEMS: []}


class AcceptingProcessor:
    """The default task processor: the query is stored ``accepted`` for later processing."""

    def on_create(self, resource: Document) -> Document:
        return resource


class QueryService:
    def __init__(
        self,
        repository: QueryRepository,
        processor: TaskProcessor | None = None,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        events: EventFactory | None = None,
    ) -> None:
        self._repo = repository
        self._processor = processor or AcceptingProcessor()
        self._new_id = new_id
        self._events = events or event_factory()

    def create(self, payload: dict[str, Any], collection_url: str, owner: str | None = None) -> Document:
        """Store a new query. ``collection_url`` is the URL its ``href`` is built under.

        Every attribute the client sent is kept, except ``id``/``href`` (server-made) and
        ``state`` and ``recommendationItem``, which belong to the task lifecycle: ``accepted`` with
        no items, until the processor (at once) or a worker (later) answers.
        ``owner`` (the caller's party under the per-party restriction) is stored beside it.
        """
        resource_id = self._new_id()
        resource: Document = {k: v for k, v in payload.items() if k not in SERVER_OWNED}
        resource = {
            "id": resource_id,
            "href": f"{collection_url.rstrip('/')}/{resource_id}",
            **resource,
            "state": "accepted",
            ITEMS: [],
        }
        resource.setdefault("@type", RESOURCE_TYPE)
        resource = self._processor.on_create(resource)
        self._repo.add(resource, [self._events(CREATE_EVENT, resource)], owner=owner)
        return resource

    def retrieve(self, resource_id: str, fields: tuple[str, ...] | None = None,
                 owner: str | None = None) -> Document:
        """The query; with an ``owner``, another party's query is NotFound too (its existence is
        not revealed)."""
        found = self._repo.get(resource_id, fields, owner=owner)
        if found is None:
            raise NotFound(f"no queryProductRecommendation with id {resource_id!r}")
        return found

    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        """A page of the matching queries (only ``owner``'s, when given; the total counts only those)."""
        return self._repo.list(query, owner=owner)
