"""newman runs every collection in ``collections/`` against live servers started as the README says
(``tmf680 serve --demo``, what ``scripts/serve.sh`` runs: one process, its embedded mongod, the demo
catalogue and model), on a free port with a private data directory:

- ``fresh``: a new data directory (the demo data loaded at start, no query stored), then again with
  ``Recommendation`` on the document's own ``/customer/v4`` mount, which the official kit's config targets;
- ``populated``: the same data with 1,000 queries in each task state (accepted, inProgress, done,
  terminatedWithError), served by an API-only process (``TMF680_WORKERS=false``, the README's scale-out
  mode) so the accepted ones stay accepted during the run;
- ``empty``: ``tmf680 serve`` without ``--demo`` on a new data directory: no catalogue, no model.
  Collections that declare ``requiresCatalogue`` (TMFC050's category check) are skipped there.

Each run gets a Postman environment like the official kit's: ``Recommendation`` (the TMF680 API root
ending in ``/``), ``PartyRole`` (the TMF669 root), and facts about the loaded catalogue for TMFC050.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from newman_runner import RunResult, collections, requires_catalogue, run, write_environment
from pymongo import MongoClient
from servers import terminate, tmf680, wait_for_port

from runtime.embedded_mongo import free_port, running_uri
from storage.query_repository import MongoQueryRepository

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CATALOGUE = REPO_ROOT / "recommender" / "demo" / "data" / "catalog.json"
BASE = "/tmf-api/recommendationManagement/v4"
LEGACY_BASE = "/customer/v4"  # the document's own basePath, which the official kit's config.json targets
PARTY_ROLE_BASE = "/tmf-api/partyRoleManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
PER_STATE = 1000
DB_NAME = "tmf680"  # the default TMF680_DB_NAME
UNKNOWN_CATEGORY = "non-existent-id"  # TMFC050's failure payload


@dataclass
class Live:
    url: str
    data_dir: Path


@contextmanager
def serving(data_dir: Path, log: Path, *args: str, **extra_env: str) -> Iterator[Live]:
    """``tmf680 serve`` on a free port with its embedded mongod in ``data_dir``; SIGTERM on exit."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env.update(PYTHONUNBUFFERED="1", TMF680_DATA_DIR=str(data_dir), TMF680_LOG_LEVEL="WARNING",
               TMF680_ACCESS_LOG_LEVEL="WARNING", **extra_env)
    with log.open("ab") as out:
        process = subprocess.Popen([*tmf680(), "serve", "--port", str(port), *args], cwd=REPO_ROOT, env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, timeout=300, log=log)  # --demo loads the data and trains first
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/health/live", timeout=10).status_code == 200
        yield Live(url, data_dir)
    finally:
        terminate(process)


def category_facts(catalogue: Path) -> dict[str, str]:
    """A category of the catalogue file the server loaded that has sub-categories, and the offerings in
    it or below it (read here from the file, not from the server)."""
    data = json.loads(catalogue.read_text())
    children: dict[str, set[str]] = {c["id"]: set() for c in data["category"]}
    for category in data["category"]:
        if category.get("parentId"):
            children.setdefault(category["parentId"], set()).add(category["id"])
        children[category["id"]].update(sub["id"] for sub in category.get("subCategory") or ())
    chosen = next(c for c in data["category"] if not c.get("isRoot") and children[c["id"]])
    tree, pending = set(), deque([chosen["id"]])
    while pending:
        current = pending.popleft()
        if current not in tree:
            tree.add(current)
            pending.extend(children.get(current, ()))
    offerings = sorted(o["id"] for o in data["productOffering"]
                       if tree & {ref["id"] for ref in o.get("category") or ()})
    assert 0 < len(offerings) < len(data["productOffering"]), "the check must be able to fail"
    return {"CatalogCategoryId": chosen["id"], "CatalogCategoryHref": chosen.get("href", ""),
            "CatalogCategoryOfferings": json.dumps(offerings)}


def environment(live: Live, catalogue: bool, base: str = BASE) -> dict[str, str]:
    values = {"Recommendation": f"{live.url}{base}/", "PartyRole": f"{live.url}{PARTY_ROLE_BASE}/",
              "CatalogLoaded": str(catalogue).lower(), "UnknownCategoryId": UNKNOWN_CATEGORY}
    if catalogue:
        values.update(category_facts(DEMO_CATALOGUE))
    return values


def run_every_collection(live: Live, server: str, catalogue: bool, out_dir: Path,
                         record: Callable[[RunResult], None], base: str = BASE) -> list[RunResult]:
    env_file = write_environment(out_dir / f"environment-{server}.json", environment(live, catalogue, base))
    results = []
    for collection in collections():
        if requires_catalogue(collection) and not catalogue:
            continue
        result = run(collection, env_file, out_dir, server)
        record(result)
        results.append(result)
    return results


def assert_all_passed(results: list[RunResult]) -> None:
    assert results, "no collection ran"
    for r in results:
        assert r.total > 0, f"{r.collection} [{r.server}] asserted nothing"
    failures = [f"{r.collection} [{r.server}] {line}" for r in results for line in r.failures]
    failed = sum(r.failed for r in results)
    assert failed == 0, f"{failed} failed assertions:\n" + "\n".join(failures[:40]) + (
        f"\nnewman's output: {', '.join(str(r.cli_log) for r in results if r.failed)}")


def counts_by_state(data_dir: Path) -> dict[str, int]:
    uri = running_uri(data_dir)
    assert uri, "the server's embedded mongod is not running"
    client: MongoClient[Any] = MongoClient(uri)
    try:
        return MongoQueryRepository(client[DB_NAME]).counts_by_state()
    finally:
        client.close()


def stored_query(url: str, state: str, i: int) -> dict[str, Any]:
    """A query as the storage layer holds it in ``state``; ``accepted`` ones shaped as earlier versions
    stored them (no ``recommendationItem``: the API must still show the array)."""
    qid = f"populated-{state}-{i}"
    resource: dict[str, Any] = {"id": qid, "href": f"{url}{QPR}/{qid}", "name": qid, "state": state,
                                "instantSyncRecommendation": False, "@type": "QueryProductRecommendation"}
    if state != "accepted":
        resource["recommendationItem"] = []
    if state == "terminatedWithError":
        resource["stateReason"] = "populated for the conformance run"
    return resource


def populate(live: Live, per_state: int) -> None:
    """``per_state`` queries in each task state, interleaved in time so that every page mixes them:
    ``done`` ones through the API (the engine's real answers), the others through the storage layer."""
    uri = running_uri(live.data_dir)
    assert uri
    mongo: MongoClient[Any] = MongoClient(uri)
    try:
        repo = MongoQueryRepository(mongo[DB_NAME])
        with httpx.Client(base_url=live.url, timeout=30) as client:
            for i in range(per_state):
                created = client.post(QPR, json={"name": f"populated-done-{i}", "channel": [{"id": "web"}],
                                                 "relatedParty": {"id": f"customer-{i % 97}",
                                                                  "@referredType": "Customer"}})
                assert created.status_code == 201 and created.json()["state"] == "done", created.text
                for state in ("accepted", "inProgress", "terminatedWithError"):
                    repo.add(stored_query(live.url, state, i), [])
    finally:
        mongo.close()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-data")


def test_every_collection_passes_on_a_fresh_demo_server(demo_dir: Path, tmp_path: Path,
                                                        record: Callable[[RunResult], None]) -> None:
    with serving(demo_dir, tmp_path / "server.log", "--demo") as live:
        assert counts_by_state(live.data_dir) == {}
        results = run_every_collection(live, "fresh", True, tmp_path, record)
        results += run_every_collection(live, "fresh-customer-v4", True, tmp_path, record, base=LEGACY_BASE)
        assert_all_passed(results)


def test_every_collection_passes_with_1000_queries_in_each_state(demo_dir: Path, tmp_path: Path,
                                                                  record: Callable[[RunResult], None]) -> None:
    with serving(demo_dir, tmp_path / "server.log", "--demo", TMF680_WORKERS="false") as live:
        started = time.monotonic()
        populate(live, PER_STATE)
        print(f"populated {PER_STATE} queries per state in {time.monotonic() - started:.1f} s")
        before = counts_by_state(live.data_dir)
        assert all(before.get(s, 0) >= PER_STATE
                   for s in ("accepted", "inProgress", "done", "terminatedWithError")), before
        results = run_every_collection(live, "populated", True, tmp_path, record)
        assert counts_by_state(live.data_dir)["accepted"] >= PER_STATE  # nothing processed them meanwhile
        assert_all_passed(results)


def test_every_collection_passes_on_an_empty_server(tmp_path: Path, record: Callable[[RunResult], None]) -> None:
    with serving(tmp_path / "data", tmp_path / "server.log") as live:
        results = run_every_collection(live, "empty", False, tmp_path, record)
        assert {r.collection for r in results} >= {"tmf680.postman_collection.json"}
        assert_all_passed(results)
