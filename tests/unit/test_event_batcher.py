"""edge.event_batcher: events in flight share one ``apply`` call, each request gets its own result."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from edge.event_batcher import EventBatcher
from services.errors import InvalidRequest


class Recorder:
    """An ``apply`` that holds its first call until released, so that the next events queue up."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def __call__(self, items: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        if not self.batches:
            self.release.wait(5)
        self.batches.append([event_type for event_type, _ in items])
        return [InvalidRequest(f"bad {e['n']}") if e["n"] % 10 == 3 else f"ok {e['n']}" for _, e in items]


def test_events_queued_during_a_write_go_together_in_the_next_one() -> None:
    apply = Recorder()
    batcher = EventBatcher(apply, max_batch=64, writers=1)

    async def main() -> list[Any]:
        first = asyncio.ensure_future(batcher.submit("E", {"n": 0}))
        await asyncio.sleep(0.05)  # the writer holds event 0
        rest = [asyncio.ensure_future(batcher.submit("E", {"n": n})) for n in range(1, 100)]
        await asyncio.sleep(0.05)
        apply.release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    results = asyncio.run(main())
    batcher.close()
    assert [len(b) for b in apply.batches] == [1, 64, 35]  # max_batch bounds a batch
    for n, result in enumerate(results):
        if n % 10 == 3:
            assert isinstance(result, InvalidRequest) and result.message == f"bad {n}"
        else:
            assert result == f"ok {n}"


def test_a_failing_apply_fails_every_event_of_its_batch_and_the_batcher_goes_on() -> None:
    calls = []

    def apply(items: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        calls.append(len(items))
        if len(calls) == 1:
            raise RuntimeError("store broke")
        return ["ok"] * len(items)

    batcher = EventBatcher(apply, writers=1)

    async def main() -> None:
        with pytest.raises(RuntimeError, match="store broke"):
            await batcher.submit("E", {})
        assert await batcher.submit("E", {}) == "ok"

    asyncio.run(main())
    batcher.close()


def test_close_applies_what_is_queued_and_then_refuses() -> None:
    applied = []
    gate = threading.Event()

    def apply(items: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        gate.wait(5)
        applied.extend(e["n"] for _, e in items)
        return [None] * len(items)

    batcher = EventBatcher(apply, writers=2)

    async def main() -> None:
        waiting = [asyncio.ensure_future(batcher.submit("E", {"n": n})) for n in range(10)]
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().run_in_executor(None, batcher.close)
        await asyncio.sleep(0.05)
        gate.set()
        await closing
        await asyncio.gather(*waiting)
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.submit("E", {"n": 99})

    asyncio.run(main())
    assert sorted(applied) == list(range(10))


def sizes_of_batches(gap_s: float, linger_s: float, events: int, every_s: float, writers: int = 2) -> list[int]:
    """Batch sizes when ``events`` arrive ``every_s`` apart, one at a time, as the event loop hands them over."""
    sizes: list[int] = []

    def apply(items: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
        sizes.append(len(items))
        return [None] * len(items)

    batcher = EventBatcher(apply, writers=writers, gap_s=gap_s, linger_s=linger_s)

    async def main() -> None:
        waiting = []
        for n in range(events):
            waiting.append(asyncio.ensure_future(batcher.submit("E", {"n": n})))
            await asyncio.sleep(every_s)
        await asyncio.gather(*waiting)

    asyncio.run(main())
    batcher.close()
    return sizes


def test_events_that_follow_each_other_closely_are_written_together() -> None:
    # taking only what was queued, each of these events would be a batch of its own
    assert sizes_of_batches(gap_s=0.2, linger_s=5.0, events=10, every_s=0.01) == [10]


def test_a_batch_is_gathered_for_at_most_linger_s() -> None:
    sizes = sizes_of_batches(gap_s=0.2, linger_s=0.05, events=30, every_s=0.01)
    assert sum(sizes) == 30 and len(sizes) >= 3 and max(sizes) <= 15  # about 6 each


def test_a_lone_event_waits_for_the_gap_only() -> None:
    seen: list[float] = []
    batcher = EventBatcher(lambda items: [seen.append(time.monotonic())] * len(items), gap_s=0.05, linger_s=5.0)

    async def main() -> float:
        start = time.monotonic()
        await batcher.submit("E", {})
        return start

    start = asyncio.run(main())
    batcher.close()
    assert 0.05 <= seen[0] - start < 1.0
