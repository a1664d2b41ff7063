"""Metrics and access logs through HTTP: the in-process client on a real mongod, and gunicorn with
two workers in prometheus_client's multiprocess mode.

The app is built by ``create_app`` and then given ``install_observability`` (Connexion accepts
middleware until the app serves its first request); the call does nothing when ``create_app``
already installed it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families
from servers import terminate

from app.factory import create_app
from app.settings import Settings
from edge.metrics import install_observability
from edge.request_log import JsonFormatter
from runtime.embedded_mongo import free_port
from services.errors import StoreUnavailable

BASE = "/tmf-api/recommendationManagement/v4"
QPR = f"{BASE}/queryProductRecommendation"
CREATE = "createQueryProductRecommendation"
RETRIEVE = "retrieveQueryProductRecommendation"
REQUESTS = "tmf680_http_requests_total"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def observed_app(settings: Any) -> Any:
    app = create_app(settings)
    install_observability(app, app.app.extensions["tmf680"], settings)
    return app


@pytest.fixture
def app(settings: Settings) -> Any:
    return observed_app(settings)


@pytest.fixture
def container(app: Any) -> Any:
    return app.app.extensions["tmf680"]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def scrape(client: Any) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests(samples: Samples, operation: str, method: str, status: int) -> float:
    return value(samples, REQUESTS, operation=operation, method=method, status=str(status))


@contextmanager
def json_logs(name: str) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The lines logger ``name`` writes (INFO and up) inside the block, as the JSON formatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.fixture
def access_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON access lines written while the test runs."""
    with json_logs("tmf680.access") as lines:
        yield lines


# --- request counters and latency ------------------------------------------------------------------

def test_a_create_moves_its_counter_and_histogram_by_one(client: Any) -> None:
    before = scrape(client)
    assert client.post(QPR, json={"name": "counted"}).status_code == 201
    after = scrape(client)
    assert requests(after, CREATE, "POST", 201) - requests(before, CREATE, "POST", 201) == 1
    count = "tmf680_http_request_duration_seconds_count"
    assert value(after, count, operation=CREATE, method="POST") - value(before, count, operation=CREATE,
                                                                         method="POST") == 1
    bucket = "tmf680_http_request_duration_seconds_bucket"
    assert value(after, bucket, operation=CREATE, method="POST", le="+Inf") >= 1
    assert requests(after, "metrics", "GET", 200) >= 1  # the first scrape
    # the raw path never becomes a label
    assert not any(dict(labels).get("operation", "").startswith("/") for _, labels in after)


def test_errors_are_counted_with_their_final_status(client: Any, settings: Settings) -> None:
    before = scrape(client)
    assert client.get(f"{BASE}/nowhere/abc").status_code == 404
    assert client.get(f"{QPR}/missing-id").status_code == 404
    assert client.post(QPR, json={"name": 5}).status_code == 400  # request validation
    assert client.delete(QPR).status_code == 405
    after = scrape(client)
    assert requests(after, "unmatched", "GET", 404) - requests(before, "unmatched", "GET", 404) == 1
    assert requests(after, RETRIEVE, "GET", 404) - requests(before, RETRIEVE, "GET", 404) == 1
    assert requests(after, CREATE, "POST", 400) - requests(before, CREATE, "POST", 400) == 1
    assert requests(after, "unmatched", "DELETE", 405) - requests(before, "unmatched", "DELETE", 405) == 1


def test_a_body_rejected_before_routing_counts_under_its_operation(settings: Settings) -> None:
    app = observed_app(settings.replace(max_body_bytes=1024))
    with app.test_client() as client:
        before = scrape(client)
        assert client.post(QPR, json={"name": "x" * 2000}).status_code == 413
        after = scrape(client)
    assert requests(after, CREATE, "POST", 413) - requests(before, CREATE, "POST", 413) == 1


def test_the_document_probes_and_unknown_methods_have_bounded_labels(client: Any) -> None:
    assert client.get(f"{BASE}/openapi.json").status_code == 200
    assert client.get("/health/live").status_code == 200
    docs = client.get(f"{BASE}/docs").status_code
    assert client.request("BREW", QPR).status_code in {400, 405}
    after = scrape(client)
    assert requests(after, "openapi", "GET", 200) == 1
    assert requests(after, "health_live", "GET", 200) == 1
    assert requests(after, "docs", "GET", docs) == 1
    assert any(dict(labels).get("method") == "other" for name, labels in after if name == REQUESTS)


# --- gauges read from MongoDB at scrape time -------------------------------------------------------

def test_metrics_expose_the_store_gauges(client: Any, container: Any) -> None:
    empty = scrape(client)
    assert value(empty, "tmf680_mongo_up") == 1
    assert value(empty, "tmf680_tasks", state="accepted") == 0
    assert value(empty, "tmf680_task_queue_oldest_age_seconds") == 0
    assert value(empty, "tmf680_model_version") == 0

    hub = client.post(f"{BASE}/hub", json={"callback": "http://127.0.0.1:9/cb"})
    assert hub.status_code == 201
    for name in ("a", "b"):
        assert client.post(QPR, json={"name": name, "instantSyncRecommendation": False}).status_code == 201
    assert container.relay.run_once() == 3  # two create events → two deliveries (+ the canvas system role's, to no one)
    version = container.models.save({"kind": "test"}, {})
    time.sleep(0.05)

    samples = scrape(client)
    assert value(samples, "tmf680_tasks", state="accepted") == 2
    for state in ("inProgress", "done", "terminatedWithError"):
        assert value(samples, "tmf680_tasks", state=state) == 0
    assert value(samples, "tmf680_task_queue_oldest_age_seconds") > 0
    assert value(samples, "tmf680_deliveries", status="pending") == 2
    assert value(samples, "tmf680_deliveries", status="delivered") == 0
    assert value(samples, "tmf680_delivery_queue_oldest_age_seconds") > 0
    assert value(samples, "tmf680_model_version") == version
    assert 0 < value(samples, "tmf680_model_age_seconds") < 60
    assert ("tmf680_catalog_version", frozenset()) in samples
    assert value(samples, "tmf680_mongo_up") == 1


def test_process_counters_of_deliveries_and_tasks_are_exported(client: Any, container: Any) -> None:
    before = scrape(client)
    container.dispatcher.counters.attempts += 3
    container.dispatcher.counters.failed_attempts += 2
    container.dispatcher.counters.delivered += 1
    container.dispatcher.counters.given_up += 1
    container.tasks.completed += 4
    container.tasks.lost += 1
    after = scrape(client)
    for name, increase in (("tmf680_delivery_attempts_total", 3), ("tmf680_delivery_failed_attempts_total", 2),
                           ("tmf680_deliveries_delivered_total", 1), ("tmf680_deliveries_given_up_total", 1),
                           ("tmf680_tasks_completed_total", 4), ("tmf680_tasks_lost_total", 1)):
        assert value(after, name) - value(before, name) == increase, name


def test_store_unavailable_is_counted_at_the_edge_and_at_scrape(client: Any, container: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def down(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("the database is unavailable: ServerSelectionTimeoutError")

    before = scrape(client)
    monkeypatch.setattr(container.queries, "retrieve", down)
    response = client.get(f"{QPR}/some-id")
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["@type"] == "Error"
    monkeypatch.setattr(container.query_store, "counts_by_state", down)
    failed = scrape(client)
    assert value(failed, "tmf680_mongo_up") == 0
    assert ("tmf680_tasks", frozenset({("state", "accepted")})) not in failed
    for source in ("request", "scrape"):
        increase = value(failed, "tmf680_mongo_errors_total", source=source) - value(
            before, "tmf680_mongo_errors_total", source=source)
        assert increase == 1, source
    assert requests(failed, RETRIEVE, "GET", 503) == 1


def test_metrics_can_be_turned_off(settings: Settings, access_lines: Callable[[], list[dict[str, Any]]]) -> None:
    if "metrics" in getattr(Settings, "__dataclass_fields__", {}):  # TMF680_METRICS=false
        app = create_app(settings.replace(metrics=False))
        install_observability(app, app.app.extensions["tmf680"], settings.replace(metrics=False))
    else:
        app = create_app(settings)
        install_observability(app, app.app.extensions["tmf680"],
                              SimpleNamespace(mount_paths=settings.mount_paths, metrics=False))
    with app.test_client() as client:
        assert client.get("/metrics").status_code == 404
        assert client.post(QPR, json={"name": "x"}).status_code == 201
    assert [line["operation"] for line in access_lines()] == ["unmatched", CREATE]


# --- one JSON access line per request --------------------------------------------------------------

def test_a_request_writes_one_json_access_line_with_all_fields(
        client: Any, access_lines: Callable[[], list[dict[str, Any]]]) -> None:
    response = client.post(QPR, json={"name": "body-secret-value"},
                           headers={"X-Request-ID": "req-123", "Authorization": "Bearer top-secret-token"})
    assert response.status_code == 201
    assert response.headers["x-request-id"] == "req-123"
    created = response.json()["id"]
    lines = access_lines()
    assert len(lines) == 1
    line = lines[0]
    assert set(line) == {"ts", "level", "logger", "method", "path", "raw_path", "operation", "status", "duration_ms",
                         "request_id", "correlationId", "client"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", line["ts"])
    assert line["level"] == "INFO" and line["logger"] == "tmf680.access"
    assert line["method"] == "POST"
    assert line["path"] == f"{BASE}/queryProductRecommendation"
    assert line["operation"] == CREATE
    assert line["status"] == 201
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["request_id"] == "req-123"
    assert line["correlationId"] == created
    assert line["client"] == "testclient"
    raw = json.dumps(lines)
    assert "secret" not in raw and "Bearer" not in raw


def test_the_access_line_has_the_template_not_the_query_string(
        client: Any, access_lines: Callable[[], list[dict[str, Any]]]) -> None:
    created = client.post(QPR, json={"name": "n"}).json()["id"]
    got = client.get(f"{QPR}/{created}", params={"fields": "name", "api_key": "s3cr3t"})
    assert got.status_code == 200
    line = access_lines()[-1]
    assert line["path"] == f"{BASE}/queryProductRecommendation/{{id}}"
    assert line["raw_path"] == f"{QPR}/{created}"
    assert line["operation"] == RETRIEVE and line["correlationId"] == created
    assert "s3cr3t" not in json.dumps(line) and "api_key" not in json.dumps(line)
    assert got.headers["x-request-id"] == line["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["request_id"])  # none sent: a new one


def test_party_role_lines_carry_the_role_id_as_correlation_id(
        client: Any, access_lines: Callable[[], list[dict[str, Any]]]) -> None:
    roles = "/tmf-api/partyRoleManagement/v4/partyRole"
    created = client.post(roles, json={"name": "correlated"})
    assert created.status_code == 201
    role = created.json()["id"]
    assert client.get(f"{roles}/{role}").status_code == 200
    assert client.patch(f"{roles}/{role}", json={"status": "active"},
                        headers={"Content-Type": "application/merge-patch+json"}).status_code == 200
    assert client.delete(f"{roles}/{role}").status_code == 204
    assert client.get(roles).status_code == 200
    lines = access_lines()
    assert [(line["operation"], line.get("correlationId")) for line in lines] == [
        ("createPartyRole", role), ("retrievePartyRole", role), ("patchPartyRole", role), ("deletePartyRole", role),
        ("listPartyRole", None)]


@pytest.mark.parametrize("sent", ["has spaces", "x" * 129, "semi;colon", ""])
def test_an_unsafe_request_id_is_replaced(client: Any, access_lines: Callable[[], list[dict[str, Any]]],
                                         sent: str) -> None:
    response = client.get(QPR, headers={"X-Request-ID": sent})
    assert response.status_code == 200
    echoed = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", echoed)
    assert access_lines()[-1]["request_id"] == echoed


def test_a_correlation_id_header_is_logged_and_errors_have_a_line(
        client: Any, access_lines: Callable[[], list[dict[str, Any]]]) -> None:
    assert client.get(f"{QPR}/nope", headers={"X-Correlation-ID": "corr-9"}).status_code == 404
    assert client.get("/no/such/path").status_code == 404
    first, second = access_lines()
    assert first["correlationId"] == "corr-9" and first["operation"] == RETRIEVE and first["status"] == 404
    assert second["operation"] == "unmatched" and second["path"] is None and second["raw_path"] == "/no/such/path"
    assert "correlationId" not in second


def test_other_logs_of_a_request_carry_its_request_id(client: Any) -> None:
    with json_logs("edge.errors") as logged:
        assert client.get(f"{QPR}/missing", headers={"X-Request-ID": "trace-me"}).status_code == 404
    lines = logged()
    assert lines and all(line["request_id"] == "trace-me" for line in lines)
    assert "rejected with 404" in lines[0]["message"]


# --- several gunicorn workers ----------------------------------------------------------------------

# The production configuration (its on_starting empties the metrics directory, its child_exit marks
# dead workers), with workers recycled quickly so that dead workers' counters must be summed too.
GUNICORN_CONF = '''\
from app.gunicorn_conf import *  # noqa: F403

max_requests = 5
max_requests_jitter = 0
'''


def _wait_for_metrics(port: int, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log_path.read_text(errors="replace")
        try:
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered on port {port} within {timeout} s")


def test_gunicorn_workers_are_summed(tmp_path: Path, mongo_uri: str, db_name: str) -> None:
    prom_dir = tmp_path / "prometheus"
    (tmp_path / "observed_conf.py").write_text(GUNICORN_CONF)
    (prom_dir).mkdir()
    (prom_dir / "counter_1.db").write_bytes(b"stale")  # from an earlier run: removed at start
    port = free_port()
    repo_root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMF680_", "MONGODB_", "PROMETHEUS_"))}
    env.update({"MONGODB_URI": mongo_uri, "TMF680_DB_NAME": db_name, "TMF680_WORKERS": "false",
                "TMF680_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1",
                "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
                "PYTHONPATH": os.pathsep.join([str(tmp_path), str(repo_root), env.get("PYTHONPATH", "")])})
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "observed_conf.py"), "app.factory:create_asgi_app()"]
    log_path = tmp_path / "gunicorn.log"
    log_file = log_path.open("wb")
    server = subprocess.Popen(cmd, cwd=repo_root, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    created = 16
    try:
        _wait_for_metrics(port, server, log_path)
        url = f"http://127.0.0.1:{port}{QPR}"
        for i in range(created):  # a new connection each: any worker may take it
            response = httpx.post(url, json={"name": f"w{i}", "instantSyncRecommendation": False},
                                  headers={"Connection": "close"}, timeout=30)
            assert response.status_code == 201, response.text
            time.sleep(0.12)  # uvicorn checks its max_requests every 0.1 s
        # a worker stops after about max_requests (5) requests: 16 creates need several processes
        samples = parse(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text)
        assert requests(samples, CREATE, "POST", 201) == created
        assert value(samples, "tmf680_http_request_duration_seconds_count", operation=CREATE, method="POST") == created
        assert value(samples, "tmf680_tasks", state="accepted") == created  # read once, not once per worker
        per_worker = {path.name: _creates_in(path) for path in prom_dir.glob("counter_*.db")}
        assert "counter_1.db" not in per_worker  # the stale file was removed at start
        assert sum(per_worker.values()) == created
        # max_requests=5 recycles workers: the creates were served by more than one process
        assert len([n for n in per_worker.values() if n]) >= 2 and max(per_worker.values()) < created
    finally:
        terminate(server)
        log_file.close()
    assert log_path.read_text(errors="replace").count("Booting worker") >= 3


def _creates_in(path: Path) -> float:
    """The 201 creates one worker's counter file holds."""
    for metric in MultiProcessCollector.merge([str(path)]):
        for sample in metric.samples:
            if sample.name == REQUESTS and sample.labels == {"operation": CREATE, "method": "POST", "status": "201"}:
                return float(sample.value)
    return 0.0

