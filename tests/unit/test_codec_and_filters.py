from __future__ import annotations

from datetime import UTC, datetime

from services.dates import parse_date_time
from services.list_query import ListQuery, parse_filters
from storage.codec import date_shadow, decode, encode, escape_key, unescape_key
from storage.filters import to_mongo_filter, to_projection, typed_candidates


def test_keys_with_mongo_meaning_are_escaped_and_restored() -> None:
    doc = {"$where": "sleep(1)", "a.b": {"$gt": 1}, "100%": [{"$x": 1}], "plain": 1}
    stored = encode(doc)
    assert all(not k.startswith("$") and "." not in k for k in stored)
    assert stored["%24where"] == "sleep(1)"
    assert stored["a%2Eb"] == {"%24gt": 1}
    assert decode(stored) == doc


def test_escape_round_trip_on_tricky_keys() -> None:
    for key in ["%24", "%", "$.%", "a%2Eb", ""]:
        assert unescape_key(escape_key(key)) == key


def test_parse_date_time() -> None:
    assert parse_date_time("2024-01-01T01:00:00+01:00") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_date_time("2024-01-01T00:00:00Z") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_date_time("2024-01-01") == datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_date_time("2024-13-01T00:00:00Z") is None
    assert parse_date_time("12") is None


def test_date_shadow_covers_nested_and_array_values() -> None:
    resource = {
        "validFor": {"startDateTime": "2024-01-01T00:00:00Z"},
        "recommendationItem": [{"product": {"orderDate": "2024-02-01T00:00:00Z"}}],
        "name": "2024 offers",
    }
    assert date_shadow(resource) == [
        {"p": "validFor.startDateTime", "v": datetime(2024, 1, 1, tzinfo=UTC)},
        {"p": "recommendationItem.product.orderDate", "v": datetime(2024, 2, 1, tzinfo=UTC)},
    ]


def test_typed_candidates() -> None:
    assert typed_candidates("true") == ["true", True]
    assert typed_candidates("12") == ["12", 12]
    assert typed_candidates("1.5") == ["1.5", 1.5]
    assert typed_candidates("abc") == ["abc"]


def test_filters_never_take_operators_from_client_text() -> None:
    query = ListQuery(filters=parse_filters([("$where", "1"), ("a.$gt", "2")]))
    mongo = to_mongo_filter(query)

    def keys(value: object) -> list[str]:
        if isinstance(value, dict):
            return [k for k in value] + [x for v in value.values() for x in keys(v)]
        if isinstance(value, list):
            return [x for v in value for x in keys(v)]
        return []

    operators = {k for k in keys(mongo) if k.startswith("$")}
    assert operators <= {"$and", "$in"}
    assert "r.%24where" in str(mongo)


def test_date_comparison_uses_the_shadow() -> None:
    query = ListQuery(filters=parse_filters([("validFor.startDateTime.gt", "2024-01-01T00:00:00Z")]))
    assert to_mongo_filter(query) == {
        "dt": {"$elemMatch": {"p": "validFor.startDateTime", "v": {"$gt": datetime(2024, 1, 1, tzinfo=UTC)}}}
    }


def test_projection_keeps_only_id_href_and_the_named_fields() -> None:
    assert to_projection(("name",)) == {"_id": 0, "r.id": 1, "r.href": 1, "r.name": 1}
    assert to_projection(None) == {"_id": 0, "r": 1}


def test_nul_keys_and_huge_integers_survive_storage() -> None:
    doc = {"a\x00b": 1, "big": 18446744073709551616, "neg": -(2**70), "ok": 2**63 - 1, "flag": True,
           "%int": "x"}
    stored = encode(doc)
    assert "a%00b" in stored and stored["big"] == {"%int": "18446744073709551616"}
    assert stored["ok"] == 2**63 - 1 and stored["flag"] is True
    assert decode(stored) == doc
