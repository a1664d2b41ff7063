"""Regenerate the demo data set from the IBM Telco Customer Churn CSV.

    python -m recommender.demo.build --csv Telco-Customer-Churn.csv --out recommender/demo/data

Writes ``catalog.json`` (TMF620 categories and product offerings, with the
operator's eligibility rules as ``productOfferingRelationship``) and
``products.ndjson.gz`` (one TMF637 Product per held service or contract).
The output is byte-identical for the same CSV: fixed reference date, fixed
ordering, gzip with mtime 0 and no file name.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recommender.demo.constants import CATEGORY_HREF, CONTRACT_CATEGORY_ID, OFFERING_HREF, PRODUCT_HREF

CSV_SHA256 = "16320c9c1ec72448db59aa0a26a0b95401046bef5d02fd3aeb906448e3055e91"
REFERENCE_DATE = datetime(2024, 1, 1, tzinfo=UTC)
CATALOG_VALID_FROM = "2015-01-01T00:00:00Z"

CHANNELS = {
    "web": "Web shop",
    "app": "Mobile app",
    "callCentre": "Call centre",
    "retailStore": "Retail store",
}
ALL_CHANNELS = tuple(CHANNELS)

# id, name, parent id
CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("telco", "Telco catalogue", None),
    ("voice", "Mobile & voice", "telco"),
    ("internet", "Internet", "telco"),
    ("internet-access", "Internet access", "internet"),
    ("internet-add-ons", "Internet add-ons", "internet"),
    ("entertainment", "Entertainment", "telco"),
    (CONTRACT_CATEGORY_ID, "Contracts", "telco"),
)

Row = Mapping[str, str]
INTERNET = ("internet-dsl", "internet-fiber-optic")
CONTRACTS = ("contract-month-to-month", "contract-one-year", "contract-two-year")


@dataclass(frozen=True)
class OfferingSpec:
    id: str
    name: str
    description: str
    category: str
    channels: tuple[str, ...]
    held: Callable[[Row], bool]
    relationships: tuple[tuple[str, str], ...] = ()  # (relationshipType, target id)


def _yes(column: str) -> Callable[[Row], bool]:
    return lambda row: row[column] == "Yes"


def _equals(column: str, value: str) -> Callable[[Row], bool]:
    return lambda row: row[column] == value


_NEEDS_INTERNET = tuple(("requires", target) for target in INTERNET)


def _contract(oid: str, name: str, value: str, channels: tuple[str, ...]) -> OfferingSpec:
    others = tuple(("alternative", c) for c in CONTRACTS if c != oid)
    upgrades = tuple(("upgrade", c) for c in CONTRACTS[CONTRACTS.index(oid) + 1 :])
    held = _equals("Contract", value)
    return OfferingSpec(oid, name, f"{name} contract", CONTRACT_CATEGORY_ID, channels, held, others + upgrades)


OFFERINGS: tuple[OfferingSpec, ...] = (
    OfferingSpec("phone-service", "Phone service", "Home phone line", "voice", ALL_CHANNELS, _yes("PhoneService")),
    OfferingSpec(
        "multiple-lines",
        "Multiple lines",
        "Additional phone lines",
        "voice",
        ALL_CHANNELS,
        _yes("MultipleLines"),
        (("requires", "phone-service"),),
    ),
    OfferingSpec(
        "internet-dsl",
        "DSL internet",
        "DSL broadband access",
        "internet-access",
        ALL_CHANNELS,
        _equals("InternetService", "DSL"),
        (("excludes", "internet-fiber-optic"), ("upgrade", "internet-fiber-optic")),
    ),
    OfferingSpec(
        "internet-fiber-optic",
        "Fiber optic internet",
        "Fiber optic broadband access",
        "internet-access",
        ALL_CHANNELS,
        _equals("InternetService", "Fiber optic"),
        (("excludes", "internet-dsl"),),
    ),
    OfferingSpec(
        "online-security",
        "Online security",
        "Network security suite",
        "internet-add-ons",
        ALL_CHANNELS,
        _yes("OnlineSecurity"),
        _NEEDS_INTERNET,
    ),
    OfferingSpec(
        "online-backup",
        "Online backup",
        "Cloud backup storage",
        "internet-add-ons",
        ALL_CHANNELS,
        _yes("OnlineBackup"),
        _NEEDS_INTERNET,
    ),
    OfferingSpec(
        "device-protection",
        "Device protection",
        "Equipment insurance",
        "internet-add-ons",
        ("web", "callCentre", "retailStore"),
        _yes("DeviceProtection"),
        _NEEDS_INTERNET,
    ),
    OfferingSpec(
        "tech-support",
        "Tech support",
        "Premium technical support",
        "internet-add-ons",
        ("web", "callCentre", "retailStore"),
        _yes("TechSupport"),
        _NEEDS_INTERNET,
    ),
    OfferingSpec(
        "streaming-tv",
        "Streaming TV",
        "Live TV streaming",
        "entertainment",
        ("web", "app", "retailStore"),
        _yes("StreamingTV"),
        _NEEDS_INTERNET,
    ),
    OfferingSpec(
        "streaming-movies",
        "Streaming movies",
        "Movie streaming",
        "entertainment",
        ("web", "app", "retailStore"),
        _yes("StreamingMovies"),
        _NEEDS_INTERNET,
    ),
    _contract("contract-month-to-month", "Month-to-month", "Month-to-month", ALL_CHANNELS),
    _contract("contract-one-year", "One year", "One year", ALL_CHANNELS),
    _contract("contract-two-year", "Two year", "Two year", ("callCentre", "retailStore")),
)
_BY_ID = {o.id: o for o in OFFERINGS}


def _offering_ref(oid: str) -> dict[str, Any]:
    return {"id": oid, "href": OFFERING_HREF.format(id=oid), "name": _BY_ID[oid].name}


def category_documents() -> list[dict[str, Any]]:
    docs = []
    for cid, name, parent in CATEGORIES:
        doc: dict[str, Any] = {
            "id": cid,
            "href": CATEGORY_HREF.format(id=cid),
            "name": name,
            "isRoot": parent is None,
            "lifecycleStatus": "Active",
            "validFor": {"startDateTime": CATALOG_VALID_FROM},
            "@type": "Category",
        }
        if parent is not None:
            doc["parentId"] = parent
        children = [c for c, _, p in CATEGORIES if p == cid]
        if children:
            doc["subCategory"] = [
                {"id": c, "href": CATEGORY_HREF.format(id=c), "name": n} for c, n, _ in CATEGORIES if c in children
            ]
        docs.append(doc)
    return docs


def offering_documents() -> list[dict[str, Any]]:
    names = {cid: name for cid, name, _ in CATEGORIES}
    docs = []
    for spec in OFFERINGS:
        docs.append(
            {
                "id": spec.id,
                "href": OFFERING_HREF.format(id=spec.id),
                "name": spec.name,
                "description": spec.description,
                "version": "1.0",
                "lifecycleStatus": "Active",
                "isBundle": False,
                "isSellable": True,
                "validFor": {"startDateTime": CATALOG_VALID_FROM},
                "category": [
                    {"id": spec.category, "href": CATEGORY_HREF.format(id=spec.category), "name": names[spec.category]}
                ],
                "channel": [{"id": ch, "name": CHANNELS[ch], "@referredType": "SalesChannel"} for ch in spec.channels],
                "productOfferingRelationship": [
                    {**_offering_ref(target), "relationshipType": kind} for kind, target in spec.relationships
                ],
                "@type": "ProductOffering",
            }
        )
    return docs


def _months_before(date: datetime, months: int) -> datetime:
    index = date.year * 12 + (date.month - 1) - months
    return date.replace(year=index // 12, month=index % 12 + 1)


def product_documents(rows: list[Row]) -> Iterator[dict[str, Any]]:
    """One active TMF637 Product per held service/contract, customers in CSV order."""
    for row in rows:
        customer = row["customerID"]
        start = _months_before(REFERENCE_DATE, int(row["tenure"])).strftime("%Y-%m-%dT%H:%M:%SZ")
        for spec in OFFERINGS:
            if not spec.held(row):
                continue
            pid = f"{customer}-{spec.id}"
            yield {
                "id": pid,
                "href": PRODUCT_HREF.format(id=pid),
                "name": spec.name,
                "status": "active",
                "isBundle": False,
                "startDate": start,
                "productOffering": {**_offering_ref(spec.id), "@referredType": "ProductOffering"},
                "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Customer"}],
                "@type": "Product",
            }


def read_rows(csv_path: Path) -> list[Row]:
    with csv_path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def catalog_bytes() -> bytes:
    catalog = {"category": category_documents(), "productOffering": offering_documents()}
    return (json.dumps(catalog, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def products_gzip_bytes(rows: list[Row]) -> bytes:
    lines = "".join(
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")) + "\n" for doc in product_documents(rows)
    )
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(lines.encode("utf-8"))
    return buffer.getvalue()


def build(csv_path: Path, out_dir: Path) -> dict[str, Any]:
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()
    rows = read_rows(csv_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    products = products_gzip_bytes(rows)
    (out_dir / "catalog.json").write_bytes(catalog_bytes())
    (out_dir / "products.ndjson.gz").write_bytes(products)
    return {
        "csvSha256": digest,
        "csvMatchesExpected": digest == CSV_SHA256,
        "customers": len(rows),
        "products": sum(1 for _ in product_documents(rows)),
        "offerings": len(OFFERINGS),
        "categories": len(CATEGORIES),
        "productsSha256": hashlib.sha256(products).hexdigest(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--csv", type=Path, required=True, help="Telco-Customer-Churn.csv")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data", help="output directory")
    args = parser.parse_args(argv)
    summary = build(args.csv, args.out)
    print(json.dumps(summary, indent=2))
    if not summary["csvMatchesExpected"]:
        print(f"warning: CSV sha256 differs from {CSV_SHA256}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
