"""``tmf680 worker`` retrains as the history changes (real processes, real mongod)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from listener import wait_until
from pymongo import MongoClient
from servers import terminate, tmf680


def products(customers: range) -> str:
    return "\n".join(json.dumps({"id": f"p{c}-{o}", "@type": "Product", "productOffering": {"id": o},
                                 "relatedParty": [{"id": f"c{c}", "role": "customer"}]})
                     for c in customers for o in ("a", "b") if o == "a" or c % 2) + "\n"


def test_the_worker_retrains_after_enough_changes(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env.update({"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_RETRAIN_AFTER": "10",
                "TMF680_RETRAIN_EVERY_S": "0", "TMF680_POLL_MS": "50", "TMF680_LOG_FORMAT": "text"})
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    models = client[db_name]["model"]

    def history_import(text: str) -> None:
        done = subprocess.run([*tmf680(), "history", "import", "-"], input=text, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr

    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([*tmf680(), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        history_import(products(range(20)))  # 30 documents: the first model
        first = wait_until(lambda: models.find_one({"version": 1}), timeout_s=60)
        assert first["meta"]["metadata"]["historySeq"] == 30
        history_import(products(range(20, 24)))  # 6 more: below 10, no new model
        history_import(products(range(24, 27)))  # 4 more (10 in all): model 2
        second = wait_until(lambda: models.find_one({"version": 2}), timeout_s=60)
        assert second["meta"]["metadata"]["historySeq"] == 40
        assert models.count_documents({}) == 2
    finally:
        terminate(worker)
        client.close()
    text = log.read_text()
    assert "retraining on" in text and text.count(" published (ease") == 2, text
