"""Task lease, outbox and delivery queue against the real mongod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.events import CREATE_EVENT, STATE_CHANGE_EVENT, new_event
from services.list_query import parse_list_query
from services.notifications import Relay
from storage.hub_repository import MongoHubRepository
from storage.notification_repository import MongoNotificationRepository
from storage.query_repository import MongoQueryRepository

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.fixture
def queries(db: Any) -> MongoQueryRepository:
    repo = MongoQueryRepository(db)
    repo.ensure_indexes()
    return repo


@pytest.fixture
def notifications(db: Any) -> MongoNotificationRepository:
    repo = MongoNotificationRepository(db)
    repo.ensure_indexes()
    return repo


def add(queries: MongoQueryRepository, qid: str) -> None:
    resource = {"id": qid, "state": "accepted", "$odd": 1}
    queries.add(resource, [new_event(CREATE_EVENT, resource, NOW)])


def change(state: str = "inProgress") -> dict[str, Any]:
    return new_event(STATE_CHANGE_EVENT, {"state": state}, NOW)


def test_claim_takes_the_oldest_accepted_task_once_and_records_its_event(queries: MongoQueryRepository) -> None:
    add(queries, "q1")
    add(queries, "q2")
    first = queries.claim("w1", 30, NOW, change())
    second = queries.claim("w2", 30, NOW, change())
    assert first is not None and second is not None
    assert (first["id"], first["state"], first["$odd"]) == ("q1", "inProgress", 1)
    assert second["id"] == "q2"
    assert queries.claim("w3", 30, NOW, change()) is None
    ((_, events),) = [(k, e) for k, e in queries.outbox() if any(x["correlationId"] == "q1" for x in e)]
    assert [(e["eventType"], e["event"]["queryProductRecommendation"]["state"]) for e in events] == [
        (CREATE_EVENT, "accepted"), (STATE_CHANGE_EVENT, "inProgress")]
    assert events[1]["event"]["queryProductRecommendation"]["$odd"] == 1


def test_a_query_stored_before_items_were_always_set_is_read_with_the_array(queries: MongoQueryRepository) -> None:
    add(queries, "old")  # stored as earlier versions did: no recommendationItem while accepted
    assert queries.get("old")["recommendationItem"] == []
    assert queries.get("old", ("state",)) == {"id": "old", "state": "accepted"}  # not named: not added
    assert queries.get("old", ("recommendationItem",))["recommendationItem"] == []
    (listed,) = queries.list(parse_list_query([], offset=None, limit=None, max_limit=10)).items
    assert listed["recommendationItem"] == []
    claimed = queries.claim("w1", 30, NOW, change())
    assert claimed is not None and claimed["recommendationItem"] == []
    (_, events), = queries.outbox()
    assert [e["event"]["queryProductRecommendation"]["recommendationItem"] for e in events] == [[], []]


def test_an_expired_lease_is_taken_over_and_only_the_new_owner_completes(queries: MongoQueryRepository) -> None:
    add(queries, "q1")
    assert queries.claim("w1", 5, NOW, change()) is not None
    assert queries.claim("w2", 5, NOW + timedelta(seconds=1), change()) is None  # lease still held
    taken = queries.claim("w2", 5, NOW + timedelta(seconds=10), change())
    assert taken is not None and taken["id"] == "q1"
    done = {**taken, "state": "done"}
    assert queries.complete(done, "w1", change("done")) is False  # the dead worker's late answer
    assert queries.complete(done, "w2", change("done")) is True
    assert queries.complete(done, "w2", change("done")) is False  # never twice
    (_, events), = queries.outbox()
    assert [e["event"]["queryProductRecommendation"]["state"] for e in events] == ["accepted", "inProgress", "done"]
    assert queries.counts_by_state() == {"done": 1}


def test_relay_is_idempotent_and_keeps_order(queries: MongoQueryRepository, notifications: MongoNotificationRepository,
                                             db: Any) -> None:
    hub = MongoHubRepository(db)
    hub.ensure_indexes()
    hub.add({"id": "s-all", "callback": "http://l/all"})
    hub.add({"id": "s-create", "callback": "http://l/c", "query": f"eventType={CREATE_EVENT}"})
    add(queries, "q1")
    queries.claim("w1", 30, NOW, change())
    outbox = queries.outbox()
    relay = Relay(queries, hub, notifications, clock=lambda: NOW)
    # a relay that died after storing the first event: the next run repeats it without duplicates
    notifications.store_event(outbox[0][1][0])
    assert relay.run_once() == 2
    assert relay.run_once() == 0 and queries.outbox() == []
    heads = notifications.heads(NOW)
    assert {h["subscription"] for h in heads} == {"s-all", "s-create"}
    all_queue = notifications.deliveries()
    assert [d["subscription"] for d in all_queue].count("s-all") == 2
    assert [d["subscription"] for d in all_queue].count("s-create") == 1
    s_all = [d for d in all_queue if d["subscription"] == "s-all"]
    assert s_all[0]["seq"] < s_all[1]["seq"]
    head = next(h for h in heads if h["subscription"] == "s-all")
    assert head["_id"] == s_all[0]["_id"]  # the oldest first
    event = notifications.event(head["eventId"])
    assert event is not None and event["eventType"] == CREATE_EVENT


def test_delivery_claim_retry_and_cancel(notifications: MongoNotificationRepository) -> None:
    sub = {"id": "s", "callback": "http://l/"}
    for n, event_id in enumerate(["e1", "e2"], 1):
        notifications.add_delivery(sub, event_id, n, NOW)
    notifications.add_delivery(sub, "e1", 1, NOW)  # matching twice creates it once
    (head,) = notifications.heads(NOW)
    assert head["eventId"] == "e1"
    assert notifications.claim(head["_id"], "w1", NOW, 30) is not None
    assert notifications.claim(head["_id"], "w2", NOW, 30) is None
    assert notifications.heads(NOW) == []  # in flight: the queue waits (order)
    notifications.retry_later(head["_id"], "w1", "HTTP 503", NOW + timedelta(seconds=60))
    assert notifications.heads(NOW) == []  # not due yet
    (again,) = notifications.heads(NOW + timedelta(seconds=61))
    assert again["eventId"] == "e1" and again["attempts"] == 1 and again["lastError"] == "HTTP 503"
    assert notifications.claim(again["_id"], "w1", NOW, 30) is not None
    notifications.delivered(again["_id"], "w1", NOW)
    (second,) = notifications.heads(NOW + timedelta(seconds=61))
    assert second["eventId"] == "e2"
    assert notifications.cancel("s") == 1
    assert notifications.counts() == {"delivered": 1, "cancelled": 1}
