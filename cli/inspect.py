"""Read-only views of the store: ``status``, ``deliveries``, ``listener-events``."""

from __future__ import annotations

import json
from typing import Any

import click

from cli import common


@click.command()
@click.option("--status", type=click.Choice(["pending", "delivered", "failed", "cancelled"]), default=None,
              help="Only deliveries in this state.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def deliveries(status: str | None, limit: int) -> None:
    """List event deliveries to hub callbacks (oldest first) and the count of each state."""
    settings = common.settings()
    with common.container(settings) as container:
        counts = container.notifications.counts()
        click.echo("deliveries: " + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none"))
        for d in container.notifications.deliveries(status, limit):
            click.echo(f"{d['status']:<10} attempts={d.get('attempts', 0):<3} seq={d['seq']:<6} "
                       f"event={d['eventId']} subscription={d['subscription']} callback={d['callback']}"
                       + (f" last error: {d['lastError']}" if d.get("lastError") else ""))


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def status(as_json: bool) -> None:
    """Summarise the store: queries per state, subscriptions and deliveries, catalogue, history and model."""
    settings = common.settings()
    with common.container(settings) as container:
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
        click.echo(json.dumps(summary, default=common.json_default))
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


@click.command("listener-events")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--type", "event_type", default=None, help="Only this eventType.")
def listener_events(limit: int, event_type: str | None) -> None:
    """Print the events the listener endpoints received, newest first, one JSON object per line."""
    settings = common.settings()
    with common.container(settings) as container:
        for record in container.listener.recent(limit, event_type):
            click.echo(json.dumps(record, default=common.json_default, ensure_ascii=False))
