from __future__ import annotations

import pytest

from services.errors import InvalidRequest
from services.list_query import Filter, parse_fields, parse_filters, parse_list_query, parse_sort


def f(*pairs: tuple[str, str]) -> tuple[Filter, ...]:
    return parse_filters(list(pairs))


def test_equality_on_first_level_and_nested_attributes() -> None:
    assert f(("name", "x"), ("relatedParty.id", "c1")) == (
        Filter(("name",), "eq", ("x",)),
        Filter(("relatedParty", "id"), "eq", ("c1",)),
    )


def test_or_by_repetition_and_by_comma_merge() -> None:
    assert f(("state", "done"), ("state", "accepted,inProgress")) == (
        Filter(("state",), "eq", ("done", "accepted", "inProgress")),
    )


@pytest.mark.parametrize(
    ("key", "value", "op", "val"),
    [
        ("priority.gt", "1", "gt", "1"),
        ("priority.gte", "1", "gte", "1"),
        ("priority.lt", "1", "lt", "1"),
        ("priority.lte", "1", "lte", "1"),
        ("state.ne", "done", "ne", "done"),
        ("priority>", "2", "gte", "2"),  # priority>=2
        ("priority<", "2", "lte", "2"),  # priority<=2
        ("priority>2", "", "gt", "2"),
        ("priority<2", "", "lt", "2"),
        ("name", "~^abc", "regex", "^abc"),
        ("name.regex", "abc", "regex", "abc"),
    ],
)
def test_operators(key: str, value: str, op: str, val: str) -> None:
    (flt,) = f((key, value))
    assert flt.op == op
    assert flt.values == (val,)


def test_reserved_parameters_are_not_filters() -> None:
    assert f(("fields", "a"), ("offset", "1"), ("limit", "2"), ("sort", "name")) == ()


def test_bad_regex_and_overlong_values_are_invalid_requests() -> None:
    with pytest.raises(InvalidRequest):
        f(("name.regex", "("))
    with pytest.raises(InvalidRequest):
        f(("name.regex", "a" * 300))
    with pytest.raises(InvalidRequest):
        f(("name", "x" * 2000))
    with pytest.raises(InvalidRequest):
        f(("a..b", "x"))


def test_too_many_filters() -> None:
    with pytest.raises(InvalidRequest):
        parse_filters([(f"a{i}", "x") for i in range(40)])


def test_fields() -> None:
    assert parse_fields(None) is None
    assert parse_fields("") is None
    assert parse_fields("name, state,name") == ("name", "state")


def test_sort() -> None:
    assert parse_sort("-name,state") == ((("name",), -1), (("state",), 1))


def test_list_query_caps_limit_and_rejects_negative_paging() -> None:
    query = parse_list_query([("limit", "5000")], offset=None, limit=5000, max_limit=100)
    assert query.limit == 100 and query.offset == 0
    assert parse_list_query([], offset=None, limit=None, max_limit=100).limit == 100
    with pytest.raises(InvalidRequest):
        parse_list_query([], offset=-1, limit=None, max_limit=100)
    with pytest.raises(InvalidRequest):
        parse_list_query([], offset=None, limit=-1, max_limit=100)
