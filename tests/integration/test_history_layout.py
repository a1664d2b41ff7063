"""The history collection's layout on the real mongod: keyed ids in a clustered collection for a new
database, and a collection made before keyed ids (ObjectIds, a unique kind and id index) kept working."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from pymongo import ASCENDING, IndexModel

from services.history import parse_history
from services.history_import import import_history_file
from services.ports import HistoryWrite
from storage.history_repository import COLLECTION, LEGACY_INDEX, MongoHistoryRepository, stored_fields

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def product(n: int, customer: str = "c1", status: str = "active") -> dict[str, Any]:
    return {"id": f"p{n}", "@type": "Product", "status": status, "productOffering": {"id": f"o{n}"},
            "relatedParty": [{"id": customer, "role": "customer"}]}


ORDER = {"id": "ord1", "@type": "ProductOrder", "state": "inProgress",
         "relatedParty": [{"id": "c2", "role": "customer"}],
         "productOrderItem": [{"id": "1", "action": "add", "productOffering": {"id": "o9"}}]}


def ndjson(*docs: dict[str, Any]) -> io.BytesIO:
    return io.BytesIO("\n".join(json.dumps(d) for d in docs).encode() + b"\n")


def make_legacy(db: Any) -> ObjectId:
    """The collection as the code before keyed ids left it: one product stored with an ObjectId."""
    col = db[COLLECTION]
    col.create_indexes([IndexModel([("kind", ASCENDING), ("id", ASCENDING)], unique=True, name=LEGACY_INDEX),
                        IndexModel([("customers", ASCENDING), ("heldStatus", ASCENDING)], name="customer_held")])
    doc = product(1)
    return col.insert_one(stored_fields(parse_history(doc), doc)).inserted_id


@pytest.mark.parametrize("layout", ["new", "legacy"])
def test_each_layout_keeps_one_document_per_product_or_order(db: Any, layout: str) -> None:
    old_id = make_legacy(db) if layout == "legacy" else None
    history = MongoHistoryRepository(db)
    history.ensure_indexes()
    col = db[COLLECTION]

    report = import_history_file(ndjson(product(1), product(2), product(3), ORDER), history, workers=1)
    assert report.written == {"product": 3, "order": 1} and not report.errors
    changed = product(2, status="terminated")
    report = import_history_file(ndjson(product(1), changed), history, workers=1)  # a re-import: in place
    assert report.written == {"product": 2}
    assert col.count_documents({}) == 4 and all(col.count_documents({"id": i}) == 1 for i in ("p1", "p2", "p3", "ord1"))
    assert history.current_many("product", ["p2", "p9"]).keys() == {"p2"}
    if old_id is not None:
        assert col.find_one({"id": "p1"})["_id"] == old_id  # updated where it was
    assert history.current_many("product", ["p2"])["p2"].document == changed
    assert history.held_offerings("c1", NOW) == {"o1", "o3"} and history.held_offerings("c2", NOW) == {"o9"}
    assert history.order_offerings(["ord1"]) == {"o9"} and history.order_offerings([], [("ord1", "1")]) == {"o9"}

    # events: the newer stamp wins whatever the order of delivery, and a removal leaves a tombstone
    record = parse_history(product(3, status="suspended"))
    assert history.put_many_if_newer([(record, product(3, status="suspended"), "2026-02-01")]) == [True]
    assert history.put_many_if_newer([(parse_history(product(3)), product(3), "2026-01-15")]) == [False]
    new = product(4)
    assert history.put_many_if_newer([(parse_history(new), new, "2026-02-01")]) == [True]
    stored = history.current_many("product", ["p3", "p4"])
    assert stored["p3"].stamp == "2026-02-01" and stored["p3"].document["status"] == "suspended"
    removal = HistoryWrite("p4", None, new, "2026-03-01", stored["p4"])
    assert history.write_many("product", [removal]) == [True]
    late = HistoryWrite("p4", None, new, "2026-03-02", stored["p4"])
    assert history.write_many("product", [late]) == [False]  # read before the removal: stale now
    assert history.current_many("product", ["p4"])["p4"].deleted
    assert col.count_documents({}) == 5 and col.count_documents({"id": "p4"}) == 1

    assert history.remove_untagged_copies({("product", "p1"): product(1), ("product", "p3"): product(3)}) == (1, 1)
    assert col.count_documents({"id": "p1"}) == 0 and col.count_documents({"id": "p3"}) == 1

    indexes = col.index_information()
    options = col.options()
    if layout == "new":
        assert "clusteredIndex" in options and LEGACY_INDEX not in indexes
        assert col.find_one({"id": "ord1"})["_id"] == "order:ord1"
        assert col.find_one({"id": "p4"})["_id"] == "product:p4"
    else:
        assert "clusteredIndex" not in options and indexes[LEGACY_INDEX]["unique"]
        assert col.find_one({"id": "p2"})["kind"] == "product"
        assert isinstance(col.find_one({"id": "p2"})["_id"], ObjectId)
