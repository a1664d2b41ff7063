"""TMF669 Party Role Management through HTTP (in-process ASGI client, real mongod, response
validation on): the second API mounted beside TMF680 with the same list semantics, errors, hub and
events; the canvas system role; token roles mapped to rights through the stored party roles."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_api import assert_tmf_error
from test_auth_api import auth_settings
from token_issuer import Issuer

from app.factory import create_app
from app.settings import Settings

BASE = "/tmf-api/partyRoleManagement/v4"
PR = f"{BASE}/partyRole"
TMF680 = "/tmf-api/recommendationManagement/v4"
MERGE = {"Content-Type": "application/merge-patch+json"}


def create(client: Any, **body: Any) -> dict[str, Any]:
    response = client.post(PR, json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == response.json()["href"]
    return response.json()  # type: ignore[no-any-return]


def path(resource: dict[str, Any]) -> str:
    return str(resource["href"]).replace("http://testserver", "")


def test_the_canvas_system_role_is_listed(client: Any) -> None:
    listed = client.get(PR, params={"name": "Admin"})
    assert listed.status_code == 200
    (admin,) = listed.json()
    assert admin["href"] == f"{PR}/{admin['id']}"  # no request at start: the path, or TMF680_PUBLIC_URL's URL
    assert {"name": "rights", "valueType": "array", "value": ["read", "write"]} in admin["characteristic"]
    assert client.get(path(admin)).json() == admin


def test_no_system_role_when_the_setting_is_empty(settings: Settings) -> None:
    with create_app(settings.replace(canvas_system_role="")).test_client() as client:
        assert client.get(PR).json() == []


def test_create_retrieve_list_fields_filter_and_404(client: Any) -> None:
    sales = create(client, name="Sales", status="active", id="mine", href="http://evil/x",
                   engagedParty={"id": "p1", "@referredType": "Organization"},
                   validFor={"startDateTime": "2026-01-01T00:00:00Z"})
    assert sales["id"] != "mine" and sales["href"] == f"http://testserver{PR}/{sales['id']}"
    assert sales["@type"] == "PartyRole"
    create(client, name="Billing", status="inactive")
    assert client.get(path(sales)).json() == sales
    assert client.get(path(sales), params={"fields": "name"}).json() == {
        "id": sales["id"], "href": sales["href"], "name": "Sales"}
    listed = client.get(PR, params={"status": "active", "fields": "name,status"})
    assert [r["name"] for r in listed.json()] == ["Sales", "Admin"]  # newest first
    assert listed.headers["x-total-count"] == "2"
    assert [r["name"] for r in client.get(PR, params={"engagedParty.id": "p1"}).json()] == ["Sales"]
    assert [r["name"] for r in client.get(PR, params={"validFor.startDateTime.gte": "2025-12-31T23:00:00-01:00"})
            .json()] == ["Sales"]  # instants, whatever the offset
    page = client.get(PR, params={"offset": 0, "limit": 2, "sort": "name"})
    assert page.status_code == 206 and [r["name"] for r in page.json()] == ["Admin", "Billing"]
    assert page.headers["x-total-count"] == "3" and page.headers["x-result-count"] == "2"
    assert_tmf_error(client.get(f"{PR}/unknown"), 404)
    assert_tmf_error(client.get(PR, params={"name.regex": "("}), 400)


def test_create_needs_a_name(client: Any) -> None:
    assert "name" in assert_tmf_error(client.post(PR, json={"status": "active"}), 400)["message"]


@pytest.mark.parametrize("content_type", ["application/merge-patch+json", "application/json"])
def test_patch_is_a_merge_patch(client: Any, content_type: str) -> None:
    role = create(client, name="Sales", status="active", statusReason="new",
                  characteristic=[{"name": "rights", "value": ["read"]}], x={"a": 1, "b": 2})
    response = client.patch(path(role), content=b'{"status": "suspended", "x": {"b": null, "c": 3}, "id": "no"}',
                            headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched == {**role, "status": "suspended", "x": {"a": 1, "c": 3}}
    assert client.get(path(role)).json() == patched


def test_patch_errors(client: Any) -> None:
    role = create(client, name="Sales")
    assert_tmf_error(client.patch(f"{PR}/unknown", json={"status": "x"}, headers=MERGE), 404)
    assert_tmf_error(client.patch(path(role), json={"name": 7}, headers=MERGE), 400)
    assert_tmf_error(client.patch(path(role), content=b"{", headers=MERGE), 400)
    assert_tmf_error(client.patch(path(role), content=b"<x/>", headers={"Content-Type": "application/xml"}), 415)


def test_delete_is_204_then_404(client: Any) -> None:
    role = create(client, name="Temp")
    assert client.delete(path(role)).status_code == 204
    assert_tmf_error(client.get(path(role)), 404)
    assert_tmf_error(client.delete(path(role)), 404)
    assert [r["name"] for r in client.get(PR).json()] == ["Admin"]


def test_undefined_methods_are_405_with_allow(client: Any) -> None:
    response = client.put(f"{PR}/x", json={"name": "x"})
    assert_tmf_error(response, 405)
    assert response.headers["allow"] == "DELETE, GET, PATCH"
    assert client.delete(PR).headers["allow"] == "GET, POST"


def test_the_served_document_is_tmf669_at_its_mount(client: Any) -> None:
    doc = client.get(f"{BASE}/openapi.json").json()
    assert doc["basePath"] == BASE and doc["info"]["title"] == "Party Role Management"
    assert doc["paths"]["/partyRole/{id}"]["patch"]["consumes"] == ["application/merge-patch+json", "application/json"]
    assert client.get(f"{BASE}/docs").status_code == 200
    assert_tmf_error(client.get(f"{TMF680}/partyRole"), 404)  # not under TMF680's mount


def test_events_go_to_the_partyrole_hub_only(client: Any, app: Any) -> None:
    container = app.app.extensions["tmf680"]
    assert container.relay.run_once() == 1  # the system role's create event, before any subscription
    mine = client.post(f"{BASE}/hub", json={"callback": "http://127.0.0.1:9/roles"})
    theirs = client.post(f"{TMF680}/hub", json={"callback": "http://127.0.0.1:9/queries"})
    assert mine.status_code == theirs.status_code == 201
    assert set(mine.json()) == {"id", "callback"}
    assert mine.headers["location"] == f"http://testserver{BASE}/hub/{mine.json()['id']}"
    assert_tmf_error(client.delete(f"{TMF680}/hub/{mine.json()['id']}"), 404)  # another API's hub
    role = create(client, name="Sales", status="active")
    client.patch(path(role), json={"status": "inactive"}, headers=MERGE)
    client.delete(path(role))
    client.post(f"{TMF680}/queryProductRecommendation", json={"name": "q"})
    assert container.relay.run_once() >= 5
    sent: dict[str, list[str]] = {}
    for delivery in container.notifications.deliveries():
        event = container.notifications.event(delivery["eventId"])
        sent.setdefault(delivery["subscription"], []).append(event["eventType"])
        if event["eventType"] == "PartyRoleCreateEvent":
            assert event["domain"] == "partyRoleManagement" and event["event"]["partyRole"]["name"] == "Sales"
    assert sent[mine.json()["id"]] == ["PartyRoleCreateEvent", "PartyRoleAttributeValueChangeEvent",
                                       "PartyRoleStateChangeEvent", "PartyRoleDeleteEvent"]
    assert all(t.startswith("QueryProductRecommendation") for t in sent[theirs.json()["id"]])
    assert client.delete(f"{BASE}/hub/{mine.json()['id']}").status_code == 204


def test_listener_endpoints_store_the_events(client: Any, app: Any) -> None:
    event = {"eventId": "e-9", "eventType": "PartyRoleDeleteEvent", "event": {"partyRole": {"id": "r1"}}}
    response = client.post(f"{BASE}/listener/partyRoleDeleteEvent", json=event)
    assert response.status_code == 201 and set(response.json()) == {"id", "callback"}
    assert app.app.extensions["tmf680"].listener.recent(1)[0]["event"] == event
    assert_tmf_error(client.post(f"{BASE}/listener/partyRoleCreateEvent", json=event), 400)


# --- TMF680_AUTH=jwt with TMF680_AUTH_ROLES ----------------------------------------------------------

@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer().add_rsa("rsa-1")


@pytest.fixture
def roles_client(settings: Settings, issuer: Issuer, tmp_path: Path) -> Iterator[Any]:
    jwks = str(issuer.write_jwks(tmp_path / "jwks.json"))
    app = create_app(auth_settings(settings, jwks, auth_roles=True, auth_roles_claim="realm_access.roles"))
    with app.test_client() as test_client:
        yield test_client


def test_token_roles_map_to_rights_through_the_stored_party_roles(roles_client: Any, issuer: Issuer) -> None:
    admin = issuer.bearer(realm_access={"roles": ["Admin"]})
    auditor = issuer.bearer(realm_access={"roles": ["auditor"]})
    assert_tmf_error(roles_client.get(PR, headers=auditor), 403)  # no stored role "auditor" yet
    created = roles_client.post(PR, json={"name": "auditor", "characteristic": [{"name": "rights", "value": "read"}]},
                                headers=admin)
    assert created.status_code == 201
    for url in (PR, f"{TMF680}/queryProductRecommendation"):  # both APIs
        assert roles_client.get(url, headers=auditor).status_code == 200
    denied = roles_client.post(f"{TMF680}/queryProductRecommendation", json={"name": "q"}, headers=auditor)
    assert "no write right" in assert_tmf_error(denied, 403)["message"]
    assert 'error="insufficient_scope"' in denied.headers["www-authenticate"]
    assert_tmf_error(roles_client.get(PR, headers=issuer.bearer(roles=["Admin"])), 403)  # another claim
    assert_tmf_error(roles_client.get(PR), 401)
    assert roles_client.get(f"{BASE}/openapi.json").status_code == 200  # open without a token
    # the rights follow the stored role at once
    patched = roles_client.patch(path(created.json()), json={"characteristic": []}, headers=admin)
    assert patched.status_code == 200
    assert_tmf_error(roles_client.get(PR, headers=auditor), 403)
