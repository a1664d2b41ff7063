"""Synthetic operator data with co-purchase structure: who holds which offering, at telco scale.

    python -m bench.telco_synthetic --customers 5000000 --offerings 2000 --out /tmp/history.ndjson
    python -m bench.telco_synthetic --scale 0.2 --out /tmp/history.ndjson      # 1,000,000 customers

The structure, all vectorised (chunks of customers; 25 million products in a few minutes):

- **Popularity** is Zipf-like (exponent ``--zipf``, default 1.0) over a random order of the
  offerings: a few offerings (the mobile and broadband plans of a telco) are held by many, most by few.
- **Segments (topics)**: every offering belongs to one of ``n_offerings / 25`` topics (families
  such as "family mobile", "gaming", "business"), topic sizes themselves Zipf-like; a customer has a
  main topic (chosen by the topics' popularity) and a second one; a product is drawn from the main
  topic with probability 0.55, from the second with 0.15 and from global popularity otherwise,
  within a topic again by popularity.
- **Bundles**: one offering in 15 heads a bundle of 1-3 others from its topic; a customer who gets
  the head gets each other member with probability 0.7 (the strong pairwise signal of real data).
- **Basket sizes** are 1 + negative binomial (mean ``--basket`` - 1, overdispersed: many customers
  with one or two products, a tail with fifteen), before bundles add theirs; duplicates are dropped.

``holdings()`` gives the (customer index, offering index) arrays (used by ``bench/pruning_quality.py``);
the command writes TMF637 Product documents as NDJSON (about 10 % terminated, 3 % suspended; one
customer ``relatedParty`` each), the input of ``tmf680 history import``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np

FULL_CUSTOMERS = 5_000_000
FULL_OFFERINGS = 2_000
STATUSES = np.array(["active", "terminated", "suspended"])
STATUS_P = np.array([0.87, 0.10, 0.03])


@dataclass(frozen=True)
class Structure:
    """The latent structure of one synthetic market (drawn once per seed)."""

    n_offerings: int
    topic_of: np.ndarray  # offering → topic
    topic_weight: np.ndarray  # how many customers have a topic as their main one
    global_cum: np.ndarray  # cumulative popularity over all offerings
    topic_members: list[np.ndarray]  # offerings of each topic, most popular first
    topic_cum: list[np.ndarray]  # cumulative popularity within each topic
    bundle_of: np.ndarray  # offering → bundle index or -1 (heads only)
    bundle_members: list[np.ndarray]

    @classmethod
    def draw(cls, n_offerings: int, rng: np.random.Generator, zipf: float = 1.0) -> Structure:
        n_topics = max(4, n_offerings // 25)
        popularity = rng.permutation(1.0 / np.arange(1, n_offerings + 1) ** zipf)
        topic_sizes = 1.0 / np.arange(1, n_topics + 1) ** 0.7
        topic_of = rng.choice(n_topics, size=n_offerings, p=topic_sizes / topic_sizes.sum())
        topic_of[rng.permutation(n_offerings)[:n_topics]] = np.arange(n_topics)  # no empty topic
        members, cums = [], []
        for t in range(n_topics):
            ids = np.flatnonzero(topic_of == t)
            ids = ids[np.argsort(-popularity[ids])]
            members.append(ids)
            cums.append(np.cumsum(popularity[ids]) / popularity[ids].sum())
        topic_weight = np.array([popularity[m].sum() for m in members])
        bundle_of = np.full(n_offerings, -1, dtype=np.int64)
        bundles: list[np.ndarray] = []
        for head in rng.permutation(n_offerings)[: n_offerings // 15]:
            mates = members[topic_of[head]]
            mates = mates[mates != head]
            if mates.size:
                bundle_of[head] = len(bundles)
                bundles.append(rng.choice(mates, size=min(mates.size, int(rng.integers(1, 4))), replace=False))
        return cls(n_offerings, topic_of, topic_weight / topic_weight.sum(),
                   np.cumsum(popularity) / popularity.sum(), members, cums, bundle_of, bundles)

    def _from_topics(self, topics: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.empty(topics.size, dtype=np.int64)
        for t in np.unique(topics):
            where = np.flatnonzero(topics == t)
            picks = np.searchsorted(self.topic_cum[t], rng.random(where.size))
            out[where] = self.topic_members[t][np.minimum(picks, self.topic_members[t].size - 1)]
        return out

    def sample(self, n_customers: int, rng: np.random.Generator, basket: float = 5.0,
               first: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """(customer index, offering index) pairs of customers ``first..first+n_customers-1``,
        distinct, sorted by customer."""
        n_topics = self.topic_weight.size
        main = rng.choice(n_topics, size=n_customers, p=self.topic_weight)
        second = rng.choice(n_topics, size=n_customers, p=self.topic_weight)
        mean_extra = max(basket - 1.0, 0.01) * 1.26 # bundles add about as many as duplicates take away
        sizes = 1 + rng.negative_binomial(1.5, 1.5 / (1.5 + mean_extra), size=n_customers)
        owner = np.repeat(np.arange(n_customers, dtype=np.int64), sizes)
        source = rng.random(owner.size)
        items = np.searchsorted(self.global_cum, rng.random(owner.size)).astype(np.int64)
        from_main, from_second = source < 0.55, (source >= 0.55) & (source < 0.70)
        items[from_main] = self._from_topics(main[owner[from_main]], rng)
        items[from_second] = self._from_topics(second[owner[from_second]], rng)
        items = np.minimum(items, self.n_offerings - 1)
        heads = np.flatnonzero(self.bundle_of[items] >= 0)
        extra_owner, extra_items = [owner], [items]
        for position in heads:
            mates = self.bundle_members[self.bundle_of[items[position]]]
            taken = mates[rng.random(mates.size) < 0.7]
            extra_owner.append(np.full(taken.size, owner[position]))
            extra_items.append(taken)
        owner, items = np.concatenate(extra_owner), np.concatenate(extra_items)
        keys = np.unique(owner * self.n_offerings + items)
        return keys // self.n_offerings + first, keys % self.n_offerings


def holdings(n_customers: int, n_offerings: int, seed: int = 0, basket: float = 5.0,
             chunk: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """Every (customer index, offering index) pair of a synthetic market, as two int arrays."""
    customers, offerings = [], []
    for first, rows, cols in stream_holdings(n_customers, n_offerings, seed, basket, chunk):
        del first
        customers.append(rows)
        offerings.append(cols)
    return np.concatenate(customers), np.concatenate(offerings)


def stream_holdings(n_customers: int, n_offerings: int, seed: int = 0, basket: float = 5.0,
                    chunk: int = 200_000) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The same pairs chunk by chunk of customers: (first customer, customer indices, offering indices)."""
    rng = np.random.default_rng(seed)
    structure = Structure.draw(n_offerings, rng)
    for first in range(0, n_customers, chunk):
        rows, cols = structure.sample(min(chunk, n_customers - first), rng, basket, first)
        yield first, rows, cols


def write_products(out: IO[str], n_customers: int, n_offerings: int, seed: int = 0, basket: float = 5.0) -> int:
    """TMF637 Product documents, one per line; returns how many."""
    rng = np.random.default_rng(seed + 1)
    written = 0
    template = ('{"id":"prd%09d","@type":"Product","status":"%s","startDate":"20%02d-%02d-%02dT00:00:00Z"%s,'
                '"productOffering":{"id":"po%05d"},'
                '"relatedParty":[{"id":"cust%08d","role":"customer","@referredType":"Customer"}]}\n')
    for _, rows, cols in stream_holdings(n_customers, n_offerings, seed, basket):
        n = rows.size
        status = rng.choice(3, size=n, p=STATUS_P)
        year, month, day = rng.integers(18, 26, n), rng.integers(1, 13, n), rng.integers(1, 29, n)
        ends = np.where(status == 1, ',"terminationDate":"2025-06-30T00:00:00Z"', "")
        ids = np.arange(written, written + n)
        names = STATUSES[status]
        out.writelines([template % fields for fields in zip(
            ids.tolist(), names.tolist(), year.tolist(), month.tolist(), day.tolist(), ends.tolist(),
            cols.tolist(), rows.tolist(), strict=True)])
        written += n
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=FULL_CUSTOMERS)
    parser.add_argument("--offerings", type=int, default=FULL_OFFERINGS)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply --customers (0.2: 1/5 scale)")
    parser.add_argument("--basket", type=float, default=5.0, help="mean products per customer (about)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="-", help="NDJSON file (- for stdout)")
    args = parser.parse_args(argv)
    customers = int(args.customers * args.scale)
    started = time.perf_counter()
    with (sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", buffering=1 << 20)) as out:
        n = write_products(out, customers, args.offerings, args.seed, args.basket)
    print(f"{n:,} products of {customers:,} customers over {args.offerings:,} offerings in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
