"""Connections opened together spread over the gunicorn workers (app/gunicorn_worker.py).

With one socket shared by the workers, the first worker awake accepts every pending connection: keep-alive
connections opened at once all end up on one worker while the other idles (seen with wrk: 2 workers served
0.6x what 1 did; with TMF680_REUSE_PORT=false this test fails, 32 / 0). Each worker now also listens on a
SO_REUSEPORT socket of its own and the kernel spreads new connections over the sockets.
"""

from __future__ import annotations

import select
import socket
from pathlib import Path

from harness import LISTEN, connections_of, running, tcp_sockets, wait_for, worker_pids

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
        # gunicorn's shared socket, then each worker's own once it has booted
        wait_for(lambda: len(tcp_sockets(int(port), LISTEN)) == 3, 60, "both workers listening on their own sockets")
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
    # the kernel hashes each connection to one of three sockets (two workers' own, the shared one they
    # race for): a worker with none of 32 is a chance below 2 * (2/3)**32
    assert min(held.values()) >= 1, held
