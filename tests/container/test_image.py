"""The image as an operator runs it: built from the Dockerfile, started read-only as a non-root user against a
MongoDB, loaded through its own CLI, serving the API, running ``tmf680 worker``, and stopping on SIGTERM without
losing a request in flight."""

from __future__ import annotations

import configparser
import importlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docker_cli import ROOT, Container, docker, inspect, run_once
from pymongo import MongoClient

from runtime.embedded_mongo import free_port

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
CUSTOMER = {"id": "9167-APMXZ", "@referredType": "Customer", "role": "customer"}
READY_TIMEOUT_S = 120


def package_version() -> str:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["metadata"]["version"]


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, container: Container | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if container is not None and not container.running():
            raise AssertionError(f"{container.name} exited while waiting for {what}:\n{container.logs()[-4000:]}")
        time.sleep(0.2)
    logs = container.logs()[-4000:] if container is not None else ""
    raise AssertionError(f"no {what} within {timeout} s\n{logs}")


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Served:
    container: Container
    url: str
    env: dict[str, str]
    ready_s: float


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or "hadolint"
    result = subprocess.run([hadolint, "--failure-threshold", "style", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_metadata(image: str) -> None:
    """Labels, numeric non-root user, exec-form gunicorn entrypoint whose config module exists, health check."""
    config = inspect("image", image)["Config"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.version"] == package_version()
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert "org.opencontainers.image.source" in labels
    user, _, group = config["User"].partition(":")
    assert user.isdigit() and int(user) != 0 and group == "0"
    entrypoint = config["Entrypoint"]
    assert entrypoint[:2] == ["gunicorn", "-c"] and entrypoint[-1] == "app.factory:create_asgi_app()"
    conf_module = entrypoint[2].removeprefix("python:")
    assert (ROOT / (conf_module.replace(".", "/") + ".py")).is_file(), conf_module
    assert "/health/live" in " ".join(config["Healthcheck"]["Test"])
    assert {"/tmp", "/var/lib/tmf680", "/var/run/tmf680/prometheus"} <= set(config["Volumes"])


def test_runtime_holds_only_the_installed_package(image: str) -> None:
    """No source tree, wheels or pip in the runtime stage: the package comes from the virtualenv."""
    out = docker("run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
                 "import app, importlib.util as u, os; print(app.__file__); "
                 "print(u.find_spec('pip') is None, os.path.exists('/src'), os.path.exists('/wheels'))").stdout
    location, flags = out.strip().splitlines()
    assert location.startswith("/opt/venv/lib/")
    assert flags == "True False False"


@pytest.fixture(scope="module")
def served(image: str, mongo_uri: str, figures: dict[str, Any]) -> Iterator[Served]:
    """The demo loaded by ``tmf680 demo load`` from the image, then the image's gunicorn serving it, with the
    task workers left to a ``tmf680 worker`` container."""
    db_name = f"container_{uuid.uuid4().hex[:12]}"
    port = free_port()
    env = {"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_BIND": f"127.0.0.1:{port}",
           "WEB_CONCURRENCY": "2", "TMF680_WORKERS": "false", "TMF680_LOG_LEVEL": "WARNING",
           "TMF680_ACCESS_LOG_LEVEL": "WARNING", "TMF680_GRACEFUL_TIMEOUT": "20"}
    loaded = run_once(image, ["demo", "load"], env)
    assert "model v1 trained" in loaded, loaded
    container = Container(image, f"tmf680-api-{port}", env, "--health-interval", "1s",
                          "--health-start-period", "60s")
    started = time.monotonic()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: ready(url), READY_TIMEOUT_S, "readiness", container)
        ready_s = time.monotonic() - started
        figures["container start-up to /health/ready (s)"] = round(ready_s, 2)
        yield Served(container, url, env, ready_s)
    finally:
        container.close()
        client: MongoClient = MongoClient(mongo_uri)  # type: ignore[type-arg]
        client.drop_database(db_name)
        client.close()


def test_ready_and_recommends(served: Served, figures: dict[str, Any]) -> None:
    body = httpx.get(f"{served.url}/health/ready", timeout=5).json()
    assert body["status"] == "ready" and body["checks"]["model"] == "v1", body
    answer = httpx.post(f"{served.url}{QPR}", json={"instantSyncRecommendation": True, "relatedParty": CUSTOMER},
                        timeout=10)
    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["state"] == "done"
    assert len(result["recommendationItem"]) == 5
    assert all(item["productOffering"]["id"] for item in result["recommendationItem"])
    assert answer.headers["Location"].endswith(f"{QPR}/{result['id']}")
    listed = httpx.get(f"{served.url}/customer/v4/queryProductRecommendation/{result['id']}", timeout=5)
    assert listed.status_code == 200 and listed.json()["id"] == result["id"]
    metrics = httpx.get(f"{served.url}/metrics", timeout=5)
    assert metrics.status_code == 200 and "tmf680_" in metrics.text
    docs = httpx.get(f"{served.url}{BASE}/docs", timeout=5)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    rss = served.container.rss_kib()
    figures["processes in the API container"] = len(rss)
    figures["RSS of the API container's processes (MiB, gunicorn master + 2 workers)"] = round(
        sum(rss.values()) / 1024, 1)


def test_health_check_reports_healthy(served: Served) -> None:
    def health() -> str:
        return str(served.container.state()["Health"]["Status"])

    assert wait_until(lambda: health() == "healthy", 60, "a healthy HEALTHCHECK", served.container)


def test_runs_as_non_root_on_a_read_only_root(served: Served) -> None:
    assert served.container.exec("id", "-u").stdout.strip() == "10001"
    host = inspect("container", served.container.name)["HostConfig"]
    assert host["ReadonlyRootfs"] is True
    for pid in served.container.host_pids():
        uid_line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                        if line.startswith("Uid:"))
        assert uid_line.split()[1:] == ["10001"] * 4, (pid, uid_line)
    denied = served.container.exec("touch", "/opt/venv/written")
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    # the writable paths are the volumes; metrics in multiprocess mode write theirs there
    assert served.container.exec("touch", "/tmp/written").returncode == 0
    assert ".db" in served.container.exec("ls", "/var/run/tmf680/prometheus").stdout


def test_worker_and_cli_from_the_same_image(image: str, served: Served) -> None:
    """``tmf680 status`` reads the store; ``tmf680 worker`` completes an asynchronous query the API (workers
    off) only accepted, and stops on SIGTERM."""
    status = run_once(image, ["status", "--json"], served.env)
    assert '"productOffering"' in status, status
    accepted = httpx.post(f"{served.url}{QPR}", json={"instantSyncRecommendation": False, "relatedParty": CUSTOMER},
                          timeout=10).json()
    assert accepted["state"] == "accepted", accepted
    worker = Container(image, f"tmf680-worker-{uuid.uuid4().hex[:8]}", served.env, entrypoint="tmf680",
                       command=["worker"])
    try:
        def state() -> str:
            got = httpx.get(f"{served.url}{QPR}/{accepted['id']}", timeout=5).json()
            return str(got["state"]) if got["state"] in {"done", "terminatedWithError"} else ""

        assert wait_until(state, 60, "the worker's answer", worker) == "done"
        exit_s = worker.stop()
        # the CLI's convention for a stop by signal: 128 + SIGTERM, after the workers let go of their tasks
        assert worker.state()["ExitCode"] == 143, worker.logs()
        assert "worker stopping" in worker.logs()
        assert exit_s < 10
    finally:
        worker.close()


def conformance_kit() -> Any:
    """The conformance tier's newman runner and Postman environment (tests/conformance, ``tox -e ctk``), or a
    skip when this checkout has none."""
    here = ROOT / "tests" / "conformance"
    if not (here / "newman_runner.py").exists():
        pytest.skip("no conformance collections in this checkout (tests/conformance)")
    for path in (here, ROOT / "tests" / "e2e"):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    installed = subprocess.run(["bash", str(ROOT / "scripts" / "install-newman.sh")], capture_output=True,
                               text=True, timeout=900, check=False)
    assert installed.returncode == 0, installed.stderr
    return importlib.import_module("newman_runner"), importlib.import_module("test_conformance")


def test_conformance_collections_pass_against_the_container(served: Served, tmp_path: Path,
                                                            figures: dict[str, Any]) -> None:
    """Every collection of the conformance tier, run by newman against the container (demo data loaded)."""
    runner, kit = conformance_kit()
    live = kit.Live(served.url, tmp_path)
    env_file = runner.write_environment(tmp_path / "environment.json", kit.environment(live, True))
    results = [runner.run(collection, env_file, tmp_path, "container") for collection in runner.collections()]
    kit.assert_all_passed(results)
    figures["conformance assertions against the container"] = (
        f"{sum(r.passed for r in results)} passed, {sum(r.failed for r in results)} failed")


def test_sigterm_answers_requests_in_flight(image: str, served: Served, mongo_admin: MongoClient,  # type: ignore[type-arg]
                                            fail_point: Callable[..., None], figures: dict[str, Any]) -> None:
    """Creates held 1.5 s in MongoDB when ``docker stop`` sends SIGTERM: each is answered 201 and stored,
    and the container exits 0 within the graceful timeout."""
    in_flight = 4
    fail_point("failCommand", failCommands=["insert"], blockConnection=True, blockTimeMS=1500, appName="tmf680")
    answers: list[httpx.Response | Exception] = []

    def create(n: int) -> None:
        try:
            answers.append(httpx.post(f"{served.url}{QPR}", json={"name": f"in flight {n}"}, timeout=30))
        except httpx.HTTPError as exc:
            answers.append(exc)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(in_flight)]
    for thread in threads:
        thread.start()
    held = {"currentOp": 1, "appName": "tmf680", "command.insert": {"$exists": True}}
    wait_until(lambda: len(mongo_admin.admin.command(held)["inprog"]) == in_flight, 10, "the creates held")
    exit_s = served.container.stop(timeout_s=30)
    for thread in threads:
        thread.join(30)
    statuses = [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]
    assert statuses == [201] * in_flight, served.container.logs()[-3000:]
    assert served.container.state()["ExitCode"] == 0, served.container.logs()[-3000:]
    stored = {d["r"]["id"] for d in mongo_admin[served.env["TMF680_DB_NAME"]]["queryProductRecommendation"].find(
        {}, {"r.id": 1})}
    assert {a.json()["id"] for a in answers if isinstance(a, httpx.Response)} <= stored
    figures["SIGTERM with 4 creates in flight: exit (s)"] = round(exit_s, 2)
