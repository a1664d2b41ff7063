"""``tmf680 history``: load customer history (TMF637 products, TMF622 orders)."""

from __future__ import annotations

import click

from cli.catalog import import_file


@click.group()
def history() -> None:
    """Load customer history: TMF637 products held and TMF622 product orders."""


@history.command("import")
@click.argument("file")
@click.option("--replace", is_flag=True,
              help="FILE is the whole history: products and orders not in it are deleted. Only when every "
                   "document of FILE was read.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def history_import(file: str, replace: bool, as_json: bool) -> None:
    """Upsert TMF637 Product and TMF622 ProductOrder documents from FILE (JSON array or NDJSON;
    .gz accepted; - for stdin). Malformed lines are reported with their line numbers."""
    from services.imports import import_history, replace_history

    run = replace_history if replace else import_history
    import_file(file, as_json, "history", lambda items, c, bar: run(items, c.history, bar), replace, fast=True)
