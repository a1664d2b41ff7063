"""The ``tmf680`` command line: one module per command group, registered on ``main`` here."""

from __future__ import annotations

import os

import click

from app.settings import CONFIG_ENV
from cli import catalog, common, demo, history, inspect, model, serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tmf680-recommendation")
@click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="TOML file of settings (environment variables override it); same as TMF680_CONFIG.")
def main(config_file: str | None) -> None:
    """TMF680 Recommendation Management v4.0.0 server.

    Configuration comes from environment variables, over an optional TOML file (--config or
    TMF680_CONFIG; see the README); with no MONGODB_URI the server runs its own mongod with data
    under TMF680_DATA_DIR. Exit codes: 0 done, 1 failed, 2 usage or configuration error.
    """
    if config_file:
        os.environ[CONFIG_ENV] = config_file  # gunicorn/uvicorn children and every command read it
    common.settings()  # a bad configuration stops every command with a clear message


main.add_command(serve.serve)
main.add_command(serve.worker)
main.add_command(catalog.catalog)
main.add_command(history.history)
main.add_command(model.train)
main.add_command(model.evaluate)
main.add_command(demo.demo)
main.add_command(inspect.status)
main.add_command(inspect.deliveries)
main.add_command(inspect.listener_events)
