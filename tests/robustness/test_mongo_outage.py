"""MongoDB stops while the API serves: requests fail fast with 503, the service recovers by itself when
MongoDB returns, and no acknowledged (201) write is lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from harness import Load, running, wait_for

from app.factory import create_app
from app.settings import Settings
from runtime.embedded_mongo import EmbeddedMongo, free_port
from storage.mongo import make_client

QPR = "/tmf-api/recommendationManagement/v4/queryProductRecommendation"


def test_requests_fail_fast_during_an_outage_and_nothing_acknowledged_is_lost(tmp_path: Path) -> None:
    port = free_port()
    mongo = EmbeddedMongo(tmp_path / "data", port=port)  # journaled: what a 201 promised must survive
    uri = mongo.start()
    settings = Settings(mongodb_uri=uri, db_name="outage", workers=False, mongo_timeout_ms=500, model_refresh_s=0)
    app = create_app(settings)
    try:
        with app.test_client() as client:
            acknowledged = []
            for i in range(20):
                response = client.post(QPR, json={"name": f"before {i}"})
                assert response.status_code == 201
                acknowledged.append(response.json()["id"])

            mongo.stop()
            for request in (lambda: client.post(QPR, json={"name": "during"}), lambda: client.get(QPR),
                            lambda: client.get(f"{QPR}/{acknowledged[0]}"), lambda: client.get("/health/ready")):
                started = time.monotonic()
                response = request()
                elapsed = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert elapsed < 3.0  # the 500 ms server selection timeout, not a hang
            assert client.post(QPR, json={"name": "during"}).headers["retry-after"] == "1"

            restarted = EmbeddedMongo(tmp_path / "data", port=port)
            restarted.start()
            try:
                began = time.monotonic()
                while client.get(f"{QPR}?limit=1").status_code not in (200, 206):
                    assert time.monotonic() - began < 30, "the service did not recover"
                    time.sleep(0.1)
                print(f"\nrecovered {time.monotonic() - began:.2f} s after mongod answered again")
                listed = client.get(QPR, params={"limit": 1000}).json()
                assert set(acknowledged) <= {item["id"] for item in listed}  # no 201 lost
                assert client.post(QPR, json={"name": "after"}).status_code == 201
            finally:
                restarted.stop()
    finally:
        mongo.stop()


def test_write_concern_is_configurable(mongo_uri: str) -> None:
    for value, expected in (("1", 1), ("majority", "majority"), ("2", 2)):
        client = make_client(mongo_uri, 500, write_concern=value)
        assert client.write_concern.document["w"] == expected
        client.close()
    assert Settings.from_env({"TMF680_WRITE_CONCERN": "majority"}).write_concern == "majority"


def test_an_outage_while_requests_flow_to_a_server_process(
    tmp_path: Path, record_figures: Callable[[dict[str, Any]], None]
) -> None:
    """``tmf680 serve`` under load from 4 client threads (create then retrieve, no retries); its journaled
    mongod is stopped for 3 s and started again on the same data. Every failure is a 503 TMF Error
    answered within the 500 ms MongoDB timeout (plus a margin), nothing else fails, the load succeeds
    again by itself, and every create answered 201, before or after, is still there."""
    port = free_port()
    mongo = EmbeddedMongo(tmp_path / "data", port=port)
    uri = mongo.start()
    restarted = EmbeddedMongo(tmp_path / "data", port=port)
    try:
        with running("serve", tmp_path, uri, "outage_load", TMF680_MONGO_TIMEOUT_MS="500",
                     TMF680_WORKERS="false") as server:
            load = Load(server.url, 4)
            load.start()
            try:
                wait_for(lambda: load.ok >= 100, 30, "load running")
                stopped_at = time.monotonic()
                mongo.stop()
                time.sleep(3)
                restarted_at = time.monotonic()
                restarted.start()  # returns once the new mongod answers
                answered_at = time.monotonic()
                wait_for(lambda: load.last_ok > restarted_at, 30, "a request served after mongod returned")
                recovered_s = load.first_ok_after(restarted_at) - restarted_at
                ok_at_recovery = load.ok
                wait_for(lambda: load.ok >= ok_at_recovery + 100, 30, "load continuing")
            finally:
                load.stop()
            with httpx.Client(base_url=server.url, timeout=10) as client:
                missing = [i for i in load.acknowledged if client.get(f"{QPR}/{i}").status_code != 200]
    finally:
        restarted.stop()
        mongo.stop()
    kinds = sorted({f.detail for f in load.failures})
    slowest = max((f.taken for f in load.failures), default=0.0)
    record_figures({"fault": "mongod stopped 3 s under load (tmf680 serve, 4 client connections)",
                    "requests_ok": load.ok, "requests_failed_503": len(load.failures), "failure_kinds": kinds,
                    "slowest_503_s": round(slowest, 2), "acknowledged_creates": len(load.acknowledged),
                    "acknowledged_lost": len(missing), "outage_s": round(restarted_at - stopped_at, 2),
                    "mongod_restart_s": round(answered_at - restarted_at, 2),
                    "recovery_after_mongod_restart_began_s": round(recovered_s, 2),
                    "recovery_after_mongod_answered_s": round(max(0.0, recovered_s - (answered_at - restarted_at)), 2)})
    assert load.failures and kinds == ["503"]  # failures, all of them 503s: no 500, no dropped connection
    # confined to the outage: nothing failed before mongod stopped, no request started after the recovery failed
    assert all(stopped_at <= f.when and f.when - f.taken <= load.first_ok_after(restarted_at) for f in load.failures)
    assert slowest < 3.0  # the 500 ms server selection timeout, not a hang
    assert missing == []
