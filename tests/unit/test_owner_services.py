"""The services hand the caller's party to storage as a plain value, and nothing when there is none."""

from __future__ import annotations

from typing import Any

import pytest

from services.errors import NotFound
from services.hub import HubService
from services.list_query import ListQuery
from services.ports import Page
from services.queries import QueryService


class Recording:
    """A repository that records the owner each call was given ("-" when none)."""

    def __init__(self, found: Any = None, deleted: bool = True) -> None:
        self.owners: list[str] = []
        self.apis: list[str] = []
        self.found = found
        self.deleted = deleted

    def add(self, item: Any, events: Any = None, owner: str | None = None, api: str | None = None) -> None:
        self.owners.append(owner or "-")
        self.apis.append(api or "-")

    def get(self, item_id: str, fields: Any = None, owner: str | None = None) -> Any:
        self.owners.append(owner or "-")
        return self.found

    def list(self, query: Any, owner: str | None = None) -> Page:
        self.owners.append(owner or "-")
        return Page([], 0)

    def delete(self, item_id: str, owner: str | None = None, api: str | None = None) -> bool:
        self.owners.append(owner or "-")
        self.apis.append(api or "-")
        return self.deleted


def test_query_service_passes_the_owner() -> None:
    repo = Recording()
    service = QueryService(repo)  # type: ignore[arg-type]
    created = service.create({"name": "n"}, "http://h/q", owner="shop")
    assert "owner" not in created
    service.create({"name": "n"}, "http://h/q")
    service.list(ListQuery(), owner="shop")
    service.list(ListQuery())
    with pytest.raises(NotFound):
        service.retrieve("x", owner="shop")
    assert repo.owners == ["shop", "-", "shop", "-", "shop"]


def test_hub_service_passes_the_owner() -> None:
    repo = Recording(deleted=False)
    service = HubService(repo)  # type: ignore[arg-type]
    assert "owner" not in service.register({"callback": "https://x.example.com/cb"}, owner="shop")
    with pytest.raises(NotFound):
        service.unregister("s1", owner="centre")
    assert repo.owners == ["shop", "centre"]


def test_a_hub_tags_its_subscriptions_with_its_api() -> None:
    repo = Recording(deleted=False)
    HubService(repo).register({"callback": "https://x.example.com/cb"})  # type: ignore[arg-type]
    party_role_hub = HubService(repo, api="partyRole")  # type: ignore[arg-type]
    party_role_hub.register({"callback": "https://x.example.com/cb"})
    with pytest.raises(NotFound):
        party_role_hub.unregister("s1")
    assert repo.apis == ["-", "partyRole", "partyRole"]
