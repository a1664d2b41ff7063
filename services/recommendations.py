"""From a queryProductRecommendation to ranked, eligible product offerings.

``EngineProvider`` keeps the current ``recommender.Engine`` (catalogue + newest model) and rebuilds
it when the catalogue or model version in the store changes, so running servers pick up a new
model without a restart. ``RecommendationProcessor`` is the ``TaskProcessor`` the query service
calls on create: it reads the query's context, refuses unknown catalogue references, and (unless
``instantSyncRecommendation: false`` asks for an asynchronous task) fills ``recommendationItem`` and
sets ``state: done``.

How the query's attributes are read (documented in the README):
- ``relatedParty.id`` → the customer's current holdings (imported TMF637 products and TMF622 orders
  in flight); held offerings are never recommended;
- ``shoppingCartItem[]``/``productOrderItem[]`` (ItemRef): with ``@referredType: ProductOffering``,
  ``itemId`` (else ``entityId``) is an offering id and must exist; otherwise ``itemId``/``entityId``
  naming a catalogue offering is used, and a ``productOrderItem`` is also resolved through imported
  orders (``entityId`` = order id, ``itemId`` = order item id); ``productOrder[].id`` → the offerings of
  that imported order. All of them count as held for eligibility and as positive signals;
- ``channel[].id``, ``place.id``, ``category[].id`` (with sub-categories) filter; unknown ids → 400;
- ``recommendationType``: see ``recommender.context``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np

from recommender import Catalog, Engine, RecommendationContext, TrainedModel
from recommender.engine import Recommendation
from services.errors import UnknownReference
from services.ports import CatalogChanges, Document

log = logging.getLogger(__name__)
OFFERING_REF_TYPE = "ProductOffering"
CLOCK_SKEW_S = 30.0  # how far the clocks of the machines writing the catalogue may be apart


class CatalogSource(Protocol):
    def version(self) -> int: ...

    def offerings(self) -> list[dict[str, Any]]: ...

    def categories(self) -> list[dict[str, Any]]: ...

    def changes_since(self, seq: int) -> CatalogChanges: ...

    def counts(self) -> dict[str, int]: ...

    def version_written_before(self, when: datetime) -> int:
        """A catalogue version every write of which started before ``when`` (a lower bound)."""


class ModelSource(Protocol):
    def latest_version(self) -> int: ...

    def load_arrays(self, version: int) -> tuple[dict[str, Any], Mapping[str, np.ndarray], datetime] | None:
        """Metadata and arrays of a stored model (servers: mapped from the machine's file cache)."""


class HistorySource(Protocol):
    def held_offerings(self, customer_id: str, now: datetime) -> frozenset[str]: ...

    def order_offerings(self, order_ids: Iterable[str], item_refs: Iterable[tuple[str, str]] = ()) -> frozenset[str]:
        ...


@dataclass(frozen=True)
class EngineState:
    engine: Engine
    catalog_version: int
    model_version: int
    model_created: datetime | None
    catalog_settled: int = 0  # every write with a version up to this one is in the engine's catalogue


class EngineProvider:
    """The engine for the current catalogue and model, rebuilt when either changes in the store.

    Versions are looked up at most every ``refresh_s`` seconds (two tiny indexed reads), on the
    request path; a rebuild happens under a lock while other requests keep the previous engine.

    The catalogue is read whole once; after that only the documents written since the loaded version
    (``changes_since``), so one changed offering costs one small read. A writer takes its version
    before its write lands, so a write can appear after a refresh that already saw a later version:
    each refresh therefore reads again from the version of the refresh before it (``catalog_settled``),
    and a version counts as settled only one refresh interval after it was seen.

    The first (whole) read has no refresh before it: a write that took its version before the read
    and landed after it would be missed, and stay missed (later refreshes read only newer versions).
    So the whole read counts as settled only up to the newest version whose write started more than
    one refresh interval (plus ``CLOCK_SKEW_S`` between machines' clocks) before it; the first
    refresh reads again what was written since, which is little or nothing on a running system.
    """

    def __init__(self, catalog: CatalogSource, models: ModelSource, refresh_s: float = 5.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 after_rebuild: Callable[[], object] | None = None,
                 wall: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """``after_rebuild`` runs once a new engine has replaced the previous one (the process
        can then give the memory of the loading and of the old engine back to the system)."""
        self._catalog = catalog
        self._models = models
        self._refresh_s = refresh_s
        self._monotonic = monotonic
        self._after_rebuild = after_rebuild
        self._wall = wall
        self._state: EngineState | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> EngineState:
        state = self._state
        if state is not None and self._monotonic() - self._checked < self._refresh_s:
            return state
        if state is not None and not self._lock.acquire(blocking=False):
            return state  # another thread is checking; serve the engine we have
        if state is None:
            self._lock.acquire()
        try:
            if self._state is None or self._monotonic() - self._checked >= self._refresh_s:
                previous = self._state
                self._state = self._refresh(previous)
                self._checked = self._monotonic()
                rebuilt = previous is None or self._state.engine is not previous.engine
                state = previous = None  # this call's hold on the old engine (requests may still have theirs)
                if rebuilt and self._after_rebuild is not None:
                    self._after_rebuild()
            return self._state
        finally:
            self._lock.release()

    def _same_size(self, catalog: Catalog) -> bool:
        """The store holds as many live offerings and categories as ``catalog`` (one count each)."""
        return _sizes(self._catalog.counts()) == (len(catalog), len(catalog.categories))

    def _refresh(self, state: EngineState | None) -> EngineState:
        catalog_version = self._catalog.version()
        model_version = self._models.latest_version()
        if (state and (state.catalog_version, state.model_version) == (catalog_version, model_version)
                and state.catalog_settled >= catalog_version):
            return state
        started = time.perf_counter()
        if state is None or catalog_version < state.catalog_version:  # first load, or a new store
            settled = min(catalog_version, self._catalog.version_written_before(
                self._wall() - timedelta(seconds=self._refresh_s + CLOCK_SKEW_S)))
            catalog = Catalog.from_documents(self._catalog.offerings(), self._catalog.categories())
        else:
            changes = self._catalog.changes_since(state.catalog_settled)
            catalog = state.engine.catalog.changed(changes.offerings, changes.categories) if changes \
                else state.engine.catalog
            settled = state.catalog_version
            if catalog_version != state.catalog_version and not self._same_size(catalog):
                # documents were removed outright (not retired): only a whole read can tell which
                catalog = Catalog.from_documents(self._catalog.offerings(), self._catalog.categories())
            if catalog is state.engine.catalog and state.model_version == model_version:
                return EngineState(state.engine, catalog_version, model_version, state.model_created, settled)
        model, created = None, None
        if state is not None and state.model_version == model_version:
            model, created = state.engine.model, state.model_created
        elif model_version:
            loaded = self._models.load_arrays(model_version)
            if loaded is not None:
                meta, arrays, created = loaded
                model = TrainedModel.from_arrays(meta, arrays)
        log.info("engine ready: catalogue v%s (%d offerings), model v%s (%s) in %.3f s", catalog_version,
                 len(catalog), model_version, model.kind if model else "none", time.perf_counter() - started)
        return EngineState(Engine(catalog, model), catalog_version, model_version, created, settled)


def _sizes(counts: Mapping[str, int]) -> tuple[int, int]:
    return counts.get("productOffering", 0), counts.get("category", 0)


def _ids(refs: Any) -> tuple[str, ...]:
    if not isinstance(refs, list):
        return ()
    return tuple(dict.fromkeys(str(r["id"]) for r in refs if isinstance(r, Mapping) and r.get("id") not in (None, "")))


def _place_ids(resource: Mapping[str, Any]) -> tuple[str, ...]:
    place = resource.get("place")
    return _ids([place]) if isinstance(place, Mapping) else ()


def _is_offering_ref(ref: Mapping[str, Any]) -> bool:
    return str(ref.get("@referredType") or "").replace(" ", "").lower() == OFFERING_REF_TYPE.lower()


@dataclass(frozen=True)
class CartRefs:
    """What a query says the customer is buying now, before it is resolved to offering ids."""

    offering_ids: tuple[str, ...]  # ids given explicitly as ProductOffering references
    loose_ids: tuple[str, ...]  # itemId/entityId values that may name an offering
    order_ids: tuple[str, ...]
    order_items: tuple[tuple[str, str], ...]


def cart_refs(resource: Mapping[str, Any]) -> CartRefs:
    explicit: list[str] = []
    loose: list[str] = []
    order_items: list[tuple[str, str]] = []
    for key in ("shoppingCartItem", "productOrderItem"):
        for ref in resource.get(key) or ():
            if not isinstance(ref, Mapping):
                continue
            item_id, entity_id = ref.get("itemId"), ref.get("entityId")
            if _is_offering_ref(ref):
                if item_id or entity_id:
                    explicit.append(str(item_id or entity_id))
                continue
            loose.extend(str(v) for v in (item_id, entity_id) if v)
            if key == "productOrderItem" and entity_id and item_id:
                order_items.append((str(entity_id), str(item_id)))
    return CartRefs(tuple(dict.fromkeys(explicit)), tuple(dict.fromkeys(loose)),
                    _ids(resource.get("productOrder")), tuple(dict.fromkeys(order_items)))


def recommendation_item(rec: Recommendation) -> Document:
    offering: Document = {"id": rec.offering_id, "name": rec.name, "@referredType": OFFERING_REF_TYPE}
    if rec.href:
        offering["href"] = rec.href
    return {
        "id": str(rec.priority),
        "priority": rec.priority,
        "productOffering": offering,
        "product": {"name": rec.name, "productOffering": dict(offering), "@type": "Product"},
        "@type": "RecommendationItem",
    }


class RecommendationProcessor:
    """The ``TaskProcessor`` backed by the engine."""

    def __init__(self, engines: EngineProvider, history: HistorySource, default_limit: int = 5,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engines = engines
        self._history = history
        self._limit = default_limit
        self._clock = clock

    @staticmethod
    def check_references(resource: Mapping[str, Any], catalog: Catalog) -> None:
        """Raise ``UnknownReference`` naming the categories, channels, places and offerings the
        catalogue lacks (no check while no catalogue is loaded)."""
        if not len(catalog):
            return
        unknown = {
            "category": catalog.unknown_categories(_ids(resource.get("category"))),
            "channel": catalog.unknown_channels(_ids(resource.get("channel"))),
            "place": catalog.unknown_places(_place_ids(resource)),
            "productOffering": catalog.unknown_offerings(cart_refs(resource).offering_ids),
        }
        named = [f"{kind} {', '.join(repr(i) for i in ids)}" for kind, ids in unknown.items() if ids]
        if named:
            raise UnknownReference(f"unknown {'; unknown '.join(named)} (not in the product catalogue)")

    def context(self, resource: Mapping[str, Any], catalog: Catalog) -> RecommendationContext:
        """The engine's view of the query: the customer's holdings, the cart, the filters."""
        categories = _ids(resource.get("category"))
        channels = _ids(resource.get("channel"))
        places = _place_ids(resource)
        refs = cart_refs(resource)
        now = self._clock()
        party = resource.get("relatedParty")
        customer = str(party["id"]) if isinstance(party, Mapping) and party.get("id") else None
        held = self._history.held_offerings(customer, now) if customer else frozenset()
        cart = set(refs.offering_ids) | {i for i in refs.loose_ids if i in catalog}
        if refs.order_ids or refs.order_items:
            cart |= self._history.order_offerings(refs.order_ids, refs.order_items)
        return RecommendationContext(
            customer_id=customer, held=held, cart=frozenset(cart), channel_ids=channels, place_ids=places,
            category_ids=categories, now=now, limit=self._limit,
            recommendation_type=resource.get("recommendationType") if isinstance(
                resource.get("recommendationType"), str) else None,
        )

    def recommend(self, resource: Mapping[str, Any], engine: Engine | None = None) -> Document:
        """The resource with its result: ``done`` with ranked items, or ``terminatedWithError``
        (reason in the ``stateReason`` extension attribute) when there is no catalogue to rank.
        ``engine``: the one the caller already checked the query against (else the current one)."""
        engine = engine or self._engines.current().engine
        if not len(engine.catalog):
            return {**resource, "state": "terminatedWithError",
                    "stateReason": "no product catalogue is loaded (tmf680 catalog import / demo load)"}
        ctx = self.context(resource, engine.catalog)
        items = [recommendation_item(rec) for rec in engine.recommend(ctx)]
        return {**resource, "recommendationItem": items, "state": "done"}

    def explain(self, query: Mapping[str, Any], offering_id: str) -> Document:
        """Why ``offering_id`` is (or is not) recommended for the query's customer and context: the
        same context ``recommend`` builds, read back by ``Engine.explain``. Raises
        ``UnknownReference`` for an offering, category, channel or place the catalogue lacks."""
        engine = self._engines.current().engine
        if offering_id not in engine.catalog:
            raise UnknownReference(f"unknown productOffering {offering_id!r} (not in the product catalogue)")
        self.check_references(query, engine.catalog)
        ctx = self.context(query, engine.catalog)
        found = engine.explain(ctx, offering_id)
        return {
            "productOffering": {"id": found.offering_id, "name": found.name, "@referredType": OFFERING_REF_TYPE},
            "customerId": ctx.customer_id,
            "eligible": found.eligible,
            "recommended": found.recommended,
            "priority": found.priority,
            "limit": ctx.limit,
            "score": found.score,
            "scoreBasis": found.basis,
            "reasons": list(found.reasons),
            "failedRules": list(found.failed),
            "contributions": [{"productOffering": {"id": c.offering_id, "name": c.name}, "weight": c.weight,
                               "source": c.source} for c in found.contributions],
            "held": sorted(ctx.held),
            "inCart": sorted(ctx.cart - ctx.held),
        }

    def on_create(self, resource: Document) -> Document:
        engine = self._engines.current().engine  # one engine for the check and the answer
        self.check_references(resource, engine.catalog)
        if resource.get("instantSyncRecommendation") is False:
            return resource  # stays ``accepted``: a worker computes it
        return self.recommend(resource, engine)
