"""From a :class:`RecommendationContext` to a ranked list of offerings.

One request = candidate mask (all vectorised over the catalogue: sellable now,
channel, place, category, recommendation type, relationship rules, not held,
not in cart) + model scores aligned on the catalogue index + a partial sort.

Scores: the model sums its item-item rows over the held and in-cart offerings
it knows; a customer with no known history gets item popularity (cold start).
Catalogue offerings unknown to the model score 0.0; model items that are no
longer in the catalogue are ignored as candidates (but still count as
history). Without a model every score is 0.0 and the catalogue order decides.
Ties are broken by offering id (ascending), so rankings are deterministic.

Requirement completion: when a held or in-cart offering requires something
the customer has not got (an add-on in the cart without internet), the
eligible offerings that would fulfil it are ranked first (by score among
themselves): the order cannot be fulfilled without one of them. Disable with
``Engine(..., complete_requirements=False)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recommender.catalog import Catalog
from recommender.context import RecommendationContext, RecommendationType
from recommender.eligibility import BoolArray, IntArray
from recommender.explanation import (
    BASIS_HISTORY,
    BASIS_NO_MODEL,
    BASIS_POPULARITY,
    BASIS_UNKNOWN_TO_MODEL,
    CATEGORY,
    CHANNEL,
    CROSS_SELL,
    NOT_OWNED,
    PLACE,
    RELATIONSHIPS,
    SELLABLE,
    UPSELL,
    Contribution,
    Explanation,
    filter_reason,
    rule_reasons,
)
from recommender.models.base import FloatArray
from recommender.serialization import TrainedModel


@dataclass(frozen=True, slots=True)
class Recommendation:
    offering_id: str
    name: str
    href: str | None
    score: float
    priority: int


@dataclass(frozen=True, slots=True)
class Candidates:
    """``Engine.candidate_filters``: (rule name, mask of the offerings it lets through) in order,
    the reference indices of the held and in-cart offerings, and the upsell replacements."""

    filters: tuple[tuple[str, BoolArray], ...]
    held: tuple[int, ...]
    replacements: dict[int, IntArray] | None


class Engine:
    """Ranks the offerings of one catalogue with one (optional) trained model."""

    def __init__(
        self, catalog: Catalog, model: TrainedModel | None = None, *, complete_requirements: bool = True
    ) -> None:
        self.catalog = catalog
        self.model = model
        self.complete_requirements = complete_requirements
        n = len(catalog)
        if model is None:
            self._tie_rank: IntArray = np.arange(n, dtype=np.intp)
            self._model_rows: IntArray = np.zeros(0, dtype=np.intp)
            self._catalog_cols: IntArray = np.zeros(0, dtype=np.intp)
        else:
            self._tie_rank = catalog.id_rank
            positions = np.array([catalog.index.get(oid, -1) for oid in model.vocabulary], dtype=np.intp).reshape(-1)
            self._model_rows = np.flatnonzero(positions >= 0)
            self._catalog_cols = positions[self._model_rows]

    def candidate_filters(self, ctx: RecommendationContext) -> Candidates:
        """The server's rules for this context, each as the mask of the offerings it lets through,
        in the order they apply. ``candidate_mask`` is their conjunction; ``explain`` reads them one
        by one."""
        cat = self.catalog
        n = len(cat)
        filters: list[tuple[str, BoolArray]] = [(SELLABLE, cat.sellable_at(ctx.now))]
        if ctx.channel_ids:
            filters.append((CHANNEL, cat.channel_mask(ctx.channel_ids)))
        if ctx.place_ids:
            filters.append((PLACE, cat.place_mask(ctx.place_ids)))
        if ctx.category_ids:
            filters.append((CATEGORY, cat.category_mask(ctx.category_ids)))
        held = cat.rules.refs(ctx.owned)
        held_items = [h for h in held if h < n]
        replacements: dict[int, IntArray] | None = None
        kind = ctx.type
        if kind is RecommendationType.CROSS_SELL:
            filters.append((CROSS_SELL, ~cat.items_in_categories_of(held_items)))
        elif kind is RecommendationType.UPSELL:
            replacements = {}
            allowed = np.zeros(n, dtype=bool)
            for h in held:
                replaces_h = cat.items_in_categories_of([h])
                replaces_h[cat.rules.upgrades[h]] = True
                allowed |= replaces_h
                replacements[h] = np.flatnonzero(replaces_h)
            filters.append((UPSELL, allowed))
        filters.append((RELATIONSHIPS, cat.rules.eligible(held, replacements)))
        not_owned = np.ones(n, dtype=bool)
        not_owned[held_items] = False
        filters.append((NOT_OWNED, not_owned))
        return Candidates(tuple(filters), tuple(held), replacements)

    def candidate_mask(self, ctx: RecommendationContext) -> BoolArray:
        """Offerings that may be recommended in this context (the server's rules)."""
        filters = self.candidate_filters(ctx).filters
        mask = filters[0][1].copy()
        for _, allowed in filters[1:]:
            mask &= allowed
        return mask

    def scores(self, ctx: RecommendationContext) -> FloatArray:
        """Model scores aligned on the catalogue index."""
        out = np.zeros(len(self.catalog), dtype=np.float32)
        if self.model is not None:
            model_scores = self.model.model.scores(self.model.item_indices(ctx.owned))
            out[self._catalog_cols] = model_scores[self._model_rows]
        return out

    def rank(
        self, ctx: RecommendationContext, limit: int | None = None, *, mask: BoolArray | None = None
    ) -> tuple[IntArray, FloatArray]:
        """Catalogue indices and scores of the best ``limit`` candidates (all if None).

        ``mask`` may pass a cached ``candidate_mask(ctx)`` (offline evaluation).
        """
        if mask is None:
            mask = self.candidate_mask(ctx)
        scores = self.scores(ctx)
        if self.complete_requirements:
            first = mask & self.catalog.rules.completions(self.catalog.rules.refs(ctx.owned))
            if first.any():
                top, top_scores = self.rank_scores(first, scores, limit)
                rest_limit = None if limit is None else max(limit - top.size, 0)
                rest, rest_scores = self.rank_scores(mask & ~first, scores, rest_limit)
                return np.concatenate([top, rest]), np.concatenate([top_scores, rest_scores])
        return self.rank_scores(mask, scores, limit)

    def rank_scores(self, mask: BoolArray, scores: FloatArray, limit: int | None = None) -> tuple[IntArray, FloatArray]:
        """Order the candidates of ``mask`` by score descending, then offering id."""
        candidates = np.flatnonzero(mask)
        scores = scores[candidates]
        if limit is not None and limit < candidates.size:
            if limit <= 0:
                return candidates[:0], scores[:0]
            cut = candidates.size - limit
            kth = np.partition(scores, cut)[cut]
            keep = scores >= kth  # keeps every tie of the last place
            candidates, scores = candidates[keep], scores[keep]
        order = np.lexsort((self._tie_rank[candidates], -scores))
        if limit is not None:
            order = order[:limit]
        return candidates[order], scores[order]

    def recommend(self, ctx: RecommendationContext) -> list[Recommendation]:
        """The top ``ctx.limit`` eligible offerings, priority 1..n."""
        indices, scores = self.rank(ctx, ctx.limit)
        offerings = self.catalog.offerings
        return [
            Recommendation(
                offering_id=offerings[i].id,
                name=offerings[i].name,
                href=offerings[i].href,
                score=float(s),
                priority=p,
            )
            for p, (i, s) in enumerate(zip(indices.tolist(), scores.tolist(), strict=True), 1)
        ]

    def explain(self, ctx: RecommendationContext, offering_id: str) -> Explanation:
        """Why ``offering_id`` is (or is not) recommended in this context, from the same filters,
        scores and ranking ``recommend`` uses. Raises ``KeyError`` for an offering not in the catalogue."""
        j = self.catalog.index[offering_id]
        offering = self.catalog.offerings[j]
        candidates = self.candidate_filters(ctx)
        requested = {CHANNEL: ctx.channel_ids, PLACE: ctx.place_ids, CATEGORY: ctx.category_ids}
        reasons: list[str] = []
        failed: list[str] = []
        for name, allowed in candidates.filters:
            passed = bool(allowed[j])
            if not passed:
                failed.append(name)
            if name == RELATIONSHIPS:
                reasons.extend(rule_reasons(self.catalog.rules.facts(j, candidates.held, candidates.replacements)))
                continue
            text = filter_reason(name, passed, offering, requested.get(name, ()))
            if text:
                reasons.append(text)
        mask = self.candidate_mask(ctx)
        ranked, _ = self.rank(ctx, None, mask=mask)
        order = ranked.tolist()
        priority = order.index(j) + 1 if j in order else None
        basis, contributions = self._score_basis(ctx, offering_id)
        return Explanation(
            offering_id=offering.id,
            name=offering.name,
            eligible=priority is not None,
            recommended=priority is not None and priority <= ctx.limit,
            priority=priority,
            score=float(self.scores(ctx)[j]),
            basis=basis,
            reasons=tuple(reasons),
            contributions=contributions,
            failed=tuple(failed),
        )

    def _score_basis(self, ctx: RecommendationContext, offering_id: str) -> tuple[str, tuple[Contribution, ...]]:
        """What the offering's score rests on and, for a model whose score sums over the history,
        each held or in-cart offering's share of it (strongest first)."""
        if self.model is None:
            return BASIS_NO_MODEL, ()
        target = self.model.index.get(offering_id)
        if target is None:
            return BASIS_UNKNOWN_TO_MODEL, ()
        history = self.model.item_indices(ctx.owned)
        shares = self.model.model.contributions(history, target) if history.size else None
        if shares is None:
            return BASIS_POPULARITY, ()
        catalog = self.catalog
        found = []
        for item, weight in zip(history.tolist(), shares.tolist(), strict=True):
            oid = self.model.vocabulary[item]
            name = catalog.offering(oid).name if oid in catalog else None
            source = "held" if oid in ctx.held else "cart"
            found.append(Contribution(oid, name, float(weight), source))
        found.sort(key=lambda c: (-c.weight, c.offering_id))
        return BASIS_HISTORY, tuple(found)
