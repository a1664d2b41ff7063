from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from services.errors import InvalidRequest
from services.events import CREATE_EVENT, STATE_CHANGE_EVENT, compile_query, matches, new_event
from services.tasks import TaskRunner

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(event_type: str = STATE_CHANGE_EVENT, **resource: Any) -> dict[str, Any]:
    return new_event(event_type, {"id": "q1", "state": "done", **resource}, NOW, event_id="e1")


def test_envelope() -> None:
    e = event(CREATE_EVENT, state="accepted")
    assert e["eventId"] == "e1" and e["eventType"] == CREATE_EVENT
    assert e["eventTime"] == e["timeOcurred"] == "2025-01-02T03:04:05.000Z"
    assert e["correlationId"] == "q1" and e["domain"] == "recommendationManagement"
    assert e["event"] == {"queryProductRecommendation": {"id": "q1", "state": "accepted"}}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (None, True),
        ("", True),
        (f"eventType={STATE_CHANGE_EVENT}", True),
        (f"eventType={CREATE_EVENT}", False),
        (f"eventType={CREATE_EVENT},{STATE_CHANGE_EVENT}", True),
        ("event.queryProductRecommendation.state=done", True),
        ("event.queryProductRecommendation.state=accepted", False),
        ("event.queryProductRecommendation.state.ne=accepted", True),
        (f"eventType={STATE_CHANGE_EVENT}&event.queryProductRecommendation.state=inProgress", False),
        ("event.queryProductRecommendation.relatedParty.id=c1", True),
        ("event.queryProductRecommendation.recommendationItem.priority.gt=1", True),
        ("event.queryProductRecommendation.recommendationItem.priority.gt=2", False),
        ("event.queryProductRecommendation.instantSyncRecommendation=true", True),
        ("eventTime.gte=2025-01-02T03:00:00Z", True),
        ("eventTime.lt=2025-01-02T04:04:05%2B02:00", False),
        ("event.queryProductRecommendation.name.regex=^sum", True),
        ("missing.attribute=x", False),
    ],
)
def test_subscription_queries(query: str | None, expected: bool) -> None:
    e = event(relatedParty={"id": "c1"}, recommendationItem=[{"priority": 1}, {"priority": 2}],
              instantSyncRecommendation=True, name="summer offers")
    assert matches(compile_query(query), e) is expected


def test_a_catastrophic_subscription_regex_is_cut_short_and_does_not_match() -> None:
    """``^(a|a)*$`` against 64 ``a`` and a ``!`` backtracks 2^64 times under ``re``; the relay gives up on it
    after its time limit and counts it as not matching (the bound here proves "no hang", not speed)."""
    started = time.monotonic()
    assert not matches(compile_query("event.queryProductRecommendation.name.regex=^(a|a)*$"),
                       event(name="a" * 64 + "!"))
    assert time.monotonic() - started < 5
    assert matches(compile_query("event.queryProductRecommendation.name.regex=^(a|a)*!$"), event(name="a" * 8 + "!"))


def test_an_unusable_query_is_refused() -> None:
    with pytest.raises(InvalidRequest):
        compile_query("name.regex=(")


class FakeStore:
    def __init__(self, task: dict[str, Any] | None, keep_lease: bool = True) -> None:
        self.task = task
        self.keep_lease = keep_lease
        self.completed: list[tuple[dict[str, Any], str, dict[str, Any]]] = []

    def claim(self, owner: str, lease_s: float, now: datetime, event: dict[str, Any]) -> dict[str, Any] | None:
        task, self.task = self.task, None
        return task

    def complete(self, resource: dict[str, Any], owner: str, event: dict[str, Any]) -> bool:
        self.completed.append((resource, owner, event))
        return self.keep_lease


class Recommender:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def recommend(self, resource: Any) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("engine exploded")
        return {**resource, "state": "done", "recommendationItem": []}


def events(event_type: str, resource: dict[str, Any]) -> dict[str, Any]:
    return new_event(event_type, resource, NOW)


def test_task_runner_completes_and_emits_the_final_state() -> None:
    store = FakeStore({"id": "q1", "state": "inProgress"})
    runner = TaskRunner(store, Recommender(), events, "w1")
    assert runner.run_once() is True and runner.run_once() is False
    ((resource, owner, event_),) = store.completed
    assert resource["state"] == "done" and owner == "w1"
    assert event_["eventType"] == STATE_CHANGE_EVENT and event_["event"]["queryProductRecommendation"] == resource
    assert runner.completed == 1


def test_task_runner_records_failures_and_lost_leases() -> None:
    store = FakeStore({"id": "q1", "state": "inProgress"}, keep_lease=False)
    runner = TaskRunner(store, Recommender(fail=True), events, "w1")
    runner.run_once()
    ((resource, _, _),) = store.completed
    assert resource["state"] == "terminatedWithError" and "engine exploded" in resource["stateReason"]
    assert runner.lost == 1 and runner.completed == 0
