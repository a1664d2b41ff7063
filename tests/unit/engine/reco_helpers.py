"""Builders for tiny TMF620 catalogues used by the recommender unit tests (imported, not a test)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from recommender import Catalog, Engine, RecommendationContext, TrainedModel

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def offering(
    oid: str,
    *,
    categories: Iterable[str] = (),
    channels: Iterable[str] = (),
    places: Iterable[str] = (),
    status: str | None = "Active",
    start: str | None = None,
    end: str | None = None,
    rels: Iterable[tuple[str, str]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A TMF620 ProductOffering dict; ``rels`` are ``(relationshipType, target id)``."""
    doc: dict[str, Any] = {
        "id": oid,
        "href": f"/tmf-api/productCatalogManagement/v4/productOffering/{oid}",
        "name": oid.upper(),
        "@type": "ProductOffering",
    }
    if status is not None:
        doc["lifecycleStatus"] = status
    if start or end:
        doc["validFor"] = {k: v for k, v in (("startDateTime", start), ("endDateTime", end)) if v}
    if categories:
        doc["category"] = [{"id": c} for c in categories]
    if channels:
        doc["channel"] = [{"id": c} for c in channels]
    if places:
        doc["place"] = [{"id": p} for p in places]
    if rels:
        doc["productOfferingRelationship"] = [{"id": t, "relationshipType": k} for k, t in rels]
    doc.update(extra)
    return doc


def context(**kwargs: Any) -> RecommendationContext:
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("limit", 50)
    for key in ("held", "cart"):
        kwargs[key] = frozenset(kwargs.get(key, ()))
    return RecommendationContext(**kwargs)


def recommended_ids(engine: Engine, **kwargs: Any) -> list[str]:
    return [r.offering_id for r in engine.recommend(context(**kwargs))]


def engine_for(
    offerings: list[dict[str, Any]], categories: Iterable[dict[str, Any]] = (), model: TrainedModel | None = None
) -> Engine:
    return Engine(Catalog.from_documents(offerings, list(categories)), model)
