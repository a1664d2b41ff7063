"""Processes: ``serve`` (the API in one process) and ``worker`` (task and delivery workers alone)."""

from __future__ import annotations

import logging
import signal

import click

from cli import common
from cli.demo import load_demo_data


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Load the demo data set and train first if no catalogue is loaded.")
def serve(host: str, port: int, demo: bool) -> None:
    """Serve the API in one process (uvicorn); starts the embedded mongod when MONGODB_URI is empty."""
    import uvicorn

    from app.factory import create_app
    from runtime.embedded_mongo import EmbeddedMongo, EmbeddedMongoError

    settings = common.settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; make that an exit that runs
    # the ``finally`` below (stopping mongod) instead of the default immediate termination.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, common.exit_on_signal)
    embedded: EmbeddedMongo | None = None
    try:
        if not settings.mongodb_uri:
            embedded = EmbeddedMongo(settings.data_dir)
            try:
                settings = settings.replace(mongodb_uri=embedded.start())
            except EmbeddedMongoError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"embedded MongoDB at {settings.mongodb_uri} (data in {embedded.db_path})", err=True)
        app = create_app(settings)
        container = app.app.extensions["tmf680"]
        if demo and not container.catalog.counts()["productOffering"]:
            load_demo_data(container)
        click.echo(f"TMF680 API at http://{host}:{port}{settings.base_path}/queryProductRecommendation", err=True)
        # the app writes its own JSON access line per request (edge/request_log.py)
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=True,
                    access_log=False)
    finally:
        if embedded is not None:
            embedded.stop()
            click.echo("embedded MongoDB stopped", err=True)


@click.command()
def worker() -> None:
    """Run the task and delivery workers alone (no API), until SIGTERM or Ctrl-C.

    Run several, on several machines sharing one MongoDB: tasks are claimed with a lease and
    deliveries are ordered per subscription, so they share the work safely."""
    from edge.request_log import configure_logging

    settings = common.settings()
    configure_logging(settings.log_level, settings.log_format)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, common.exit_on_signal)
    with common.container(settings) as container:
        container.workers.start()
        click.echo(f"worker {container.tasks.owner} running", err=True)
        try:
            container.workers.wait()
        finally:
            click.echo("worker stopping", err=True)
