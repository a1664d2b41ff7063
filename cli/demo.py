"""``tmf680 demo``: the demo data set."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from cli import common

if TYPE_CHECKING:
    from app.container import Container


@click.group()
def demo() -> None:
    """The demo data set (IBM Telco Customer Churn sample as TMF620/TMF637 documents)."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when a catalogue is already loaded.")
def demo_load(if_empty: bool) -> None:
    """Import the demo catalogue and the 7,043 customers' products, then train the model."""
    settings = common.settings()
    with common.container(settings) as container:
        if if_empty and container.catalog.counts()["productOffering"]:
            click.echo("a catalogue is already loaded; demo data not loaded", err=True)
            return
        load_demo_data(container)


def load_demo_data(container: Container) -> None:
    from recommender.demo import load_demo
    from services.imports import import_catalog, import_history
    from services.training import train_and_publish

    categories, offerings, products = load_demo()
    catalog_items = [(i, {"@collection": "category", **d}) for i, d in enumerate(categories, 1)]
    catalog_items += [(i, {"@collection": "productOffering", **d}) for i, d in enumerate(offerings, 1)]
    report = import_catalog(catalog_items, container.catalog)
    click.echo(f"demo catalogue: {report.written}", err=True)
    with common.progress("demo products", len(products)) as bar:
        history_report = import_history(enumerate(products, 1), container.history, bar.update)
    click.echo(f"demo history: {history_report.written}, {len(history_report.errors)} rejected", err=True)
    version, model = train_and_publish(container.history, container.models)
    click.echo(f"model v{version} trained ({model.kind}, {model.metadata['trainingSeconds']:.2f} s)", err=True)
