"""The ``tmf680`` command line."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from app.settings import CONFIG_ENV, Settings, SettingsError

if TYPE_CHECKING:
    from app.container import Container
    from services.imports import ImportReport


def _settings() -> Settings:
    try:
        return Settings.load()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc


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
    _settings()  # a bad configuration stops every command with a clear message


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Load the demo data set and train first if no catalogue is loaded.")
def serve(host: str, port: int, demo: bool) -> None:
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
        container = app.app.extensions["tmf680"]
        if demo and not container.catalog.counts()["productOffering"]:
            load_demo_data(container)
        click.echo(f"TMF680 API at http://{host}:{port}{settings.base_path}/queryProductRecommendation", err=True)
        # the app writes its own JSON access line per request (app/request_log.py)
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower(), proxy_headers=True,
                    access_log=False)
    finally:
        if embedded is not None:
            embedded.stop()
            click.echo("embedded MongoDB stopped", err=True)


def _open_input(path: str) -> IO[str]:
    """A text stream of FILE (``-`` for stdin; ``.gz`` files are decompressed)."""
    if path == "-":
        return sys.stdin
    if not Path(path).is_file():
        raise click.BadParameter(f"no such file: {path}", param_hint="FILE")
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


@contextlib.contextmanager
def _container(settings: Settings) -> Iterator[Container]:
    """Storage and services for a command: MONGODB_URI, the running embedded server's mongod, or
    a private embedded mongod for the duration of the command."""
    from app.container import build_container
    from app.embedded_mongo import EmbeddedMongoError, mongo_uri
    from services.errors import StoreUnavailable

    try:
        with mongo_uri(settings.mongodb_uri, settings.data_dir) as uri:
            container = build_container(settings.replace(mongodb_uri=uri))
            try:
                yield container
            finally:
                container.close()
    except EmbeddedMongoError as exc:
        raise click.ClickException(str(exc)) from exc
    except StoreUnavailable as exc:
        raise click.ClickException(f"{exc.message} ({settings.mongodb_uri or 'embedded'})") from exc


def _progress(desc: str, total: int | None = None) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=" docs", file=sys.stderr, disable=None, dynamic_ncols=True)


def _report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        written = ", ".join(f"{n} {kind}" for kind, n in sorted(report.written.items())) or "nothing"
        click.echo(f"read {report.read} documents, wrote {written}, {len(report.errors)} rejected")
    for error in report.errors[:50]:
        click.echo(f"  line {error.line}: {error.message}", err=True)
    if len(report.errors) > 50:
        click.echo(f"  ... and {len(report.errors) - 50} more", err=True)


@main.group()
def catalog() -> None:
    """Load the TMF620 product catalogue (productOffering, category) the engine recommends from."""


@catalog.command("import")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def catalog_import(file: str, as_json: bool) -> None:
    """Upsert offerings and categories from FILE (JSON array, NDJSON, {"category": [...],
    "productOffering": [...]}; .gz accepted; - for stdin). Bad documents are reported by line."""
    from services.imports import import_catalog

    _import_file(file, as_json, "catalogue", lambda items, c, bar: import_catalog(items, c.catalog, bar))


@catalog.command("sync")
@click.option("--from", "base_url", required=True, metavar="BASE_URL",
              help="TMF620 API root, e.g. https://catalog.example.com/tmf-api/productCatalogManagement/v4")
@click.option("--page-size", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(0.1, 600))
def catalog_sync(base_url: str, page_size: int, retries: int, timeout_s: float) -> None:
    """Pull category and productOffering from a TMF620 server page by page (offset/limit)."""
    from app.tmf620_client import CatalogSyncError, Tmf620Client
    from services.imports import CATEGORY, PRODUCT_OFFERING, import_catalog

    if not base_url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an absolute http(s) URL", param_hint="--from")
    settings = _settings()
    client = Tmf620Client(base_url, page_size=page_size, retries=retries, timeout_s=timeout_s)
    totals: dict[str, int] = {}
    rejected = 0
    try:
        with _container(settings) as container:
            for resource in (CATEGORY, PRODUCT_OFFERING):
                with _progress(resource) as bar:
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


@main.group()
def history() -> None:
    """Load customer history: TMF637 products held and TMF622 product orders."""


@history.command("import")
@click.argument("file")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def history_import(file: str, as_json: bool) -> None:
    """Upsert TMF637 Product and TMF622 ProductOrder documents from FILE (JSON array or NDJSON;
    .gz accepted; - for stdin). Malformed lines are reported with their line numbers."""
    from services.imports import import_history

    _import_file(file, as_json, "history", lambda items, c, bar: import_history(items, c.history, bar))


def _import_file(file: str, as_json: bool, label: str,
                 run: Callable[[Iterator[Any], Container, Callable[[int], Any]], ImportReport]) -> None:
    """Read FILE with line numbers, import it with a progress bar, print the summary; exit 1 when
    nothing in a non-empty file could be imported."""
    from services.documents import read_documents

    settings = _settings()
    stream = _open_input(file)
    with _container(settings) as container, stream, _progress(label) as bar:
        report = run(read_documents(stream), container, bar.update)
    _report(report, as_json)
    if report.read and not any(report.written.values()):
        raise SystemExit(1)


@main.command()
@click.option("--kind", default="ease", show_default=True, type=click.Choice(["ease", "popularity", "cooccurrence"]))
@click.option("--l2", type=click.FloatRange(min=0, min_open=True), default=None,
              help="EASE regularisation (default: the engine's).")
@click.option("--seed", default=0, show_default=True, type=int)
def train(kind: str, l2: float | None, seed: int) -> None:
    """Train a model on the stored history and publish it as a new version (servers pick it up)."""
    from services.training import TrainingError, train_and_publish

    settings = _settings()
    params = {"l2": l2} if l2 is not None and kind == "ease" else {}
    with _container(settings) as container:
        try:
            with _progress("reading history") as bar:
                bar.unit = " interactions"
                version, model = train_and_publish(container.history, container.models, kind, params, seed,
                                                   progress=bar.update)
        except TrainingError as exc:
            raise click.ClickException(str(exc)) from exc
    meta = model.metadata
    click.echo(f"model v{version}: {kind} {model.params} on {meta['nUsers']} customers x {meta['nItems']} "
               f"offerings ({meta['nInteractions']} interactions), trained in {meta['trainingSeconds']:.2f} s, "
               f"{model.nbytes / 1e6:.1f} MB")


@main.command()
@click.option("--seeds", default=5, show_default=True, type=click.IntRange(1, 50), help="Number of seeds (0..n-1).")
@click.option("--k", default=3, show_default=True, type=click.IntRange(1, 50))
@click.option("--l2", type=float, default=None, help="Fix EASE's lambda instead of tuning it per seed.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, help="Write a PNG of HR@k, k=1..10.")
@click.option("--context-category", "context_categories", multiple=True, metavar="ID",
              help="Offerings in this category (and its sub-categories) stay as context and are never the "
                   "hidden target, e.g. contracts. Repeatable.")
def evaluate(seeds: int, k: int, l2: float | None, as_json: bool, plot: str | None,
             context_categories: tuple[str, ...]) -> None:
    """Seeded leave-one-out on the stored history with the server's eligibility rules: HR@k, NDCG@k,
    MRR and coverage for the engine (EASE) and the popularity and co-occurrence baselines.

    Each customer holding at least two (target) offerings has one hidden per seed; every model is
    trained on the rest and ranks the catalogue as the server would. Mean ± std over the seeds."""
    from datetime import UTC, datetime

    from recommender import Catalog
    from recommender.evaluation import evaluate as run
    from recommender.evaluation import plot_hit_rate

    settings = _settings()
    with _container(settings) as container:
        catalog_ = Catalog.from_documents(container.catalog.offerings(), container.catalog.categories())
        holdings = container.history.current_holdings(datetime.now(UTC))
    if not len(catalog_) or not holdings:
        raise click.ClickException("no catalogue or no history to evaluate (tmf680 demo load)")
    unknown = catalog_.unknown_categories(context_categories)
    if unknown:
        raise click.BadParameter(f"unknown category {', '.join(unknown)}", param_hint="--context-category")
    hideable = None
    if context_categories:
        context_mask = catalog_.category_mask(list(context_categories))
        hideable = [oid for oid, in_context in zip(catalog_.ids, context_mask, strict=True) if not in_context]
    click.echo(f"evaluating on {len(holdings)} customers, {len(catalog_)} offerings, {seeds} seeds ...", err=True)
    with _progress("seeds", seeds) as bar:
        result = run(catalog_, holdings, seeds=tuple(range(seeds)), k=k, ease_l2=l2, hideable=hideable,
                     on_seed_done=lambda _seed: bar.update(1))
    if plot:
        plot_hit_rate(result, plot, title="leave-one-out hit rate")
        click.echo(f"plot written to {plot}", err=True)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    metrics = [f"HR@{k}", f"NDCG@{k}", "MRR", f"coverage@{k}"]
    click.echo(f"{'model':<26}" + "".join(f"{m:>14}" for m in metrics))
    for name, summary in result["models"].items():
        cells = "".join(f"{summary['mean'][m]:>8.3f}±{summary['std'][m]:.3f}" for m in metrics)
        click.echo(f"{name:<26}{cells}")
    protocol = result["protocol"]
    click.echo(f"(test customers per seed: {protocol['testCustomers']}; EASE lambda: {protocol['easeL2']})")


@main.group()
def demo() -> None:
    """The demo data set (IBM Telco Customer Churn sample as TMF620/TMF637 documents)."""


@demo.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when a catalogue is already loaded.")
def demo_load(if_empty: bool) -> None:
    """Import the demo catalogue and the 7,043 customers' products, then train the model."""
    settings = _settings()
    with _container(settings) as container:
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
    with _progress("demo products", len(products)) as bar:
        history_report = import_history(enumerate(products, 1), container.history, bar.update)
    click.echo(f"demo history: {history_report.written}, {len(history_report.errors)} rejected", err=True)
    version, model = train_and_publish(container.history, container.models)
    click.echo(f"model v{version} trained ({model.kind}, {model.metadata['trainingSeconds']:.2f} s)", err=True)


@main.command()
def worker() -> None:
    """Run the task and delivery workers alone (no API), until SIGTERM or Ctrl-C.

    Run several, on several machines sharing one MongoDB: tasks are claimed with a lease and
    deliveries are ordered per subscription, so they share the work safely."""
    from app.request_log import configure_logging

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_on_signal)
    with _container(settings) as container:
        container.workers.start()
        click.echo(f"worker {container.tasks.owner} running", err=True)
        try:
            container.workers.wait()
        finally:
            click.echo("worker stopping", err=True)


@main.command()
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "cancelled"]), default=None,
              help="Only deliveries in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def deliveries(status: str | None, limit: int) -> None:
    """List event deliveries to hub callbacks (oldest first) and the count of each state."""
    settings = _settings()
    with _container(settings) as container:
        counts = container.notifications.counts()
        click.echo("deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
        for d in container.notifications.deliveries(status, limit):
            click.echo(f"{d['status']:<10} attempts={d.get('attempts', 0):<3} seq={d['seq']:<6} "
                       f"event={d['eventId']} subscription={d['subscription']} callback={d['callback']}"
                       + (f" last error: {d['lastError']}" if d.get("lastError") else ""))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(as_json: bool) -> None:
    """Summarise the store: queries per state, subscriptions and deliveries, catalogue, history and model."""
    settings = _settings()
    with _container(settings) as container:
        models = container.models.versions(limit=1)
        summary: dict[str, Any] = {
            "database": settings.db_name,
            "queries": container.query_store.counts_by_state(),
            "hubSubscriptions": container.hub_store.count(),
            "deliveries": container.notifications.counts(),
            "listenerEvents": container.listener_store.count(),
            "catalogue": {**container.catalog.counts(), "version": container.catalog.version()},
            "historyDocuments": container.history.count(),
            "model": ({"version": models[0]["version"], "kind": models[0]["meta"].get("kind"),
                       "created": models[0]["created"]} if models else None),
        }
    if as_json:
        click.echo(json.dumps(summary, default=_json_default))
        return
    queries = summary["queries"]
    click.echo(f"database          {summary['database']}")
    click.echo(f"queries           {sum(queries.values())} ("
               + (", ".join(f"{n} {s}" for s, n in sorted(queries.items())) or "none") + ")")
    click.echo(f"pending tasks     {queries.get('accepted', 0) + queries.get('inProgress', 0)}")
    deliveries = summary["deliveries"]
    click.echo(f"hub               {summary['hubSubscriptions']} subscriptions; deliveries: "
               + (", ".join(f"{n} {s}" for s, n in sorted(deliveries.items())) or "none"))
    catalogue = summary["catalogue"]
    click.echo(f"catalogue         v{catalogue['version']}: {catalogue['productOffering']} offerings, "
               f"{catalogue['category']} categories")
    click.echo(f"history           {summary['historyDocuments']} documents")
    model = summary["model"]
    trained = f"v{model['version']} ({model['kind']}, trained {model['created']:%Y-%m-%d %H:%M:%S %Z})" if model else ""
    click.echo(f"model             {trained or 'none (tmf680 train)'}")
    click.echo(f"listener events   {summary['listenerEvents']}")


@main.command("listener-events")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--type", "event_type", default=None, help="Only this eventType.")
def listener_events(limit: int, event_type: str | None) -> None:
    """Print the events the listener endpoints received, newest first, one JSON object per line."""
    settings = _settings()
    with _container(settings) as container:
        for record in container.listener.recent(limit, event_type):
            click.echo(json.dumps(record, default=_json_default, ensure_ascii=False))


def _exit_on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(type(value).__name__)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
