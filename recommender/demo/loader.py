"""Load the shipped demo data set (package data, read with importlib.resources)."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from recommender.demo.constants import CONTRACT_CATEGORY_ID

Document = dict[str, Any]


def load_demo() -> tuple[list[Document], list[Document], list[Document]]:
    """``(categories, offerings, products)`` of the Telco demo data set."""
    data = resources.files("recommender.demo") / "data"
    catalog = json.loads((data / "catalog.json").read_text(encoding="utf-8"))
    raw = gzip.decompress((data / "products.ndjson.gz").read_bytes())
    products = [json.loads(line) for line in io.StringIO(raw.decode("utf-8")) if line.strip()]
    return catalog["category"], catalog["productOffering"], products


def holdings_from_products(products: Iterable[Mapping[str, Any]]) -> dict[str, frozenset[str]]:
    """Customer id -> offering ids of their active products (TMF637 documents)."""
    held: dict[str, set[str]] = {}
    for product in products:
        if str(product.get("status", "active")).lower() != "active":
            continue
        offering = (product.get("productOffering") or {}).get("id")
        for party in product.get("relatedParty") or ():
            if str(party.get("role", "")).lower() == "customer" and offering:
                held.setdefault(str(party["id"]), set()).add(str(offering))
    return {customer: frozenset(ids) for customer, ids in held.items()}


def offerings_in_category(offerings: Iterable[Mapping[str, Any]], category_id: str) -> frozenset[str]:
    return frozenset(
        str(o["id"]) for o in offerings if any(c.get("id") == category_id for c in o.get("category") or ())
    )


def contract_offering_ids(offerings: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """The demo's contract offerings (Month-to-month, One year, Two year)."""
    return offerings_in_category(offerings, CONTRACT_CATEGORY_ID)
