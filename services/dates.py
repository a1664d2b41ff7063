"""RFC 3339 date-times as aware datetimes (filters, history documents)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})?$"
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date_time(text: str) -> datetime | None:
    """An RFC 3339 date-time (or a plain date, taken as midnight UTC) as an aware datetime."""
    if len(text) > 40:
        return None
    if _DATE.match(text):
        text = text + "T00:00:00+00:00"
    elif not _DATE_TIME.match(text):
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


_parse_cached = functools.lru_cache(maxsize=1 << 16)(parse_date_time)  # imports repeat the same few dates


def date_time_field(value: Any, what: str, error: Callable[[str], Exception]) -> datetime | None:
    """A document's date-time field ``what``: None when absent or empty, else ``parse_date_time``;
    ``error(message)`` is raised when it is not an RFC 3339 date-time."""
    if value in (None, ""):
        return None
    parsed = _parse_cached(str(value))
    if parsed is None:
        raise error(f"{what} is not an RFC 3339 date-time: {value!r}")
    return parsed
