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
from recommender.models.base import FloatArray
from recommender.serialization import TrainedModel


@dataclass(frozen=True, slots=True)
class Recommendation:
    offering_id: str
    name: str
    href: str | None
    score: float
    priority: int


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

    def candidate_mask(self, ctx: RecommendationContext) -> BoolArray:
        """Offerings that may be recommended in this context (the server's rules)."""
        cat = self.catalog
        n = len(cat)
        mask = cat.sellable_at(ctx.now)
        if ctx.channel_ids:
            mask &= cat.channel_mask(ctx.channel_ids)
        if ctx.place_ids:
            mask &= cat.place_mask(ctx.place_ids)
        if ctx.category_ids:
            mask &= cat.category_mask(ctx.category_ids)
        held = cat.rules.refs(ctx.owned)
        held_items = [h for h in held if h < n]
        replacements: dict[int, IntArray] | None = None
        kind = ctx.type
        if kind is RecommendationType.CROSS_SELL:
            mask &= ~cat.items_in_categories_of(held_items)
        elif kind is RecommendationType.UPSELL:
            replacements = {}
            allowed = np.zeros(n, dtype=bool)
            for h in held:
                replaces_h = cat.items_in_categories_of([h])
                replaces_h[cat.rules.upgrades[h]] = True
                allowed |= replaces_h
                replacements[h] = np.flatnonzero(replaces_h)
            mask &= allowed
        mask &= cat.rules.eligible(held, replacements)
        mask[held_items] = False
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
