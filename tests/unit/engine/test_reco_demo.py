from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest

from recommender import Catalog, Engine, RecommendationContext
from recommender.demo import contract_offering_ids, holdings_from_products, load_demo
from recommender.demo.build import build

CSV_NAME = "shared/data/telco-customer-churn/Telco-Customer-Churn.csv"


@pytest.fixture(scope="module")
def demo() -> tuple[list[dict], list[dict], list[dict]]:
    return load_demo()


def test_demo_counts(demo: tuple[list[dict], list[dict], list[dict]]) -> None:
    categories, offerings, products = demo
    assert len(categories) == 7 and sum(c["isRoot"] for c in categories) == 1
    assert len(offerings) == 13
    assert len(products) == 36_245
    holdings = holdings_from_products(products)
    assert len(holdings) == 7_043
    assert contract_offering_ids(offerings) == {"contract-month-to-month", "contract-one-year", "contract-two-year"}
    assert all(len(held & contract_offering_ids(offerings)) == 1 for held in holdings.values())


def test_demo_documents_have_the_tmf_shape(demo: tuple[list[dict], list[dict], list[dict]]) -> None:
    _, offerings, products = demo
    for o in offerings:
        assert o["href"] == f"/tmf-api/productCatalogManagement/v4/productOffering/{o['id']}"
        assert o["lifecycleStatus"] == "Active" and o["@type"] == "ProductOffering"
        assert o["category"] and o["channel"] and o["validFor"]["startDateTime"]
    product = products[0]
    assert product["status"] == "active" and product["@type"] == "Product"
    assert product["productOffering"]["@referredType"] == "ProductOffering"
    assert product["relatedParty"] == [{"id": "7590-VHVEG", "role": "customer", "@referredType": "Customer"}]
    assert product["startDate"] == "2023-12-01T00:00:00Z"  # tenure 1 month before 2024-01-01


def test_every_real_customer_is_consistent_with_the_catalogue_rules(
    demo: tuple[list[dict], list[dict], list[dict]],
) -> None:
    categories, offerings, products = demo
    engine = Engine(Catalog.from_documents(offerings, categories))
    for held in holdings_from_products(products).values():
        for item in held:
            ctx = RecommendationContext(held=held - {item})
            assert engine.candidate_mask(ctx)[engine.catalog.index[item]], (sorted(held), item)


def test_demo_rules_and_channels_are_visible(demo: tuple[list[dict], list[dict], list[dict]]) -> None:
    categories, offerings, _ = demo
    engine = Engine(Catalog.from_documents(offerings, categories))

    def ids(**kwargs: object) -> set[str]:
        return {r.offering_id for r in engine.recommend(RecommendationContext(limit=20, **kwargs))}  # type: ignore[arg-type]

    assert ids(held=frozenset({"contract-one-year"})) == {"phone-service", "internet-dsl", "internet-fiber-optic"}
    assert "internet-fiber-optic" not in ids(held=frozenset({"internet-dsl"}))
    assert "online-backup" in ids(held=frozenset({"internet-dsl"}))
    assert "multiple-lines" in ids(held=frozenset({"phone-service"}))
    assert "contract-two-year" not in ids(channel_ids=("web",))
    assert "device-protection" not in ids(held=frozenset({"internet-dsl"}), channel_ids=("app",))
    assert "device-protection" in ids(held=frozenset({"internet-dsl"}), category_ids=("internet",))


def _csv_path() -> Path | None:
    for base in Path(__file__).resolve().parents:
        if (base / CSV_NAME).is_file():
            return base / CSV_NAME
    return None


def test_builder_regenerates_the_shipped_files_byte_identically(tmp_path: Path) -> None:
    csv_path = _csv_path()
    if csv_path is None:
        pytest.skip("Telco-Customer-Churn.csv not found beside the repository")
    summary = build(csv_path, tmp_path)
    assert summary["customers"] == 7_043 and summary["csvMatchesExpected"]
    data = resources.files("recommender.demo") / "data"
    for name in ("catalog.json", "products.ndjson.gz"):
        shipped = hashlib.sha256((data / name).read_bytes()).hexdigest()
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == shipped, name
