"""``tmf680 catalog``: load the TMF620 catalogue from a file or a TMF620 server."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from cli import common

if TYPE_CHECKING:
    from app.container import Container
    from services.imports import ImportReport


@click.group()
def catalog() -> None:
    """Load the TMF620 product catalogue (productOffering, category) the engine recommends from."""


@catalog.command("import")
@click.argument("file")
@click.option("--replace", is_flag=True,
              help="FILE is the whole catalogue: offerings not in it are retired (lifecycleStatus Retired), "
                   "categories not in it deleted. Only when every document of FILE was read.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def catalog_import(file: str, replace: bool, as_json: bool) -> None:
    """Upsert offerings and categories from FILE (JSON array, NDJSON, {"category": [...],
    "productOffering": [...]}; .gz accepted; - for stdin). Bad documents are reported by line."""
    from services.imports import import_catalog, replace_catalog

    run = replace_catalog if replace else import_catalog
    from services.documents import read_documents

    import_file(file, as_json, "catalogue", lambda stream, c, bar: run(read_documents(stream), c.catalog, bar),
                replace)


@catalog.command("sync")
@click.option("--from", "base_url", required=True, metavar="BASE_URL",
              help="TMF620 API root, e.g. https://catalog.example.com/tmf-api/productCatalogManagement/v4")
@click.option("--page-size", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(0.1, 600))
def catalog_sync(base_url: str, page_size: int, retries: int, timeout_s: float) -> None:
    """Pull category and productOffering from a TMF620 server page by page (offset/limit)."""
    if not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an absolute http(s) URL", param_hint="--from")
    with common.container(common.settings()) as container:
        sync_from(base_url, container, page_size=page_size, retries=retries, timeout_s=timeout_s)


def sync_from(base_url: str, container: Container, page_size: int = 100, retries: int = 5,
              timeout_s: float = 30.0) -> None:
    """Pull the catalogue of the TMF620 server at ``base_url`` into the store, with progress and
    a summary line (``catalog sync``, and ``subscribe`` on a first TMF620 subscription)."""
    from outbound.tmf620_client import CatalogSyncError, Tmf620Client
    from services.imports import CATEGORY, PRODUCT_OFFERING, import_catalog

    client = Tmf620Client(base_url, page_size=page_size, retries=retries, timeout_s=timeout_s)
    totals: dict[str, int] = {}
    rejected = 0
    try:
        for resource in (CATEGORY, PRODUCT_OFFERING):
            with common.progress(resource) as bar:
                for docs, total in client.pages(resource):
                    if total is not None:
                        bar.total = total
                    items = [(i, {"@collection": resource, **d}) for i, d in enumerate(docs, 1)]
                    report = import_catalog(items, container.catalog)
                    totals[resource] = totals.get(resource, 0) + report.written.get(resource, 0)
                    rejected += len(report.errors)
                    for error in report.errors:
                        click.echo(f"  {resource}: {error.message}", err=True)
                    bar.update(len(docs))
    except CatalogSyncError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        client.close()
    click.echo(f"synced {totals.get(CATEGORY, 0)} categories and {totals.get(PRODUCT_OFFERING, 0)} product "
               f"offerings from {base_url} ({client.requests} requests, {client.retried} retried, "
               f"{rejected} rejected)")


def import_file(file: str, as_json: bool, label: str,
                run: Callable[[Any, Container, Callable[[int], Any]], ImportReport],
                replace: bool = False, binary: bool = False) -> None:
    """Import FILE (a text stream, or a ``binary`` one) with a progress bar, print the summary;
    exit 1 when nothing in a non-empty file could be imported, or when a replacing import took
    nothing away because of rejected documents."""
    settings = common.settings()
    stream = common.open_binary(file) if binary else common.open_input(file)
    with common.container(settings) as container, stream, common.progress(label) as bar:
        report = run(stream, container, bar.update)
    common.report(report, as_json)
    if report.read and not any(report.written.values()):
        raise SystemExit(1)
    if replace and report.replaced is None:
        click.echo("nothing retired or removed: --replace needs every document of the file to be importable",
                   err=True)
        raise SystemExit(1)
