from __future__ import annotations

from datetime import datetime

import pytest
from reco_helpers import NOW

from recommender import RecommendationContext, RecommendationType


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, RecommendationType.ANY),
        ("", RecommendationType.ANY),
        ("whatever", RecommendationType.ANY),
        ("cross-sell", RecommendationType.CROSS_SELL),
        ("crossSell", RecommendationType.CROSS_SELL),
        ("CROSS_SELL", RecommendationType.CROSS_SELL),
        ("upsell", RecommendationType.UPSELL),
        ("Up-Sell", RecommendationType.UPSELL),
        ("next-best-offer", RecommendationType.NEXT_BEST_OFFER),
        ("NBO", RecommendationType.NEXT_BEST_OFFER),
    ],
)
def test_recommendation_type_is_normalised(value: str | None, expected: RecommendationType) -> None:
    assert RecommendationType.parse(value) is expected
    assert RecommendationContext(now=NOW, recommendation_type=value).type is expected


def test_context_requires_aware_now_and_non_negative_limit() -> None:
    with pytest.raises(ValueError, match="timezone"):
        RecommendationContext(now=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="limit"):
        RecommendationContext(now=NOW, limit=-1)


def test_context_normalises_collections_and_owned() -> None:
    ctx = RecommendationContext(
        held=frozenset({"a"}),
        cart=frozenset({"b"}),
        channel_ids=["web"],  # type: ignore[arg-type]
        now=NOW,
    )
    assert ctx.owned == {"a", "b"}
    assert ctx.channel_ids == ("web",)
    assert RecommendationContext().now.tzinfo is not None
