"""TMF680_AUTH=jwt through the real app (in-process ASGI client, real mongod): 401/403 as TMF Errors
with RFC 6750 challenges, open probes and docs, per-party isolation, and a JWKS URL with key
rotation served from 127.0.0.1."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from local_http import LocalHTTPServer
from token_issuer import AUDIENCE, ISSUER, Issuer

from app.factory import create_app
from app.settings import Settings

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
LEGACY_QPR = "/customer/v4/queryProductRecommendation"
BARE_CHALLENGE = 'Bearer realm="tmf680"'


def tmf_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == body["status"] == str(status)
    assert body["@type"] == "Error" and isinstance(body["reason"], str) and body["message"]
    return body


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer().add_rsa("rsa-1").add_ec("ec-1")


def auth_settings(settings: Settings, jwks: str, **extra: Any) -> Settings:
    return settings.replace(auth="jwt", auth_jwks=jwks, auth_issuer=ISSUER, auth_audience=(AUDIENCE,), **extra)


@pytest.fixture
def jwks_file(issuer: Issuer, tmp_path: Path) -> str:
    return str(issuer.write_jwks(tmp_path / "jwks.json"))


@pytest.fixture
def client(settings: Settings, jwks_file: str) -> Iterator[Any]:
    app = create_app(auth_settings(settings, jwks_file, auth_read_scope="tmf680.read",
                                   auth_write_scope="tmf680.write"))
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def restricted(settings: Settings, jwks_file: str) -> Iterator[Any]:
    app = create_app(auth_settings(settings, jwks_file, auth_restrict_to_party=True, auth_party_claim="azp"))
    with app.test_client() as test_client:
        yield test_client


def test_every_operation_under_every_mount_needs_a_token(client: Any) -> None:
    requests = [("GET", QPR), ("GET", f"{QPR}/x"), ("POST", QPR), ("GET", LEGACY_QPR), ("POST", f"{BASE}/hub"),
                ("DELETE", f"{BASE}/hub/x"), ("POST", f"{BASE}/listener/queryProductRecommendationCreateEvent"),
                ("PATCH", f"{QPR}/x"), ("GET", f"{BASE}/unknown"),
                # the events that change the catalogue and the holdings
                ("POST", "/tmf-api/productCatalogManagement/v4/listener"),
                ("POST", "/tmf-api/productInventory/v4/listener/productCreateEvent"),
                ("POST", "/tmf-api/productOrderingManagement/v4/listener/productOrderCreateEvent")]
    for method, path in requests:
        response = client.request(method, path, json={"name": "x"} if method == "POST" else None)
        body = tmf_error(response, 401)
        assert body["reason"] == "Unauthorized"
        assert response.headers["www-authenticate"] == BARE_CHALLENGE, (method, path)


def test_anonymous_large_body_is_refused_before_it_is_read(client: Any) -> None:
    response = client.post(QPR, content=b"x" * 2_000_000, headers={"Content-Type": "application/json"})
    tmf_error(response, 401)


def test_invalid_tokens_are_401_invalid_token(client: Any, issuer: Issuer) -> None:
    now = int(time.time())
    cases = {
        "the token has expired": issuer.token(exp=now - 3600),
        "the token is not valid yet (nbf or iat in the future)": issuer.token(nbf=now + 3600),
        "the token's issuer (iss) is not accepted": issuer.token(iss="https://other-idp/"),
        "the token is not meant for this API (aud)": issuer.token(aud="another-api"),
        "the token's signature does not verify": Issuer().add_rsa("rsa-1").token(),
        "the Authorization header is not 'Bearer <token>'": "a b",
    }
    for description, token in cases.items():
        response = client.get(QPR, headers={"Authorization": f"Bearer {token}"})
        body = tmf_error(response, 401)
        assert body["message"] == description
        assert response.headers["www-authenticate"] == (
            f'Bearer realm="tmf680", error="invalid_token", error_description="{description}"')
    other_scheme = client.get(QPR, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    tmf_error(other_scheme, 401)
    assert other_scheme.headers["www-authenticate"] == BARE_CHALLENGE


def test_missing_scope_is_403_insufficient_scope(client: Any, issuer: Issuer) -> None:
    reader = issuer.bearer(scope="tmf680.read")
    assert client.get(QPR, headers=reader).status_code == 200
    response = client.post(QPR, json={"name": "x"}, headers=reader)
    body = tmf_error(response, 403)
    assert body["reason"] == "Forbidden"
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="tmf680", error="insufficient_scope"')
    assert 'scope="tmf680.write"' in challenge
    writer = issuer.bearer(scp=["tmf680.write"], scope=None)
    tmf_error(client.get(QPR, headers=writer), 403)
    created = client.post(QPR, json={"name": "x"}, headers=writer)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "x"


def test_valid_tokens_from_either_key_reach_the_api(client: Any, issuer: Issuer) -> None:
    for kid in ("rsa-1", "ec-1"):
        created = client.post(LEGACY_QPR, json={"name": kid}, headers=issuer.bearer(kid))
        assert created.status_code == 201, created.text
        got = client.get(f"{LEGACY_QPR}/{created.json()['id']}", headers=issuer.bearer(kid))
        assert got.status_code == 200 and got.json()["name"] == kid


def test_probes_metrics_and_docs_need_no_token(client: Any) -> None:
    assert client.get("/health/live").status_code == 200
    assert client.get("/health/ready").status_code in {200, 503}  # no catalogue here; never 401
    assert client.get(f"{BASE}/openapi.json").json()["basePath"] == BASE
    assert client.get("/customer/v4/openapi.json").status_code == 200
    docs = client.get(f"{BASE}/docs")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert client.get(f"{BASE}/docs/static/swagger-ui.css").status_code == 200
    client.get(QPR)  # a 401 for the metrics below
    metrics = client.get("/metrics")
    assert metrics.status_code == 200
    assert 'operation="listQueryProductRecommendation",status="401"' in metrics.text


def test_nothing_of_the_token_is_logged(client: Any, issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    good, expired = issuer.token(), issuer.token(exp=int(time.time()) - 3600)
    with caplog.at_level(logging.DEBUG):
        client.get(QPR, headers={"Authorization": f"Bearer {good}"})
        client.get(QPR, headers={"Authorization": f"Bearer {expired}"})
    access = [r for r in caplog.records if r.name == "tmf680.access"]
    assert [json.loads(r.getMessage())["status"] for r in access] == [200, 401]
    for token in (good, expired):
        for part in token.split("."):
            assert part not in caplog.text


def test_each_party_sees_only_its_own_queries(restricted: Any, issuer: Issuer) -> None:
    shop, centre = issuer.bearer(azp="web-shop"), issuer.bearer(azp="call-centre")
    mine = [restricted.post(QPR, json={"name": f"shop-{i}"}, headers=shop).json() for i in range(3)]
    theirs = restricted.post(QPR, json={"name": "centre-0"}, headers=centre).json()
    assert all("owner" not in q and "web-shop" not in json.dumps(q) for q in [*mine, theirs])

    listed = restricted.get(QPR, headers=shop)
    assert listed.status_code == 200
    assert [q["id"] for q in listed.json()] == [q["id"] for q in reversed(mine)]
    assert listed.headers["x-total-count"] == "3"
    page = restricted.get(QPR, params={"limit": 1, "offset": 0}, headers=shop)
    assert page.status_code == 206 and page.headers["x-total-count"] == "3"
    other = restricted.get(LEGACY_QPR, headers=centre)
    assert [q["id"] for q in other.json()] == [theirs["id"]] and other.headers["x-total-count"] == "1"

    # another party's query does not exist for the caller, whatever it asks
    tmf_error(restricted.get(f"{QPR}/{theirs['id']}", headers=shop), 404)
    assert restricted.get(QPR, params={"id": theirs["id"]}, headers=shop).json() == []
    assert restricted.get(f"{QPR}/{theirs['id']}", headers=centre).json() == theirs
    # the owner is not an attribute: neither selectable nor filterable
    assert restricted.get(QPR, params={"owner": "web-shop"}, headers=shop).json() == []
    assert restricted.get(QPR, params={"owner": "call-centre"}, headers=shop).headers["x-total-count"] == "0"
    selected = restricted.get(f"{QPR}/{mine[0]['id']}", params={"fields": "owner,name"}, headers=shop).json()
    assert selected == {"id": mine[0]["id"], "href": mine[0]["href"], "name": "shop-0"}


def test_only_the_creator_unregisters_a_subscription(restricted: Any, issuer: Issuer) -> None:
    shop, centre = issuer.bearer(azp="web-shop"), issuer.bearer(azp="call-centre")
    registered = restricted.post(f"{BASE}/hub", json={"callback": "http://127.0.0.1:9/cb"}, headers=shop)
    assert registered.status_code == 201 and set(registered.json()) == {"id", "callback"}
    hub_id = registered.json()["id"]
    tmf_error(restricted.delete(f"{BASE}/hub/{hub_id}", headers=centre), 404)
    assert restricted.delete(f"{BASE}/hub/{hub_id}", headers=shop).status_code == 204


def test_events_go_only_to_the_subscriptions_of_the_querys_party(restricted: Any, issuer: Issuer) -> None:
    shop, centre = issuer.bearer(azp="web-shop"), issuer.bearer(azp="call-centre")
    subscriptions = {}
    for name, headers in (("shop", shop), ("centre", centre)):
        response = restricted.post(f"{BASE}/hub", json={"callback": f"http://127.0.0.1:9/{name}"}, headers=headers)
        subscriptions[response.json()["id"]] = name
    created = {restricted.post(QPR, json={"name": name}, headers=headers).json()["id"]: name
               for name, headers in (("shop", shop), ("centre", centre))}
    container = restricted.app.app.extensions["tmf680"]
    assert container.relay.run_once() == 3  # and the canvas system role's create event (no owner: no one's)
    sent = [(subscriptions[d["subscription"]], created[container.notifications.event(d["eventId"])["correlationId"]])
            for d in container.notifications.deliveries()]
    assert sorted(sent) == [("centre", "centre"), ("shop", "shop")]


def test_token_without_the_party_claim_is_refused(restricted: Any, issuer: Issuer) -> None:
    response = restricted.get(QPR, headers=issuer.bearer(azp=None))
    assert tmf_error(response, 401)["message"] == "the token has no azp claim"


class _JwksServer:
    """A JWKS endpoint on 127.0.0.1 whose key set the test changes (rotation) or stops serving."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.fetches += 1
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = LocalHTTPServer(Handler)
        self.url = self.server.url("/realms/csp/certs")

    def stop(self) -> None:
        self.server.close()


def test_jwks_url_with_key_rotation_and_outage(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    issuer = Issuer().add_rsa("2026-01").add_rsa("2026-02")
    jwks = _JwksServer()
    jwks.jwks = issuer.jwks("2026-01")
    app = create_app(auth_settings(settings, jwks.url, auth_jwks_cache_s=1))
    try:
        with app.test_client() as client:
            assert client.get(QPR, headers=issuer.bearer("2026-01")).status_code == 200
            assert client.get(QPR, headers=issuer.bearer("2026-01")).status_code == 200
            assert jwks.fetches == 1  # cached
            tmf_error(client.get(QPR, headers=issuer.bearer("2026-02")), 401)  # not published yet

            jwks.jwks = issuer.jwks("2026-01", "2026-02")  # the issuer rotates
            time.sleep(1.2)  # past the refetch cooldown (min(cache, 30 s))
            assert client.get(QPR, headers=issuer.bearer("2026-02")).status_code == 200

            jwks.stop()
            time.sleep(1.2)  # the cached set expires; the next fetch fails
            with caplog.at_level(logging.WARNING, logger="edge.auth"):
                response = client.get(QPR, headers=issuer.bearer("2026-02"))
            tmf_error(response, 503)
            assert response.headers["retry-after"]
            assert jwks.url in caplog.text
    finally:
        jwks.stop()
