"""storage.prefetch: a cursor's batches pulled by a thread ahead of their decoding."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from storage.prefetch import prefetched


class Source:
    """An iterable that records what was pulled, from which thread, and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.pulled: list[int] = []
        self.threads: set[str] = set()
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[int]:
        for k in range(self.n):
            if k == self.fail_at:
                raise ConnectionError(f"lost at {k}")
            self.threads.add(threading.current_thread().name)
            self.pulled.append(k)
            yield k

    def close(self) -> None:
        self.closed.set()


def _threads_named(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name]


def test_items_come_in_order_pulled_by_another_thread() -> None:
    source = Source(1000)
    assert list(prefetched(source, depth=3, name="t-order")) == list(range(1000))
    assert source.threads == {"t-order"} and source.closed.is_set()
    assert not _threads_named("t-order")


def test_the_thread_pulls_ahead_at_most_depth() -> None:
    source = Source(100)
    reader = prefetched(source, depth=4, name="t-ahead")
    assert next(reader) == 0
    deadline = time.monotonic() + 5
    while len(source.pulled) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    # one taken, four queued, one held by the thread waiting for room
    assert len(source.pulled) == 6
    reader.close()


def test_an_error_of_the_pulling_is_raised_after_the_items_before_it() -> None:
    got = []
    with pytest.raises(ConnectionError, match="lost at 7"):
        for item in prefetched(Source(20, fail_at=7), name="t-error"):
            got.append(item)
    assert got == list(range(7))


def test_closing_early_stops_the_thread_and_closes_the_source() -> None:
    source = Source(10_000)
    reader = prefetched(source, depth=2, name="t-close")
    assert [next(reader) for _ in range(3)] == [0, 1, 2]
    reader.close()
    assert source.closed.wait(5)
    assert not _threads_named("t-close")
    assert len(source.pulled) < 10
