"""gunicorn configuration for production.

    gunicorn -c python:app.gunicorn_conf 'app.factory:create_asgi_app()'

Each worker is a uvicorn ASGI worker that builds its own application and Mongo client after the
fork, and also listens on a socket of its own (runtime/worker_sockets.py). With MONGODB_URI empty, the
master starts the embedded mongod first and stops it on exit.
"""

from __future__ import annotations

import glob
import os
from typing import Any

bind = os.environ.get("TMF680_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Besides gunicorn's shared socket, each worker serves a SO_REUSEPORT socket of its own, which the master
# creates and keeps for its replacement, and the kernel spreads new connections over them
# (runtime/worker_sockets.py): with the shared socket alone, the first worker awake accepts every pending
# connection, and keep-alive connections opened together (a proxy's pool, a load generator) all land on
# one worker. TMF680_REUSE_PORT=false: the shared socket only.
_balanced = os.environ.get("TMF680_REUSE_PORT", "true").strip().lower() != "false"
worker_class = "runtime.worker_sockets.BalancedUvicornWorker" if _balanced else "uvicorn_worker.UvicornWorker"
graceful_timeout = int(os.environ.get("TMF680_GRACEFUL_TIMEOUT", "30"))
timeout = int(os.environ.get("TMF680_WORKER_TIMEOUT", "60"))
# Seconds an idle keep-alive connection is kept. Behind a load balancer or proxy that pools connections,
# set it above the balancer's own idle timeout (AWS ALB: 60 -> 65): a server that closes first can close a
# connection the balancer is just sending a request on, which the client sees as a 502.
keepalive = int(os.environ.get("TMF680_KEEPALIVE_S", "5"))
preload_app = False  # the app (and its Mongo client) is built in each worker, after fork
accesslog = os.environ.get("TMF680_ACCESS_LOG") or None

_embedded: Any = None
_slots: Any = None  # runtime.worker_sockets.SocketSlots, in the master once it is ready


def on_starting(server: Any) -> None:
    """Empty PROMETHEUS_MULTIPROC_DIR (metrics of an earlier run); validate the documents once for every
    worker; start the embedded mongod when no MONGODB_URI is configured (workers inherit the URI)."""
    global _embedded  # noqa: PLW0603 - gunicorn hooks share state through the config module
    prom_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if prom_dir:
        os.makedirs(prom_dir, exist_ok=True)
        for stale in glob.glob(os.path.join(prom_dir, "*.db")):
            os.remove(stale)
    from app.factory import prepare_documents
    from app.settings import Settings

    settings = Settings.load()
    prepare_documents(settings)  # workers inherit the validated documents
    if settings.mongodb_uri:
        return
    from runtime.embedded_mongo import EmbeddedMongo

    _embedded = EmbeddedMongo(settings.data_dir)
    os.environ["MONGODB_URI"] = _embedded.start()
    server.log.info("embedded MongoDB at %s", os.environ["MONGODB_URI"])


def when_ready(server: Any) -> None:
    """The shared socket accepts the workers' own sockets beside it; the master keeps those sockets
    (one slot per worker) and closes them as soon as it is told to stop, as gunicorn does its own."""
    global _slots  # noqa: PLW0603
    if not _balanced:
        return
    import signal

    from runtime.worker_sockets import SocketSlots, allow_reuseport

    for listener in server.LISTENERS:
        allow_reuseport(listener)
    _slots = slots = SocketSlots(server.cfg.backlog)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        queue_signal = signal.getsignal(sig)

        def stop_then_queue(signum: int, frame: Any, queue_signal: Any = queue_signal) -> None:
            slots.stop()
            queue_signal(signum, frame)

        signal.signal(sig, stop_then_queue)


def pre_fork(server: Any, worker: Any) -> None:
    """The new worker's own socket: its predecessor's when it replaces one (runtime/worker_sockets.py)."""
    if _slots is not None:
        _slots.assign(server, worker)


def post_fork(server: Any, worker: Any) -> None:
    """In the new worker: let go of the other workers' sockets."""
    if _slots is not None:
        _slots.keep_only(worker)


def on_exit(server: Any) -> None:
    if _embedded is not None:
        _embedded.stop()
        server.log.info("embedded MongoDB stopped")


def child_exit(server: Any, worker: Any) -> None:
    """Metrics in multiprocess mode: drop the dead worker's live gauges (its counters are kept). Close
    the worker's own socket unless a replacement will serve it."""
    if _slots is not None:
        _slots.release(server)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
