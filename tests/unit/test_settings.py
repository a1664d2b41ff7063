from __future__ import annotations

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
    ],
)
def test_invalid_values_are_explained(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match=next(iter(env))):
        Settings.from_env(env)


def test_readme_documents_every_setting() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    missing = [v.name for v in ENV_VARS if f"`{v.name}`" not in readme]
    assert not missing
