"""The tmf680 command line against the real mongod (in-process through click's runner)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tmf620_fake import CATEGORIES, OFFERINGS, Tmf620

from cli import main


@pytest.fixture
def run(mongo_uri: str, db_name: str, tmp_path: Path) -> Any:
    # TMF680_CONFIG listed so that the runner restores it after `--config` sets it
    env = {"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_DATA_DIR": str(tmp_path / "data"),
           "TMF680_CONFIG": ""}

    def invoke(*args: str, input: str | None = None) -> Any:  # noqa: A002
        return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return invoke


def test_help_lists_every_command(run: Any) -> None:
    out = run("--help").output
    for command in ("serve", "catalog", "history", "train", "evaluate", "demo", "listener-events"):
        assert command in out


def test_catalog_history_train_evaluate(run: Any, tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.ndjson"
    lines = [json.dumps({"@type": "Category", **c}) for c in CATEGORIES]
    lines += [json.dumps({"@type": "ProductOffering", **o}) for o in OFFERINGS]
    lines.insert(2, "{not json")
    lines.append(json.dumps({"name": "no id"}))
    catalog_file.write_text("\n".join(lines) + "\n")
    result = run("catalog", "import", str(catalog_file), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.splitlines()[0])
    assert summary["written"] == {"category": 2, "productOffering": 3}
    assert [e["line"] for e in summary["firstErrors"]] == [3, 7]
    assert run("catalog", "import", str(catalog_file), "--json").exit_code == 0  # idempotent

    products = []
    for i in range(60):
        held = ["dsl", "tv"] if i % 3 else ["dsl", "phone"]
        products += [{"id": f"p{i}-{o}", "@type": "Product", "status": "active", "productOffering": {"id": o},
                      "relatedParty": [{"id": f"c{i}", "role": "customer"}]} for o in held]
    history_file = tmp_path / "history.json"
    history_file.write_text(json.dumps([*products, {"id": "broken"}]))
    result = run("history", "import", str(history_file))
    assert result.exit_code == 0
    assert "wrote 120 product" in result.output and "1 rejected" in result.output
    assert "line 121" in result.output

    result = run("train", "--kind", "ease", "--l2", "5")
    assert result.exit_code == 0, result.output
    assert "model v1" in result.output and "60 customers x 3 offerings" in result.output

    result = run("evaluate", "--seeds", "2", "--json")
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.stdout)
    assert set(evaluation["models"]) >= {"ease", "popularity", "cooccurrence"}
    assert 0 <= evaluation["models"]["ease"]["mean"]["HR@3"] <= 1
    table = run("evaluate", "--seeds", "1", "--plot", str(tmp_path / "hr.png"))
    assert table.exit_code == 0 and "NDCG@3" in table.output
    assert (tmp_path / "hr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_import_from_stdin_with_only_bad_lines_fails(run: Any) -> None:
    result = run("history", "import", "-", input="nope\n[1]\n")
    assert result.exit_code == 1
    assert "line 1" in result.output and "line 2" in result.output


def test_missing_file_is_a_usage_error(run: Any) -> None:
    result = run("catalog", "import", "/no/such/file.json")
    assert result.exit_code == 2 and "no such file" in result.output


def test_train_without_history_is_a_clear_error(run: Any) -> None:
    result = run("train")
    assert result.exit_code == 1 and "no customer history" in result.output


def test_catalog_sync_pages_and_retries(run: Any, tmf620: str) -> None:
    result = run("catalog", "sync", "--from", tmf620, "--page-size", "2")
    assert result.exit_code == 0, result.output
    assert "synced 2 categories and 3 product offerings" in result.output
    assert "1 retried" in result.output
    offering_calls = [c for c in Tmf620.calls if "productOffering" in c]
    assert any("offset=2" in c and "limit=2" in c for c in offering_calls)


def test_catalog_sync_gives_up_clearly(run: Any) -> None:
    result = run("catalog", "sync", "--from", "http://127.0.0.1:1/tmf620", "--retries", "1")
    assert result.exit_code == 1 and "failed after 2 attempts" in result.output


def test_status_summarises_the_store(run: Any) -> None:
    out = run("status").output
    assert "queries" in out and "pending tasks     0" in out and "model             none" in out
    data = json.loads(run("status", "--json").stdout)
    assert data["queries"] == {} and data["catalogue"]["productOffering"] == 0 and data["model"] is None


def test_a_bad_setting_is_a_usage_error_without_traceback(run: Any, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('TMF680_MAX_LIMIT = "many"\n')
    result = run("--config", str(config), "status")
    assert result.exit_code == 2
    assert "TMF680_MAX_LIMIT must be an integer" in result.output and "Traceback" not in result.output
    assert "TMF680_CONFIG" not in os.environ
