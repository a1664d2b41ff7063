"""Customer history from TMF637 Product and TMF622 ProductOrder documents.

A ``HistoryRecord`` is what the engine needs of one document: who (customer ids), what (offering
ids), and whether it counts as *held now* (a current product, or an order still in flight).
Products of any status and orders that were not cancelled/rejected are training signals.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.dates import date_time_field

PRODUCT = "product"
ORDER = "order"
# TMF637 ProductStatusType values that mean the customer has (or is getting) the product.
HELD_PRODUCT_STATUSES = frozenset({"created", "pendingactive", "active", "suspended", "pendingterminate"})
# TMF622 states of an order that has not ended yet: its offerings are on their way to the customer.
OPEN_ORDER_STATES = frozenset({"acknowledged", "inprogress", "pending", "held", "assessingcancellation",
                               "pendingcancellation", "partial"})
FAILED_ORDER_STATES = frozenset({"cancelled", "rejected", "failed"})
CUSTOMER_ROLES = frozenset({"customer", "owner", "buyer", "user"})


class HistoryError(ValueError):
    """The document is not a usable TMF637 Product or TMF622 ProductOrder."""


@dataclass(frozen=True)
class HistoryRecord:
    kind: str
    id: str
    customer_ids: tuple[str, ...]
    offering_ids: tuple[str, ...]
    held_status: bool  # the status/state says the customer has it or is getting it
    signal: bool  # counts as a positive interaction for training
    start: datetime | None
    end: datetime | None
    order_items: tuple[tuple[str, str], ...] = ()  # (order item id, offering id), orders only


_SEPARATORS = str.maketrans("", "", " -_")


def _token(value: Any) -> str:
    """Lower case without separators: ``"Pending-Active"`` and ``"pendingActive"`` read alike."""
    if isinstance(value, str):
        return _str_token(value)
    return str(value or "").lower().translate(_SEPARATORS)


@functools.lru_cache(maxsize=1024)
def _str_token(value: str) -> str:
    """Statuses, roles and types are a few words repeated over millions of documents."""
    return value.lower().translate(_SEPARATORS)


def _is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, without the abstract class check for the parsed JSON's dicts."""
    return type(value) is dict or isinstance(value, Mapping)


def customer_ids(parties: Any) -> tuple[str, ...]:
    """The ids of the parties playing a customer role (every party if none has a role)."""
    if not isinstance(parties, list):
        return ()
    valid = [p for p in parties if _is_mapping(p) and p.get("id") not in (None, "")]
    customers = [p for p in valid
                 if _token(p.get("role")) in CUSTOMER_ROLES or _token(p.get("@referredType")) == "customer"]
    chosen = customers or [p for p in valid if not p.get("role")]
    return tuple(dict.fromkeys(str(p["id"]) for p in chosen))


def _date(doc: Mapping[str, Any], key: str) -> datetime | None:
    return date_time_field(doc.get(key), key, HistoryError)


def _ref_id(value: Any) -> str | None:
    if _is_mapping(value) and value.get("id") not in (None, ""):
        return str(value["id"])
    return None


def parse_history(doc: Mapping[str, Any]) -> HistoryRecord:
    """Classify and read one document (``@type`` first, then its shape)."""
    if doc.get("id") in (None, ""):
        raise HistoryError("document has no id")
    kind_hint = _token(doc.get("@type"))
    if kind_hint == "productorder" or (kind_hint != "product" and "productOrderItem" in doc):
        return _order(doc)
    if kind_hint == "product" or "productOffering" in doc:
        return _product(doc)
    raise HistoryError("neither a TMF637 Product (productOffering) nor a TMF622 ProductOrder (productOrderItem)")


def _product(doc: Mapping[str, Any]) -> HistoryRecord:
    customers = customer_ids(doc.get("relatedParty"))
    if not customers:
        raise HistoryError("product has no relatedParty with a customer id")
    offering = _ref_id(doc.get("productOffering"))
    if offering is None:
        raise HistoryError("product has no productOffering.id")
    start, end = _date(doc, "startDate"), _date(doc, "terminationDate")
    status = _token(doc.get("status") or "active")
    return HistoryRecord(PRODUCT, str(doc["id"]), customers, (offering,), status in HELD_PRODUCT_STATUSES,
                         True, start, end)


def _order(doc: Mapping[str, Any]) -> HistoryRecord:
    customers = customer_ids(doc.get("relatedParty"))
    if not customers:
        raise HistoryError("productOrder has no relatedParty with a customer id")
    items = doc.get("productOrderItem")
    if not isinstance(items, list) or not items:
        raise HistoryError("productOrder has no productOrderItem")
    pairs: list[tuple[str, str]] = []
    for position, item in enumerate(items, 1):
        if not _is_mapping(item):
            continue
        offering = _ref_id(item.get("productOffering")) or _ref_id((item.get("product") or {}).get("productOffering"))
        if offering and _token(item.get("action") or "add") != "delete":
            pairs.append((str(item.get("id") or position), offering))
    if not pairs:
        raise HistoryError("productOrder has no productOrderItem with a productOffering.id")
    state = _token(doc.get("state") or "completed")
    offerings = tuple(dict.fromkeys(o for _, o in pairs))
    return HistoryRecord(
        ORDER, str(doc["id"]), customers, offerings,
        held_status=state in OPEN_ORDER_STATES,
        signal=state not in FAILED_ORDER_STATES,
        start=_date(doc, "orderDate"),
        end=None,
        order_items=tuple(pairs),
    )
