"""The README's commands as real processes: ``tmf680 serve`` on the embedded default, and gunicorn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import terminate, tmf680, wait_for_port, wait_until_serving

from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"


def start(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, _ = process.communicate()
        raise AssertionError(f"server did not stop on signal {sig}:\n{out.decode(errors='replace')}") from None
    return out.decode(errors="replace")


@pytest.fixture
def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def mongod_running(data_dir: Path) -> bool:
    out = subprocess.run(["pgrep", "-f", "--", f"--dbpath {data_dir}"], capture_output=True, text=True, check=False)
    return bool(out.stdout.strip())


@pytest.mark.parametrize(("sig", "demo"), [(signal.SIGTERM, False), (signal.SIGINT, True)])
def test_serve_on_the_embedded_default(workdir: Path, clean_env: dict[str, str], sig: int, demo: bool) -> None:
    """The README's run command: ``tmf680 serve --demo`` on the embedded default, then a restart."""
    port = free_port()
    server = start([*tmf680(), "serve", "--port", str(port), *(["--demo"] if demo else [])], workdir, clean_env)
    try:
        wait_for_port(port, server, timeout=180)
        url = f"http://127.0.0.1:{port}{BASE}/queryProductRecommendation"
        created = httpx.post(url, json={"name": "kept"}, timeout=10)
        assert created.status_code == 201, created.text
        answer = httpx.post(url, json={"instantSyncRecommendation": True,
                                       "relatedParty": {"id": "9167-APMXZ", "@referredType": "Customer"}},
                            timeout=10).json()
        if demo:
            assert answer["state"] == "done" and len(answer["recommendationItem"]) == 5
        else:
            assert answer["state"] == "terminatedWithError"
        assert mongod_running(workdir / ".tmf680" / "db")

        second = subprocess.run([*tmf680(), "serve", "--port", str(free_port())], cwd=workdir, env=clean_env,
                                capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode != 0
        assert "in use" in second.stderr
    finally:
        out = stop(server, sig)
    assert "embedded MongoDB stopped" in out
    assert not mongod_running(workdir / ".tmf680" / "db")
    # one line on stderr says that demo data is in the store (tmf680 demo remove)
    assert out.count("demo data present: 13 offerings") == (1 if demo else 0)

    # The data directory is kept: a new server finds what the first one stored.
    again = start([*tmf680(), "serve", "--port", str(port)], workdir, clean_env)
    try:
        wait_for_port(port, again)
        got = httpx.get(f"{url}/{created.json()['id']}", timeout=10)
        assert got.status_code == 200 and got.json()["name"] == "kept"
    finally:
        stop(again)


def test_gunicorn_production_command(workdir: Path, clean_env: dict[str, str], mongo_uri: str) -> None:
    port = free_port()
    env = {**clean_env, "MONGODB_URI": mongo_uri, "TMF680_DB_NAME": "gunicorn_e2e",
           "TMF680_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    repo_root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:app.gunicorn_conf", "app.factory:create_asgi_app()"]
    log = workdir / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        # both workers booted and serving (seconds on a loaded machine), not only the master's port
        ready = wait_until_serving(f"http://127.0.0.1:{port}", server, log, workers=2)
        assert ready["checks"]["mongodb"] == "ok"  # a new database: no catalogue or model, so 503 "not ready"
        url = f"http://127.0.0.1:{port}{BASE}/queryProductRecommendation"
        with httpx.Client(timeout=30) as client:
            ids = {client.post(url, json={"name": f"g{i}"}).json()["id"] for i in range(20)}
            assert len(ids) == 20
            listed = client.get(url, params={"limit": 100})
            assert listed.status_code == 200
            assert ids <= {item["id"] for item in listed.json()}
            # TMF669 beside it: both workers made sure of the canvas system role, one was created
            roles = f"http://127.0.0.1:{port}/tmf-api/partyRoleManagement/v4/partyRole"
            assert [r["name"] for r in client.get(roles, params={"name": "Admin"}).json()] == ["Admin"]
            created = client.post(roles, json={"name": "gunicorn"})
            assert created.status_code == 201
            patched = client.patch(created.headers["location"], json={"status": "active"},
                                   headers={"Content-Type": "application/merge-patch+json"})
            assert patched.status_code == 200 and patched.json()["status"] == "active"
            assert client.delete(created.headers["location"]).status_code == 204
    finally:
        terminate(server)
    output = log.read_text(errors="replace")
    assert server.returncode == 0, output  # a clean SIGTERM shutdown
    assert output.count("Booting worker") >= 2
    assert "UvicornWorker" in output or "uvicorn" in output.lower()


def test_a_started_application_freezes_its_start_up_objects(mongo_uri: str, db_name: str) -> None:
    """Once the app has started (its lifespan ran, as under gunicorn or ``tmf680 serve``), the garbage
    collector's full collections no longer walk its long-lived objects (runtime/memory.py): a full
    collection is then a matter of the few objects made since, not of 100 ms with the GIL held."""
    code = f"""
import gc, json, sys, time
from app.factory import create_app
from app.settings import Settings
app = create_app(Settings(mongodb_uri={mongo_uri!r}, db_name={db_name!r}, workers=False))
with app.test_client() as client:
    assert client.get("/health/live").status_code == 200
    started = time.thread_time()
    gc.collect()
    json.dump({{"frozen": gc.get_freeze_count(), "walked": len(gc.get_objects()),
               "full_collection_ms": (time.thread_time() - started) * 1000}}, sys.stdout)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["frozen"] > 50_000
    assert figures["walked"] < figures["frozen"] * 0.1
