"""Eligibility rules read from catalogue data (``productOfferingRelationship``).

Nothing here knows a particular data set; every rule comes from the documents:

* ``requires`` / ``dependsOn`` / ``dependency`` -- offering X is eligible only if
  the customer holds (or has in the cart) **at least one** of X's required
  targets. ANY-of semantics across *all* requires-targets of X: a catalogue that
  says "add-on requires DSL" and "add-on requires Fiber" means "needs some
  internet", which is how operators model alternatives. (An ALL-of rule can be
  expressed as a bundle instead.)
* ``excludes`` / ``exclusivity`` / ``incompatible`` -- X is not eligible when any
  excluded target is held. Symmetric: if X excludes Y, holding X also blocks Y.
* mutually exclusive options -- "at most one of these":
  ``alternative`` / ``exclusiveWith`` / ``mutuallyExclusive`` relationships join
  offerings into groups (transitively, union-find), and so does a TMF620 v5
  ``bundledGroupProductOffering`` whose ``bundledGroupProductOfferingOption``
  has ``numberRelOfferUpperLimit: 1``. Holding one member blocks the others.
  (The v4 ``bundledProductOfferingOption`` limits how many instances of *one*
  child a bundle has, so it is not read as a choice group.)
* ``upgrade`` / ``upsell`` -- X -> Y means Y is an upgrade of X; used by the
  ``upsell`` recommendation type, where a replacement is allowed to lift the
  blocks of the held offering it replaces.

Relationship targets that are not in the catalogue (e.g. retired offerings a
customer still holds) get an index beyond the candidate range so they still
satisfy or block.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from recommender.documents import ProductOffering

REQUIRES_TYPES = frozenset({"requires", "dependson", "dependency"})
EXCLUDES_TYPES = frozenset({"excludes", "exclusivity", "incompatible"})
ALTERNATIVE_TYPES = frozenset({"alternative", "exclusivewith", "mutuallyexclusive"})
UPGRADE_TYPES = frozenset({"upgrade", "upsell"})

IntArray = NDArray[np.intp]
BoolArray = NDArray[np.bool_]

_EMPTY: IntArray = np.zeros(0, dtype=np.intp)
_EMPTY.setflags(write=False)


def _as_index_array(values: Iterable[int]) -> IntArray:
    """Sorted distinct indices; the shared empty array for none (most offerings have no relationship:
    building one array per empty set was most of a 10,000-offering catalogue's build time)."""
    distinct = sorted(set(values))
    return np.array(distinct, dtype=np.intp) if distinct else _EMPTY


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        root = self.parent.setdefault(x, x)
        while root != self.parent[root]:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for x in self.parent:
            out.setdefault(self.find(x), []).append(x)
        return [sorted(g) for g in out.values() if len(g) > 1]


@dataclass(frozen=True, eq=False)
class EligibilityRules:
    """Relationship rules as index arrays over the catalogue.

    ``ref_index`` maps every known id (catalogue offerings first, ``0..n_items-1``,
    then ids only referenced by relationships) to a reference index. For a held
    reference ``h``: ``satisfies[h]`` are candidates whose requirement ``h``
    fulfils, ``blocks[h]`` candidates that holding ``h`` makes ineligible,
    ``upgrades[h]`` the declared upgrades of ``h``.
    """

    n_items: int
    ref_index: Mapping[str, int]
    has_requirements: BoolArray
    requirements: tuple[IntArray, ...]
    satisfies: tuple[IntArray, ...]
    blocks: tuple[IntArray, ...]
    upgrades: tuple[IntArray, ...]

    @classmethod
    def from_offerings(cls, offerings: Sequence[ProductOffering]) -> EligibilityRules:
        n = len(offerings)
        ref_index: dict[str, int] = {o.id: i for i, o in enumerate(offerings)}

        def ref(offering_id: str) -> int:
            return ref_index.setdefault(offering_id, len(ref_index))

        requires: list[tuple[int, int]] = []  # (candidate, target)
        excludes: list[tuple[int, int]] = []
        upgrades: list[tuple[int, int]] = []
        alternatives = _UnionFind()
        for i, offering in enumerate(offerings):
            for rel in offering.relationships:
                kind = rel.kind
                if rel.target_id == offering.id:
                    continue
                if kind in REQUIRES_TYPES:
                    requires.append((i, ref(rel.target_id)))
                elif kind in EXCLUDES_TYPES:
                    excludes.append((i, ref(rel.target_id)))
                elif kind in ALTERNATIVE_TYPES:
                    alternatives.union(i, ref(rel.target_id))
                elif kind in UPGRADE_TYPES:
                    upgrades.append((i, ref(rel.target_id)))
            for choice_group in offering.exclusive_groups:
                first = ref(choice_group[0])
                for member in choice_group[1:]:
                    alternatives.union(first, ref(member))

        n_refs = len(ref_index)
        satisfies: list[set[int]] = [set() for _ in range(n_refs)]
        blocks: list[set[int]] = [set() for _ in range(n_refs)]
        upgrade_sets: list[set[int]] = [set() for _ in range(n_refs)]
        has_requirements = np.zeros(n, dtype=bool)
        requirement_sets: list[set[int]] = [set() for _ in range(n)]
        for candidate, target in requires:
            has_requirements[candidate] = True
            requirement_sets[candidate].add(target)
            satisfies[target].add(candidate)
        for a, b in excludes:  # symmetric; only catalogue offerings are candidates
            if b < n:
                blocks[a].add(b)
            blocks[b].add(a)
        for members in alternatives.groups():
            for item in members:
                blocks[item].update(g for g in members if g != item and g < n)
        for source, target in upgrades:
            if target < n:
                upgrade_sets[source].add(target)
        return cls(
            n_items=n,
            ref_index=ref_index,
            has_requirements=has_requirements,
            requirements=tuple(_as_index_array(s) for s in requirement_sets),
            satisfies=tuple(_as_index_array(s) for s in satisfies),
            blocks=tuple(_as_index_array(s) for s in blocks),
            upgrades=tuple(_as_index_array(s) for s in upgrade_sets),
        )

    @classmethod
    def empty(cls, offering_ids: Sequence[str]) -> EligibilityRules:
        """No relationship rules at all (used to measure what the rules are worth)."""
        n = len(offering_ids)
        return cls(
            n_items=n,
            ref_index={oid: i for i, oid in enumerate(offering_ids)},
            has_requirements=np.zeros(n, dtype=bool),
            requirements=(_EMPTY,) * n,
            satisfies=(_EMPTY,) * n,
            blocks=(_EMPTY,) * n,
            upgrades=(_EMPTY,) * n,
        )

    @property
    def has_any_requirement(self) -> bool:
        return bool(self.has_requirements.any())

    def refs(self, offering_ids: Iterable[str]) -> list[int]:
        """Reference indices of the ids the rules know (unknown ids are ignored)."""
        index = self.ref_index
        return sorted({index[i] for i in offering_ids if i in index})

    def completions(self, held_refs: Sequence[int]) -> BoolArray:
        """Candidates that would fulfil a requirement of a held offering that no
        held offering fulfils yet (e.g. internet for an add-on in the cart)."""
        mask = np.zeros(self.n_items, dtype=bool)
        if not self.has_any_requirement:
            return mask
        held = set(held_refs)
        for h in held_refs:
            if h < self.n_items and self.has_requirements[h]:
                targets = self.requirements[h]
                if not held.intersection(targets.tolist()):
                    mask[targets[targets < self.n_items]] = True
        return mask

    def eligible(
        self,
        held_refs: Sequence[int],
        replacements: Mapping[int, IntArray] | None = None,
    ) -> BoolArray:
        """Candidates allowed by the relationship rules given the held references.

        ``replacements[h]`` lists candidates that would *replace* held ``h``
        (upsell): ``h``'s blocks do not apply to them.
        Held offerings themselves are not removed here (the engine does it).
        """
        mask = np.ones(self.n_items, dtype=bool)
        if self.has_any_requirement:
            satisfied = np.zeros(self.n_items, dtype=bool)
            for h in held_refs:
                satisfied[self.satisfies[h]] = True
            mask &= ~self.has_requirements | satisfied
        for h in held_refs:
            mask[self.blocked_by(h, replacements)] = False
        return mask

    def blocked_by(self, held: int, replacements: Mapping[int, IntArray] | None = None) -> IntArray:
        """The candidates that holding ``held`` blocks, less those that would replace it (upsell)."""
        blocked = self.blocks[held]
        if blocked.size and replacements is not None and held in replacements:
            blocked = blocked[~np.isin(blocked, replacements[held])]
        return blocked

    @functools.cached_property
    def ref_ids(self) -> tuple[str, ...]:
        """Reference index → offering id (the inverse of ``ref_index``)."""
        out = [""] * len(self.ref_index)
        for offering_id, ref in self.ref_index.items():
            out[ref] = offering_id
        return tuple(out)

    def facts(self, candidate: int, held_refs: Sequence[int],
              replacements: Mapping[int, IntArray] | None = None) -> RuleFacts:
        """What the rules say about one catalogue candidate given the held references: the facts
        behind ``eligible`` and ``completions`` for that candidate, as offering ids."""
        ids = self.ref_ids
        held = set(held_refs)
        requires = self.requirements[candidate].tolist() if candidate < self.n_items else []
        blocked_by: list[str] = []
        exempt_from: list[str] = []
        completes: list[str] = []
        upgrade_of: list[str] = []
        for h in held_refs:
            if candidate in self.blocks[h]:
                (blocked_by if candidate in self.blocked_by(h, replacements) else exempt_from).append(ids[h])
            if h < self.n_items and candidate in self.requirements[h] and not held.intersection(
                    self.requirements[h].tolist()):
                completes.append(ids[h])
            if candidate in self.upgrades[h]:
                upgrade_of.append(ids[h])
        return RuleFacts(
            requires=tuple(ids[r] for r in requires),
            fulfilled_by=tuple(ids[r] for r in requires if r in held),
            blocked_by=tuple(blocked_by),
            exempt_from=tuple(exempt_from),
            completes=tuple(completes),
            upgrade_of=tuple(upgrade_of),
        )


@dataclass(frozen=True)
class RuleFacts:
    """The relationship rules that concern one candidate (offering ids).

    ``requires``: it needs one of these (any-of); ``fulfilled_by``: the held ones among them.
    ``blocked_by``: held offerings that exclude it or share an exclusive group with it;
    ``exempt_from``: such blocks lifted because it would replace that offering (upsell).
    ``completes``: held offerings whose unmet requirement it fulfils; ``upgrade_of``: held
    offerings it is a declared upgrade of.
    """

    requires: tuple[str, ...] = ()
    fulfilled_by: tuple[str, ...] = ()
    blocked_by: tuple[str, ...] = ()
    exempt_from: tuple[str, ...] = ()
    completes: tuple[str, ...] = ()
    upgrade_of: tuple[str, ...] = ()
