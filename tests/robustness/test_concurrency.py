"""Many clients at once against a real server process: unique ids and consistent counts."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from harness import terminate, wait_for_port
from pymongo import MongoClient

from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"


def test_parallel_creates_and_registrations(tmp_path: Path, mongo_uri: str, db_name: str) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))},
           "MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_WORKERS": "false",
           "TMF680_CALLBACK_ALLOW": "127.0.0.1", "TMF680_LOG_LEVEL": "WARNING",
           "TMF680_ACCESS_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}{BASE}"
    try:
        wait_for_port(port, server)
        totals: list[int] = []

        def create(n: int) -> list[str]:
            with httpx.Client(timeout=30) as client:
                ids = []
                for i in range(25):
                    response = client.post(f"{url}/queryProductRecommendation", json={"name": f"c{n}-{i}"})
                    assert response.status_code == 201, response.text
                    ids.append(response.json()["id"])
                    totals.append(int(client.get(f"{url}/queryProductRecommendation",
                                                 params={"limit": 1}).headers["x-total-count"]))
                return ids

        def register(n: int) -> list[str]:
            with httpx.Client(timeout=30) as client:
                return [client.post(f"{url}/hub", json={"callback": f"http://127.0.0.1:9/{n}/{i}"}).json()["id"]
                        for i in range(10)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            created = [i for ids in pool.map(create, range(8)) for i in ids]
            hubs = [i for ids in pool.map(register, range(8)) for i in ids]
        assert len(created) == len(set(created)) == 200
        assert len(hubs) == len(set(hubs)) == 80
        listed = httpx.get(f"{url}/queryProductRecommendation", params={"limit": 1000}, timeout=30)
        assert listed.headers["x-total-count"] == "200" and set(created) == {q["id"] for q in listed.json()}
        assert all(1 <= t <= 200 for t in totals) and max(totals) == 200
    finally:
        terminate(server)
    client = MongoClient(mongo_uri)
    assert client[db_name]["hub"].count_documents({}) == 80
    client.close()
