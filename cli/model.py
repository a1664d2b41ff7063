"""``tmf680 train`` and ``tmf680 evaluate``: models from the stored history."""

from __future__ import annotations

import importlib.util
import json

import click

from cli import common


@click.command()
@click.option("--kind", default="ease", show_default=True, type=click.Choice(["ease", "popularity", "cooccurrence"]))
@click.option("--l2", type=click.FloatRange(min=0, min_open=True), default=None,
              help="EASE regularisation (default: the engine's).")
@click.option("--seed", default=0, show_default=True, type=int)
def train(kind: str, l2: float | None, seed: int) -> None:
    """Train a model on the stored history and publish it as a new version (servers pick it up)."""
    from services.training import TrainingError, train_and_publish

    settings = common.settings()
    params = {"l2": l2} if l2 is not None and kind == "ease" else {}
    with common.container(settings) as container:
        try:
            with common.progress("reading history") as bar:
                bar.unit = " interactions"
                version, model = train_and_publish(container.history, container.models, kind, params, seed,
                                                   progress=bar.update)
        except TrainingError as exc:
            raise click.ClickException(str(exc)) from exc
    meta = model.metadata
    click.echo(f"model v{version}: {kind} {model.params} on {meta['nUsers']} customers x {meta['nItems']} "
               f"offerings ({meta['nInteractions']} interactions), trained in {meta['trainingSeconds']:.2f} s, "
               f"{model.nbytes / 1e6:.1f} MB")


@click.command()
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

    if plot and importlib.util.find_spec("matplotlib") is None:  # before minutes of evaluation, not after
        raise click.UsageError("--plot needs matplotlib: pip install 'tmf680-recommendation[plot]' "
                               "(or pip install matplotlib)")

    settings = common.settings()
    with common.container(settings) as container:
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
    with common.progress("seeds", seeds) as bar:
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
