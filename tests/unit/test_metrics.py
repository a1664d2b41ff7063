"""Metrics and request logging without a database: the edge middlewares on a tiny ASGI app, the
label resolution, the scrape-time collector on fake repositories, and the log formatting."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from edge.metrics import Exporter, Metrics, ProcessCounters, StoreCollector, oldest_task_created
from edge.request_log import (
    FIELDS,
    REQUEST_ID,
    JsonFormatter,
    NoteOperation,
    Observation,
    ObserveRequests,
    RequestInfo,
    RouteTable,
    access_fields,
    access_level,
    configure_logging,
    sane_token,
)
from edge.spec.loader import official_document
from services.errors import StoreUnavailable
from services.notifications import DeliveryCounters

BASE = "/tmf-api/recommendationManagement/v4"
MOUNTS = (BASE, "/customer/v4")
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def routes() -> RouteTable:
    return RouteTable(official_document(), MOUNTS)


def info(method: str = "GET", path: str = "/", **changes: Any) -> RequestInfo:
    return RequestInfo(method=method, raw_path=path, request_id="r1", started=0.0, **changes)


# --- labels and paths ------------------------------------------------------------------------------

def test_route_table_knows_every_operation_on_every_mount(routes: RouteTable) -> None:
    assert routes.templates["retrieveQueryProductRecommendation"] == "/queryProductRecommendation/{id}"
    assert len(routes.templates) == 7
    assert routes.match("POST", f"{BASE}/queryProductRecommendation") == ("createQueryProductRecommendation", BASE)
    assert routes.match("HEAD", "/customer/v4/queryProductRecommendation/42") == (
        "retrieveQueryProductRecommendation", "/customer/v4")
    assert routes.match("DELETE", f"{BASE}/hub/abc") == ("unregisterListener", BASE)
    assert routes.match("DELETE", f"{BASE}/queryProductRecommendation") is None
    assert routes.match("GET", f"{BASE}/queryProductRecommendation/a/b") is None
    assert routes.match("GET", "/queryProductRecommendation") is None


def test_resolution_prefers_connexion_routing_and_falls_back_to_templates(routes: RouteTable) -> None:
    observation = Observation(routes)
    observation.static_routes.update({"/metrics": "metrics", f"{BASE}/docs": "docs"})
    observation.static_prefixes.append((f"{BASE}/docs/static/", "docs", f"{BASE}/docs/static/{{name}}"))

    routed = info("GET", f"{BASE}/queryProductRecommendation/q1", routed=True,
                  operation_id="retrieveQueryProductRecommendation", mount=BASE, path_id="q1")
    observation.resolve(routed)
    assert (routed.operation, routed.path, routed.correlation_id) == (
        "retrieveQueryProductRecommendation", f"{BASE}/queryProductRecommendation/{{id}}", "q1")

    rejected_early = info("POST", f"{BASE}/queryProductRecommendation", status=413)  # BodyGuard, no routing
    observation.resolve(rejected_early)
    assert rejected_early.operation == "createQueryProductRecommendation"
    assert rejected_early.correlation_id is None

    no_operation = info("GET", f"{BASE}/queryProductRecommendation/q1", routed=True, operation_id=None)
    observation.resolve(no_operation)
    assert (no_operation.operation, no_operation.path) == ("unmatched", None)

    observation.static_routes["/health/ready"] = "health_ready"
    for path, label in (("/metrics", "metrics"), (f"{BASE}/docs", "docs"), (f"{BASE}/docs/static/x.js", "docs"),
                        ("/health/ready", "health_ready"), ("/wp-admin/x.php", "unmatched")):
        other = info("GET", path, routed=True)
        observation.resolve(other)
        assert other.operation == label, path
    assert other.path is None


@pytest.mark.parametrize(("status", "location", "header", "expected"), [
    (201, "http://h/x/queryProductRecommendation/new-id", None, "new-id"),
    (400, None, None, None),
    (201, "http://h/x/queryProductRecommendation/bad id", None, None),
    (201, "http://h/x/queryProductRecommendation/new-id", "from-header", "from-header"),
])
def test_correlation_id_of_a_create(routes: RouteTable, status: int, location: str | None, header: str | None,
                                    expected: str | None) -> None:
    created = info("POST", f"{BASE}/queryProductRecommendation", routed=True, status=status, location=location,
                   operation_id="createQueryProductRecommendation", mount=BASE, correlation_header=header)
    Observation(routes).resolve(created)
    assert created.correlation_id == expected


PARTY_ROLES = "/tmf-api/partyRoleManagement/v4"


@pytest.mark.parametrize(("method", "operation", "path", "extra", "expected"), [
    ("POST", "createPartyRole", "/partyRole", {"status": 201, "location": "http://h/partyRole/r-1"}, "r-1"),
    ("POST", "createPartyRole", "/partyRole", {"status": 400}, None),
    ("GET", "retrievePartyRole", "/partyRole/r-2", {"status": 200, "path_id": "r-2"}, "r-2"),
    ("GET", "retrievePartyRole", "/partyRole/r-3", {"status": 404, "path_id": "r-3"}, "r-3"),
    ("PATCH", "patchPartyRole", "/partyRole/r-4", {"status": 200, "path_id": "r-4"}, "r-4"),
    ("DELETE", "deletePartyRole", "/partyRole/r-5", {"status": 204, "path_id": "r-5"}, "r-5"),
    ("GET", "listPartyRole", "/partyRole", {"status": 200}, None),
    ("DELETE", "unregisterListener", "/hub/s1", {"status": 204, "path_id": "s1"}, None),
])
def test_every_api_s_resource_operations_carry_the_resource_id(method: str, operation: str, path: str,
                                                              extra: dict[str, Any], expected: str | None) -> None:
    """Not only TMF680's: the operations are read from each mounted document (here TMF669's, added beside)."""
    from edge.spec.loader import TMF669

    routes = RouteTable(official_document(), MOUNTS)
    routes.add(TMF669.raw(), (PARTY_ROLES,))
    seen = info(method, PARTY_ROLES + path, routed=True, operation_id=operation, mount=PARTY_ROLES, **extra)
    Observation(routes).resolve(seen)
    assert seen.operation == operation
    assert seen.correlation_id == expected


def test_the_location_of_other_operations_is_not_a_correlation_id(routes: RouteTable) -> None:
    hub = info("POST", f"{BASE}/hub", routed=True, status=201, location="http://h/hub/s1",
               operation_id="registerListener", mount=BASE)
    Observation(routes).resolve(hub)
    assert hub.correlation_id is None


@pytest.mark.parametrize(("operation", "status", "level"), [
    ("createQueryProductRecommendation", 201, logging.INFO), ("unmatched", 404, logging.INFO),
    ("listQueryProductRecommendation", 503, logging.ERROR), ("metrics", 200, logging.DEBUG),
    ("health_ready", 200, logging.DEBUG), ("health_ready", 503, logging.WARNING),
])
def test_access_levels(operation: str, status: int, level: int) -> None:
    assert access_level(info(status=status, operation=operation)) == level


@pytest.mark.parametrize(("token", "sane"), [
    ("abc-123_x.y:z", True), ("a" * 128, True), ("a" * 129, False), ("", False), (None, False),
    ("has space", False), ("new\nline", False), ("trailing\n", False), ('quo"te', False), ("é", False),
])
def test_sane_tokens(token: str | None, sane: bool) -> None:
    assert sane_token(token) == (token if sane else None)


# --- the edge middlewares --------------------------------------------------------------------------

class Recorder:
    def __init__(self) -> None:
        self.seen: list[RequestInfo] = []

    def __call__(self, request: RequestInfo) -> None:
        self.seen.append(request)


def run_http(app: Any, routes: RouteTable, headers: list[tuple[bytes, bytes]] | None = None,
             path: str = f"{BASE}/queryProductRecommendation") -> tuple[list[dict[str, Any]], Recorder, Any]:
    observation = Observation(routes)
    recorder = Recorder()
    observation.observers.append(recorder)
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers or [], "client": ("10.0.0.7", 5555)}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    error = None
    try:
        asyncio.run(ObserveRequests(app, observation)(scope, receive, send))
    except Exception as exc:
        error = exc
    return sent, recorder, error


def test_the_outer_middleware_times_echoes_the_request_id_and_sees_the_status(routes: RouteTable) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert REQUEST_ID.get() == "given-1"
        await NoteOperation(inner)(
            {**scope, "extensions": {"connexion_routing": {"operation_id": "createQueryProductRecommendation",
                                                           "api_base_path": BASE}}}, receive, send)

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"location", b"http://h/queryProductRecommendation/q9"), (b"X-Request-ID", b"x")]})
        await send({"type": "http.response.body", "body": b"{}"})

    sent, recorder, error = run_http(app, routes, [(b"x-request-id", b"given-1"), (b"authorization", b"secret")])
    assert error is None
    headers = sent[0]["headers"]
    assert [v for k, v in headers if k.lower() == b"x-request-id"] == [b"given-1"]
    (seen,) = recorder.seen
    assert (seen.status, seen.operation, seen.correlation_id, seen.client) == (
        201, "createQueryProductRecommendation", "q9", "10.0.0.7")
    assert seen.duration_s > 0
    assert REQUEST_ID.get() is None
    fields = access_fields(seen)
    assert fields["path"] == f"{BASE}/queryProductRecommendation" and "secret" not in json.dumps(fields)


def test_an_exception_that_escapes_counts_as_500_and_is_re_raised(routes: RouteTable) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    sent, recorder, error = run_http(app, routes)
    assert isinstance(error, RuntimeError)
    assert recorder.seen[0].status == 500 and not sent
    assert len(recorder.seen[0].request_id) == 32  # none sent: a uuid4


def test_a_request_without_response_counts_as_client_closed(routes: RouteTable) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    _, recorder, _ = run_http(app, routes)
    assert recorder.seen[0].status == 499


def test_a_failing_observer_does_not_fail_the_request(routes: RouteTable) -> None:
    observation = Observation(routes)

    def broken(_: RequestInfo) -> None:
        raise ValueError("observer bug")

    recorder = Recorder()
    observation.observers.extend([broken, recorder])
    observation.finish(info("GET", "/x", status=200))
    assert len(recorder.seen) == 1


def test_lifespan_events_start_and_stop_the_hooks(routes: RouteTable) -> None:
    observation = Observation(routes)
    calls: list[str] = []
    observation.on_start.append(lambda: calls.append("start"))
    observation.on_stop.append(lambda: calls.append("stop"))
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        calls.append("serving")
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(_: dict[str, Any]) -> None:
        return None

    asyncio.run(ObserveRequests(app, observation)({"type": "lifespan"}, receive, send))
    assert calls == ["start", "serving", "stop"]


# --- metrics ---------------------------------------------------------------------------------------

def fake_container(**overrides: Any) -> Any:
    query_store = SimpleNamespace(counts_by_state=lambda: {"accepted": 3, "done": 1},
                                  oldest_created=lambda state: NOW - timedelta(seconds=90))
    notifications = SimpleNamespace(
        counts=lambda: {"pending": 2, "failed": 1},
        deliveries=lambda status=None, limit=50: [{"created": (NOW - timedelta(seconds=30)).replace(tzinfo=None)}])
    models = SimpleNamespace(versions=lambda limit=20: [{"version": 7, "created": NOW - timedelta(hours=1),
                                                         "complete": True}])
    container = SimpleNamespace(query_store=query_store, notifications=notifications, models=models,
                                catalog=SimpleNamespace(version=lambda: 4),
                                dispatcher=SimpleNamespace(counters=DeliveryCounters()),
                                tasks=SimpleNamespace(completed=0, lost=0))
    for key, value in overrides.items():
        setattr(container, key, value)
    return container


def samples_of(registry: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client import generate_latest

    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def test_the_store_collector_reads_once_per_scrape() -> None:
    registry = CollectorRegistry()
    registry.register(StoreCollector(fake_container(), clock=lambda: NOW))
    got = samples_of(registry)
    assert got[("tmf680_tasks", frozenset({("state", "accepted")}))] == 3
    assert got[("tmf680_tasks", frozenset({("state", "inProgress")}))] == 0
    assert got[("tmf680_task_queue_oldest_age_seconds", frozenset())] == 90
    assert got[("tmf680_deliveries", frozenset({("status", "pending")}))] == 2
    assert got[("tmf680_deliveries", frozenset({("status", "cancelled")}))] == 0
    assert got[("tmf680_delivery_queue_oldest_age_seconds", frozenset())] == 30  # naive datetime read as UTC
    assert got[("tmf680_model_version", frozenset())] == 7
    assert got[("tmf680_model_age_seconds", frozenset())] == 3600
    assert got[("tmf680_catalog_version", frozenset())] == 4
    assert got[("tmf680_mongo_up", frozenset())] == 1


def test_an_empty_store_has_zero_ages_and_no_model_age() -> None:
    container = fake_container()
    container.query_store.oldest_created = lambda state: None
    container.notifications.deliveries = lambda status=None, limit=50: []
    container.models.versions = lambda limit=20: []
    registry = CollectorRegistry()
    registry.register(StoreCollector(container, clock=lambda: NOW))
    got = samples_of(registry)
    assert got[("tmf680_task_queue_oldest_age_seconds", frozenset())] == 0
    assert got[("tmf680_delivery_queue_oldest_age_seconds", frozenset())] == 0
    assert got[("tmf680_model_version", frozenset())] == 0
    assert ("tmf680_model_age_seconds", frozenset()) not in got


def test_a_store_outage_reports_mongo_down_and_counts_once() -> None:
    def down() -> dict[str, int]:
        raise StoreUnavailable("the database is unavailable: AutoReconnect")

    errors: list[int] = []
    registry = CollectorRegistry()
    container = fake_container()
    container.query_store.counts_by_state = down
    registry.register(StoreCollector(container, on_error=lambda: errors.append(1), clock=lambda: NOW))
    got = samples_of(registry)
    assert got[("tmf680_mongo_up", frozenset())] == 0
    assert not any(name == "tmf680_tasks" for name, _ in got)
    assert errors == [1]


def test_the_oldest_task_comes_from_the_repository_method_when_it_has_one() -> None:
    container = fake_container()
    asked: list[str] = []
    container.query_store.oldest_created = lambda state: asked.append(state) or NOW
    assert oldest_task_created(container) == NOW
    assert asked == ["accepted"]


def test_requests_are_labelled_with_bounded_values() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    metrics.observe(info("BREW", "/x", status=405, duration_s=0.2))
    metrics.observe(info("GET", "/x", status=200, operation="listQueryProductRecommendation", duration_s=0.01))
    got = samples_of(registry)
    assert got[("tmf680_http_requests_total", frozenset({("operation", "unmatched"), ("method", "other"),
                                                          ("status", "405")}))] == 1
    assert got[("tmf680_http_request_duration_seconds_count",
                frozenset({("operation", "listQueryProductRecommendation"), ("method", "GET")}))] == 1
    assert got[("tmf680_mongo_errors_total", frozenset({("source", "scrape")}))] == 0


def test_process_counters_add_only_the_increase() -> None:
    container = fake_container()
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    counters = ProcessCounters(container, metrics)
    container.dispatcher.counters.attempts = 5
    container.tasks.completed = 2
    counters.sync()
    counters.sync()
    container.dispatcher.counters.attempts = 6
    counters.sync()
    got = samples_of(registry)
    assert got[("tmf680_delivery_attempts_total", frozenset())] == 6
    assert got[("tmf680_tasks_completed_total", frozenset())] == 2


def test_process_counters_are_synced_by_their_thread_and_at_stop() -> None:
    container = fake_container()
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    counters = ProcessCounters(container, metrics)
    counters.start(interval_s=0.01)
    container.dispatcher.counters.failed_attempts = 3
    for _ in range(200):
        if samples_of(registry)[("tmf680_delivery_failed_attempts_total", frozenset())] == 3:
            break
        asyncio.run(asyncio.sleep(0.01))
    else:
        raise AssertionError("the sync thread did not run")
    container.tasks.lost = 1
    counters.stop()
    assert samples_of(registry)[("tmf680_tasks_lost_total", frozenset())] == 1


def test_the_exporter_renders_text_and_openmetrics() -> None:
    exporter = Exporter(fake_container(), clock=lambda: NOW)
    body, content_type = exporter.render("")
    assert content_type.startswith("text/plain")
    text = body.decode()
    assert "tmf680_tasks{state=\"accepted\"} 3.0" in text
    assert "process_cpu_seconds_total" in text or sys.platform != "linux"
    body, content_type = exporter.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text") and body.decode().endswith("# EOF\n")


# --- logging ---------------------------------------------------------------------------------------

@pytest.fixture
def root_logging() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_for_access_records_and_other_records() -> None:
    formatter = JsonFormatter()
    access = logging.LogRecord("tmf680.access", logging.INFO, __file__, 1, "%s", ("{}",), None)
    setattr(access, FIELDS, {"method": "GET", "status": 200})
    line = json.loads(formatter.format(access))
    assert line["logger"] == "tmf680.access" and line["level"] == "INFO" and line["status"] == 200
    assert "message" not in line and line["ts"].endswith("Z")

    token = REQUEST_ID.set("rid-5")
    try:
        other = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "hello %s", ("wörld",), None)
        line = json.loads(formatter.format(other))
    finally:
        REQUEST_ID.reset(token)
    assert line["message"] == "hello wörld" and line["request_id"] == "rid-5" and line["level"] == "WARNING"

    try:
        raise ValueError("bad")
    except ValueError:
        failed = logging.LogRecord("app.x", logging.ERROR, __file__, 1, "oops", (), sys.exc_info())
    assert "ValueError: bad" in json.loads(formatter.format(failed))["exc_info"]


def test_configure_logging_replaces_basic_config_and_is_idempotent(
        root_logging: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    kept = logging.StreamHandler(io.StringIO())  # e.g. a file or a test's capture: left alone
    root_logging.addHandler(kept)
    logging.basicConfig(level="INFO", force=False)
    root_logging.addHandler(logging.StreamHandler(sys.stderr))
    configure_logging("DEBUG", "text")
    configure_logging("INFO", "json")
    ours = [h for h in root_logging.handlers if getattr(h, "_tmf680", False)]
    assert len(ours) == 1 and kept in root_logging.handlers
    assert not [h for h in root_logging.handlers if type(h) is logging.StreamHandler and h.stream is sys.stderr]
    assert root_logging.level == logging.INFO
    capsys.readouterr()
    logging.getLogger("app.test").info("one line")
    err = capsys.readouterr().err.strip().splitlines()
    assert [json.loads(line)["message"] for line in err] == ["one line"]
    with pytest.raises(ValueError, match="json or text"):
        configure_logging("INFO", "xml")
