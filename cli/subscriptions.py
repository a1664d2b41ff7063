"""``tmf680 subscribe``, ``unsubscribe`` and ``subscriptions``: this component's subscriptions to
the TMF620 catalogue, TMF637 inventory and TMF622 order events at those APIs' hubs."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import click

from cli import common

if TYPE_CHECKING:
    from app.container import Container
    from services.subscriptions import SubscriptionService


def _api_root(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise click.BadParameter("must be an absolute http(s) URL (the API root, e.g. "
                                 "https://catalog.example.com/tmf-api/productCatalogManagement/v4)")
    return value


@contextlib.contextmanager
def _service(container: Container, retries: int, timeout_s: float) -> Iterator[SubscriptionService]:
    """The subscription service with a hub client per API root, closed at the end."""
    from outbound.hub_client import HubClient
    from services.subscriptions import SubscriptionService

    clients: list[HubClient] = []

    def hub_for(root: str) -> HubClient:
        clients.append(HubClient(root, retries=retries, timeout_s=timeout_s))
        return clients[-1]

    try:
        yield SubscriptionService(container.subscriptions, hub_for)
    finally:
        for client in clients:
            client.close()


def _root_option(name: str, what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(name, metavar="URL", callback=lambda _c, _p, v: _api_root(v), help=what)


@click.command()
@_root_option("--tmf620", "TMF620 Product Catalog API root; its catalogue is synced after a new subscription.")
@_root_option("--tmf637", "TMF637 Product Inventory API root.")
@_root_option("--tmf622", "TMF622 Product Ordering API root.")
@click.option("--callback-base", metavar="URL", default=None,
              help="This server's address as the hubs reach it (default: TMF680_PUBLIC_URL).")
@click.option("--allow-loopback", is_flag=True, help="Accept a loopback callback (the hubs run on this machine).")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(0.1, 600))
def subscribe(tmf620: str | None, tmf637: str | None, tmf622: str | None, callback_base: str | None,
              allow_loopback: bool, retries: int, timeout_s: float) -> None:
    """Register this server's listeners at the hubs of the given APIs (POST <API root>/hub with the
    event types it uses) and store the subscription ids; a new TMF620 subscription is followed by a
    full catalogue sync, so nothing between the snapshot and the first event is lost.

    Already subscribed with the same callback: nothing is sent again."""
    from cli.catalog import sync_from
    from outbound.hub_client import HubError
    from services.subscriptions import TMF620, TMF622, TMF637, SubscriptionError, check_callback_base

    targets = {api: url for api, url in ((TMF620, tmf620), (TMF637, tmf637), (TMF622, tmf622)) if url}
    if not targets:
        raise click.UsageError("name at least one API: --tmf620, --tmf637 or --tmf622")
    settings = common.settings()
    try:
        base = check_callback_base(callback_base or settings.public_url, allow_loopback)
    except SubscriptionError as exc:
        raise click.UsageError(exc.message) from exc
    with common.container(settings) as container:
        try:
            with _service(container, retries, timeout_s) as service:
                outcomes = service.subscribe(targets, base)
        except HubError as exc:
            raise click.ClickException(str(exc)) from exc
        for outcome in outcomes:
            click.echo(f"{outcome.api}: {outcome.status} at {outcome.hub}/hub (id {outcome.id}), "
                       f"callback {outcome.callback}" + (f"; {outcome.note}" if outcome.note else ""))
        for outcome in outcomes:
            if outcome.api == TMF620 and outcome.status in ("subscribed", "found at the hub"):
                try:
                    sync_from(outcome.hub, container, retries=retries, timeout_s=timeout_s)
                except click.ClickException as exc:
                    raise click.ClickException(f"subscribed, but the catalogue sync failed: {exc.message} "
                                               f"(run tmf680 catalog sync --from {outcome.hub})") from exc


@click.command()
@click.option("--api", "apis", multiple=True, type=click.Choice(["tmf620", "tmf637", "tmf622"]),
              help="Only this API's subscriptions (repeatable; default: all).")
@click.option("--retries", default=5, show_default=True, type=click.IntRange(0, 20))
@click.option("--timeout", "timeout_s", default=30.0, show_default=True, type=click.FloatRange(0.1, 600))
def unsubscribe(apis: tuple[str, ...], retries: int, timeout_s: float) -> None:
    """Remove the stored subscriptions at their hubs (DELETE <API root>/hub/{id}) and here.

    A hub that does not answer keeps its subscription stored here (listed as kept, exit status 1):
    run unsubscribe again once it is back."""
    settings = common.settings()
    with common.container(settings) as container, _service(container, retries, timeout_s) as service:
        outcomes = service.unsubscribe(apis or None)
    if not outcomes:
        click.echo("no subscriptions")
    for outcome in outcomes:
        click.echo(f"{outcome.api}: {outcome.status} at {outcome.hub}/hub (id {outcome.id})"
                   + (f": {outcome.note}" if outcome.note else ""))
    kept = [o for o in outcomes if o.status == "kept"]
    if kept:
        raise click.ClickException(f"{len(kept)} subscription(s) kept, their hub did not answer: run tmf680 "
                                   "unsubscribe again to remove them")


@click.command()
def subscriptions() -> None:
    """List this server's subscriptions at other APIs' hubs."""
    settings = common.settings()
    with common.container(settings) as container:
        stored = container.subscriptions.all()
    if not stored:
        click.echo("no subscriptions")
    for s in stored:
        click.echo(f"{s['api']}  {s['hub']}/hub  id={s['id']}  callback={s['callback']}  "
                   f"since {s['created']:%Y-%m-%dT%H:%M:%SZ}")
