"""Subscribing this component to the events of the APIs it mirrors (TMF620 catalogue, TMF637
inventory, TMF622 orders): register a callback at each API's TMF630 hub, remember the hub's
subscription id, and remove it again.

The callback is the address the hub POSTs every event to; it is this server's listener for that
API (``<callback base><API base path>/listener``, events dispatched by ``eventType``), with the
callback base from ``TMF680_PUBLIC_URL`` (or given explicitly). A loopback callback is refused
unless allowed: a hub elsewhere could never reach it. The ``query`` limits the events to the types
the listener uses, in TMF630 filter syntax (``eventType=A,B`` is an OR).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from services.callback_policy import system_resolver
from services.errors import InvalidRequest

TMF620, TMF637, TMF622 = "tmf620", "tmf637", "tmf622"
# The API base paths of the official documents (their basePath), where this server mounts the listeners.
API_PATHS = {
    TMF620: "/tmf-api/productCatalogManagement/v4",
    TMF637: "/tmf-api/productInventory/v4",
    TMF622: "/tmf-api/productOrderingManagement/v4",
}
# The notification types (their definitions' names in the documents) the listener acts on.
API_EVENTS: dict[str, tuple[str, ...]] = {
    TMF620: tuple(f"{resource}{change}Event" for resource in ("Category", "ProductOffering")
                  for change in ("Create", "AttributeValueChange", "StateChange", "Delete")),
    TMF637: tuple(f"Product{change}Event" for change in ("Create", "AttributeValueChange", "StateChange", "Delete")),
    TMF622: tuple(f"ProductOrder{change}Event" for change in ("Create", "AttributeValueChange", "StateChange",
                                                              "Delete")),
}
LISTENER_PATH = "/listener"


class SubscriptionError(InvalidRequest):
    """The subscription cannot be made as asked (no callback base, a loopback callback, ...)."""


def event_query(api: str) -> str:
    return "eventType=" + ",".join(API_EVENTS[api])


def callback_url(callback_base: str, api: str) -> str:
    return f"{callback_base.rstrip('/')}{API_PATHS[api]}{LISTENER_PATH}"


def is_loopback(url: str, resolver: Callable[[str, int], list[str]] = system_resolver) -> bool:
    """The URL's host is, or resolves to, a loopback address (a name that does not resolve here is
    not judged: the hub may resolve it)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = resolver(host, parts.port or 443)
    except OSError:
        return False
    return any(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def check_callback_base(callback_base: str, allow_loopback: bool,
                        resolver: Callable[[str, int], list[str]] = system_resolver) -> str:
    """The callback base without a final slash; refuses a relative, credentialed or (unless
    allowed) loopback one."""
    if not callback_base:
        raise SubscriptionError("no callback address: set TMF680_PUBLIC_URL (this server's public address) "
                                "or give --callback-base")
    parts = urlsplit(callback_base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionError(f"the callback base must be an absolute http(s) URL, got {callback_base!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise SubscriptionError("the callback base must not carry credentials, a query or a fragment")
    if not allow_loopback and is_loopback(callback_base, resolver):
        raise SubscriptionError(f"the callback base {callback_base!r} is a loopback address, which a hub on "
                                "another machine cannot reach; use the public address (or --allow-loopback "
                                "when the hub runs on this machine)")
    return callback_base.rstrip("/")


class HubFailure(RuntimeError):
    """A hub did not answer usably (refused, unreachable, kept failing)."""


@dataclass(frozen=True)
class Registration:
    """This callback's subscription at one hub."""

    id: str
    found: bool = False  # an existing subscription with this callback and query was taken, none registered
    duplicates_removed: int = 0  # more subscriptions with this callback (left by retried attempts), deleted
    unchecked: bool = False  # a retried attempt may have registered too, and the hub cannot list to tell


class Hub(Protocol):
    def register(self, callback: str, query: str | None) -> Registration: ...

    def unregister(self, subscription_id: str) -> bool: ...


class SubscriptionStore(Protocol):
    def add(self, api: str, hub: str, subscription_id: str, callback: str, query: str | None) -> None: ...

    def find(self, api: str, hub: str) -> dict[str, Any] | None: ...

    def all(self, api: str | None = None) -> list[dict[str, Any]]: ...

    def remove(self, api: str, hub: str) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    api: str
    hub: str
    id: str
    callback: str
    status: str  # "subscribed", "already subscribed", "found at the hub", "unsubscribed", "already gone", "kept"
    note: str = ""  # what else happened, or why a subscription was kept


class SubscriptionService:
    """``hub_for(api_root)`` gives the client of one API's hub (``<api_root>/hub``)."""

    def __init__(self, store: SubscriptionStore, hub_for: Callable[[str], Hub]) -> None:
        self._store = store
        self._hub_for = hub_for

    def subscribe(self, targets: dict[str, str], callback_base: str) -> list[Outcome]:
        """Register at each API root of ``targets`` (api → root) not yet subscribed with this
        callback; a subscription stored for another callback is replaced (the old one removed)."""
        outcomes = []
        for api, given in targets.items():
            root = given.rstrip("/")
            callback = callback_url(callback_base, api)
            stored = self._store.find(api, root)
            if stored and stored["callback"] == callback:
                outcomes.append(Outcome(api, root, stored["id"], callback, "already subscribed"))
                continue
            hub = self._hub_for(root)
            query = event_query(api)
            registration = hub.register(callback, query)
            self._store.add(api, root, registration.id, callback, query)
            if stored:  # the new one is in place: the old callback's can go
                hub.unregister(stored["id"])
            outcomes.append(Outcome(api, root, registration.id, callback,
                                    "found at the hub" if registration.found else "subscribed",
                                    _registration_note(registration)))
        return outcomes

    def unsubscribe(self, apis: Iterable[str] | None = None) -> list[Outcome]:
        """Remove the stored subscriptions (of ``apis`` only, when given) at their hubs, then here.

        A subscription whose hub does not answer (after the retries) is kept here, status ``kept``,
        so that a later ``unsubscribe`` removes it; the others are still removed."""
        wanted = set(apis) if apis else None
        outcomes = []
        for stored in self._store.all():
            if wanted is not None and stored["api"] not in wanted:
                continue
            try:
                known = self._hub_for(stored["hub"]).unregister(stored["id"])
            except HubFailure as exc:
                outcomes.append(Outcome(stored["api"], stored["hub"], stored["id"], stored["callback"], "kept",
                                        str(exc)))
                continue
            self._store.remove(stored["api"], stored["hub"])
            outcomes.append(Outcome(stored["api"], stored["hub"], stored["id"], stored["callback"],
                                    "unsubscribed" if known else "already gone"))
        return outcomes

    def subscriptions(self) -> list[dict[str, Any]]:
        return self._store.all()


def _registration_note(registration: Registration) -> str:
    if registration.unchecked:
        return ("a retried registration may have been made twice, and the hub does not list its subscriptions "
                "to tell: its events would arrive twice, which the listener ignores")
    if registration.duplicates_removed:
        return f"{registration.duplicates_removed} duplicate subscription(s) of retried attempts deleted at the hub"
    return ""
