"""The request context the engine ranks for, and ``recommendationType`` parsing.

``recommendationType`` (case and separators ``-``/``_``/space are ignored):

* ``None``, ``""`` or an unknown value -> ``ANY``: every eligible offering;
* ``cross-sell`` / ``crossSell`` / ``cross_sell`` -> ``CROSS_SELL``: only
  offerings none of whose categories holds an offering the customer has
  (held or in cart); offerings without a category qualify;
* ``upsell`` / ``up-sell`` -> ``UPSELL``: offerings that are targets of an
  ``upgrade``/``upsell`` relationship from a held offering, or share a category
  with a held offering (replacement). Such a replacement is exempt from the
  excludes/alternative blocks of the held offering it replaces (a Month-to-month
  customer may be offered the One-year contract), but still obeys every other
  rule. A customer holding nothing gets no upsell;
* ``next-best-offer`` / ``nbo`` -> ``NEXT_BEST_OFFER``: same as ``ANY``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from recommender.documents import normalize_token


class RecommendationType(Enum):
    ANY = "any"
    CROSS_SELL = "cross-sell"
    UPSELL = "upsell"
    NEXT_BEST_OFFER = "next-best-offer"

    @classmethod
    def parse(cls, value: str | None) -> RecommendationType:
        return _TYPE_ALIASES.get(normalize_token(value), cls.ANY)


_TYPE_ALIASES = {
    "crosssell": RecommendationType.CROSS_SELL,
    "upsell": RecommendationType.UPSELL,
    "nextbestoffer": RecommendationType.NEXT_BEST_OFFER,
    "nbo": RecommendationType.NEXT_BEST_OFFER,
}


def _frozen(ids: Iterable[str]) -> frozenset[str]:
    return frozenset(str(i) for i in ids)


@dataclass(frozen=True, slots=True)
class RecommendationContext:
    """What one ``queryProductRecommendation`` asks for, in engine terms.

    ``held``: offering ids the customer currently holds. ``cart``: offering ids
    in the shopping cart / order items / orders; they count as held for
    eligibility and as positive signals for scoring. Empty ``channel_ids``,
    ``place_ids`` or ``category_ids`` mean "no filter"; several ids are ANY-of.
    ``now`` must be timezone-aware.
    """

    customer_id: str | None = None
    held: frozenset[str] = field(default_factory=frozenset)
    cart: frozenset[str] = field(default_factory=frozenset)
    channel_ids: tuple[str, ...] = ()
    place_ids: tuple[str, ...] = ()
    category_ids: tuple[str, ...] = ()
    now: datetime = field(default_factory=lambda: datetime.now().astimezone())
    limit: int = 5
    recommendation_type: str | None = None

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("RecommendationContext.now must be timezone-aware")
        if self.limit < 0:
            raise ValueError("RecommendationContext.limit must be >= 0")
        object.__setattr__(self, "held", _frozen(self.held))
        object.__setattr__(self, "cart", _frozen(self.cart))
        object.__setattr__(self, "channel_ids", tuple(self.channel_ids))
        object.__setattr__(self, "place_ids", tuple(self.place_ids))
        object.__setattr__(self, "category_ids", tuple(self.category_ids))

    @property
    def owned(self) -> frozenset[str]:
        """Held and in-cart offerings together."""
        return self.held | self.cart

    @property
    def type(self) -> RecommendationType:
        return RecommendationType.parse(self.recommendation_type)
