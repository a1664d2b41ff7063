"""How a client's JSON document is kept in MongoDB, and given back unchanged.

Attribute names are client data. MongoDB gives ``$``-prefixed and dotted names special meaning
and refuses NUL, so every key is escaped (``%`` → ``%25``, ``$`` → ``%24``, ``.`` → ``%2E``, NUL →
``%00``) on the way in and unescaped on the way out: a body with ``{"$where": ...}`` is stored as
data, never run. Integers beyond BSON's 64 bits are kept as text and given back as numbers.

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

_ESCAPES = (("%", "%25"), ("$", "%24"), (".", "%2E"), ("\x00", "%00"))
_UNESCAPES = {"25": "%", "24": "$", "2E": ".", "00": "\x00"}
_NEEDS_ESCAPE = re.compile(r"[%$.\x00]")
_NEEDS_UNESCAPE = re.compile(r"%(25|24|2E|00)")
# BSON integers have 64 bits; a larger JSON integer is kept as {"%int": "<digits>"} (no client key
# can be "%int": a client's "%" is escaped to "%25").
_BIG_INT = "%int"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def escape_key(key: str) -> str:
    if not _NEEDS_ESCAPE.search(key):
        return key
    for raw, escaped in _ESCAPES:
        key = key.replace(raw, escaped)
    return key


def unescape_key(key: str) -> str:
    if "%" not in key:
        return key
    return _NEEDS_UNESCAPE.sub(lambda m: _UNESCAPES[m.group(1)], key)


def encode(value: Any) -> Any:
    """JSON value → storable value (keys escaped)."""
    if isinstance(value, dict):
        return {escape_key(k): encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        return {_BIG_INT: str(value)}
    return value


def decode(value: Any) -> Any:
    """Stored value → the JSON value the client sent."""
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(_BIG_INT), str):
            return int(value[_BIG_INT])
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
