"""Plain, immutable views of the TMF620 documents the engine reads.

Only the fields that influence a recommendation are kept; everything is parsed
leniently (missing lists are empty, ids are coerced to ``str``) because the
documents come from a catalogue the engine does not own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recommender.timeutil import to_datetime


def normalize_token(value: str | None) -> str:
    """Case- and separator-insensitive form: ``"depends-On"`` -> ``"dependson"``."""
    if not value:
        return ""
    return "".join(ch for ch in value.lower() if ch not in " -_")


def _ref_ids(refs: Any) -> tuple[str, ...]:
    """Ids of a list of TMF references (``[{"id": ...}, ...]``), order kept, deduplicated."""
    if not isinstance(refs, Iterable) or isinstance(refs, (str, bytes, Mapping)):
        return ()
    seen: dict[str, None] = {}
    for ref in refs:
        if isinstance(ref, Mapping) and ref.get("id") not in (None, ""):
            seen.setdefault(str(ref["id"]), None)
    return tuple(seen)


def _upper_limit(option: Any) -> int | None:
    if not isinstance(option, Mapping):
        return None
    value = option.get("numberRelOfferUpperLimit")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class OfferingRelationship:
    """One ``productOfferingRelationship`` entry; ``kind`` is the normalised type."""

    target_id: str
    relationship_type: str

    @property
    def kind(self) -> str:
        return normalize_token(self.relationship_type)


@dataclass(frozen=True, slots=True)
class ProductOffering:
    """The recommendation-relevant part of a TMF620 ProductOffering."""

    id: str
    name: str
    href: str | None = None
    description: str | None = None
    lifecycle_status: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    valid_for_error: str | None = None
    is_bundle: bool = False
    category_ids: tuple[str, ...] = ()
    channel_ids: tuple[str, ...] = ()
    place_ids: tuple[str, ...] = ()
    product_specification_id: str | None = None
    relationships: tuple[OfferingRelationship, ...] = ()
    bundled_offering_ids: tuple[str, ...] = ()
    exclusive_groups: tuple[tuple[str, ...], ...] = ()
    type: str | None = None

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> ProductOffering:
        if doc.get("id") in (None, ""):
            raise ValueError("productOffering without id")
        offering_id = str(doc["id"])
        valid_for = doc.get("validFor") or {}
        valid_from = valid_to = None
        error = None
        try:
            valid_from = to_datetime(valid_for.get("startDateTime"))
            valid_to = to_datetime(valid_for.get("endDateTime"))
        except (ValueError, AttributeError) as exc:
            error = f"productOffering {offering_id}: invalid validFor ({exc})"
        relationships = tuple(
            OfferingRelationship(str(rel["id"]), str(rel.get("relationshipType") or ""))
            for rel in doc.get("productOfferingRelationship") or ()
            if isinstance(rel, Mapping) and rel.get("id") not in (None, "")
        )
        # TMF620 v5 choice groups: "pick at most one of these children".
        groups = tuple(
            ids
            for group in doc.get("bundledGroupProductOffering") or ()
            if isinstance(group, Mapping)
            and _upper_limit(group.get("bundledGroupProductOfferingOption")) == 1
            and len(ids := _ref_ids(group.get("bundledProductOffering"))) > 1
        )
        spec = doc.get("productSpecification")
        spec_id = str(spec["id"]) if isinstance(spec, Mapping) and spec.get("id") else None
        return cls(
            id=offering_id,
            name=str(doc.get("name") or offering_id),
            href=doc.get("href"),
            description=doc.get("description"),
            lifecycle_status=doc.get("lifecycleStatus"),
            valid_from=valid_from,
            valid_to=valid_to,
            valid_for_error=error,
            is_bundle=bool(doc.get("isBundle", False)),
            category_ids=_ref_ids(doc.get("category")),
            channel_ids=_ref_ids(doc.get("channel")),
            place_ids=_ref_ids(doc.get("place")),
            product_specification_id=spec_id,
            relationships=relationships,
            bundled_offering_ids=_ref_ids(doc.get("bundledProductOffering")),
            exclusive_groups=groups,
            type=doc.get("@type"),
        )


@dataclass(frozen=True, slots=True)
class Category:
    """A TMF620 Category; the tree is given by ``parentId`` (and ``subCategory``)."""

    id: str
    name: str
    parent_id: str | None = None
    is_root: bool = False
    sub_category_ids: tuple[str, ...] = ()

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Category:
        if doc.get("id") in (None, ""):
            raise ValueError("category without id")
        category_id = str(doc["id"])
        parent = doc.get("parentId")
        return cls(
            id=category_id,
            name=str(doc.get("name") or category_id),
            parent_id=str(parent) if parent not in (None, "") else None,
            is_root=bool(doc.get("isRoot", False)),
            sub_category_ids=_ref_ids(doc.get("subCategory")),
        )
