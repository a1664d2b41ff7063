"""partyRole storage (the generic resource store as TMF669 uses it) against the real mongod:
list semantics, revisions, deletes with their event, the system role seeded by racing processes,
and the relay keeping each API's events to its own hub."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import MongoClient

from services.list_query import parse_list_query
from services.notifications import Relay
from services.party_roles import PartyRoleService
from storage.hub_repository import MongoHubRepository
from storage.notification_repository import MongoNotificationRepository
from storage.party_role_repository import COLLECTION, MongoPartyRoleRepository
from storage.query_repository import MongoQueryRepository

URL = "http://h/tmf-api/partyRoleManagement/v4/partyRole"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def repo(db: Any) -> MongoPartyRoleRepository:
    store = MongoPartyRoleRepository(db, query_timeout_ms=2000)
    store.ensure_indexes()
    return store


@pytest.fixture
def roles(repo: MongoPartyRoleRepository) -> PartyRoleService:
    return PartyRoleService(repo)


def q(pairs: list[tuple[str, str]], offset: int | None = None, limit: int | None = None) -> Any:
    return parse_list_query(pairs, offset=offset, limit=limit, max_limit=1000)


def test_list_filters_fields_and_pages_like_tmf680(roles: PartyRoleService) -> None:
    for name, status in (("Sales", "active"), ("Billing", "inactive"), ("Support", "active")):
        roles.create({"name": name, "status": status, "$where": "1", "engagedParty": {"id": f"p-{name}",
                                                                                   "@referredType": "Individual"}},
                     URL)
    page = roles.list(q([("status", "active")]))
    assert [r["name"] for r in page.items] == ["Support", "Sales"] and page.total == 2  # newest first
    assert page.items[0]["$where"] == "1"  # a $-key is data
    page = roles.list(q([("engagedParty.id", "p-Billing"), ("fields", "name")]))
    assert page.items == [{"id": page.items[0]["id"], "href": page.items[0]["href"], "name": "Billing"}]
    page = roles.list(q([("sort", "name")], offset=1, limit=1))
    assert [r["name"] for r in page.items] == ["Sales"] and page.total == 3
    assert roles.list(q([("name.regex", "^S")])).total == 2


def test_replace_needs_the_revision_it_read(repo: MongoPartyRoleRepository, roles: PartyRoleService) -> None:
    created = roles.create({"name": "Sales"}, URL)
    current, revision = repo.get_revision(created["id"]) or ({}, 0)
    assert revision == 1
    assert repo.replace({**current, "status": "a"}, revision, []) is True
    assert repo.replace({**current, "status": "b"}, revision, []) is False  # another change came first
    assert roles.patch(created["id"], {"statusReason": "why"}) == {**current, "status": "a", "statusReason": "why"}
    assert repo.get_revision(created["id"]) == (roles.retrieve(created["id"]), 3)


def test_a_deleted_role_is_gone_at_once_and_leaves_with_its_event(db: Any, repo: MongoPartyRoleRepository,
                                                                  roles: PartyRoleService) -> None:
    created = roles.create({"name": "Sales"}, URL)
    roles.delete(created["id"])
    assert repo.get(created["id"]) is None and roles.list(q([])).total == 0
    assert repo.get_revision(created["id"]) is None
    assert repo.delete(created["id"], {"eventId": "again"}) is False
    ((key, events),) = repo.outbox()
    assert [e["eventType"] for e in events] == ["PartyRoleCreateEvent", "PartyRoleDeleteEvent"]
    assert events[1]["event"]["partyRole"] == created
    for event in events:
        repo.ack_outbox(key, event["eventId"])
    assert db[COLLECTION].count_documents({}) == 0  # the tombstone left with its last event


def test_the_system_role_is_seeded_once_by_racing_processes(mongo_uri: str, db_name: str,
                                                            repo: MongoPartyRoleRepository) -> None:
    created: list[bool] = []

    def start() -> None:  # one process's start-up, with its own client
        client: MongoClient = MongoClient(mongo_uri, tz_aware=True)  # type: ignore[type-arg]
        try:
            created.append(PartyRoleService(MongoPartyRoleRepository(client[db_name])).ensure_system_role("Admin", URL))
        finally:
            client.close()

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 7 + [True]
    (admin,) = repo.list(q([("name", "Admin")])).items
    assert admin["characteristic"] == [{"name": "rights", "valueType": "array", "value": ["read", "write"]}]
    assert PartyRoleService(repo).rights(["Admin", "x"]) == {"read", "write"}


def test_a_deleted_system_role_is_seeded_again(repo: MongoPartyRoleRepository, roles: PartyRoleService) -> None:
    assert roles.ensure_system_role("Admin", URL) is True
    (admin,) = repo.named(["Admin"])
    roles.delete(admin["id"])
    assert repo.named(["Admin"]) == []
    assert roles.ensure_system_role("Admin", URL) is True
    assert [r["id"] != admin["id"] for r in repo.named(["Admin"])] == [True]


def test_each_hub_gets_only_its_own_apis_events(db: Any, repo: MongoPartyRoleRepository,
                                                roles: PartyRoleService) -> None:
    queries = MongoQueryRepository(db)
    hub = MongoHubRepository(db)
    notifications = MongoNotificationRepository(db)
    for store in (queries, hub, notifications):
        store.ensure_indexes()
    hub.add({"id": "s680", "callback": "https://a.example.com/cb"})
    hub.add({"id": "s669", "callback": "https://b.example.com/cb"}, api="partyRole")
    assert hub.delete("s669") is False  # not through TMF680's hub
    queries.add({"id": "q1", "state": "accepted"},
                [{"eventId": "e680", "eventType": "QueryProductRecommendationCreateEvent",
                  "event": {"queryProductRecommendation": {"id": "q1"}}}])
    roles.create({"name": "Sales"}, URL)
    relay = Relay([(queries, None), (repo, "partyRole")], hub, notifications, clock=lambda: NOW)
    assert relay.run_once() == 2
    deliveries = {(d["subscription"], d["eventId"]) for d in db["delivery"].find()}
    (party_role_event,) = [e for s, e in deliveries if s == "s669"]
    assert deliveries == {("s680", "e680"), ("s669", party_role_event)}
    assert relay.run_once() == 0
    assert hub.get("s669") == {"id": "s669", "callback": "https://b.example.com/cb"}  # the tag is not shown
