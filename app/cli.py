"""The ``tmf680`` command line."""

from __future__ import annotations

import json
import logging
import signal
import sys
from typing import Any

import click

from app.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tmf680-recommendation")
def main() -> None:
    """TMF680 Recommendation Management v4.0.0 server.

    Configuration comes from environment variables (see the README); with no MONGODB_URI the
    server runs its own mongod with data under TMF680_DATA_DIR.
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the API in one process (uvicorn); starts the embedded mongod when MONGODB_URI is empty."""
    import uvicorn

    from app.embedded_mongo import EmbeddedMongo, EmbeddedMongoError
    from app.factory import create_app

    settings = _settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; make that an exit that runs
    # the ``finally`` below (stopping mongod) instead of the default immediate termination.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
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
        click.echo(f"TMF680 API at http://{host}:{port}{settings.base_path}/queryProductRecommendation", err=True)
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=True)
    finally:
        if embedded is not None:
            embedded.stop()
            click.echo("embedded MongoDB stopped", err=True)


@main.command("listener-events")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--type", "event_type", default=None, help="Only this eventType.")
def listener_events(limit: int, event_type: str | None) -> None:
    """Print the events the listener endpoints received, newest first, one JSON object per line."""
    from app.container import build_container
    from app.embedded_mongo import mongo_uri

    settings = _settings()
    with mongo_uri(settings.mongodb_uri, settings.data_dir) as uri:
        container = build_container(settings.replace(mongodb_uri=uri))
        try:
            for record in container.listener.recent(limit, event_type):
                click.echo(json.dumps(record, default=_json_default, ensure_ascii=False))
        finally:
            container.close()


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
