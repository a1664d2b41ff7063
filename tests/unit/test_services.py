"""Services against in-memory fakes of the repository ports (the real ones are integration-tested)."""

from __future__ import annotations

from typing import Any

import pytest

from services.errors import InvalidRequest, NotFound
from services.hub import HubService
from services.list_query import ListQuery
from services.listener import CREATE_EVENT, ListenerService
from services.ports import Document, Page
from services.queries import QueryService, with_items


class FakeQueries:
    def __init__(self) -> None:
        self.items: dict[str, Document] = {}

    def add(self, resource: Document, events: list[Document] | None = None, owner: str | None = None) -> None:
        self.items[resource["id"]] = resource
        self.events = events

    def get(self, resource_id: str, fields: tuple[str, ...] | None = None,
            owner: str | None = None) -> Document | None:
        return self.items.get(resource_id)

    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        return Page(list(self.items.values()), len(self.items))


class FakeHub:
    def __init__(self) -> None:
        self.items: dict[str, Document] = {}

    def add(self, subscription: Document, owner: str | None = None, api: str | None = None) -> None:
        self.items[subscription["id"]] = subscription

    def delete(self, subscription_id: str, owner: str | None = None, api: str | None = None) -> bool:
        return self.items.pop(subscription_id, None) is not None

    def get(self, subscription_id: str) -> Document | None:
        return self.items.get(subscription_id)

    def all(self) -> list[Document]:
        return list(self.items.values())


class FakeEvents:
    def __init__(self) -> None:
        self.items: list[Document] = []

    def add(self, record: Document) -> None:
        self.items.append(record)

    def recent(self, limit: int, event_type: str | None = None) -> list[Document]:
        return self.items[-limit:]


def test_create_ignores_client_id_href_state_and_keeps_the_rest() -> None:
    repo = FakeQueries()
    service = QueryService(repo, new_id=lambda: "q1")
    payload: dict[str, Any] = {"id": "evil", "href": "http://evil", "state": "done", "name": "n", "x-ext": [1],
                               "recommendationItem": [{"id": "forged", "priority": 1}]}
    created = service.create(payload, "http://h/base/queryProductRecommendation/")
    assert created == {
        "id": "q1",
        "href": "http://h/base/queryProductRecommendation/q1",
        "name": "n",
        "x-ext": [1],
        "state": "accepted",
        "recommendationItem": [],
        "@type": "QueryProductRecommendation",
    }
    assert repo.items["q1"] == created


def test_create_hands_the_resource_to_the_processor_seam() -> None:
    class Done:
        def on_create(self, resource: Document) -> Document:
            return {**resource, "state": "done", "recommendationItem": []}

    repo = FakeQueries()
    created = QueryService(repo, Done(), new_id=lambda: "q2").create({}, "http://h/q")
    assert created["state"] == "done"
    assert repo.items["q2"]["state"] == "done"


def test_retrieve_unknown_is_not_found() -> None:
    with pytest.raises(NotFound):
        QueryService(FakeQueries()).retrieve("nope")


@pytest.mark.parametrize(
    "callback",
    ["", "not a url", "ftp://x/y", "/relative", "http://", "http://u:p@host/cb", "http://host:99999/"],
)
def test_hub_refuses_callbacks_that_are_not_absolute_http_urls(callback: str) -> None:
    with pytest.raises(InvalidRequest, match="callback"):
        HubService(FakeHub()).register({"callback": callback})


def test_hub_register_and_unregister() -> None:
    hub = FakeHub()
    service = HubService(hub, new_id=lambda: "h1")
    assert service.register({"callback": "https://listener.example/cb", "query": "eventType=X"}) == {
        "id": "h1", "callback": "https://listener.example/cb", "query": "eventType=X"}
    service.unregister("h1")
    with pytest.raises(NotFound):
        service.unregister("h1")


def test_hub_refuses_an_unusable_query() -> None:
    with pytest.raises(InvalidRequest):
        HubService(FakeHub()).register({"callback": "http://l.example/", "query": "name.regex=("})


def test_listener_keeps_events_and_refuses_the_wrong_type() -> None:
    events = FakeEvents()
    service = ListenerService(events, new_id=lambda: "e1")
    record = service.receive(CREATE_EVENT, {"eventId": "1", "eventType": CREATE_EVENT})
    assert record["id"] == "e1" and events.items == [record]
    with pytest.raises(InvalidRequest):
        service.receive(CREATE_EVENT, {"eventType": "QueryProductRecommendationStateChangeEvent"})


@pytest.mark.parametrize(
    ("stored", "fields", "shown"),
    [
        ({"id": "a", "state": "accepted"}, None, {"id": "a", "state": "accepted", "recommendationItem": []}),
        ({"id": "a", "state": "done", "recommendationItem": [{"priority": 1}]}, None,
         {"id": "a", "state": "done", "recommendationItem": [{"priority": 1}]}),
        ({"id": "a", "href": "h"}, ("id",), {"id": "a", "href": "h"}),
        ({"id": "a", "href": "h"}, ("recommendationItem",), {"id": "a", "href": "h", "recommendationItem": []}),
        ({"id": "a", "state": "terminatedWithError", "stateReason": "r"}, None,
         {"id": "a", "state": "terminatedWithError", "stateReason": "r", "recommendationItem": []}),
    ],
)
def test_a_stored_query_is_shown_with_its_items_array(stored: Document, fields: tuple[str, ...] | None,
                                                      shown: Document) -> None:
    assert with_items(stored, fields) == shown
