"""The product catalogue, precomputed as numpy masks over an item index.

Everything a request filters on is computed once per catalogue so that one
recommendation is a handful of vectorised boolean operations:

* item index: ``catalog.ids[i]`` / ``catalog.index[id]``;
* channel / place masks: an offering with no ``channel`` (``place``) list is
  sellable in every channel (place); a request naming several channels
  (places) accepts offerings sold in ANY of them; an empty list is no filter;
* category masks include every sub-category (tree via ``parentId`` and
  ``subCategory``), again ANY-of across the requested categories;
* sellable status: ``lifecycleStatus`` in a configurable set (default
  ``{"Active", "Launched"}``, case-insensitive); no status counts as sellable;
* ``validFor`` as float epoch arrays (missing start = -inf, missing end = +inf,
  both bounds inclusive); an unparsable ``validFor`` makes the offering
  unsellable and is reported in ``catalog.warnings``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from recommender.documents import Category, ProductOffering
from recommender.eligibility import BoolArray, EligibilityRules, IntArray
from recommender.timeutil import to_epoch

DEFAULT_SELLABLE_STATUSES: frozenset[str] = frozenset({"active", "launched"})

FloatArray = NDArray[np.float64]


def _dedup(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(str(i) for i in ids))


def _membership_masks(per_item: Sequence[Collection[str]], n: int) -> tuple[dict[str, BoolArray], BoolArray]:
    """Per-id masks of the items listing that id, and the mask of unrestricted items."""
    masks: dict[str, BoolArray] = {}
    unrestricted = np.zeros(n, dtype=bool)
    for i, ids in enumerate(per_item):
        if not ids:
            unrestricted[i] = True
        for ref in ids:
            masks.setdefault(ref, np.zeros(n, dtype=bool))[i] = True
    for ref_mask in masks.values():
        np.logical_or(ref_mask, unrestricted, out=ref_mask)
    return masks, unrestricted


def _descendants(categories: Mapping[str, Category], extra_ids: Iterable[str]) -> dict[str, set[str]]:
    """Each category id with itself and all its sub-categories (cycle-safe)."""
    children: dict[str, set[str]] = {}
    for cat in categories.values():
        if cat.parent_id is not None:
            children.setdefault(cat.parent_id, set()).add(cat.id)
        for sub in cat.sub_category_ids:
            children.setdefault(cat.id, set()).add(sub)
    result: dict[str, set[str]] = {}
    for root in {*categories, *extra_ids, *children}:
        seen = {root}
        stack = [root]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    stack.append(child)
        result[root] = seen
    return result


@dataclass(frozen=True, eq=False)
class Catalog:
    """Immutable, precomputed catalogue. Build it with :meth:`from_documents`."""

    offerings: tuple[ProductOffering, ...]
    categories: Mapping[str, Category]
    index: Mapping[str, int]
    id_rank: IntArray  # rank of each offering id in sorted id order (tie-break)
    sellable_status: BoolArray
    valid_from: FloatArray
    valid_to: FloatArray
    rules: EligibilityRules
    channel_masks: Mapping[str, BoolArray]
    any_channel: BoolArray
    place_masks: Mapping[str, BoolArray]
    any_place: BoolArray
    category_masks: Mapping[str, BoolArray]  # includes sub-categories
    item_categories: tuple[IntArray, ...]  # direct category indices per item
    category_items: tuple[IntArray, ...]  # direct member items per category index
    category_ids: tuple[str, ...]  # category index -> id (direct categories of items)
    sellable_statuses: frozenset[str] = DEFAULT_SELLABLE_STATUSES
    warnings: tuple[str, ...] = field(default=())

    @classmethod
    def from_documents(
        cls,
        offerings: Iterable[Mapping[str, Any]],
        categories: Iterable[Mapping[str, Any]] = (),
        *,
        sellable_statuses: Iterable[str] = DEFAULT_SELLABLE_STATUSES,
    ) -> Catalog:
        """Build from TMF620 ProductOffering and Category dicts.

        Duplicate offering ids keep the first document (and add a warning).
        """
        warnings: list[str] = []
        parsed: list[ProductOffering] = []
        seen: set[str] = set()
        for doc in offerings:
            offering = ProductOffering.from_document(doc)
            if offering.id in seen:
                warnings.append(f"duplicate productOffering id {offering.id} ignored")
                continue
            seen.add(offering.id)
            parsed.append(offering)
            if offering.valid_for_error:
                warnings.append(offering.valid_for_error)
        cats: dict[str, Category] = {}
        for doc in categories:
            cat = Category.from_document(doc)
            cats.setdefault(cat.id, cat)
        return cls._build(tuple(parsed), cats, frozenset(s.lower() for s in sellable_statuses), warnings)

    @classmethod
    def _build(
        cls,
        offerings: tuple[ProductOffering, ...],
        categories: dict[str, Category],
        statuses: frozenset[str],
        warnings: list[str],
    ) -> Catalog:
        n = len(offerings)
        ids = [o.id for o in offerings]
        id_rank = np.empty(n, dtype=np.intp)
        id_rank[np.argsort(np.array(ids, dtype=object), kind="stable")] = np.arange(n)
        sellable = np.array(
            [
                o.valid_for_error is None and (not o.lifecycle_status or o.lifecycle_status.lower() in statuses)
                for o in offerings
            ],
            dtype=bool,
        ).reshape(n)
        valid_from = np.array(
            [to_epoch(o.valid_from) if o.valid_from else -np.inf for o in offerings], dtype=np.float64
        ).reshape(n)
        valid_to = np.array(
            [to_epoch(o.valid_to) if o.valid_to else np.inf for o in offerings], dtype=np.float64
        ).reshape(n)
        channel_masks, any_channel = _membership_masks([o.channel_ids for o in offerings], n)
        place_masks, any_place = _membership_masks([o.place_ids for o in offerings], n)

        direct_ids = _dedup(c for o in offerings for c in o.category_ids)
        cat_pos = {c: k for k, c in enumerate(direct_ids)}
        item_categories = tuple(np.array([cat_pos[c] for c in o.category_ids], dtype=np.intp) for o in offerings)
        members: list[list[int]] = [[] for _ in direct_ids]
        for i, o in enumerate(offerings):
            for c in o.category_ids:
                members[cat_pos[c]].append(i)
        category_items = tuple(np.array(m, dtype=np.intp) for m in members)
        category_masks: dict[str, BoolArray] = {}
        for cat_id, subtree in _descendants(categories, direct_ids).items():
            mask = np.zeros(n, dtype=bool)
            for sub in subtree:
                if sub in cat_pos:
                    mask[category_items[cat_pos[sub]]] = True
            category_masks[cat_id] = mask
        for array in (
            id_rank,
            sellable,
            valid_from,
            valid_to,
            any_channel,
            any_place,
            *channel_masks.values(),
            *place_masks.values(),
            *category_masks.values(),
        ):
            array.setflags(write=False)  # shared by every request: never mutate in place
        return cls(
            offerings=offerings,
            categories=categories,
            index={oid: i for i, oid in enumerate(ids)},
            id_rank=id_rank,
            sellable_status=sellable,
            valid_from=valid_from,
            valid_to=valid_to,
            rules=EligibilityRules.from_offerings(offerings),
            channel_masks=channel_masks,
            any_channel=any_channel,
            place_masks=place_masks,
            any_place=any_place,
            category_masks=category_masks,
            item_categories=item_categories,
            category_items=category_items,
            category_ids=tuple(direct_ids),
            sellable_statuses=statuses,
            warnings=tuple(warnings),
        )

    def changed(
        self,
        offerings: Mapping[str, Mapping[str, Any] | None],
        categories: Mapping[str, Mapping[str, Any] | None] = {},
    ) -> Catalog:
        """This catalogue with some documents replaced, added or (None) removed, by id: only the
        changed documents are parsed; the masks are rebuilt in memory (no other document is read)."""
        kept = {o.id: o for o in self.offerings if o.id not in offerings}
        warnings = [w for w in self.warnings if not any(f" {oid}" in w for oid in offerings)]
        for doc in offerings.values():
            if doc is not None:
                offering = ProductOffering.from_document(doc)
                kept[offering.id] = offering
                if offering.valid_for_error:
                    warnings.append(offering.valid_for_error)
        cats = {cid: cat for cid, cat in self.categories.items() if cid not in categories}
        for doc in categories.values():
            if doc is not None:
                cat = Category.from_document(doc)
                cats[cat.id] = cat
        ordered = tuple(sorted(kept.values(), key=lambda o: o.id))
        return self._build(ordered, cats, self.sellable_statuses, warnings)

    def restricted_to(self, offering_ids: Collection[str]) -> Catalog:
        """A catalogue of only these offerings (same categories and rules; relationship
        targets left out become external references)."""
        keep = set(offering_ids)
        offerings = tuple(o for o in self.offerings if o.id in keep)
        return self._build(offerings, dict(self.categories), self.sellable_statuses, list(self.warnings))

    def without_relationship_rules(self) -> Catalog:
        """The same catalogue with no requires/excludes/alternative/upgrade rules."""
        return replace(self, rules=EligibilityRules.empty(self.ids))

    # -- basic access -----------------------------------------------------
    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(o.id for o in self.offerings)

    def __len__(self) -> int:
        return len(self.offerings)

    def __contains__(self, offering_id: object) -> bool:
        return offering_id in self.index

    def offering(self, offering_id: str) -> ProductOffering:
        return self.offerings[self.index[offering_id]]

    # -- masks --------------------------------------------------------------
    def sellable_at(self, now: datetime) -> BoolArray:
        """Status is sellable and ``validFor`` contains ``now`` (bounds inclusive)."""
        t = to_epoch(now)
        return self.sellable_status & (self.valid_from <= t) & (t <= self.valid_to)

    def channel_mask(self, channel_ids: Sequence[str]) -> BoolArray:
        return self._any_of(channel_ids, self.channel_masks, self.any_channel)

    def place_mask(self, place_ids: Sequence[str]) -> BoolArray:
        return self._any_of(place_ids, self.place_masks, self.any_place)

    def category_mask(self, category_ids: Sequence[str]) -> BoolArray:
        return self._any_of(category_ids, self.category_masks, np.zeros(len(self), dtype=bool))

    def _any_of(self, ids: Sequence[str], masks: Mapping[str, BoolArray], fallback: BoolArray) -> BoolArray:
        if not ids:
            return np.ones(len(self), dtype=bool)
        if len(ids) == 1:
            return masks.get(ids[0], fallback)
        out = fallback.copy()
        for ref in ids:
            if ref in masks:
                out |= masks[ref]
        return out

    def items_in_categories_of(self, items: Iterable[int]) -> BoolArray:
        """Items sharing at least one direct category with any of ``items``."""
        mask = np.zeros(len(self), dtype=bool)
        for i in items:
            if i < len(self):
                for c in self.item_categories[i]:
                    mask[self.category_items[c]] = True
        return mask

    # -- unknown-reference helpers (the server answers 400 naming them) ------
    def unknown_offerings(self, ids: Iterable[str]) -> list[str]:
        return [i for i in _dedup(ids) if i not in self.index]

    def unknown_categories(self, ids: Iterable[str]) -> list[str]:
        """Ids neither in the category documents nor referenced by an offering."""
        return [i for i in _dedup(ids) if i not in self.category_masks]

    def unknown_channels(self, ids: Iterable[str]) -> list[str]:
        """Channel ids no offering references; ``[]`` when no offering lists channels
        (the catalogue then cannot tell a valid channel from an invalid one)."""
        if not self.channel_masks:
            return []
        return [i for i in _dedup(ids) if i not in self.channel_masks]

    def unknown_places(self, ids: Iterable[str]) -> list[str]:
        """Like :meth:`unknown_channels`, for ``place`` references."""
        if not self.place_masks:
            return []
        return [i for i in _dedup(ids) if i not in self.place_masks]
