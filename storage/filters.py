"""``ListQuery`` → MongoDB filter, projection and sort, from a fixed vocabulary of operators.

Client text only ever becomes *values* (strings, numbers, booleans, datetimes, an escaped
attribute path, or a length-bounded ``$regex`` pattern); operator names come from this module.
"""

from __future__ import annotations

import re
from typing import Any

from services.list_query import Filter, ListQuery
from storage.codec import escape_key, parse_date_time

RESOURCE = "r"
DATES = "dt"
_NUMBER = re.compile(r"^-?(0|[1-9]\d{0,17})(\.\d+)?([eE][+-]?\d{1,3})?$")
_RANGE = {"gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
ALWAYS_KEPT = ("id", "href")


def field_path(path: tuple[str, ...]) -> str:
    return ".".join((RESOURCE, *(escape_key(s) for s in path)))


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(escape_key(s) for s in path)


def typed_candidates(text: str) -> list[Any]:
    """The values a query-string value may stand for: the string, and a boolean or number."""
    out: list[Any] = [text]
    lowered = text.lower()
    if lowered in {"true", "false"}:
        out.append(lowered == "true")
    elif _NUMBER.match(text):
        number = float(text)
        out.append(int(number) if number.is_integer() and abs(number) < 2**63 else number)
    elif lowered == "null":
        out.append(None)
    return out


def _ordered(text: str) -> Any:
    """The value a range operator compares with: a number if it is one, else the string."""
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2**63 else number
    return text


def _date_match(path: tuple[str, ...], condition: Any) -> dict[str, Any]:
    return {DATES: {"$elemMatch": {"p": _dotted(path), "v": condition}}}


def _value_condition(flt: Filter, value: str) -> dict[str, Any]:
    target = field_path(flt.path)
    when = parse_date_time(value) if value[:1].isdigit() else None
    if flt.op == "eq":
        plain = {target: {"$in": typed_candidates(value)}}
        return {"$or": [plain, _date_match(flt.path, when)]} if when else plain
    if flt.op in _RANGE:
        if when is not None:
            return _date_match(flt.path, {_RANGE[flt.op]: when})
        return {target: {_RANGE[flt.op]: _ordered(value)}}
    raise AssertionError(flt.op)


def _filter_condition(flt: Filter) -> dict[str, Any]:
    target = field_path(flt.path)
    if flt.op == "regex":
        return {target: {"$regex": flt.values[0]}}
    if flt.op == "ne":
        clauses: list[dict[str, Any]] = []
        for value in flt.values:
            clauses.append({target: {"$in": typed_candidates(value)}})
            when = parse_date_time(value) if value[:1].isdigit() else None
            if when is not None:
                clauses.append(_date_match(flt.path, when))
        return {"$nor": clauses}
    if flt.op == "eq" and not any(v[:1].isdigit() for v in flt.values):
        candidates: list[Any] = []
        for value in flt.values:
            candidates.extend(typed_candidates(value))
        return {target: {"$in": candidates}}
    conditions = [_value_condition(flt, v) for v in flt.values]
    return conditions[0] if len(conditions) == 1 else {"$or": conditions}


def to_mongo_filter(query: ListQuery, base: dict[str, Any] | None = None) -> dict[str, Any]:
    clauses = [_filter_condition(f) for f in query.filters]
    if base:
        clauses.insert(0, base)
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def to_projection(fields: tuple[str, ...] | None) -> dict[str, Any]:
    """First-level attribute selection; ``id`` and ``href`` are always kept (nothing else: TMF630)."""
    if fields is None:
        return {"_id": 0, RESOURCE: 1}
    names = dict.fromkeys((*ALWAYS_KEPT, *fields))
    return {"_id": 0, **{f"{RESOURCE}.{escape_key(n)}": 1 for n in names}}


def to_sort(query: ListQuery, default: list[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(field_path(p), d) for p, d in query.sort] + default
