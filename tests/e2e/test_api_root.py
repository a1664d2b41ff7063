"""Each mounted API's root (``GET <mount>`` and ``<mount>/``) answers 200 with a description of the API
read from its document (the ODA component test kit GETs every exposed API's root), its links lead
somewhere, and the vendored documents gain no path for it."""

from __future__ import annotations

from typing import Any

import pytest
from test_auth_api import auth_settings
from test_observability import access_lines  # noqa: F401 - a fixture
from token_issuer import Issuer

from app.factory import create_app
from app.settings import Settings
from edge.spec.loader import TMF669, TMF680

TMF680_BASE = "/tmf-api/recommendationManagement/v4"
TMF669_BASE = "/tmf-api/partyRoleManagement/v4"
ORIGIN = "http://testserver"


def roots(settings: Settings) -> list[tuple[str, Any]]:
    """(mount, its document) for every whole API the settings mount."""
    return [*((m, TMF680) for m in settings.mount_paths), *((m, TMF669) for m in settings.party_role_mounts)]


@pytest.mark.parametrize("slash", ["", "/"], ids=["bare", "slash"])
def test_every_api_root_describes_its_api(client: Any, settings: Settings, slash: str) -> None:
    mounts = roots(settings)
    assert [m for m, _ in mounts] == [TMF680_BASE, "/customer/v4", TMF669_BASE]
    for mount, document in mounts:
        response = client.get(mount + slash)
        assert response.status_code == 200, (mount + slash, response.text)
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        info = document.raw()["info"]
        assert (body["id"], body["name"], body["version"]) == (document.folder.upper(), info["title"], info["version"])
        assert body["basePath"] == mount
        assert body["links"] == {"self": ORIGIN + mount, "openapi": f"{ORIGIN}{mount}/openapi.json",
                                 "docs": f"{ORIGIN}{mount}/docs", "hub": f"{ORIGIN}{mount}/hub"}


def test_the_resources_are_the_documents_with_their_operations(client: Any) -> None:
    tmf680 = client.get(TMF680_BASE).json()["resources"]
    assert tmf680 == [{"name": "queryProductRecommendation", "operations": ["GET", "POST", "GET /id"],
                       "href": f"{ORIGIN}{TMF680_BASE}/queryProductRecommendation"}]
    tmf669 = client.get(TMF669_BASE + "/").json()["resources"]
    assert tmf669 == [{"name": "partyRole", "operations": ["GET", "POST", "GET /id", "PATCH /id", "DELETE /id"],
                       "href": f"{ORIGIN}{TMF669_BASE}/partyRole"}]


def test_every_link_of_a_root_answers(client: Any, settings: Settings) -> None:
    for mount, _ in roots(settings):
        body = client.get(mount).json()
        links = body["links"]
        assert client.get(links["openapi"].removeprefix(ORIGIN)).json()["basePath"] == mount
        assert "swagger" in client.get(links["docs"].removeprefix(ORIGIN)).text.lower()
        assert client.post(links["hub"].removeprefix(ORIGIN), json={}).status_code == 400  # the hub: no callback
        for resource in body["resources"]:
            assert client.get(resource["href"].removeprefix(ORIGIN)).status_code == 200


def test_the_served_documents_gain_no_path(client: Any, settings: Settings) -> None:
    for mount, document in roots(settings):
        served = client.get(f"{mount}/openapi.json").json()
        assert set(served["paths"]) == set(document.raw()["paths"])
        assert "/" not in served["paths"] and "" not in served["paths"]


def test_other_methods_on_a_root_are_405_tmf_errors(client: Any) -> None:
    response = client.post(TMF680_BASE, json={})
    assert response.status_code == 405
    assert response.json()["@type"] == "Error" and response.json()["code"] == "405"
    assert client.head(TMF669_BASE).status_code == 200


def test_links_follow_the_public_url(settings: Settings) -> None:
    with create_app(settings.replace(public_url="https://reco.example.com")).test_client() as client:
        body = client.get(TMF669_BASE).json()
    assert body["links"]["self"] == f"https://reco.example.com{TMF669_BASE}"
    assert body["resources"][0]["href"] == f"https://reco.example.com{TMF669_BASE}/partyRole"


def test_the_listener_bases_of_other_components_have_no_root(client: Any) -> None:
    """Only TMF620's listeners are mounted there: this server is no TMF620 API, so it does not answer as one."""
    assert client.get("/tmf-api/productCatalogManagement/v4").status_code == 404


def test_a_root_is_open_without_a_token(settings: Settings, tmp_path: Any) -> None:
    jwks = str(Issuer().add_rsa("rsa-1").write_jwks(tmp_path / "jwks.json"))
    with create_app(auth_settings(settings, jwks)).test_client() as client:
        for mount in (TMF680_BASE, f"{TMF669_BASE}/"):
            assert client.get(mount).status_code == 200, mount
        assert client.get(f"{TMF680_BASE}/queryProductRecommendation").status_code == 401  # the API is not


def test_a_root_request_has_its_own_access_line(client: Any, access_lines: Any) -> None:  # noqa: F811
    assert client.get(f"{TMF669_BASE}/").status_code == 200
    assert client.get(f"{TMF680_BASE}/docs").status_code == 200
    assert client.get(f"{TMF669_BASE}/docs").status_code == 200
    lines = access_lines()
    assert [(line["operation"], line["path"]) for line in lines] == [
        ("api_root", f"{TMF669_BASE}/"), ("docs", f"{TMF680_BASE}/docs"), ("docs", f"{TMF669_BASE}/docs")]
