"""edge.event_batcher: events in flight share one ``apply`` call, each request gets its own result."""

from __future__ import annotations

import asyncio
import threading
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
