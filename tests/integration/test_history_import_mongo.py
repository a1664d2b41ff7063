"""History import and training on the real mongod, from the telco-scale generator at small scale."""

from __future__ import annotations

import io
import json
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.documents import read_documents
from services.history_import import import_history_file
from services.imports import import_history
from services.training import train_and_publish
from storage.history_repository import MongoHistoryRepository
from storage.model_repository import MongoModelRepository

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # bench/ is not installed; appended, so the installed package still comes first

from bench.telco_synthetic import write_products  # noqa: E402

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def history(db: Any) -> MongoHistoryRepository:
    repo = MongoHistoryRepository(db)
    repo.ensure_indexes()
    return repo


def test_import_then_reimport_then_train(history: MongoHistoryRepository, db: Any) -> None:
    text = io.StringIO()
    n = write_products(text, 2000, 150, seed=5)
    lines = text.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]
    report = import_history(read_documents(io.StringIO(text.getvalue()), True), history, batch=300, in_flight=3)
    assert report.read == n == len(docs) and report.written == {"product": n} and not report.errors
    assert history.count() == n
    stored = db["customerHistory"].find_one({"id": docs[7]["id"]})
    assert json.loads(stored["r"]) == docs[7]

    changed = {**docs[7], "status": "terminated"}
    again = "\n".join([*lines[:100], json.dumps(changed)]) + "\n"
    report = import_history(read_documents(io.StringIO(again), True), history, batch=40, in_flight=3)
    assert report.written == {"product": 101} and history.count() == n  # replaced, not added
    docs[7] = changed

    held: dict[str, set[str]] = defaultdict(set)
    pairs = set()
    for doc in docs:
        customer, offering = doc["relatedParty"][0]["id"], doc["productOffering"]["id"]
        pairs.add((customer, offering))
        if doc["status"] in {"active", "suspended"} and "terminationDate" not in doc:
            held[customer].add(offering)
    for customer in list(held)[:50]:
        assert history.held_offerings(customer, NOW) == held[customer]
    chunks = list(history.interaction_chunks(size=1000))
    assert len(chunks) > 1 and sum(len(c) for c, _ in chunks) == n

    models = MongoModelRepository(db)
    models.ensure_indexes()
    version, model = train_and_publish(history, models)
    assert version == 1
    assert model.metadata["nInteractions"] == len(pairs)
    assert model.metadata["nUsers"] == len({c for c, _ in pairs})
    assert set(model.vocabulary) == {o for _, o in pairs}


def test_parallel_file_import_reimport_and_replace(history: MongoHistoryRepository, db: Any) -> None:
    text = io.StringIO()
    n = write_products(text, 1500, 100, seed=9)
    lines = text.getvalue().splitlines()
    docs = [json.loads(line) for line in lines]
    seq = history.change_seq()
    data = "\n".join([*lines[:40], '{"id": "broken"', *lines[40:]]) + "\n"
    report = import_history_file(io.BytesIO(data.encode()), history, workers=2)
    assert report.read == n + 1 and report.written == {"product": n}
    assert [(e.line, e.message.split(":")[0]) for e in report.errors] == [(41, "not valid JSON")]
    assert history.count() == n and history.change_seq() == seq + n
    stored = db["customerHistory"].find_one({"id": docs[7]["id"]})
    assert json.loads(stored["r"]) == docs[7] and stored["customers"] == [docs[7]["relatedParty"][0]["id"]]
    assert stored["written"].tzinfo is not None and "run" not in stored

    changed = {**docs[7], "status": "terminated", "terminationDate": "2025-01-01T00:00:00Z"}
    kept = [*lines[:100], json.dumps(changed)]  # the file is now these 100 documents, one of them changed
    report = import_history_file(io.BytesIO("\n".join(kept).encode()), history, replace=True, workers=2)
    assert report.written == {"product": 101} and report.replaced == {"removed": n - 100}
    assert history.count() == 100
    assert history.current_many("product", [docs[7]["id"]])[docs[7]["id"]].document == changed
    customer = docs[7]["relatedParty"][0]["id"]
    expected = {d["productOffering"]["id"] for d in docs[:100]
                if d["relatedParty"][0]["id"] == customer and d["status"] in {"active", "suspended"}
                and "terminationDate" not in d and d["id"] != docs[7]["id"]}
    assert history.held_offerings(customer, NOW) == expected
