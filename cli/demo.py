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
    from services.demo_data import DEMO_SOURCE
    from services.imports import import_catalog, import_history
    from services.training import train_and_publish

    categories, offerings, products = load_demo()
    container.catalog.note_tagging(DEMO_SOURCE)
    catalog_items = [(i, {"@collection": "category", **d}) for i, d in enumerate(categories, 1)]
    catalog_items += [(i, {"@collection": "productOffering", **d}) for i, d in enumerate(offerings, 1)]
    report = import_catalog(catalog_items, container.catalog, source=DEMO_SOURCE)
    click.echo(f"demo catalogue: {report.written}", err=True)
    with common.progress("demo products", len(products)) as bar:
        history_report = import_history(enumerate(products, 1), container.history, bar.update, source=DEMO_SOURCE)
    click.echo(f"demo history: {history_report.written}, {len(history_report.errors)} rejected", err=True)
    version, model = train_and_publish(container.history, container.models)
    click.echo(f"model v{version} trained ({model.kind}, {model.metadata['trainingSeconds']:.2f} s)", err=True)


@demo.command("remove")
def demo_remove() -> None:
    """Remove exactly the demo's catalogue and history (what `demo load` wrote and nothing has
    overwritten since), then retrain on what remains, or drop the models if nothing remains.

    Demo data loaded before its documents were tagged is recognised by the packaged demo files:
    an untagged document with a demo id and exactly the demo's content is removed too."""
    from recommender.demo import load_demo
    from services.demo_data import remove_demo
    from services.training import TrainingError, train_and_publish

    settings = common.settings()
    with common.container(settings) as container:
        done = remove_demo(container.catalog, container.history, *load_demo())
        click.echo(f"removed the demo's {_counts(done.removed)}")
        if any(done.untagged.values()):
            click.echo(f"  of them untagged (loaded before demo data was tagged), recognised by id and content: "
                       f"{_counts(done.untagged)}")
        if any(done.kept.values()):
            click.echo(f"  kept, untagged with a demo id but other content (yours, or changed since): "
                       f"{_counts(done.kept)}")
        if not any(done.removed.values()):
            return
        try:
            version, model = train_and_publish(container.history, container.models)
        except TrainingError:
            dropped = container.models.prune(keep=0)
            click.echo(f"no history left: {dropped} model versions removed (import a history, then tmf680 train)")
            return
        click.echo(f"model v{version} trained on the remaining history ({model.metadata['nInteractions']} "
                   "interactions)")


def _counts(by_kind: dict[str, int]) -> str:
    from services.demo_data import CATEGORY, HISTORY, OFFERING

    return (f"{by_kind.get(OFFERING, 0)} offerings, {by_kind.get(CATEGORY, 0)} categories and "
            f"{by_kind.get(HISTORY, 0)} history documents")


def demo_presence(container: Container) -> str | None:
    """One line saying that demo data is in the store (None: there is none)."""
    from services.demo_data import DEMO_SOURCE

    catalogue = container.catalog.count_source(DEMO_SOURCE)
    history = container.history.count_source(DEMO_SOURCE)
    if not any(catalogue.values()) and not history:
        return None
    return (f"demo data present: {catalogue['productOffering']} offerings, {catalogue['category']} categories, "
            f"{history} history documents (tmf680 demo remove takes them away)")
