"""Reading a cursor while its previous batches are decoded.

pymongo asks for a cursor's next batch only once the last one is consumed, so mongod and the Python
code that decodes alternate, each idle half the time. ``prefetched`` has a thread pull the (raw)
batches up to ``depth`` ahead: the thread mostly waits on the socket, with the GIL released, while
the caller's thread decodes. Used for the training read (millions of documents).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()
_POLL_S = 0.2


def prefetched(items: Iterable[T], depth: int = 4, name: str = "prefetch") -> Iterator[T]:
    """``items``, pulled by a thread of their own up to ``depth`` ahead. An exception of the pulling
    is raised here, in order; closing this generator early stops the thread (and closes ``items``
    if it can be closed, as a cursor)."""
    ahead: queue.Queue[object] = queue.Queue(depth)
    stop = threading.Event()

    def hand_over(item: object) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def pull() -> None:
        try:
            for item in items:
                if not hand_over(item):
                    return
            hand_over(_END)
        except BaseException as exc:
            hand_over(exc)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=pull, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
