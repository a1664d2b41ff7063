"""Prometheus metrics: ``GET /metrics`` in the text exposition format (OpenMetrics on request).

What is measured, and where:

- Requests, at the ASGI edge (``edge.request_log``: one timing shared with the access log):
  ``tmf680_http_requests_total{operation,method,status}`` and
  ``tmf680_http_request_duration_seconds{operation,method}`` (histogram). ``operation`` is the
  operationId, ``openapi`` (``<mount>/openapi.json``), ``docs`` (``<mount>/docs...``),
  ``health_live``/``health_ready`` (the probes), ``metrics`` (this endpoint) or ``unmatched``;
  ``method`` is one of the HTTP methods or ``other``: never the raw path, so the label sets stay
  bounded.
- From MongoDB, once per scrape, by ``StoreCollector`` (so several workers never multiply them):
  ``tmf680_tasks{state}`` (queries per task state; ``state="accepted"`` is the task queue's
  depth), ``tmf680_task_queue_oldest_age_seconds`` (the oldest ``accepted`` query),
  ``tmf680_deliveries{status}`` (``status="pending"`` is the delivery queue's depth),
  ``tmf680_delivery_queue_oldest_age_seconds``, ``tmf680_model_version`` and
  ``tmf680_model_age_seconds`` (the newest stored model), ``tmf680_catalog_version``,
  ``tmf680_mongo_up`` (0 when the scrape's reads failed) and
  ``tmf680_store_scrape_duration_seconds``.
- Per process, summed over the workers: ``tmf680_delivery_attempts_total``,
  ``tmf680_delivery_failed_attempts_total``, ``tmf680_deliveries_delivered_total``,
  ``tmf680_deliveries_given_up_total`` (the dispatcher's counters), ``tmf680_tasks_completed_total``
  and ``tmf680_tasks_lost_total`` (the task runner's). The services keep plain integers;
  ``ProcessCounters`` adds their increase to Prometheus counters every ``SYNC_INTERVAL_S`` (a
  thread started and stopped with the app's lifespan), before every scrape and at shutdown.
  Work done by a separate ``tmf680 worker`` process is not in these (that process serves no
  HTTP); the MongoDB gauges above cover it.
- ``tmf680_mongo_errors_total{source}``: ``request`` counts every ``StoreUnavailable`` that
  reaches the HTTP edge (a handler registered for exactly that class, on Connexion and on
  Flask, counts it and then answers as ``edge.errors`` does: 503); ``scrape`` counts failed reads
  of ``StoreCollector``. Failures inside the background loops are logged by them, not counted.

Several gunicorn workers: with ``PROMETHEUS_MULTIPROC_DIR`` set (before the process imports
prometheus_client) every worker writes its counters and histograms to files there and
``/metrics``, whichever worker answers, aggregates all of them (dead workers' counters included).
Without it, a plain per-app registry is used (plus the process/GC/platform collectors). The
gunicorn master must empty the directory at start and tell the library when a worker dies::

    def on_starting(server):
        prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if prom_dir:
            os.makedirs(prom_dir, exist_ok=True)
            for stale in glob.glob(os.path.join(prom_dir, "*.db")):
                os.remove(stale)
        ...

    def child_exit(server, worker):
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess
            multiprocess.mark_process_dead(worker.pid)
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import flask
from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from edge import errors
from edge.request_log import RequestInfo, install_request_log, observation
from services.errors import StoreUnavailable

if TYPE_CHECKING:
    from edge.context import ProcessServices as Container

log = logging.getLogger(__name__)

EXTENSION = "tmf680.metrics"
METRICS_PATH = "/metrics"
SYNC_INTERVAL_S = 5.0
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
TASK_STATES = ("accepted", "inProgress", "done", "terminatedWithError")
DELIVERY_STATUSES = ("pending", "delivered", "failed", "cancelled")
MONGO_ERROR_SOURCES = ("request", "scrape")

Clock = Callable[[], datetime]

def multiprocess_dir() -> str | None:
    """The directory of prometheus_client's multiprocess mode, when this process runs in it."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- reads of MongoDB, through the container's repositories ---------------------------------------


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def task_counts(container: Container) -> dict[str, int]:
    """Queries per task state; the four lifecycle states are always present."""
    counts = dict.fromkeys(TASK_STATES, 0)
    counts.update(container.query_store.counts_by_state())
    return counts


def delivery_counts(container: Container) -> dict[str, int]:
    """Deliveries per status; the four statuses are always present."""
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    counts.update(container.notifications.counts())
    return counts


def oldest_task_created(container: Container, state: str = "accepted") -> datetime | None:
    """When the oldest query in ``state`` was stored (None: there is none)."""
    return container.query_store.oldest_created(state)


def oldest_pending_delivery_created(container: Container) -> datetime | None:
    """When the oldest pending delivery was created (the lowest event sequence number pending)."""
    pending = container.notifications.deliveries(status="pending", limit=1)
    created = pending[0].get("created") if pending else None
    return created if isinstance(created, datetime) else None


def latest_model(container: Container) -> tuple[int, datetime | None]:
    """(version, created) of the newest stored model; (0, None) when none was trained."""
    for doc in container.models.versions(limit=5):
        if doc.get("complete", True):
            created = doc.get("created")
            return int(doc["version"]), created if isinstance(created, datetime) else None
    return 0, None


def _age_s(created: datetime | None, now: datetime) -> float:
    return max(0.0, (now - _utc(created)).total_seconds()) if created else 0.0


def _per_label(name: str, documentation: str, label: str, counts: dict[str, int]) -> GaugeMetricFamily:
    """A gauge with one sample per ``label`` value, in a stable order."""
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for value, count in sorted(counts.items()):
        family.add_metric([value], count)
    return family


class StoreCollector:
    """Gauges read from MongoDB at scrape time: one set of reads per scrape, whatever the number of
    workers (in multiprocess mode only the worker answering the scrape runs it)."""

    def __init__(self, container: Container, on_error: Callable[[], None] = lambda: None,
                 clock: Clock = lambda: datetime.now(UTC)) -> None:
        self._container = container
        self._on_error = on_error
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        up = 1.0
        families: list[Metric] = []
        try:
            families = self._read(self._clock())
        except StoreUnavailable as exc:
            up = 0.0
            self._on_error()
            log.warning("metrics: %s", exc.message)
        except Exception:
            up = 0.0
            log.exception("metrics: reading the store failed")
        families.append(GaugeMetricFamily("tmf680_mongo_up", "1 when this scrape could read MongoDB, else 0",
                                          value=up))
        families.append(GaugeMetricFamily("tmf680_store_scrape_duration_seconds",
                                          "Time this scrape spent reading MongoDB",
                                          value=time.perf_counter() - started))
        return families

    def _read(self, now: datetime) -> list[Metric]:
        container = self._container
        tasks = _per_label("tmf680_tasks", "queryProductRecommendation tasks per state (accepted = queued)",
                           "state", task_counts(container))
        task_age = GaugeMetricFamily("tmf680_task_queue_oldest_age_seconds",
                                     "Age of the oldest accepted (not yet started) task; 0 when none",
                                     value=_age_s(oldest_task_created(container), now))
        deliveries = _per_label("tmf680_deliveries", "Event deliveries per status (pending = queued)",
                                "status", delivery_counts(container))
        delivery_age = GaugeMetricFamily("tmf680_delivery_queue_oldest_age_seconds",
                                         "Age of the oldest pending event delivery; 0 when none",
                                         value=_age_s(oldest_pending_delivery_created(container), now))
        version, created = latest_model(container)
        out: list[Metric] = [tasks, task_age, deliveries, delivery_age,
                             GaugeMetricFamily("tmf680_model_version", "Newest stored model version (0: none)",
                                               value=version)]
        if created is not None:
            out.append(GaugeMetricFamily("tmf680_model_age_seconds", "Seconds since the newest model was stored",
                                         value=_age_s(created, now)))
        out.append(GaugeMetricFamily("tmf680_catalog_version", "Stored product catalogue version (0: none)",
                                     value=container.catalog.version()))
        return out


# --- metrics of this process ---------------------------------------------------------------------


class Metrics:
    """The counters and histograms one process updates (file-backed in multiprocess mode)."""

    def __init__(self, registry: CollectorRegistry | None) -> None:
        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        self.requests = counter("tmf680_http_requests", "HTTP requests by operation, method and final status",
                                ("operation", "method", "status"))
        self.duration = Histogram("tmf680_http_request_duration_seconds",
                                  "Time from the request's arrival at the edge to the end of its response",
                                  ("operation", "method"), registry=registry)
        self.delivery_attempts = counter("tmf680_delivery_attempts", "Event POSTs to subscriber callbacks")
        self.delivery_failed_attempts = counter("tmf680_delivery_failed_attempts",
                                                "Event POSTs that failed (retried later or given up)")
        self.deliveries_delivered = counter("tmf680_deliveries_delivered", "Events delivered to a callback")
        self.deliveries_given_up = counter("tmf680_deliveries_given_up",
                                           "Deliveries given up after the retry period")
        self.tasks_completed = counter("tmf680_tasks_completed", "Asynchronous tasks completed (done or failed)")
        self.tasks_lost = counter("tmf680_tasks_lost", "Tasks whose lease another worker took over first")
        self.mongo_errors = counter("tmf680_mongo_errors", "MongoDB unavailable (StoreUnavailable), by where seen",
                                    ("source",))
        for source in MONGO_ERROR_SOURCES:
            self.mongo_errors.labels(source)
        self._children: dict[tuple[str | None, str, int | None], tuple[Any, Any]] = {}

    def observe(self, info: RequestInfo) -> None:
        method = info.method if info.method in HTTP_METHODS else "other"
        key = (info.operation, method, info.status)
        children = self._children.get(key)
        if children is None:  # labels() takes a lock and builds keys: once per combination
            children = (self.requests.labels(info.operation, method, str(info.status)),
                        self.duration.labels(info.operation, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(info.duration_s)


class ProcessCounters:
    """Adds the increase of the services' per-process integer counters to Prometheus counters."""

    def __init__(self, container: Container, metrics: Metrics) -> None:
        self._container = container
        self._targets: dict[str, Counter] = {
            "delivery_attempts": metrics.delivery_attempts,
            "delivery_failed_attempts": metrics.delivery_failed_attempts,
            "deliveries_delivered": metrics.deliveries_delivered,
            "deliveries_given_up": metrics.deliveries_given_up,
            "tasks_completed": metrics.tasks_completed,
            "tasks_lost": metrics.tasks_lost,
        }
        self._seen = dict.fromkeys(self._targets, 0)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _current(self) -> dict[str, int]:
        deliveries = self._container.dispatcher.counters
        tasks = self._container.tasks
        return {
            "delivery_attempts": deliveries.attempts,
            "delivery_failed_attempts": deliveries.failed_attempts,
            "deliveries_delivered": deliveries.delivered,
            "deliveries_given_up": deliveries.given_up,
            "tasks_completed": tasks.completed,
            "tasks_lost": tasks.lost,
        }

    def sync(self) -> None:
        with self._lock:
            for name, value in self._current().items():
                increase = value - self._seen[name]
                if increase > 0:
                    self._targets[name].inc(increase)
                self._seen[name] = value  # a lower value (a reset) is taken as the new base

    def start(self, interval_s: float = SYNC_INTERVAL_S) -> None:
        if self._thread is not None:
            return
        self._stop.clear()

        def run() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.sync()
                except Exception:
                    log.exception("metrics: syncing the process counters failed")

        self._thread = threading.Thread(target=run, name="tmf680-metrics", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
        self.sync()


class Exporter:
    """Renders ``/metrics``: this process's registry, or every worker's files in multiprocess mode."""

    def __init__(self, container: Container, clock: Clock | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir()
        if self.multiprocess_dir:
            os.makedirs(self.multiprocess_dir, exist_ok=True)
        # multiprocess: the values live in files and each scrape builds a registry over them
        self.registry = None if self.multiprocess_dir else CollectorRegistry()
        self.store = StoreCollector(container, on_error=self._store_error, **({"clock": clock} if clock else {}))
        if self.registry is not None:
            self.registry.register(self.store)  # first: a failed read is counted in the same scrape
        self.metrics = Metrics(registry=self.registry)
        if self.registry is not None:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self.counters = ProcessCounters(container, self.metrics)

    def _store_error(self) -> None:
        self.metrics.mongo_errors.labels("scrape").inc()

    def collecting_registry(self) -> CollectorRegistry:
        if self.registry is not None:
            return self.registry
        registry = CollectorRegistry()
        registry.register(self.store)
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return registry

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """(body, content type) of one scrape."""
        self.counters.sync()
        encoder, content_type = choose_encoder(accept)
        return encoder(self.collecting_registry()), content_type


def _count_store_errors(app: Any, metrics: Metrics) -> None:
    """Count ``StoreUnavailable`` at the HTTP edge, then answer exactly as ``edge.errors`` does."""

    def on_connexion(request: Any, exc: Exception) -> Any:
        metrics.mongo_errors.labels("request").inc()
        return errors.connexion_error_handler(request, exc)

    def on_flask(exc: Exception) -> Any:
        metrics.mongo_errors.labels("request").inc()
        return errors.flask_error_handler(exc)

    app.add_error_handler(StoreUnavailable, on_connexion)
    app.app.register_error_handler(StoreUnavailable, on_flask)


def install_metrics(app: Any, container: Container, settings: Any, document: dict[str, Any] | None = None,
                    clock: Clock | None = None) -> Exporter:
    """Measure requests, count store errors and serve ``GET /metrics`` on a Connexion app.

    Call after ``create_app`` built the app and before it serves its first request (Connexion
    refuses middleware and error handlers after that). A second call returns the first exporter.
    ``settings`` needs ``mount_paths``.
    """
    existing = app.app.extensions.get(EXTENSION)
    if isinstance(existing, Exporter):
        return existing
    if document is None:
        from edge.spec.loader import official_document

        document = official_document()
    observed = observation(app, document, settings.mount_paths)
    exporter = Exporter(container, clock=clock)
    observed.observers.append(exporter.metrics.observe)
    observed.static_routes[METRICS_PATH] = "metrics"
    observed.on_start.append(exporter.counters.start)
    observed.on_stop.append(exporter.counters.stop)
    _count_store_errors(app, exporter.metrics)

    def metrics_view() -> flask.Response:
        body, content_type = exporter.render(flask.request.headers.get("Accept", ""))
        return flask.Response(body, status=200, content_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_url_rule(METRICS_PATH, endpoint="tmf680_metrics", view_func=metrics_view, methods=["GET"])
    app.app.extensions[EXTENSION] = exporter
    return exporter


def install_observability(app: Any, container: Container, settings: Any) -> None:
    """The access log always; the metrics unless ``settings.metrics`` is false (TMF680_METRICS)."""
    from edge.spec.loader import official_document

    document = official_document()
    install_request_log(app, settings, document)
    if getattr(settings, "metrics", True):
        install_metrics(app, container, settings, document)
