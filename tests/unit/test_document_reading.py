from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from services.documents import BadLine, read_documents
from services.history import ORDER, PRODUCT, HistoryError, parse_history


def read(text: str) -> list[tuple[int, object]]:
    return list(read_documents(io.StringIO(text)))


def test_ndjson_with_bad_lines_keeps_line_numbers() -> None:
    items = read('{"id": "a"}\n\n{"id": \n[1]\n{"id": "b"}\n')
    assert items[0] == (1, {"id": "a"})
    assert isinstance(items[1][1], BadLine) and items[1][0] == 3
    assert isinstance(items[2][1], BadLine) and items[2][0] == 4
    assert items[3] == (5, {"id": "b"})


def test_json_array_and_pretty_object() -> None:
    assert read('[{"id": "a"}, 3]')[0] == (1, {"id": "a"})
    assert isinstance(read('[{"id": "a"}, 3]')[1][1], BadLine)
    pretty = '{\n  "category": [{"id": "c"}],\n  "productOffering": [{"id": "o"}]\n}\n'
    assert [d for _, d in read(pretty)] == [{"@collection": "category", "id": "c"},
                                             {"@collection": "productOffering", "id": "o"}]


def test_one_line_wrapper_object_is_expanded_too() -> None:
    assert [d for _, d in read('{"category": [{"id": "c"}]}')] == [{"@collection": "category", "id": "c"}]


def test_broken_json_array_is_one_bad_line() -> None:
    (item,) = read('[{"id": "a"},\n{"id": ')
    assert isinstance(item[1], BadLine) and "not valid JSON" in item[1].message


def test_product_history() -> None:
    record = parse_history({
        "id": "p1", "@type": "Product", "status": "active", "startDate": "2020-01-01T00:00:00Z",
        "productOffering": {"id": "dsl"},
        "relatedParty": [{"id": "acct", "role": "billingContact"}, {"id": "c1", "role": "customer"}],
    })
    assert (record.kind, record.customer_ids, record.offering_ids) == (PRODUCT, ("c1",), ("dsl",))
    assert record.held_status is True
    assert record.start == datetime(2020, 1, 1, tzinfo=UTC)
    terminated = parse_history({"id": "p2", "status": "terminated", "productOffering": {"id": "x"},
                                "relatedParty": [{"id": "c1", "@referredType": "Customer"}]})
    assert terminated.held_status is False and terminated.signal is True


def test_order_history() -> None:
    record = parse_history({
        "id": "o1", "@type": "ProductOrder", "state": "inProgress", "orderDate": "2024-01-01T00:00:00Z",
        "relatedParty": [{"id": "c9", "role": "Customer"}],
        "productOrderItem": [
            {"id": "1", "action": "add", "productOffering": {"id": "fiber"}},
            {"id": "2", "action": "delete", "productOffering": {"id": "dsl"}},
            {"id": "3", "product": {"productOffering": {"id": "tv"}}},
        ],
    })
    assert record.kind == ORDER and record.held_status is True and record.signal is True
    assert record.offering_ids == ("fiber", "tv")
    assert record.order_items == (("1", "fiber"), ("3", "tv"))
    cancelled = parse_history({"id": "o2", "state": "cancelled", "relatedParty": [{"id": "c"}],
                               "productOrderItem": [{"productOffering": {"id": "x"}}]})
    assert cancelled.signal is False and cancelled.held_status is False


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"productOffering": {"id": "x"}}, "no id"),
        ({"id": "p", "productOffering": {"id": "x"}}, "relatedParty"),
        ({"id": "p", "relatedParty": [{"id": "c"}], "productOffering": {}}, "productOffering"),
        ({"id": "p", "relatedParty": [{"id": "c"}]}, "neither"),
        ({"id": "p", "relatedParty": [{"id": "c"}], "productOffering": {"id": "x"}, "startDate": "soon"},
         "startDate"),
        ({"id": "o", "relatedParty": [{"id": "c"}], "productOrderItem": [{"action": "delete",
                                                                           "productOffering": {"id": "x"}}]},
         "productOrderItem"),
    ],
)
def test_unusable_history_documents(doc: dict[str, object], message: str) -> None:
    with pytest.raises(HistoryError, match=message):
        parse_history(doc)
