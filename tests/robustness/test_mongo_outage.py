"""MongoDB stops while the API serves: requests fail fast with 503, the service recovers by itself when
MongoDB returns, and no acknowledged (201) write is lost."""

from __future__ import annotations

import time
from pathlib import Path

from app.embedded_mongo import EmbeddedMongo, free_port
from app.factory import create_app
from app.settings import Settings
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
