"""``tmf680 history``: load customer history (TMF637 products, TMF622 orders)."""

from __future__ import annotations

import click

from cli.catalog import import_file


@click.group()
def history() -> None:
    """Load customer history: TMF637 products held and TMF622 product orders."""


@history.command("import")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def history_import(file: str, as_json: bool) -> None:
    """Upsert TMF637 Product and TMF622 ProductOrder documents from FILE (JSON array or NDJSON;
    .gz accepted; - for stdin). Malformed lines are reported with their line numbers."""
    from services.imports import import_history

    import_file(file, as_json, "history", lambda items, c, bar: import_history(items, c.history, bar))
