"""The gunicorn worker class and its listening sockets: uvicorn's worker, with a socket of its own per worker.

With one socket shared by the workers, the first worker awake accepts every pending connection, so
keep-alive connections opened together (a load generator, a proxy's connection pool) all land on
one worker while the others idle (measured: 2 workers served 0.6x what 1 did). Here each worker
also serves a socket of its own bound on the same address with ``SO_REUSEPORT`` (the master flags
its shared socket the same way, app/gunicorn_conf.py ``when_ready``), and the kernel spreads new
connections over all of them.

The master creates and keeps these sockets (``SocketSlots``), one slot per worker, and a replacement
worker takes over the slot of the worker it replaces. A socket created by the worker itself (as
gunicorn's own ``reuse_port`` does) closes when the worker dies, and the kernel resets every
connection waiting in its queue, including new connections it hashed there while the dying worker
was being torn down (seen: a client's retry reset 1 ms after its first request failed). Kept open
by the master, the queue simply waits for the replacement.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.server import Server
from uvicorn_worker import UvicornWorker

log = logging.getLogger(__name__)


def _can_share(listener: Any) -> bool:
    """A TCP listener on a system with SO_REUSEPORT (not a Unix socket)."""
    return getattr(listener, "family", None) in (socket.AF_INET, socket.AF_INET6) and hasattr(socket, "SO_REUSEPORT")


def allow_reuseport(listener: Any) -> None:
    """Let other sockets join ``listener``'s address (Linux accepts the flag on a socket that
    already listens)."""
    if _can_share(listener):
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def reuseport_twin(listener: Any, backlog: int) -> socket.socket | None:
    """A new listening socket on ``listener``'s TCP address with ``SO_REUSEPORT``, or None when the
    kernel refuses (the shared socket lacks the flag, a Unix socket, no SO_REUSEPORT)."""
    if not _can_share(listener):
        return None
    twin = socket.socket(listener.family, socket.SOCK_STREAM)
    try:
        twin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        twin.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        twin.bind(listener.getsockname())
        twin.listen(backlog)
    except OSError as exc:
        twin.close()
        log.warning("no socket of this worker's own on %s (%s): the shared one only", listener.getsockname(), exc)
        return None
    twin.setblocking(False)
    return twin


@dataclass(eq=False)
class _Slot:
    address: tuple[Any, ...]  # the addresses of the listeners its sockets twin
    sockets: list[socket.socket]

    def live(self, server: Any) -> int:
        """How many live workers (the arbiter's table) serve it: those given its sockets."""
        return sum(1 for w in server.WORKERS.values() if getattr(w, "own_sockets", None) is self.sockets)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


class SocketSlots:
    """The workers' own sockets, held by the gunicorn master: a slot per worker, reused by its replacement.

    - ``assign`` (master, ``pre_fork``): a new worker gets a new slot while there are fewer slots than
      ``num_workers``, else the slot with the fewest live workers: a replacement takes its dead
      predecessor's; after a reload (SIGHUP) each new worker shares an old worker's slot until that one
      exits, so the slot is never without a worker that accepts.
    - ``keep_only`` (the new worker, ``post_fork``): closes the worker's copies of the other slots, so
      that a slot the master closes is really gone.
    - ``release`` (master, ``child_exit``): closes slots nobody serves beyond ``num_workers`` (after
      SIGTTOU), or bound to an address the configuration no longer has.
    - ``stop`` (master, on SIGTERM/SIGINT/SIGQUIT): closes them all, as gunicorn closes its shared
      socket, so that new connections are refused while the workers drain instead of waiting in a
      queue nobody will serve.
    """

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.slots: list[_Slot] = []
        self.stopping = False
        self._lock = threading.Lock()  # gunicorn's control-socket thread may manage workers too

    @staticmethod
    def _address(server: Any) -> tuple[Any, ...]:
        return tuple(listener.getsockname() for listener in server.LISTENERS if _can_share(listener))

    def assign(self, server: Any, worker: Any) -> None:
        """Give ``worker`` its slot's sockets (``worker.own_sockets``), creating the slot if needed."""
        with self._lock:
            self._release(server)
            slot = None if self.stopping else self._slot_for(server)
            worker.own_sockets = slot.sockets if slot else []

    def _slot_for(self, server: Any) -> _Slot | None:
        address = self._address(server)
        if not address:
            return None
        current = [slot for slot in self.slots if slot.address == address]
        if len(current) >= server.num_workers:
            return min(current, key=lambda s: s.live(server))
        twins = [reuseport_twin(listener, self.backlog) for listener in server.LISTENERS]  # None: not shareable
        sockets = [twin for twin in twins if twin is not None]
        if not sockets:
            return None
        self.slots.append(_Slot(address, sockets))
        return self.slots[-1]

    def keep_only(self, worker: Any) -> None:
        """In a new worker: close the inherited copies of every other slot's sockets (no lock: another
        master thread may have held it at the fork)."""
        mine = getattr(worker, "own_sockets", [])
        for slot in self.slots:
            if slot.sockets is not mine:
                slot.close()
        self.slots = []

    def release(self, server: Any) -> None:
        """Close the slots no live worker serves that are surplus or bound to an old address."""
        with self._lock:
            self._release(server)

    def _release(self, server: Any) -> None:
        address = self._address(server)
        unserved = [slot for slot in self.slots if not slot.live(server)]
        served = sum(1 for slot in self.slots if slot.address == address and slot not in unserved)
        room = server.num_workers - served  # free slots kept for replacements
        for slot in unserved:
            if slot.address == address and room > 0 and not self.stopping:
                room -= 1
                continue
            slot.close()
            self.slots.remove(slot)

    def stop(self) -> None:
        """Close every slot now (called from a signal handler: no lock, ``close`` is idempotent)."""
        self.stopping = True
        for slot in list(self.slots):
            slot.close()


class BalancedUvicornWorker(UvicornWorker):  # type: ignore[misc]
    """``uvicorn_worker.UvicornWorker`` serving its slot's sockets (``own_sockets``, given by the master
    through app/gunicorn_conf.py) besides the shared ones."""

    async def _serve(self) -> None:  # UvicornWorker._serve's steps, with the worker's own sockets added
        self.config.app = self.wsgi
        own = list(getattr(self, "own_sockets", []))
        server = Server(config=self.config)
        self._install_sigquit_handler()
        await server.serve(sockets=[*own, *self.sockets])
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
