"""Why the engine ranks one offering where it does, for one context (``Engine.explain``).

The engine's own computation, read back: the candidate filters ``Engine.candidate_filters``
applies (each passed or failed, with its reason), the relationship rules that concern the offering
(``EligibilityRules.facts``), its score and place in the ranking, and, for a model whose score is a
sum over the customer's history (EASE, co-occurrence), how much each held or in-cart offering adds
(``ItemModel.contributions``). Nothing here ranks or scores on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recommender.documents import ProductOffering
from recommender.eligibility import RuleFacts

# The candidate filters, by the name ``Engine.candidate_filters`` gives each.
SELLABLE = "sellable"
CHANNEL = "channel"
PLACE = "place"
CATEGORY = "category"
CROSS_SELL = "cross-sell"
UPSELL = "upsell"
RELATIONSHIPS = "relationships"
NOT_OWNED = "not-owned"

# What the score rests on.
BASIS_HISTORY = "co-held offerings"  # a sum over the held and in-cart offerings the model knows
BASIS_POPULARITY = "popularity"  # no known history (cold start), or a model that ignores it
BASIS_UNKNOWN_TO_MODEL = "not in the model"  # the model was trained without this offering: 0.0
BASIS_NO_MODEL = "no model"  # no trained model: catalogue order


@dataclass(frozen=True, slots=True)
class Contribution:
    """One held or in-cart offering's share of the score (``source``: ``held`` or ``cart``)."""

    offering_id: str
    name: str | None
    weight: float
    source: str


@dataclass(frozen=True, slots=True)
class Explanation:
    offering_id: str
    name: str
    eligible: bool
    recommended: bool  # eligible and within the context's limit
    priority: int | None  # place among all eligible offerings (1 = first), None if not eligible
    score: float
    basis: str
    reasons: tuple[str, ...]  # the rules, in the order the engine applies them
    contributions: tuple[Contribution, ...]  # strongest first (empty unless basis is BASIS_HISTORY)
    failed: tuple[str, ...]  # names of the candidate filters it fails


def _names(ids: Sequence[str]) -> str:
    return ", ".join(ids)


def filter_reason(name: str, passed: bool, offering: ProductOffering, requested: Sequence[str] = ()) -> str | None:
    """One sentence for one candidate filter (None: nothing worth saying)."""
    if name == SELLABLE:
        if passed:
            return "sellable now (lifecycle status and validFor)"
        status = offering.lifecycle_status or "unset"
        return f"not sellable now (lifecycleStatus {status!r}, or outside its validFor)"
    if name in (CHANNEL, PLACE, CATEGORY):
        asked = _names(requested)
        if passed:
            return f"in the requested {name} ({asked})"
        return f"not in the requested {name} ({asked})"
    if name == CROSS_SELL:
        return ("cross-sell: the customer holds nothing in its category" if passed
                else "cross-sell: the customer already holds an offering of its category")
    if name == UPSELL:
        return ("upsell: an upgrade or a replacement of a held offering" if passed
                else "upsell: neither an upgrade nor a replacement of a held offering")
    if name == NOT_OWNED:
        return None if passed else "already held or in the cart"
    return None


def rule_reasons(facts: RuleFacts) -> list[str]:
    """The relationship rules behind the ``relationships`` filter, as sentences."""
    out: list[str] = []
    if facts.requires:
        if facts.fulfilled_by:
            out.append(f"requires one of {_names(facts.requires)}: fulfilled by {_names(facts.fulfilled_by)}")
        else:
            out.append(f"requires one of {_names(facts.requires)}: none is held or in the cart")
    for held in facts.blocked_by:
        out.append(f"excluded by {held} (held or in the cart: an excludes rule or a one-of group)")
    for held in facts.exempt_from:
        out.append(f"would replace {held}, so {held}'s exclusions do not apply")
    for held in facts.upgrade_of:
        out.append(f"a declared upgrade of {held}")
    for held in facts.completes:
        out.append(f"fulfils a requirement of {held} that nothing held meets (ranked before the others)")
    return out
