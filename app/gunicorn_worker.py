"""The gunicorn worker class: uvicorn's, with a listening socket of its own per worker.

With one socket shared by the workers, the first worker awake accepts every pending connection, so
keep-alive connections opened together (a load generator, a proxy's connection pool) all land on
one worker while the others idle (measured: 2 workers served 0.6x what 1 did). Here each worker
also binds a socket of its own on the same address with ``SO_REUSEPORT`` (the master flags its
shared socket the same way, app/gunicorn_conf.py ``when_ready``), and the kernel spreads new
connections over all of them.

The shared socket stays open in the master and is still served by every worker: while a worker
restarts (a crash, ``max_requests``), connections the kernel gives it wait in its queue instead of
being refused, as they would be with gunicorn's own ``reuse_port`` (per-worker sockets only). A
worker that exits drops the connections still waiting in its own socket's queue (not yet accepted).
"""

from __future__ import annotations

import logging
import socket
import sys
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


class BalancedUvicornWorker(UvicornWorker):  # type: ignore[misc]
    """``uvicorn_worker.UvicornWorker`` serving a ``SO_REUSEPORT`` socket of its own besides the shared one."""

    async def _serve(self) -> None:  # UvicornWorker._serve's steps, with the worker's own sockets added
        self.config.app = self.wsgi
        own = [twin for twin in (reuseport_twin(s, self.config.backlog) for s in self.sockets) if twin]
        server = Server(config=self.config)
        self._install_sigquit_handler()
        try:
            await server.serve(sockets=[*own, *self.sockets])
        finally:
            for twin in own:
                twin.close()
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
