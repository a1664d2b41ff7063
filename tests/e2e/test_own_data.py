"""The README's "use your own data" path with the tmf680 commands (in-process, real mongod):
replacing imports, and removing the demo data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pymongo import MongoClient

from cli import main


@pytest.fixture
def run(mongo_uri: str, db_name: str, tmp_path: Path) -> Any:
    env = {"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_DATA_DIR": str(tmp_path / "data"),
           "TMF680_CONFIG": ""}

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def db(mongo_uri: str, db_name: str) -> Any:
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    yield client[db_name]
    client.close()


LIVE = {"deleted": {"$ne": True}}  # removed catalogue documents stay as tombstones (the refresh sees them)


def write(path: Path, docs: list[dict[str, Any]]) -> str:
    path.write_text("\n".join(json.dumps(d) for d in docs) + "\n")
    return str(path)


def offering(oid: str, category: str = "food", **extra: Any) -> dict[str, Any]:
    return {"@type": "ProductOffering", "id": oid, "name": oid.title(), "category": [{"id": category}], **extra}


def product(customer: str, oid: str) -> dict[str, Any]:
    return {"@type": "Product", "id": f"{customer}-{oid}", "status": "active", "productOffering": {"id": oid},
            "relatedParty": [{"id": customer, "role": "customer"}]}


def test_catalog_import_replace_retires_what_the_file_lacks(run: Any, db: Any, tmp_path: Path) -> None:
    first = write(tmp_path / "a.ndjson", [{"@type": "Category", "id": "food", "name": "Food"},
                                          {"@type": "Category", "id": "old", "name": "Old"},
                                          offering("bread"), offering("milk"), offering("tea", "old")])
    assert run("catalog", "import", first).exit_code == 0
    version = db["versions"].find_one({"_id": "catalog"})["version"]
    second = write(tmp_path / "b.ndjson", [{"@type": "Category", "id": "food", "name": "Food"},
                                           offering("bread"), offering("cheese")])
    result = run("catalog", "import", second, "--replace", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.splitlines()[0])
    assert summary["replaced"] == {"productOffering": 2, "category": 1}
    status = {d["id"]: d["r"].get("lifecycleStatus") for d in db["productOffering"].find()}
    assert status == {"bread": None, "cheese": None, "milk": "Retired", "tea": "Retired"}  # kept, retired
    assert {d["id"] for d in db["category"].find(LIVE)} == {"food"}
    assert db["versions"].find_one({"_id": "catalog"})["version"] > version

    # a file with a rejected line replaces nothing (but its good documents are imported)
    third = tmp_path / "c.ndjson"
    third.write_text(json.dumps(offering("bread")) + "\n{broken\n")
    result = run("catalog", "import", str(third), "--replace")
    assert result.exit_code == 1 and "nothing retired or removed" in result.output
    assert db["productOffering"].count_documents({"r.lifecycleStatus": {"$ne": "Retired"}}) == 2


def test_history_import_replace_removes_what_the_file_lacks(run: Any, db: Any, tmp_path: Path) -> None:
    first = write(tmp_path / "h1.ndjson", [product("c1", "bread"), product("c1", "milk"), product("c2", "tea")])
    assert run("history", "import", first).exit_code == 0
    second = write(tmp_path / "h2.ndjson", [product("c1", "bread"), product("c3", "cheese")])
    result = run("history", "import", second, "--replace")
    assert result.exit_code == 0, result.output
    assert "retired or removed: 2 removed" in result.output
    assert {d["id"] for d in db["customerHistory"].find()} == {"c1-bread", "c3-cheese"}
    assert db["versions"].find_one({"_id": "history"})["seq"] == 3 + 2 + 2  # every write and removal counted


def test_demo_remove_leaves_exactly_the_own_data(run: Any, db: Any, tmp_path: Path) -> None:
    assert run("demo", "load").exit_code == 0
    demo_offerings = db["productOffering"].count_documents({})
    assert demo_offerings == 13 and db["productOffering"].count_documents({"source": "demo"}) == 13
    own_catalog = write(tmp_path / "cat.ndjson", [{"@type": "Category", "id": "food", "name": "Food"},
                                                  offering("bread"), offering("milk")])
    assert run("catalog", "import", own_catalog).exit_code == 0
    demo_customer = db["customerHistory"].find_one({"source": "demo"})["customers"][0]
    own_history = write(tmp_path / "own.ndjson",
                        [product(f"own{i}", o) for i in range(30) for o in (("bread", "milk") if i % 2 else ("bread",))]
                        + [product(demo_customer, "bread")])
    assert run("history", "import", own_history).exit_code == 0
    # an own document that overwrites a demo one (same id) is the operator's now
    overwritten = db["customerHistory"].find_one({"source": "demo"})
    takeover = write(tmp_path / "takeover.ndjson", [json.loads(overwritten["r"])])  # stored as JSON text
    assert run("history", "import", takeover).exit_code == 0

    result = run("demo", "remove")
    assert result.exit_code == 0, result.output
    assert "removed the demo's 13 offerings" in result.output and "model v2 trained" in result.output
    assert {d["id"] for d in db["productOffering"].find(LIVE)} == {"bread", "milk"}
    assert {d["id"] for d in db["category"].find(LIVE)} == {"food"}
    customers = {c for d in db["customerHistory"].find() for c in d["customers"]}
    assert customers == {f"own{i}" for i in range(30)} | {demo_customer} | set(overwritten["customers"])
    assert db["customerHistory"].count_documents({"source": "demo"}) == 0
    model = db["model"].find_one(sort=[("version", -1)])
    assert set(model["meta"]["vocabulary"]) == ({"bread", "milk"} | set(overwritten["offerings"]))

    again = run("demo", "remove")
    assert again.exit_code == 0 and "removed the demo's 0 offerings, 0 categories and 0 history" in again.output


def test_demo_remove_without_other_history_drops_the_models(run: Any, db: Any) -> None:
    assert run("demo", "load").exit_code == 0
    result = run("demo", "remove")
    assert result.exit_code == 0 and "no history left: 1 model versions removed" in result.output
    assert db["model"].count_documents({}) == 0 and db["customerHistory"].count_documents({}) == 0


def test_demo_remove_recognises_demo_data_loaded_before_the_tags(run: Any, db: Any, tmp_path: Path) -> None:
    assert run("demo", "load").exit_code == 0
    # as an earlier version loaded it: no tags, no record of tagging, some history in the older object form
    for name in ("productOffering", "category", "customerHistory"):
        db[name].update_many({}, {"$unset": {"source": ""}})
    db["versions"].delete_many({"_id": {"$regex": "^tagged:"}})
    older = list(db["customerHistory"].find({}, {"id": 1, "r": 1}).limit(3))
    for doc in older:
        db["customerHistory"].update_one({"_id": doc["_id"]}, {"$set": {"r": json.loads(doc["r"])}})
    demo_history = db["customerHistory"].count_documents({})
    # the operator's own data, one offering of it with a demo id (and its own content)
    mine = offering("phone-service", "food", name="My phone line")
    assert run("catalog", "import", write(tmp_path / "cat.ndjson", [offering("bread"), mine])).exit_code == 0
    assert run("history", "import", write(tmp_path / "own.ndjson", [product("own1", "bread")])).exit_code == 0

    result = run("demo", "remove")
    assert result.exit_code == 0, result.output
    assert f"removed the demo's 12 offerings, 7 categories and {demo_history} history documents" in result.output
    assert "untagged (loaded before demo data was tagged)" in result.output
    assert "kept, untagged with a demo id but other content (yours, or changed since): 1 offerings" in result.output
    assert {d["id"] for d in db["productOffering"].find(LIVE)} == {"bread", "phone-service"}
    assert db["productOffering"].find_one({"id": "phone-service"})["r"]["name"] == "My phone line"
    assert db["category"].count_documents(LIVE) == 0
    assert [d["id"] for d in db["customerHistory"].find()] == ["own1-bread"]

    # from now on only the tags tell: the operator's untagged documents stay
    again = run("demo", "remove")
    assert again.exit_code == 0 and "removed the demo's 0 offerings, 0 categories and 0 history" in again.output
    assert {d["id"] for d in db["productOffering"].find(LIVE)} == {"bread", "phone-service"}
