"""How a client's JSON document is kept in MongoDB, and given back unchanged.

Attribute names are client data. MongoDB gives ``$``-prefixed and dotted names special meaning,
so every key is escaped (``%`` → ``%25``, ``$`` → ``%24``, ``.`` → ``%2E``) on the way in and
unescaped on the way out: a body with ``{"$where": ...}`` is stored as data, never run.

Date-time values are compared as instants by list filters. Beside the resource, a shadow array
``dt`` holds ``{"p": dotted.path, "v": datetime}`` for every string that is an RFC 3339 date-time;
filters on dates query it with ``$elemMatch`` (one multikey index serves every attribute).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from services.dates import parse_date_time

_ESCAPES = (("%", "%25"), ("$", "%24"), (".", "%2E"))
_NEEDS_ESCAPE = re.compile(r"[%$.]")
_NEEDS_UNESCAPE = re.compile(r"%(25|24|2E)")


def escape_key(key: str) -> str:
    if not _NEEDS_ESCAPE.search(key):
        return key
    for raw, escaped in _ESCAPES:
        key = key.replace(raw, escaped)
    return key


def unescape_key(key: str) -> str:
    if "%" not in key:
        return key
    return _NEEDS_UNESCAPE.sub(lambda m: {"25": "%", "24": "$", "2E": "."}[m.group(1)], key)


def encode(value: Any) -> Any:
    """JSON value → storable value (keys escaped)."""
    if isinstance(value, dict):
        return {escape_key(k): encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    """Stored value → the JSON value the client sent."""
    if isinstance(value, dict):
        return {unescape_key(k): decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _date_times(value: Any, path: str) -> Iterator[tuple[str, datetime]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _date_times(item, f"{path}.{escape_key(key)}" if path else escape_key(key))
    elif isinstance(value, list):
        for item in value:
            yield from _date_times(item, path)
    elif isinstance(value, str) and value[:1].isdigit():
        parsed = parse_date_time(value)
        if parsed is not None:
            yield path, parsed


def date_shadow(resource: dict[str, Any], limit: int = 256) -> list[dict[str, Any]]:
    """The ``dt`` array for a resource (bounded, duplicates removed)."""
    seen: dict[tuple[str, datetime], None] = {}
    for item in _date_times(resource, ""):
        seen.setdefault(item, None)
        if len(seen) >= limit:
            break
    return [{"p": p, "v": v} for p, v in seen]
