"""TMF630 list requests parsed into one value object (filters, projection, paging).

The parser only understands the syntax; it never produces database operators. ``storage.filters``
turns a ``ListQuery`` into a MongoDB query from a fixed vocabulary of operators.

Syntax (TMF630 Part 1):
- ``attr=v`` equality; ``a.b.c=v`` on nested attributes (arrays are searched element-wise);
- OR by repetition (``state=done&state=accepted``) or comma (``state=done,accepted``);
- different attributes are ANDed;
- ``attr.gt=``, ``.gte``, ``.lt``, ``.lte``, ``.ne`` and the literal forms ``attr>v``, ``attr>=v``,
  ``attr<v``, ``attr<=v``; ``attr.regex=`` or ``attr=~pattern`` for a bounded regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from services.errors import InvalidRequest

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "regex")
_SUFFIX_OPERATORS = {"gt", "gte", "lt", "lte", "ne", "regex"}
RESERVED = frozenset({"fields", "offset", "limit", "sort"})
MAX_FILTERS = 32
MAX_VALUES = 100
MAX_VALUE_LENGTH = 1024
MAX_REGEX_LENGTH = 256
MAX_PATH_DEPTH = 8
_SEGMENT = re.compile(r"^[^\s\x00]{1,128}$")


@dataclass(frozen=True)
class Filter:
    path: tuple[str, ...]
    op: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    fields: tuple[str, ...] | None = None
    offset: int = 0
    limit: int = 1000  # the client's limit, capped by the server's safety cap (the cap when absent)
    sort: tuple[tuple[tuple[str, ...], int], ...] = field(default=())


def parse_fields(raw: str | None) -> tuple[str, ...] | None:
    """``fields=a,b`` → ``("a", "b")``; None or empty → no selection."""
    if raw is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    return names or None


def _path(name: str) -> tuple[str, ...]:
    segments = tuple(name.split("."))
    if len(segments) > MAX_PATH_DEPTH or not all(_SEGMENT.match(s) for s in segments):
        raise InvalidRequest(f"invalid attribute name in filter: {name!r}")
    return segments


def _split_key(key: str, value: str) -> tuple[str, str, str]:
    """Return (attribute name, operator, value) for one query-string pair."""
    if len(key) > 1 and key[-1] in "<>":  # "a>=v" arrives as key "a>" and value "v"
        return key[:-1], "gte" if key[-1] == ">" else "lte", value
    for symbol, op in ((">", "gt"), ("<", "lt")):  # "a>v" arrives as key "a>v", empty value
        name, found, rest = key.partition(symbol)
        if found and name and value == "":
            return name, op, rest
    head, dot, tail = key.rpartition(".")
    if dot and head and tail in _SUFFIX_OPERATORS:
        return head, tail, value
    if value.startswith("~"):  # "a=~pattern"
        return key, "regex", value[1:]
    return key, "eq", value


def parse_filters(pairs: Iterable[tuple[str, str]], reserved: Iterable[str] = RESERVED) -> tuple[Filter, ...]:
    """Group query-string pairs (already URL-decoded, repetition kept) into filters."""
    skip = frozenset(reserved)
    grouped: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for key, value in pairs:
        if key in skip:
            continue
        if len(value) > MAX_VALUE_LENGTH:
            raise InvalidRequest(f"filter value for {key!r} is longer than {MAX_VALUE_LENGTH} characters")
        name, op, raw = _split_key(key, value)
        if op == "regex":
            if not raw or len(raw) > MAX_REGEX_LENGTH:
                raise InvalidRequest(f"regular expression for {name!r} must be 1 to {MAX_REGEX_LENGTH} characters")
            try:
                re.compile(raw)
            except re.error as exc:
                raise InvalidRequest(f"invalid regular expression for {name!r}: {exc}") from exc
            values = [raw]
        else:
            values = raw.split(",")
        bucket = grouped.setdefault((_path(name), op), [])
        bucket.extend(values)
        if len(bucket) > MAX_VALUES:
            raise InvalidRequest(f"too many values for filter {name!r} (at most {MAX_VALUES})")
    if len(grouped) > MAX_FILTERS:
        raise InvalidRequest(f"too many filters (at most {MAX_FILTERS})")
    return tuple(Filter(path, op, tuple(dict.fromkeys(vals))) for (path, op), vals in grouped.items())


def parse_sort(raw: str | None) -> tuple[tuple[tuple[str, ...], int], ...]:
    """``sort=-name,state`` → descending name, then ascending state."""
    if not raw:
        return ()
    out = []
    for item in (part.strip() for part in raw.split(",")):
        if item:
            out.append((_path(item.lstrip("+-")), -1 if item.startswith("-") else 1))
    return tuple(out)


def parse_list_query(
    pairs: Iterable[tuple[str, str]],
    *,
    offset: int | None,
    limit: int | None,
    max_limit: int,
) -> ListQuery:
    pairs = list(pairs)
    if offset is not None and offset < 0:
        raise InvalidRequest("offset must not be negative")
    if limit is not None and limit < 0:
        raise InvalidRequest("limit must not be negative")
    fields_raw = next((v for k, v in pairs if k == "fields"), None)
    sort_raw = next((v for k, v in pairs if k == "sort"), None)
    return ListQuery(
        filters=parse_filters(pairs),
        fields=parse_fields(fields_raw),
        offset=offset or 0,
        limit=min(limit, max_limit) if limit is not None else max_limit,
        sort=parse_sort(sort_raw),
    )
