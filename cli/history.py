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
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes parsing NDJSON [default: the CPUs available].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def history_import(file: str, replace: bool, workers: int | None, as_json: bool) -> None:
    """Upsert TMF637 Product and TMF622 ProductOrder documents from FILE (JSON array or NDJSON;
    .gz accepted; - for stdin). Malformed lines are reported with their line numbers."""
    from services.history_import import import_history_file

    import_file(file, as_json, "history",
                lambda stream, c, bar: import_history_file(stream, c.history, bar, replace, workers), replace,
                binary=True)
