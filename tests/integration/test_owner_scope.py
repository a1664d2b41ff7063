"""Per-party restriction in storage: the owner condition is part of the Mongo filter (so counts and
pages are the party's), served by an index, and never part of the resource."""

from __future__ import annotations

from typing import Any

import pytest
from test_query_repository import q

from services.events import CREATE_EVENT, event_factory
from services.notifications import Relay
from storage.hub_repository import MongoHubRepository
from storage.notification_repository import MongoNotificationRepository
from storage.query_repository import COLLECTION, MongoQueryRepository


@pytest.fixture
def owned(db: Any) -> MongoQueryRepository:
    """Five queries of party-a, two of party-b, one without an owner (made while auth was off)."""
    r = MongoQueryRepository(db, query_timeout_ms=2000)
    r.ensure_indexes()
    for i in range(5):
        r.add({"id": f"a{i}", "href": f"/a{i}", "name": "shared", "state": "accepted"}, [], owner="party-a")
    for i in range(2):
        r.add({"id": f"b{i}", "href": f"/b{i}", "name": "shared", "state": "accepted"}, [], owner="party-b")
    r.add({"id": "anon", "href": "/anon", "name": "shared", "state": "accepted"}, [])
    return r


def test_list_counts_and_pages_only_the_owners(owned: MongoQueryRepository) -> None:
    page = owned.list(q([("name", "shared")], offset=0, limit=2), owner="party-a")
    assert page.total == 5 and [d["id"] for d in page.items] == ["a4", "a3"]
    assert owned.list(q([]), owner="party-b").total == 2
    assert owned.list(q([]), owner="nobody").total == 0
    assert owned.list(q([])).total == 8  # no owner: everything, as with auth off


def test_get_finds_only_the_owners(owned: MongoQueryRepository) -> None:
    assert owned.get("a1", owner="party-a") == {"id": "a1", "href": "/a1", "name": "shared", "state": "accepted",
                                                   "recommendationItem": []}
    assert owned.get("a1", owner="party-b") is None
    assert owned.get("anon", owner="party-a") is None
    assert owned.get("a1") is not None


def test_owner_is_not_an_attribute(owned: MongoQueryRepository) -> None:
    assert owned.list(q([("owner", "party-a")]), owner="party-a").total == 0
    assert owned.get("a1", ("owner",), owner="party-a") == {"id": "a1", "href": "/a1"}


def test_the_default_list_uses_the_owner_index(owned: MongoQueryRepository, db: Any) -> None:
    plan = db[COLLECTION].find({"owner": "party-a"}).sort([("created", -1), ("_id", -1)]).explain()
    winning = str(plan["queryPlanner"]["winningPlan"])
    assert "owner_created" in winning and "SORT" not in winning.replace("SORT_KEY", "")


def test_hub_delete_by_owner_and_owner_never_returned(db: Any) -> None:
    hub = MongoHubRepository(db)
    hub.ensure_indexes()
    hub.add({"id": "s1", "callback": "https://x.example.com/cb"}, owner="party-a")
    assert hub.get("s1") == {"id": "s1", "callback": "https://x.example.com/cb"}
    assert hub.all() == [{"id": "s1", "callback": "https://x.example.com/cb", "owner": "party-a"}]  # relay only
    assert hub.delete("s1", owner="party-b") is False
    assert hub.delete("s1", owner="party-a") is True


@pytest.mark.parametrize("per_party", [True, False])
def test_relay_gives_each_party_the_events_of_its_own_queries(db: Any, per_party: bool) -> None:
    queries = MongoQueryRepository(db)
    hub = MongoHubRepository(db)
    notifications = MongoNotificationRepository(db)
    for repo in (queries, hub, notifications):
        repo.ensure_indexes()
    hub.add({"id": "sub-a", "callback": "https://a.example.com/cb"}, owner="party-a")
    hub.add({"id": "sub-b", "callback": "https://b.example.com/cb"}, owner="party-b")
    hub.add({"id": "sub-anon", "callback": "https://c.example.com/cb"})
    events = event_factory()
    for qid, owner in [("qa", "party-a"), ("qb", "party-b"), ("q-anon", None)]:
        resource = {"id": qid, "href": f"/{qid}", "state": "accepted"}
        queries.add(resource, [events(CREATE_EVENT, resource)], **({"owner": owner} if owner else {}))

    assert Relay(queries, hub, notifications, per_party=per_party).run_once() == 3
    sent = {(d["subscription"], notifications.event(d["eventId"])["correlationId"])  # type: ignore[index]
            for d in notifications.deliveries()}
    for delivery in notifications.deliveries():
        assert "party-" not in str(notifications.event(delivery["eventId"]))  # the owner stays internal
    if per_party:
        assert sent == {("sub-a", "qa"), ("sub-b", "qb")}
    else:
        assert len(sent) == 9  # every subscription, every event: unchanged with the restriction off
