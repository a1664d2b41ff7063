from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import DEFAULT_BASE_PATH, ENV_VARS, Settings, SettingsError


def test_defaults() -> None:
    s = Settings.from_env({})
    assert s.base_path == DEFAULT_BASE_PATH
    assert s.mount_paths == (DEFAULT_BASE_PATH, "/customer/v4")
    assert s.mongodb_uri == ""
    assert s.max_body_bytes == 1_048_576


def test_every_field_has_an_env_var_documented() -> None:
    names = {v.name for v in ENV_VARS}
    assert len(names) == len(ENV_VARS)
    assert len(ENV_VARS) == len(Settings.__dataclass_fields__)


def test_overrides_and_trailing_slash() -> None:
    s = Settings.from_env({"TMF680_BASE_PATH": "/api/", "TMF680_LEGACY_BASE_PATH": "", "TMF680_MAX_LIMIT": "7"})
    assert s.mount_paths == ("/api",)
    assert s.max_limit == 7


@pytest.mark.parametrize(
    "env",
    [
        {"TMF680_MAX_LIMIT": "x"},
        {"TMF680_MAX_LIMIT": "0"},
        {"TMF680_BASE_PATH": "api"},
        {"TMF680_VALIDATE_RESPONSES": "maybe"},
        {"TMF680_PUBLIC_URL": "ftp://x"},
        {"TMF680_DB_NAME": "a.b"},
        {"TMF680_LOG_LEVEL": "LOUD"},
        {"TMF680_MCP": "perhaps"},
        {"TMF680_MCP_PATH": "mcp"},
        {"TMF680_MCP_PATH": "/"},
        {"TMF680_MCP_PATH": "/tmf-api"},
        {"TMF680_MCP_PATH": "/customer/v4/mcp"},
        {"TMF680_MCP_PATH": "/health/mcp"},
    ],
)
def test_invalid_values_are_explained(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_mcp_endpoint_settings() -> None:
    assert (Settings.from_env({}).mcp, Settings.from_env({}).mcp_path) == (True, "/mcp")
    custom = Settings.from_env({"TMF680_MCP": "false", "TMF680_MCP_PATH": "/agents/mcp/"})
    assert (custom.mcp, custom.mcp_path) == (False, "/agents/mcp")


def test_readme_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [v.name for v in ENV_VARS if f"`{v.name}`" not in readme]
    assert not missing


def test_config_file_under_environment(tmp_path: Path) -> None:
    from app.settings import CONFIG_ENV

    path = tmp_path / "tmf680.toml"
    path.write_text('TMF680_MAX_LIMIT = 50\nTMF680_WORKERS = false\nTMF680_DB_NAME = "fromfile"\n')
    settings = Settings.load({CONFIG_ENV: str(path), "TMF680_DB_NAME": "fromenv"})
    assert settings.max_limit == 50 and settings.workers is False
    assert settings.db_name == "fromenv"  # the environment wins


@pytest.mark.parametrize(
    ("content", "message"),
    [("NOPE = 1", "unknown settings NOPE"), ("TMF680_MAX_LIMIT = [1]", "string, number or boolean"),
     ("not toml", "not valid TOML"), ('TMF680_MAX_LIMIT = "x"', "TMF680_MAX_LIMIT must be an integer")],
)
def test_bad_config_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    from app.settings import CONFIG_ENV

    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(SettingsError, match=message):
        Settings.load({CONFIG_ENV: str(path)})
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.load({CONFIG_ENV: str(tmp_path / "missing.toml")})


def test_the_party_role_api_has_its_own_mount_and_system_role() -> None:
    s = Settings.from_env({})
    assert s.party_role_mounts == ("/tmf-api/partyRoleManagement/v4",) and s.canvas_system_role == "Admin"
    assert s.all_mounts == (*s.mount_paths, "/tmf-api/partyRoleManagement/v4")
    s = Settings.from_env({"TMF680_PARTY_ROLE_BASE_PATH": "/roles/v4/", "TMF680_CANVAS_SYSTEM_ROLE": " "})
    assert s.party_role_base_path == "/roles/v4" and s.canvas_system_role == ""
    for clash in ("/tmf-api/recommendationManagement/v4", "/customer/v4"):
        with pytest.raises(SettingsError, match="TMF680_PARTY_ROLE_BASE_PATH must differ"):
            Settings.from_env({"TMF680_PARTY_ROLE_BASE_PATH": clash})
    with pytest.raises(SettingsError, match="TMF680_PARTY_ROLE_BASE_PATH must"):
        Settings.from_env({"TMF680_PARTY_ROLE_BASE_PATH": "roles"})
