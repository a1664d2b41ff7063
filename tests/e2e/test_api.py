"""The API through HTTP (in-process ASGI client, real mongod), with response validation on."""

from __future__ import annotations

import time
from typing import Any

import pytest

from app.factory import create_app
from app.settings import Settings
from recommender import train
from services.queries import QueryService
from storage.mongo import make_client
from storage.query_repository import MongoQueryRepository

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
JSON_UTF8 = {"Content-Type": "application/json;charset=utf-8", "Accept": "application/json"}


def assert_tmf_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert {"code", "reason"} <= set(body)
    assert all(isinstance(body[k], str) for k in ("code", "reason", "message", "status"))
    assert body["status"] == str(status)
    assert "Traceback" not in response.text
    return body


def create(client: Any, **body: Any) -> Any:
    response = client.post(QPR, json=body)
    assert response.status_code == 201, response.text
    return response


def test_create_returns_201_with_location_and_server_id(client: Any) -> None:
    response = create(client, name="n1", id="client-id", href="http://evil/x",
                      relatedParty={"id": "c1", "@referredType": "Customer"}, channel=[{"id": "web"}])
    body = response.json()
    assert isinstance(body["id"], str) and body["id"] != "client-id"
    assert body["href"].endswith(f"{QPR}/{body['id']}")
    assert response.headers["location"] == body["href"]
    # no instantSyncRecommendation: answered at once; with no catalogue loaded, an error with its reason
    assert body["state"] == "terminatedWithError" and "catalogue" in body["stateReason"]
    assert body["recommendationItem"] == []
    assert body["channel"] == [{"id": "web"}]
    got = client.get(body["href"].replace("http://testserver", ""))
    assert got.status_code == 200 and got.json() == body


def test_charset_content_type_is_accepted(client: Any) -> None:
    response = client.post(QPR, content=b'{"name": "caf\xc3\xa9"}', headers=JSON_UTF8)
    assert response.status_code == 201
    assert response.json()["name"] == "café"


def test_list_filters_fields_and_paging(client: Any) -> None:
    first = create(client, name="alpha", relatedParty={"id": "c1", "@referredType": "Customer"}).json()
    second = create(client, name="beta", relatedParty={"id": "c2", "@referredType": "Customer"}).json()

    everything = client.get(QPR)
    assert everything.status_code == 200
    assert [i["id"] for i in everything.json()] == [second["id"], first["id"]]
    assert all(isinstance(i["id"], str) and isinstance(i["href"], str) for i in everything.json())
    assert everything.headers["x-total-count"] == "2" and everything.headers["x-result-count"] == "2"

    by_id = client.get(QPR, params={"id": first["id"]})
    assert [i["id"] for i in by_id.json()] == [first["id"]]
    by_name = client.get(QPR, params={"name": "beta"})
    assert [i["id"] for i in by_name.json()] == [second["id"]]
    by_party = client.get(QPR, params={"relatedParty.id": "c1"})
    assert [i["id"] for i in by_party.json()] == [first["id"]]

    fields = client.get(QPR, params={"fields": "name", "id": first["id"]})
    assert fields.json() == [{"id": first["id"], "href": first["href"], "name": "alpha"}]

    page = client.get(QPR, params={"offset": 0, "limit": 1})
    assert page.status_code == 206
    assert len(page.json()) == 1
    assert page.headers["x-total-count"] == "2" and page.headers["x-result-count"] == "1"

    whole_page = client.get(QPR, params={"offset": 0, "limit": 10})
    assert whole_page.status_code == 200
    last_page = client.get(QPR, params={"offset": 1, "limit": 1})
    assert last_page.status_code == 200 and len(last_page.json()) == 1
    unpaged_rest = client.get(QPR, params={"offset": 1})
    assert unpaged_rest.status_code == 200 and unpaged_rest.headers["x-total-count"] == "2"


def test_the_safety_cap_bounds_an_unpaged_list_that_stays_200(settings: Settings) -> None:
    app = create_app(settings.replace(max_limit=2))
    with app.test_client() as client:
        for i in range(3):
            create(client, name=f"n{i}")
        capped = client.get(QPR)
        assert capped.status_code == 200 and len(capped.json()) == 2  # unpaged: 200 (TMF630, the TM Forum kit)
        assert capped.headers["x-total-count"] == "3" and capped.headers["x-result-count"] == "2"
        paged = client.get(QPR, params={"limit": 5})  # the client's page, cut by the cap
        assert paged.status_code == 206 and len(paged.json()) == 2


def test_retrieve_with_fields_and_unknown_id(client: Any) -> None:
    created = create(client, name="n", description="d").json()
    got = client.get(f"{QPR}/{created['id']}", params={"fields": "description"})
    assert got.json() == {"id": created["id"], "href": created["href"], "description": "d"}
    assert_tmf_error(client.get(f"{QPR}/does-not-exist"), 404)


def test_legacy_mount_serves_the_same_store(client: Any) -> None:
    created = create(client, name="n").json()
    got = client.get(f"/customer/v4/queryProductRecommendation/{created['id']}")
    assert got.status_code == 200 and got.json()["id"] == created["id"]


@pytest.mark.parametrize("method", ["patch", "delete", "put"])
def test_undefined_methods_are_405_with_allow(client: Any, method: str) -> None:
    created = create(client).json()
    response = getattr(client, method)(f"{QPR}/{created['id']}")
    assert_tmf_error(response, 405)
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b'{"name": ', {"Content-Type": "application/json"}, 400),
        (b'{"name": "\xff\xfe"}', {"Content-Type": "application/json"}, 400),
        (b'[1, 2]', {"Content-Type": "application/json"}, 400),
        (b'{"instantSyncRecommendation": "yes"}', {"Content-Type": "application/json"}, 400),
        (b'{"relatedParty": [{"id": "x"}]}', {"Content-Type": "application/json"}, 400),
        (b'{"state": "nope"}', {"Content-Type": "application/json"}, 400),
        (b'{"name": "x"}', {"Content-Type": "text/plain"}, 415),
        (b'{"name": "x"}', {"Content-Type": "application/xml"}, 415),
    ],
)
def test_bad_bodies_are_tmf_errors(client: Any, content: bytes, headers: dict[str, str], status: int) -> None:
    assert_tmf_error(client.post(QPR, content=content, headers=headers), status)


def test_malformed_json_message_says_so(client: Any) -> None:
    body = assert_tmf_error(client.post(QPR, content=b"{", headers={"Content-Type": "application/json"}), 400)
    assert "not valid JSON" in body["message"]


def test_deeply_nested_body_is_400_not_500(client: Any) -> None:
    deep = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert client.post(QPR, content=deep, headers={"Content-Type": "application/json"}).status_code in {400, 413}


def test_body_over_the_limit_is_413(settings: Settings) -> None:
    app = create_app(settings.replace(max_body_bytes=2048))
    with app.test_client() as client:
        big = {"name": "x" * 4096}
        assert_tmf_error(client.post(QPR, json=big), 413)
        assert client.post(QPR, json={"name": "ok"}).status_code == 201


@pytest.mark.parametrize("query", ["offset=-1", "limit=-5", "offset=abc", "limit=1.5"])
def test_bad_paging_is_400(client: Any, query: str) -> None:
    assert_tmf_error(client.get(f"{QPR}?{query}"), 400)


def test_bad_filter_is_400(client: Any) -> None:
    body = assert_tmf_error(client.get(f"{QPR}?name.regex=(unclosed"), 400)
    assert "regular expression" in body["message"]


def test_unknown_path_is_404_tmf_error(client: Any) -> None:
    assert_tmf_error(client.get(f"{BASE}/nothingHere"), 404)
    assert_tmf_error(client.get("/"), 404)


def test_hub_register_and_unregister(client: Any) -> None:
    # 127.0.0.1 is allow-listed for the tests' own listeners (settings fixture); port 9 = discard
    response = client.post(f"{BASE}/hub", json={"callback": "http://127.0.0.1:9/cb",
                                                 "query": "eventType=QueryProductRecommendationStateChangeEvent"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "callback", "query"}
    assert response.headers["location"].endswith(f"/hub/{body['id']}")
    assert client.delete(f"{BASE}/hub/{body['id']}").status_code == 204
    assert_tmf_error(client.delete(f"{BASE}/hub/{body['id']}"), 404)


@pytest.mark.parametrize("callback", ["not-a-url", "ftp://x.example/cb", "/relative/cb"])
def test_hub_refuses_bad_callbacks(client: Any, callback: str) -> None:
    body = assert_tmf_error(client.post(f"{BASE}/hub", json={"callback": callback}), 400)
    assert "callback" in body["message"]


def test_hub_requires_callback(client: Any) -> None:
    assert_tmf_error(client.post(f"{BASE}/hub", json={"query": "x=1"}), 400)


def test_listener_stores_events_and_answers_as_declared(client: Any, app: Any) -> None:
    event = {"eventId": "e-1", "eventTime": "2024-01-01T00:00:00Z",
             "eventType": "QueryProductRecommendationStateChangeEvent",
             "event": {"queryProductRecommendation": {"id": "q1", "state": "done"}}}
    response = client.post(f"{BASE}/listener/queryProductRecommendationStateChangeEvent", json=event)
    assert response.status_code == 201
    assert set(response.json()) == {"id", "callback"}
    stored = app.app.extensions["tmf680"].listener.recent(5)
    assert stored[0]["eventId"] == "e-1" and stored[0]["event"] == event
    wrong = client.post(f"{BASE}/listener/queryProductRecommendationCreateEvent", json=event)
    assert_tmf_error(wrong, 400)
    bad_time = client.post(f"{BASE}/listener/queryProductRecommendationCreateEvent",
                           json={"eventTime": "yesterday"})
    assert_tmf_error(bad_time, 400)


def test_openapi_document_is_served(client: Any) -> None:
    response = client.get(f"{BASE}/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["basePath"] == BASE
    assert doc["consumes"] == ["application/json"]
    assert "/queryProductRecommendation" in doc["paths"]


def test_public_url_setting_builds_hrefs(settings: Settings) -> None:
    app = create_app(settings.replace(public_url="https://api.example.com"))
    with app.test_client() as client:
        body = client.post(QPR, json={}).json()
        assert body["href"] == f"https://api.example.com{QPR}/{body['id']}"


def test_database_down_is_503_quickly(settings: Settings) -> None:
    app = create_app(settings)
    broken = make_client("mongodb://127.0.0.1:1/", timeout_ms=300)
    app.app.extensions["tmf680"].queries = QueryService(MongoQueryRepository(broken["x"]))
    with app.test_client() as client:
        started = time.monotonic()
        assert_tmf_error(client.get(QPR), 503)
        assert_tmf_error(client.post(QPR, json={"name": "x"}), 503)
        assert time.monotonic() - started < 3
    broken.close()


def test_unexpected_exception_is_500_without_internals(settings: Settings) -> None:
    app = create_app(settings)

    class Boom:
        def list(self, query: Any) -> Any:
            raise RuntimeError("secret internal detail")

    app.app.extensions["tmf680"].queries = QueryService(Boom())  # type: ignore[arg-type]
    with app.test_client() as client:
        response = client.get(QPR)
        body = assert_tmf_error(response, 500)
        assert "secret" not in response.text and "RuntimeError" not in body["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("patch", QPR, "GET, POST"),
        ("options", QPR, "GET, POST"),
        ("delete", QPR, "GET, POST"),
        ("put", f"{BASE}/hub/x", "DELETE"),
        ("get", f"{BASE}/hub", "POST"),
        ("patch", "/customer/v4/queryProductRecommendation/x", "GET"),
    ],
)
def test_allow_names_every_declared_method(client: Any, method: str, path: str, allow: str) -> None:
    response = client.request(method.upper(), path)
    assert_tmf_error(response, 405)
    assert response.headers["allow"] == allow


@pytest.mark.parametrize("path", [f"{BASE}/hub/%0A", f"{QPR}/a%0Ab"])
def test_line_feed_in_path_is_404(client: Any, path: str) -> None:
    method = "DELETE" if "/hub/" in path else "GET"
    assert_tmf_error(client.request(method, path), 404)


@pytest.mark.parametrize("body", [b'{"x": NaN}', b'{"x": Infinity}', b'{"x": -Infinity}', b'{"x": 1e400}'])
def test_non_finite_numbers_are_400(client: Any, body: bytes) -> None:
    response = client.post(QPR, content=body, headers={"Content-Type": "application/json"})
    body_ = assert_tmf_error(response, 400)
    assert "not valid JSON" in body_["message"]


def test_huge_integers_and_nul_keys_are_kept(client: Any) -> None:
    response = client.post(QPR, content=b'{"x": 18446744073709551616, "a\\u0000b": 1}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 201
    created = response.json()
    got = client.get(f"{QPR}/{created['id']}").json()
    assert got["x"] == 18446744073709551616 and got["a\x00b"] == 1


def test_format_uri_and_date_time_are_checked(client: Any) -> None:
    assert_tmf_error(client.post(QPR, json={"@schemaLocation": "not a uri"}), 400)
    assert_tmf_error(client.post(QPR, json={"validFor": {"startDateTime": "yesterday"}}), 400)
    assert client.post(QPR, json={"@schemaLocation": "https://example.com/s.json",
                                  "validFor": {"startDateTime": "2024-01-01T00:00:00Z"}}).status_code == 201


def test_head_mirrors_get_without_a_body(client: Any) -> None:
    created = create(client, name="h").json()
    listed = client.head(QPR)
    assert listed.status_code == 200 and listed.content == b""
    assert listed.headers["x-total-count"] == "1"
    assert client.head(f"{QPR}/{created['id']}").status_code == 200
    assert client.head(f"{QPR}/nope").status_code == 404


def test_health_live_and_ready(settings: Settings) -> None:
    app = create_app(settings.replace(model_refresh_s=0))
    with app.test_client() as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        not_ready = client.get("/health/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["checks"] == {"mongodb": "ok", "catalogue": "missing", "model": "missing"}
        container = app.app.extensions["tmf680"]
        container.catalog.upsert("productOffering", [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}])
        container.catalog.bump_version()
        container.models.save(*train([("c", "a"), ("c", "b")], "popularity").to_payload())
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
