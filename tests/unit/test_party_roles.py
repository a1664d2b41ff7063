"""TMF669 partyRole service (services.party_roles) and JSON Merge Patch, against an in-memory store."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from services.errors import Conflict, InvalidRequest, NotFound
from services.list_query import ListQuery
from services.merge_patch import merge_patch
from services.party_roles import (
    ATTRIBUTE_VALUE_CHANGE_EVENT,
    CREATE_EVENT,
    DELETE_EVENT,
    STATE_CHANGE_EVENT,
    PartyRoleService,
    rights_of,
)
from services.ports import Document, Page

URL = "https://api.example.com/tmf-api/partyRoleManagement/v4/partyRole"


class FakeRoles:
    """The PartyRoleRepository port in memory: revisions, an outbox of events, seeds, deletes."""

    def __init__(self, conflicts: int = 0) -> None:
        self.items: dict[str, tuple[Document, int, str | None]] = {}
        self.events: list[Document] = []
        self.seeds: dict[str, str] = {}
        self.conflicts = conflicts  # replace() fails this many times (another writer came first)

    def add(self, resource: Document, events: list[Document], owner: str | None = None) -> None:
        self.items[resource["id"]] = (resource, 1, owner)
        self.events += events

    def get(self, resource_id: str, fields: tuple[str, ...] | None = None,
            owner: str | None = None) -> Document | None:
        found = self.items.get(resource_id)
        if found is None or (owner is not None and found[2] != owner):
            return None
        return found[0]

    def get_revision(self, resource_id: str, owner: str | None = None) -> tuple[Document, int] | None:
        found = self.items.get(resource_id)
        return None if found is None or (owner is not None and found[2] != owner) else (found[0], found[1])

    def replace(self, resource: Document, revision: int, events: list[Document]) -> bool:
        if self.conflicts:
            self.conflicts -= 1
            return False
        _, current, owner = self.items[resource["id"]]
        assert current == revision
        self.items[resource["id"]] = (resource, revision + 1, owner)
        self.events += events
        return True

    def delete(self, resource_id: str, event: Document, owner: str | None = None) -> bool:
        if self.get(resource_id, owner=owner) is None:
            return False
        del self.items[resource_id]
        self.events.append(event)
        return True

    def list(self, query: ListQuery, owner: str | None = None) -> Page:
        return Page([r for r, _, o in self.items.values() if owner in (None, o)], len(self.items))

    def seed(self, name: str, resource: Document, events: list[Document]) -> bool:
        if name in self.seeds:
            return False
        self.seeds[name] = resource["id"]
        self.add(resource, events)
        return True

    def named(self, names: Any) -> list[Document]:
        wanted = set(names)
        return [r for r, _, _ in self.items.values() if r.get("name") in wanted]


def service(repo: FakeRoles) -> PartyRoleService:
    ids = (f"r{i}" for i in itertools.count(1))
    return PartyRoleService(repo, new_id=lambda: next(ids))


def types(events: list[Document]) -> list[str]:
    return [e["eventType"] for e in events]


def test_create_sets_id_href_and_type_and_keeps_the_rest() -> None:
    repo = FakeRoles()
    created = service(repo).create({"id": "mine", "href": "x", "name": "Sales", "status": "active"}, URL + "/")
    assert created == {"id": "r1", "href": f"{URL}/r1", "name": "Sales", "status": "active", "@type": "PartyRole"}
    assert types(repo.events) == [CREATE_EVENT] == ["PartyRoleCreateEvent"]
    event = repo.events[0]
    assert event["event"] == {"partyRole": created}
    assert (event["domain"], event["correlationId"]) == ("partyRoleManagement", "r1")


def test_retrieve_unknown_and_another_partys_role_is_not_found() -> None:
    repo = FakeRoles()
    roles = service(repo)
    roles.create({"name": "Sales"}, URL, owner="shop")
    assert roles.retrieve("r1", owner="shop")["name"] == "Sales"
    for owner in ("centre", None):
        if owner is None:
            with pytest.raises(NotFound, match="no partyRole with id 'nope'"):
                roles.retrieve("nope")
        else:
            with pytest.raises(NotFound):
                roles.retrieve("r1", owner=owner)


def test_patch_merges_and_emits_attribute_and_state_change_events() -> None:
    repo = FakeRoles()
    roles = service(repo)
    roles.create({"name": "Sales", "status": "active", "statusReason": "new", "@baseType": "PartyRole"}, URL)
    patched = roles.patch("r1", {"status": "suspended", "statusReason": None, "id": "other", "href": "h",
                                 "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}})
    assert patched == {"id": "r1", "href": f"{URL}/r1", "name": "Sales", "status": "suspended",
                       "@baseType": "PartyRole", "@type": "PartyRole",
                       "validFor": {"startDateTime": "2026-01-01T00:00:00Z"}}
    assert types(repo.events) == [CREATE_EVENT, ATTRIBUTE_VALUE_CHANGE_EVENT, STATE_CHANGE_EVENT]
    assert repo.events[-1]["title"] == "status is now suspended"
    assert repo.events[-1]["event"]["partyRole"] == patched
    roles.patch("r1", {"name": "Retail"})
    assert types(repo.events)[-1] == ATTRIBUTE_VALUE_CHANGE_EVENT and len(repo.events) == 4


def test_a_patch_that_changes_nothing_writes_nothing() -> None:
    repo = FakeRoles()
    roles = service(repo)
    roles.create({"name": "Sales"}, URL)
    assert roles.patch("r1", {"name": "Sales", "id": "x"})["name"] == "Sales"
    assert repo.items["r1"][1] == 1 and len(repo.events) == 1


def test_a_patch_cannot_remove_the_name_or_reach_an_unknown_role() -> None:
    roles = service(FakeRoles())
    roles.create({"name": "Sales"}, URL)
    with pytest.raises(InvalidRequest, match="keeps its name"):
        roles.patch("r1", {"name": None})
    with pytest.raises(NotFound):
        roles.patch("r9", {"status": "x"})


def test_a_patch_reads_again_when_another_change_came_first_and_gives_up_at_last() -> None:
    repo = FakeRoles(conflicts=2)
    roles = service(repo)
    roles.create({"name": "Sales"}, URL)
    assert roles.patch("r1", {"status": "active"})["status"] == "active"
    repo.conflicts = 100
    with pytest.raises(Conflict):
        roles.patch("r1", {"status": "inactive"})


def test_delete_emits_the_role_as_it_was() -> None:
    repo = FakeRoles()
    roles = service(repo)
    created = roles.create({"name": "Sales"}, URL, owner="shop")
    with pytest.raises(NotFound):
        roles.delete("r1", owner="centre")
    roles.delete("r1", owner="shop")
    assert types(repo.events) == [CREATE_EVENT, DELETE_EVENT]
    assert repo.events[-1]["event"]["partyRole"] == created
    assert repo.events[-1]["title"] == "partyRole deleted"
    with pytest.raises(NotFound):
        roles.delete("r1")


def test_the_system_role_is_created_once_with_every_right() -> None:
    repo = FakeRoles()
    roles = service(repo)
    assert roles.ensure_system_role("Admin", URL) is True
    assert roles.ensure_system_role("Admin", URL) is False
    (admin,) = [r for r, _, _ in repo.items.values()]
    assert admin["name"] == "Admin" and admin["href"] == f"{URL}/r1"
    assert rights_of(admin) == {"read", "write"}
    assert types(repo.events) == [CREATE_EVENT]


@pytest.mark.parametrize(("characteristic", "rights"), [
    ([{"name": "rights", "value": ["read"]}], {"read"}),
    ([{"name": "rights", "value": "read, WRITE"}], {"read", "write"}),
    ([{"name": "rights", "value": ["read", "delete", 3]}], {"read"}),
    ([{"name": "Rights", "value": ["read"]}, {"name": "other", "value": ["write"]}], set()),
    ([{"name": "rights", "value": {"read": True}}], set()),
    (None, set()),
])
def test_rights_come_only_from_the_rights_characteristic(characteristic: Any, rights: set[str]) -> None:
    assert rights_of({"name": "r", "characteristic": characteristic}) == rights


def test_rights_of_several_token_roles_add_up() -> None:
    repo = FakeRoles()
    roles = service(repo)
    roles.create({"name": "reader", "characteristic": [{"name": "rights", "value": ["read"]}]}, URL)
    roles.create({"name": "writer", "characteristic": [{"name": "rights", "value": ["write"]}]}, URL)
    assert roles.rights(["reader"]) == {"read"}
    assert roles.rights(["reader", "writer", "nobody"]) == {"read", "write"}
    assert roles.rights([]) == frozenset()


@pytest.mark.parametrize(("target", "patch", "expected"), [
    ({"a": 1, "b": 2}, {"b": None, "c": 3}, {"a": 1, "c": 3}),
    ({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}),
    ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
    ({"a": "s"}, {"a": {"b": None}}, {"a": {}}),
    ({"a": 1}, ["whole"], ["whole"]),
    ({}, {"a": None}, {}),
])
def test_merge_patch_rfc_7386(target: Any, patch: Any, expected: Any) -> None:
    before = repr(target)
    assert merge_patch(target, patch) == expected
    assert repr(target) == before  # the target is not changed
