"""Recommendations through HTTP on the demo data set (real mongod, demo catalogue and history)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from app.factory import create_app
from app.settings import Settings
from cli.demo import load_demo_data

QPR = "/tmf-api/recommendationManagement/v4/queryProductRecommendation"


@pytest.fixture(scope="module")
def demo_app(mongo_uri: str) -> Iterator[Any]:
    name = f"demo_{uuid.uuid4().hex[:8]}"
    app = create_app(Settings(mongodb_uri=mongo_uri, db_name=name, validate_responses=True, model_refresh_s=0,
                              workers=False))
    load_demo_data(app.app.extensions["tmf680"])
    yield app
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(name)
    client.close()


@pytest.fixture(scope="module")
def http(demo_app: Any) -> Iterator[Any]:
    with demo_app.test_client() as client:
        yield client


def recommend(http: Any, **body: Any) -> dict[str, Any]:
    response = http.post(QPR, json={"instantSyncRecommendation": True, **body})
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["state"] == "done"
    return result


def offered(result: dict[str, Any]) -> list[str]:
    return [item["productOffering"]["id"] for item in result["recommendationItem"]]


def customer(cid: str) -> dict[str, Any]:
    return {"relatedParty": {"id": cid, "@referredType": "Customer", "role": "customer"}}


def test_hand_checked_customer_gets_streaming_movies_first(http: Any) -> None:
    # 9167-APMXZ holds fiber, phone, multiple lines, streaming TV and a month-to-month contract but not
    # streaming movies; 1,310 of the 1,750 fiber customers with streaming TV also take movies.
    result = recommend(http, **customer("9167-APMXZ"))
    items = result["recommendationItem"]
    assert offered(result)[0] == "streaming-movies"
    assert [i["priority"] for i in items] == list(range(1, len(items) + 1))
    assert len(items) == 5
    held = {"internet-fiber-optic", "phone-service", "multiple-lines", "streaming-tv", "contract-month-to-month"}
    assert not held & set(offered(result))
    assert "internet-dsl" not in offered(result)  # one internet type
    assert not {"contract-one-year", "contract-two-year"} & set(offered(result))  # one contract at a time
    first = items[0]
    assert first["productOffering"]["@referredType"] == "ProductOffering"
    assert first["productOffering"]["name"] and first["product"]["productOffering"]["id"] == "streaming-movies"
    stored = http.get(f"{QPR}/{result['id']}").json()
    assert stored["recommendationItem"] == items and stored["state"] == "done"


def test_customer_without_phone_is_offered_phone_and_never_extra_lines(http: Any) -> None:
    result = recommend(http, **customer("7590-VHVEG"))  # DSL + online backup, no phone service
    assert "multiple-lines" not in offered(result)  # needs phone service
    assert offered(result)[0] == "phone-service"


def test_cold_start_customer_gets_popular_eligible_offerings(http: Any) -> None:
    result = recommend(http, **customer("not-a-customer"))
    assert len(offered(result)) == 5
    assert not {"online-security", "tech-support"} & set(offered(result)[:1])  # add-ons need internet


def test_cart_counts_as_held(http: Any) -> None:
    cart = [{"itemId": "internet-dsl", "@referredType": "ProductOffering"}]
    result = recommend(http, shoppingCartItem=cart, category=[{"id": "internet"}])
    assert "internet-dsl" not in offered(result) and "internet-fiber-optic" not in offered(result)
    assert offered(result) and all(o not in {"phone-service"} for o in offered(result))


def test_known_category_is_201_unknown_is_400_naming_it(http: Any) -> None:
    assert http.post(QPR, json={"category": [{"id": "internet"}]}).status_code == 201
    response = http.post(QPR, json={"category": [{"id": "no-such-category"}]})
    assert response.status_code == 400
    assert "no-such-category" in response.json()["message"]
    response = http.post(QPR, json={"channel": [{"id": "carrier-pigeon"}]})
    assert response.status_code == 400 and "carrier-pigeon" in response.json()["message"]
    response = http.post(QPR, json={"shoppingCartItem": [{"itemId": "ghost", "@referredType": "ProductOffering"}]})
    assert response.status_code == 400 and "ghost" in response.json()["message"]


def test_async_query_is_accepted(http: Any) -> None:
    response = http.post(QPR, json={"instantSyncRecommendation": False, **customer("9167-APMXZ")})
    assert response.status_code == 201
    assert response.json()["state"] == "accepted" and response.json()["recommendationItem"] == []


def test_a_query_without_the_indicator_is_answered_at_once(http: Any) -> None:
    """The TM Forum kit's body: an order item naming nothing this server knows is no error (cold start)."""
    response = http.post(QPR, json={"productOrderItem": [{"itemId": "itemId", "entityId": "entityId"}]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "done" and len(body["recommendationItem"]) == 5
    assert body["productOrderItem"] == [{"itemId": "itemId", "entityId": "entityId"}]
    assert "instantSyncRecommendation" not in body  # the client's attributes only
    assert http.get(f"{QPR}/{body['id']}").json() == body
