"""Bearer-token checks (edge.auth) with keys made here and a JWKS file: no server, no network."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from token_issuer import AUDIENCE, ISSUER, Issuer

from edge.auth import (
    AccessPolicy,
    BearerAuth,
    FileKeys,
    JwksError,
    KeysUnavailable,
    TokenRejected,
    TokenVerifier,
    UrlKeys,
    bearer_token,
    load_jwk_set,
    token_roles,
    token_scopes,
)
from edge.errors import RequestRejected

BASE = "/tmf-api/recommendationManagement/v4"


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer().add_rsa("rsa-1").add_ec("ec-1")


@pytest.fixture
def verifier(issuer: Issuer, tmp_path: Path) -> TokenVerifier:
    keys = FileKeys(load_jwk_set(issuer.write_jwks(tmp_path / "jwks.json")))
    return TokenVerifier(keys, ISSUER, [AUDIENCE, "other-api"], ["RS256", "ES256"], leeway_s=30)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def rejected(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as caught:
        verifier.verify(token)
    return str(caught.value)


def test_valid_rsa_and_ec_tokens_give_their_claims(issuer: Issuer, verifier: TokenVerifier) -> None:
    assert verifier.verify(issuer.token("rsa-1", sub="shop-1"))["sub"] == "shop-1"
    assert verifier.verify(issuer.token("ec-1", sub="shop-2"))["sub"] == "shop-2"
    assert verifier.verify(issuer.token("rsa-1", aud=["x", "other-api"]))["aud"] == ["x", "other-api"]


def test_expiry_and_not_before_with_leeway(issuer: Issuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    assert "expired" in rejected(verifier, issuer.token(exp=now - 60))
    assert verifier.verify(issuer.token(exp=now - 10))  # within the 30 s leeway
    assert "not valid yet" in rejected(verifier, issuer.token(nbf=now + 120))
    assert verifier.verify(issuer.token(nbf=now + 10))
    assert "no exp claim" in rejected(verifier, issuer.token(exp=None))


def test_issuer_and_audience_must_match(issuer: Issuer, verifier: TokenVerifier) -> None:
    assert "issuer" in rejected(verifier, issuer.token(iss="https://evil.example.com"))
    assert "aud" in rejected(verifier, issuer.token(aud="another-api"))
    assert "no aud claim" in rejected(verifier, issuer.token(aud=None))
    assert "no iss claim" in rejected(verifier, issuer.token(iss=None))


def test_wrong_key_and_unknown_kid(issuer: Issuer, verifier: TokenVerifier) -> None:
    stranger = Issuer().add_rsa("rsa-1")  # same kid, another key
    assert "signature does not verify" in rejected(verifier, stranger.token("rsa-1"))
    other = Issuer().add_rsa("rsa-9")
    assert "not one of the issuer's keys" in rejected(verifier, other.token("rsa-9"))
    token = issuer.token("rsa-1")
    head, payload, signature = token.split(".")
    tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
    tampered["sub"] = "someone-else"
    assert "signature" in rejected(verifier, f"{head}.{_b64(json.dumps(tampered).encode())}.{signature}")


def test_key_algorithm_must_be_the_tokens(issuer: Issuer, verifier: TokenVerifier) -> None:
    # an ES256 token that names the RSA key
    token = issuer.token("ec-1", headers={"kid": "rsa-1"})
    assert "algorithm" in rejected(verifier, token)


def test_alg_none_is_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    token = _unsigned({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, issuer.claims()) + "."
    assert "algorithm is not accepted" in rejected(verifier, token)


def test_hs256_with_the_public_key_as_secret_is_refused(issuer: Issuer, verifier: TokenVerifier) -> None:
    pem = issuer.keys["rsa-1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}, issuer.claims())
    signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert "algorithm is not accepted" in rejected(verifier, f"{signing_input}.{_b64(signature)}")
    # even if someone configured HS256, the RSA key is bound to RS256
    permissive = TokenVerifier(verifier.keys, ISSUER, [AUDIENCE], ["RS256", "HS256"], 30)
    assert "algorithm" in rejected(permissive, f"{signing_input}.{_b64(signature)}")


@pytest.mark.parametrize("token", ["abc", "a.b.c", "", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_garbage_is_not_a_jwt(verifier: TokenVerifier, token: str) -> None:
    assert rejected(verifier, token)


def test_token_without_kid_uses_the_only_key(issuer: Issuer, tmp_path: Path) -> None:
    single = FileKeys(load_jwk_set(issuer.write_jwks(tmp_path / "one.json", "rsa-1")))
    assert single.key_for(None).key_id == "rsa-1"
    several = FileKeys(load_jwk_set(issuer.write_jwks(tmp_path / "two.json")))
    with pytest.raises(TokenRejected, match="no signing key"):
        several.key_for(None)


def test_jwks_file_drops_symmetric_keys_and_explains_bad_files(issuer: Issuer, tmp_path: Path) -> None:
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}, issuer.jwk("rsa-1")]}))
    assert [k.key_id for k in load_jwk_set(mixed).keys] == ["rsa-1"]
    only_secret = tmp_path / "secret.json"
    only_secret.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}]}))
    for path, message in [(only_secret, "no usable signing key"), (tmp_path / "nope.json", "cannot read")]:
        with pytest.raises(JwksError, match=message):
            load_jwk_set(path)
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    with pytest.raises(JwksError, match="not JSON"):
        load_jwk_set(not_json)


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("Basic dXNlcjpwdw==", None), ("Bearer abc.def.ghi", "abc.def.ghi"),
     ("bearer   abc.def.ghi ", "abc.def.ghi")],
)
def test_bearer_header(header: str | None, expected: str | None) -> None:
    assert bearer_token(header) == expected


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", 'Bearer a"b', "Bearer " + "a" * 20_000])
def test_malformed_bearer_header(header: str) -> None:
    with pytest.raises(TokenRejected, match="Bearer <token>"):
        bearer_token(header)


def test_scopes_from_scope_and_scp() -> None:
    assert token_scopes({"scope": "a b  c"}) == {"a", "b", "c"}
    assert token_scopes({"scp": ["a", 3, "d"]}) == {"a", "d"}
    assert token_scopes({"scp": "x y", "scope": "z"}) == {"x", "y", "z"}
    assert token_scopes({}) == frozenset()


def test_policy_paths_and_scopes() -> None:
    policy = AccessPolicy.for_mounts([BASE, "/customer/v4"], read_scope="r", write_scope="w")
    for path in ["/health/live", "/health/ready", "/metrics", f"{BASE}/docs", f"{BASE}/docs/",
                 f"{BASE}/openapi.json", f"{BASE}/docs/static/swagger-ui.css", "/customer/v4/openapi.json",
                 BASE, f"{BASE}/", "/customer/v4", "/somewhere/else"]:  # the API roots describe, as openapi.json
        assert not policy.protects(path), path
    for path in [f"{BASE}/queryProductRecommendation", f"{BASE}/queryProductRecommendation/1", f"{BASE}/hub",
                 "/customer/v4/hub/x", f"{BASE}//", f"{BASE}/docs/static/../hub", f"{BASE}/unknown",
                 f"{BASE}/openapi.json/x"]:
        assert policy.protects(path), path
    assert policy.needed_scope("GET") == "r" and policy.needed_scope("head") == "r"
    assert policy.needed_scope("POST") == "w" and policy.needed_scope("DELETE") == "w"
    root = AccessPolicy.for_mounts(["/"])
    assert root.protects("/queryProductRecommendation") and not root.protects("/health/live")
    assert not root.protects("/")


def _guard(verifier: TokenVerifier, **policy: Any) -> BearerAuth:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    return BearerAuth(app, verifier, AccessPolicy.for_mounts([BASE], **policy))


def _authenticate(guard: BearerAuth, method: str, header: str | None) -> Any:
    return asyncio.run(guard.authenticate(method, header))


def test_missing_header_is_a_bare_challenge(verifier: TokenVerifier) -> None:
    with pytest.raises(RequestRejected) as caught:
        _authenticate(_guard(verifier), "GET", None)
    assert caught.value.status == 401
    assert caught.value.headers == {"WWW-Authenticate": 'Bearer realm="tmf680"'}


def test_invalid_token_challenge(issuer: Issuer, verifier: TokenVerifier) -> None:
    token = issuer.token(exp=int(time.time()) - 3600)
    with pytest.raises(RequestRejected) as caught:
        _authenticate(_guard(verifier), "GET", f"Bearer {token}")
    assert caught.value.status == 401
    challenge = caught.value.headers["WWW-Authenticate"]
    assert challenge == 'Bearer realm="tmf680", error="invalid_token", error_description="the token has expired"'
    assert token not in caught.value.message


def test_missing_scope_is_403(issuer: Issuer, verifier: TokenVerifier) -> None:
    guard = _guard(verifier, read_scope="tmf680.read", write_scope="tmf680.write")
    reader = f"Bearer {issuer.token(scope='tmf680.read')}"
    assert _authenticate(guard, "GET", reader) is None
    with pytest.raises(RequestRejected) as caught:
        _authenticate(guard, "POST", reader)
    assert caught.value.status == 403
    assert 'error="insufficient_scope"' in caught.value.headers["WWW-Authenticate"]
    assert 'scope="tmf680.write"' in caught.value.headers["WWW-Authenticate"]
    assert _authenticate(guard, "DELETE", f"Bearer {issuer.token(scope=None, scp=['tmf680.write'])}") is None


def test_party_comes_from_the_configured_claim(issuer: Issuer, verifier: TokenVerifier) -> None:
    guard = _guard(verifier, party_claim="client_id")
    assert _authenticate(guard, "GET", f"Bearer {issuer.token(client_id='call-centre')}") == "call-centre"
    for bad in (None, "", 42):
        with pytest.raises(RequestRejected, match="client_id claim does not name a party") as caught:
            _authenticate(guard, "GET", f"Bearer {issuer.token(client_id=bad)}")
        assert caught.value.status == 401


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_jwks_url_is_unavailable_not_invalid(issuer: Issuer) -> None:
    keys = UrlKeys(f"http://127.0.0.1:{_free_port()}/jwks.json", cache_s=60, timeout_s=1)
    with pytest.raises(KeysUnavailable):
        keys.key_for("rsa-1")
    verifier = TokenVerifier(keys, ISSUER, [AUDIENCE], ["RS256"], 30)
    with pytest.raises(RequestRejected) as caught:
        _authenticate(_guard(verifier), "GET", f"Bearer {issuer.token('rsa-1')}")
    assert caught.value.status == 503


# --- token roles mapped to rights through the stored party roles (TMF680_AUTH_ROLES) ---------------

class StoredRoles:
    """``PartyRoleService.rights`` over a fixed table (role name → rights)."""

    def __init__(self, table: dict[str, frozenset[str]], fail: bool = False) -> None:
        self.table = table
        self.fail = fail
        self.asked: list[tuple[str, ...]] = []

    def rights(self, roles: Any) -> frozenset[str]:
        self.asked.append(tuple(roles))
        if self.fail:
            raise ConnectionError("mongod away")
        out: frozenset[str] = frozenset()
        for role in roles:
            out |= self.table.get(role, frozenset())
        return out


def _role_guard(verifier: TokenVerifier, roles: StoredRoles, claim: str = "roles") -> BearerAuth:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    return BearerAuth(app, verifier, AccessPolicy.for_mounts([BASE], roles_claim=claim), rights=roles)


@pytest.mark.parametrize(("claims", "expected"), [
    ({"roles": ["Admin", "reader", 7, ""]}, ("Admin", "reader")),
    ({"roles": "Admin reader"}, ("Admin", "reader")),
    ({"roles": {"Admin": True}}, ()),
    ({}, ()),
])
def test_token_roles_from_a_list_or_a_string(claims: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert token_roles(claims, "roles") == expected


def test_token_roles_from_a_nested_claim() -> None:
    claims = {"realm_access": {"roles": ["Admin"]}, "roles": ["other"]}
    assert token_roles(claims, "realm_access.roles") == ("Admin",)
    assert token_roles({"realm_access": ["Admin"]}, "realm_access.roles") == ()


def test_roles_grant_read_or_write_through_the_stored_party_roles(issuer: Issuer, verifier: TokenVerifier) -> None:
    roles = StoredRoles({"Admin": frozenset({"read", "write"}), "auditor": frozenset({"read"})})
    guard = _role_guard(verifier, roles)
    auditor = f"Bearer {issuer.token(roles=['auditor'])}"
    assert _authenticate(guard, "GET", auditor) is None
    for method in ("POST", "PATCH", "DELETE"):
        with pytest.raises(RequestRejected) as caught:
            _authenticate(guard, method, auditor)
        assert caught.value.status == 403
        assert "no write right" in caught.value.message
        assert 'error="insufficient_scope"' in caught.value.headers["WWW-Authenticate"]
    assert _authenticate(guard, "PATCH", f"Bearer {issuer.token(roles=['auditor', 'Admin'])}") is None
    assert roles.asked[-1] == ("auditor", "Admin")


def test_a_token_without_a_known_role_has_no_right(issuer: Issuer, verifier: TokenVerifier) -> None:
    roles = StoredRoles({"Admin": frozenset({"read", "write"})})
    guard = _role_guard(verifier, roles)
    for token in (issuer.token(), issuer.token(roles=["stranger"])):
        with pytest.raises(RequestRejected) as caught:
            _authenticate(guard, "GET", f"Bearer {token}")
        assert caught.value.status == 403 and "no read right" in caught.value.message
    assert roles.asked == [("stranger",)]  # no roles: no look-up at all


def test_unreadable_roles_are_unavailable(issuer: Issuer, verifier: TokenVerifier) -> None:
    guard = _role_guard(verifier, StoredRoles({}, fail=True))
    with pytest.raises(RequestRejected) as caught:
        _authenticate(guard, "GET", f"Bearer {issuer.token(roles=['Admin'])}")
    assert caught.value.status == 503
