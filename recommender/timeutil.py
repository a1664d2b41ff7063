"""Timestamp parsing shared by the catalogue and the context.

Catalogue dates are compared as float epoch seconds so that "sellable at time
``now``" is one vectorised comparison over the whole catalogue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def to_datetime(value: Any) -> datetime | None:
    """Parse an ISO-8601 string or a ``datetime``; naive values are taken as UTC.

    Returns ``None`` for a missing/empty value and raises ``ValueError`` for an
    unparsable one.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        parsed = datetime.fromisoformat(value.strip())
    else:
        raise ValueError(f"not a date-time: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def to_epoch(value: datetime) -> float:
    """Epoch seconds of a tz-aware (or UTC-naive) datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()
