"""Connections opened together spread over the gunicorn workers (``reuse_port`` in app/gunicorn_conf.py).

With one socket shared by the workers, the first worker awake accepts every pending connection: keep-alive
connections opened at once can all end up on one worker while the other idles (seen with wrk: 2 workers
served no more than 1). With ``reuse_port`` each worker has its own socket and the kernel spreads them.
"""

from __future__ import annotations

import select
import socket
from pathlib import Path

from harness import connections_of, running, wait_for, worker_pids

CONNECTIONS = 32


def burst(host: str, port: int, n: int) -> list[socket.socket]:
    """``n`` connections started together (non-blocking connects), as a load generator opens them."""
    clients = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    for client in clients:
        client.setblocking(False)
        client.connect_ex((host, port))
    for client in clients:
        _, writable, _ = select.select([], [client], [], 10)
        assert writable, "a connection did not complete"
        client.setblocking(True)
        client.settimeout(10)
    return clients


def test_keep_alive_connections_opened_together_reach_every_worker(tmp_path: Path, mongo_uri: str) -> None:
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="false") as server:
        workers = wait_for(lambda: len(worker_pids(server.process.pid)) == 2 and worker_pids(server.process.pid),
                           30, "two workers")
        host, port = server.url.removeprefix("http://").split(":")
        clients = burst(host, int(port), CONNECTIONS)
        try:
            for client in clients:  # one request each; the connections stay open (keep-alive)
                client.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
            assert all(client.recv(65536).startswith(b"HTTP/1.1 200") for client in clients)
            held = connections_of(int(port), workers)
        finally:
            for client in clients:
                client.close()
    assert sum(held.values()) == CONNECTIONS
    # the kernel hashes each connection to one of the two sockets: a worker with none of 32 is a
    # chance of 2 * (1/2)**32
    assert min(held.values()) >= 1, held
