from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from storage.hub_repository import MongoHubRepository
from storage.listener_repository import MongoListenerEventRepository


def test_hub_repository(db: Any) -> None:
    repo = MongoHubRepository(db)
    repo.ensure_indexes()
    repo.add({"id": "h1", "callback": "http://l/cb"})
    repo.add({"id": "h2", "callback": "http://l/cb2", "query": "eventType=X"})
    assert repo.get("h1") == {"id": "h1", "callback": "http://l/cb"}
    assert [s["id"] for s in repo.all()] == ["h1", "h2"]
    assert repo.delete("h1") is True
    assert repo.delete("h1") is False
    assert repo.get("h1") is None


def test_listener_repository_keeps_events_as_data(db: Any) -> None:
    repo = MongoListenerEventRepository(db)
    repo.ensure_indexes()
    for i, kind in enumerate(["A", "B", "A"]):
        repo.add({"id": str(i), "eventType": kind, "eventId": str(i),
                  "receivedAt": datetime(2024, 1, 1, 0, i, tzinfo=UTC),
                  "event": {"event": {"$set": {"x": 1}}, "n": i}})
    recent = repo.recent(10)
    assert [r["id"] for r in recent] == ["2", "1", "0"]
    assert recent[0]["event"] == {"event": {"$set": {"x": 1}}, "n": 2}
    assert [r["id"] for r in repo.recent(10, "A")] == ["2", "0"]
    assert len(repo.recent(1)) == 1
