from __future__ import annotations

import os
import threading
from typing import Any

import pytest
from pymongo import MongoClient, monitoring
from pymongo.errors import DuplicateKeyError

from services.errors import InvalidRequest, StoreUnavailable
from services.list_query import parse_list_query
from storage.mongo import make_client
from storage.query_repository import MongoQueryRepository


def q(pairs: list[tuple[str, str]], offset: int | None = None, limit: int | None = None) -> Any:
    return parse_list_query(pairs, offset=offset, limit=limit, max_limit=1000)


@pytest.fixture
def repo(db: Any) -> MongoQueryRepository:
    r = MongoQueryRepository(db, query_timeout_ms=2000)
    r.ensure_indexes()
    return r


@pytest.fixture
def seeded(repo: MongoQueryRepository) -> MongoQueryRepository:
    docs = [
        {"id": "a", "href": "/a", "name": "alpha", "state": "done", "instantSyncRecommendation": True,
         "relatedParty": {"id": "c1", "@referredType": "Customer"},
         "validFor": {"startDateTime": "2024-01-01T00:00:00Z"},
         "recommendationItem": [{"priority": 1, "product": {}}, {"priority": 2, "product": {}}]},
        {"id": "b", "href": "/b", "name": "beta", "state": "accepted",
         "relatedParty": {"id": "c2", "@referredType": "Customer"},
         "validFor": {"startDateTime": "2024-06-01T02:00:00+02:00"},
         "recommendationItem": [{"priority": 3, "product": {}}]},
        {"id": "c", "href": "/c", "name": "gamma", "state": "inProgress",
         "relatedParty": {"id": "c1", "@referredType": "Customer"}, "$where": "1"},
    ]
    for doc in docs:
        repo.add(doc)
    return repo


def ids(repo: MongoQueryRepository, pairs: list[tuple[str, str]], **kw: Any) -> list[str]:
    return [d["id"] for d in repo.list(q(pairs, **kw)).items]


def test_indexes_exist(repo: MongoQueryRepository, db: Any) -> None:
    names = set(db["queryProductRecommendation"].index_information())
    assert {"id_unique", "relatedParty_id_sorted", "state_sorted", "created_desc", "date_times"} <= names


def test_indexes_of_earlier_versions_are_replaced(db: Any) -> None:
    col = db["queryProductRecommendation"]
    col.create_index([("r.relatedParty.id", 1), ("created", -1)], name="relatedParty_id")
    MongoQueryRepository(db).ensure_indexes()
    names = set(col.index_information())
    assert "relatedParty_id" not in names and "relatedParty_id_sorted" in names


def test_a_party_s_list_in_default_order_reads_the_index_without_sorting(seeded: MongoQueryRepository,
                                                                          db: Any) -> None:
    col = db["queryProductRecommendation"]
    plan = col.find({"r.relatedParty.id": "c1"}).sort([("created", -1), ("_id", -1)]).limit(20).explain()
    winning = str(plan["queryPlanner"]["winningPlan"])
    assert "relatedParty_id_sorted" in winning and "'stage': 'SORT'" not in winning


def test_id_is_unique(repo: MongoQueryRepository) -> None:
    repo.add({"id": "x"})
    with pytest.raises(DuplicateKeyError):
        repo.add({"id": "x"})


def test_round_trip_keeps_dollar_keys_as_data(seeded: MongoQueryRepository) -> None:
    doc = seeded.get("c")
    assert doc is not None and doc["$where"] == "1"


def test_default_order_is_newest_first(seeded: MongoQueryRepository) -> None:
    assert ids(seeded, []) == ["c", "b", "a"]


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("id", "a")], ["a"]),
        ([("name", "beta")], ["b"]),
        ([("relatedParty.id", "c1")], ["c", "a"]),
        ([("state", "done"), ("state", "accepted")], ["b", "a"]),
        ([("state", "done,inProgress")], ["c", "a"]),
        ([("state.ne", "done")], ["c", "b"]),
        ([("relatedParty.id", "c1"), ("state", "done")], ["a"]),
        ([("instantSyncRecommendation", "true")], ["a"]),
        ([("recommendationItem.priority", "3")], ["b"]),
        ([("recommendationItem.priority.gt", "1")], ["b", "a"]),
        ([("recommendationItem.priority.gte", "3")], ["b"]),
        ([("recommendationItem.priority.lt", "2")], ["a"]),
        ([("name>", "beta")], ["c", "b"]),  # name>=beta
        ([("name.regex", "^al")], ["a"]),
        ([("name", "~ta$")], ["b"]),
        ([("$where", "1")], ["c"]),
        ([("nothing", "x")], []),
    ],
)
def test_filters(seeded: MongoQueryRepository, pairs: list[tuple[str, str]], expected: list[str]) -> None:
    assert ids(seeded, pairs) == expected


def test_date_times_compare_as_instants_across_offsets(seeded: MongoQueryRepository) -> None:
    # b starts 2024-06-01T00:00Z written with a +02:00 offset; a plain string compare would be wrong
    assert ids(seeded, [("validFor.startDateTime.gt", "2024-05-31T23:00:00Z")]) == ["b"]
    assert ids(seeded, [("validFor.startDateTime.lt", "2024-06-01T01:00:00+00:00")]) == ["b", "a"]
    assert ids(seeded, [("validFor.startDateTime", "2024-06-01T00:00:00Z")]) == ["b"]


def test_paging_and_counts(seeded: MongoQueryRepository) -> None:
    page = seeded.list(q([], offset=1, limit=1))
    assert page.total == 3 and [d["id"] for d in page.items] == ["b"]
    assert seeded.list(q([], offset=5)).items == []
    assert seeded.list(q([], limit=0)).total == 3


def test_projection(seeded: MongoQueryRepository) -> None:
    assert seeded.get("a", ("name",)) == {"id": "a", "href": "/a", "name": "alpha"}
    (item,) = seeded.list(q([("id", "a"), ("fields", "state")])).items
    assert item == {"id": "a", "href": "/a", "state": "done"}


def test_list_queries_carry_a_server_side_time_limit(mongo_uri: str, db_name: str) -> None:
    """A costly client regex is bounded by maxTimeMS on both the count and the find."""
    seen: list[dict[str, Any]] = []

    class Listener(monitoring.CommandListener):
        def started(self, event: monitoring.CommandStartedEvent) -> None:
            if event.command_name in {"find", "aggregate"}:
                seen.append(dict(event.command))

        def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

        def failed(self, event: monitoring.CommandFailedEvent) -> None: ...

    client: MongoClient = MongoClient(mongo_uri, event_listeners=[Listener()])  # type: ignore[type-arg]
    repo = MongoQueryRepository(client[db_name], query_timeout_ms=1234)
    repo.add({"id": "z", "name": "a" * 30})
    repo.add({"id": "y", "name": "a" * 31})
    repo.list(q([("name.regex", "(a+)+$")], limit=1))  # a full page: the total needs a count
    client.close()
    assert [cmd.get("maxTimeMS") for cmd in seen] == [1234, 1234]


class _Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in {"find", "aggregate", "count"}:
            self.names.append(event.command_name)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None: ...

    def failed(self, event: monitoring.CommandFailedEvent) -> None: ...


@pytest.mark.parametrize(("offset", "limit", "expected_ids", "round_trips"), [
    (None, 20, ["c", "b", "a"], ["find"]),            # short first page: it is the whole list
    (1, 20, ["b", "a"], ["find"]),                     # short later page with items: offset + items
    (None, 2, ["c", "b"], ["find", "aggregate"]),      # full page: more may follow, count them
    (5, 20, [], ["find", "aggregate"]),                # past the end: the total is unknown, count
    (None, 0, [], ["aggregate"]),                      # limit 0 asks for the count only
    (2**70, 20, [], ["aggregate"]),                    # beyond any collection (and BSON's skip)
])
def test_the_total_costs_a_count_only_when_the_page_cannot_tell_it(
        mongo_uri: str, db_name: str, offset: int | None, limit: int, expected_ids: list[str],
        round_trips: list[str]) -> None:
    commands = _Commands()
    client: MongoClient = MongoClient(mongo_uri, event_listeners=[commands])  # type: ignore[type-arg]
    repo = MongoQueryRepository(client[db_name])
    for qid in ("a", "b", "c"):
        repo.add({"id": qid})
    commands.names.clear()
    page = repo.list(q([], offset=offset, limit=limit))
    client.close()
    assert [d["id"] for d in page.items] == expected_ids
    assert page.total == 3
    assert commands.names == round_trips


def test_a_query_over_its_time_limit_is_an_invalid_request(mongo_uri: str, db_name: str) -> None:
    if os.environ.get("TMF680_TEST_MONGODB_URI"):
        pytest.skip("needs the test session's own mongod (started with enableTestCommands)")
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.admin.command("configureFailPoint", "maxTimeAlwaysTimeOut", mode="alwaysOn")
    try:
        with pytest.raises(InvalidRequest, match="too long"):
            MongoQueryRepository(client[db_name]).list(q([("name", "x")]))
    finally:
        client.admin.command("configureFailPoint", "maxTimeAlwaysTimeOut", mode="off")
        client.close()


def test_concurrent_adds_are_all_counted(repo: MongoQueryRepository) -> None:
    def worker(n: int) -> None:
        for i in range(25):
            repo.add({"id": f"{n}-{i}", "relatedParty": {"id": "p"}})

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    page = repo.list(q([("relatedParty.id", "p")], limit=10))
    assert page.total == 100 and len(page.items) == 10


def test_unreachable_database_is_store_unavailable() -> None:
    client = make_client("mongodb://127.0.0.1:1/", timeout_ms=200)
    repo = MongoQueryRepository(client["x"])
    with pytest.raises(StoreUnavailable):
        repo.get("a")
    client.close()
