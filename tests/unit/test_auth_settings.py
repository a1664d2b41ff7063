"""The TMF680_AUTH_* settings: parsed, validated, and refused when auth would be unsafe."""

from __future__ import annotations

from pathlib import Path

import pytest
from token_issuer import Issuer

from app.settings import Settings, SettingsError


@pytest.fixture
def jwks_file(tmp_path: Path) -> str:
    return str(Issuer().add_rsa("k1").write_jwks(tmp_path / "jwks.json"))


def jwt_env(jwks: str, **extra: str) -> dict[str, str]:
    return {"TMF680_AUTH": "jwt", "TMF680_AUTH_JWKS": jwks, "TMF680_AUTH_ISSUER": "https://idp/",
            "TMF680_AUTH_AUDIENCE": "tmf680", **extra}


def test_auth_is_off_by_default_and_needs_nothing() -> None:
    s = Settings.from_env({"TMF680_AUTH_ISSUER": "ignored while off"})
    assert s.auth == "off"
    assert s.auth_algorithms == ("RS256", "ES256")
    assert s.auth_leeway_s == 30 and s.auth_party_claim == "sub" and s.auth_restrict_to_party is False


def test_jwt_settings_are_parsed(jwks_file: str) -> None:
    s = Settings.from_env(jwt_env(
        jwks_file, TMF680_AUTH="JWT", TMF680_AUTH_AUDIENCE="tmf680, api://tmf680", TMF680_AUTH_ALGORITHMS="ES384,PS256",
        TMF680_AUTH_LEEWAY_S="5", TMF680_AUTH_READ_SCOPE="tmf680.read", TMF680_AUTH_WRITE_SCOPE="tmf680.write",
        TMF680_AUTH_PARTY_CLAIM="azp", TMF680_AUTH_RESTRICT_TO_PARTY="true", TMF680_AUTH_JWKS_CACHE_S="60"))
    assert s.auth == "jwt" and s.auth_jwks == jwks_file and s.auth_issuer == "https://idp/"
    assert s.auth_audience == ("tmf680", "api://tmf680")
    assert s.auth_algorithms == ("ES384", "PS256")
    assert (s.auth_leeway_s, s.auth_jwks_cache_s) == (5, 60)
    assert (s.auth_read_scope, s.auth_write_scope) == ("tmf680.read", "tmf680.write")
    assert s.auth_party_claim == "azp" and s.auth_restrict_to_party is True


@pytest.mark.parametrize("url", ["https://idp.example.com/certs", "http://127.0.0.1:8081/jwks", "http://localhost/j"])
def test_jwks_urls(url: str) -> None:
    assert Settings.from_env(jwt_env(url)).auth_jwks == url


@pytest.mark.parametrize(
    ("change", "message"),
    [({"TMF680_AUTH_ISSUER": ""}, "needs TMF680_AUTH_ISSUER"),
     ({"TMF680_AUTH_AUDIENCE": " , "}, "needs TMF680_AUTH_AUDIENCE"),
     ({"TMF680_AUTH_JWKS": ""}, "needs TMF680_AUTH_JWKS"),
     ({"TMF680_AUTH_JWKS": "http://idp.example.com/jwks"}, "https URL"),
     ({"TMF680_AUTH_JWKS": "file:///etc/jwks.json"}, "https URL"),
     ({"TMF680_AUTH_JWKS": "/nonexistent/jwks.json"}, "cannot read"),
     ({"TMF680_AUTH_ALGORITHMS": "RS256,HS256"}, "HS256 not accepted"),
     ({"TMF680_AUTH_ALGORITHMS": "none"}, "none not accepted"),
     ({"TMF680_AUTH_ALGORITHMS": ","}, "empty not accepted"),
     ({"TMF680_AUTH": "basic"}, "TMF680_AUTH must be off or jwt"),
     ({"TMF680_AUTH_LEEWAY_S": "-1"}, "TMF680_AUTH_LEEWAY_S must be at least 0"),
     ({"TMF680_AUTH_JWKS_CACHE_S": "0"}, "TMF680_AUTH_JWKS_CACHE_S must be at least 1"),
     ({"TMF680_AUTH_RESTRICT_TO_PARTY": "sometimes"}, "TMF680_AUTH_RESTRICT_TO_PARTY must be true or false"),
     ({"TMF680_AUTH_READ_SCOPE": "a b"}, "TMF680_AUTH_READ_SCOPE must be one name")],
)
def test_unsafe_or_incomplete_auth_stops_the_start(jwks_file: str, change: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({**jwt_env(jwks_file), **change})


def test_jwks_file_without_a_usable_key_stops_the_start(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text('{"keys": []}')
    with pytest.raises(SettingsError, match="no usable signing key"):
        Settings.from_env(jwt_env(str(path)))


def test_party_restriction_needs_auth(jwks_file: str) -> None:
    assert not Settings.from_env({"TMF680_AUTH_RESTRICT_TO_PARTY": "true"}).restrict_to_party
    assert Settings.from_env(jwt_env(jwks_file, TMF680_AUTH_RESTRICT_TO_PARTY="true")).restrict_to_party
    assert not Settings.from_env(jwt_env(jwks_file)).restrict_to_party


def test_role_rights_need_auth_and_read_their_claim(jwks_file: str) -> None:
    off = Settings.from_env({"TMF680_AUTH_ROLES": "true"})
    assert off.auth_roles is True and off.role_rights is False  # nothing to map without tokens
    on = Settings.from_env(jwt_env(jwks_file, TMF680_AUTH_ROLES="true", TMF680_AUTH_ROLES_CLAIM="realm_access.roles"))
    assert on.role_rights is True and on.auth_roles_claim == "realm_access.roles"
    assert Settings.from_env(jwt_env(jwks_file)).role_rights is False
    assert Settings.from_env({}).auth_roles_claim == "roles"
    with pytest.raises(SettingsError, match="TMF680_AUTH_ROLES_CLAIM must be one name"):
        Settings.from_env({"TMF680_AUTH_ROLES_CLAIM": "a b"})
    with pytest.raises(SettingsError, match="TMF680_AUTH_ROLES must be true or false"):
        Settings.from_env({"TMF680_AUTH_ROLES": "maybe"})


def test_the_api_and_the_mcp_endpoint_share_one_auth_settings_protocol() -> None:
    """Declared once, in a module without PyJWT: ``edge.auth`` uses it, and the MCP endpoint's settings
    extend it instead of repeating its properties."""
    import subprocess
    import sys

    import edge.auth
    from edge.auth_settings import AuthSettings
    from edge.mcp.ports import McpSettings

    assert edge.auth.AuthSettings is AuthSettings
    assert AuthSettings in McpSettings.__mro__
    declared = {name for name in vars(AuthSettings) if not name.startswith("_")}
    assert {"auth", "auth_jwks", "auth_party_claim", "restrict_to_party", "mount_paths"} <= declared
    assert not declared & {name for name in vars(McpSettings) if not name.startswith("_")}
    code = ("import sys, edge.auth_settings, edge.mcp.endpoint; "
            "print(sorted({'jwt', 'cryptography'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
