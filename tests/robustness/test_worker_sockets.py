"""The gunicorn workers' listening sockets (runtime/worker_sockets.py): connections opened together spread
over the workers, and the sockets follow the workers through reloads, added and retired workers, and a
stop.

With one socket shared by the workers, the first worker awake accepts every pending connection: keep-alive
connections opened at once all end up on one worker while the other idles (seen with wrk: 2 workers served
0.6x what 1 did; with TMF680_REUSE_PORT=false the first test fails, 32 / 0). Each worker also serves a
SO_REUSEPORT socket of its own, kept by the master, and the kernel spreads new connections over the sockets.
"""

from __future__ import annotations

import http.client
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from harness import LISTEN, QPR, Load, connections_of, running, tcp_sockets, wait_for, worker_pids

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


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_a_reload_hands_every_socket_to_the_new_workers(
    tmp_path: Path, mongo_uri: str, record_figures: Callable[[dict[str, Any]], None]
) -> None:
    """SIGHUP under load: the new workers share the old workers' sockets until these exit, so no socket is
    ever left without a worker accepting, and the set of listening sockets is the same afterwards."""
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="false") as server:
        master, port = server.process.pid, _port(server.url)
        old = wait_for(lambda: len(w := worker_pids(master)) == 2 and w, 30, "two workers")
        before = wait_for(lambda: len(s := tcp_sockets(port, LISTEN)) == 3 and s, 30, "shared + 2 own sockets")
        load = Load(server.url, 4)
        load.start()
        try:
            wait_for(lambda: load.ok >= 100, 30, "load running")
            reloaded_at = time.monotonic()
            server.process.send_signal(signal.SIGHUP)
            new = wait_for(lambda: len(w := worker_pids(master)) == 2 and not (w & old) and w, 60, "new workers only")
            ok_then = load.ok
            wait_for(lambda: load.ok >= ok_then + 200, 30, "load served by the new workers")
        finally:
            load.stop()
        after = tcp_sockets(port, LISTEN)
    failed = [f for f in load.failures if f.when >= reloaded_at]
    record_figures({
        "fault": "SIGHUP (reload) to gunicorn under load (2 workers, 4 client connections)",
        "requests_ok": load.ok, "requests_failed": len(failed),
        "failures": sorted({f.detail.split(":")[0] for f in failed}),
        "listening_sockets_before_after": [len(before), len(after)], "new_workers": len(new),
    })
    assert after == before  # the same sockets: the old workers' own ones went to the new workers
    # an old worker closes its idle keep-alive connections as it stops: a client may lose the request it
    # was just sending on one, once; nothing else fails
    clients = [f.client for f in load.failures]
    assert len(clients) == len(set(clients)) and len(failed) == len(load.failures), load.failures


def test_added_and_retired_workers_get_and_give_back_their_sockets(tmp_path: Path, mongo_uri: str) -> None:
    """SIGTTIN adds a worker with a socket of its own; SIGTTOU retires one and its socket is closed, not
    left open without a worker accepting from it."""
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="false") as server:
        master, port = server.process.pid, _port(server.url)
        wait_for(lambda: len(tcp_sockets(port, LISTEN)) == 3, 30, "shared + 2 own sockets")
        server.process.send_signal(signal.SIGTTIN)
        wait_for(lambda: len(worker_pids(master)) == 3, 30, "a third worker")
        wait_for(lambda: len(tcp_sockets(port, LISTEN)) == 4, 30, "its own socket")
        server.process.send_signal(signal.SIGTTOU)
        wait_for(lambda: len(worker_pids(master)) == 2, 30, "back to two workers")
        wait_for(lambda: len(tcp_sockets(port, LISTEN)) == 3, 30, "the retired worker's socket closed")
        clients = burst("127.0.0.1", port, CONNECTIONS)  # every socket left has a worker: all answered
        try:
            for client in clients:
                client.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
            assert all(client.recv(65536).startswith(b"HTTP/1.1 200") for client in clients)
        finally:
            for client in clients:
                client.close()


def test_a_stopping_server_refuses_new_connections_while_it_drains(
    tmp_path: Path, mongo_uri: str, fail_point: Callable[..., None]
) -> None:
    """SIGTERM while a create is held 2 s in MongoDB: the create is answered, and meanwhile a new
    connection is refused at once (as with gunicorn's shared socket alone), not queued on a worker's own
    socket that nobody will accept from."""
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="2", TMF680_WORKERS="false") as server:
        port = _port(server.url)
        wait_for(lambda: len(tcp_sockets(port, LISTEN)) == 3, 30, "shared + 2 own sockets")
        fail_point("failCommand", failCommands=["insert"], blockConnection=True, blockTimeMS=2000, appName="tmf680")
        answers: list[int] = []

        def held_create() -> None:
            answers.append(httpx.post(f"{server.url}{QPR}", json={"name": "held"}, timeout=30).status_code)

        create = threading.Thread(target=held_create)
        create.start()
        time.sleep(0.5)  # the create is held in MongoDB
        server.process.send_signal(signal.SIGTERM)
        listening = wait_for(lambda: not tcp_sockets(port, LISTEN) or None, 1.0, "no socket listening")
        refused = 0
        for _ in range(20):  # connections hashed over what is left: none may be accepted
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except ConnectionRefusedError:
                refused += 1
        create.join(30)
        assert server.process.wait(30) == 0
    assert listening and refused == 20
    assert answers == [201]


def _idle_then_ask(port: int, idle_s: float) -> int | None:
    """One request, ``idle_s`` seconds idle, a second request on the same connection: its status, or None
    when the server closed the connection meanwhile. Each answer is read whole (headers and body can
    arrive in separate reads)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/health/live")
        first = connection.getresponse()
        first.read()
        assert first.status == 200 and not first.will_close
        time.sleep(idle_s)
        try:
            connection.request("GET", "/health/live")
            second = connection.getresponse()
            second.read()
            return second.status
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            return None
    finally:
        connection.close()


def test_idle_keep_alive_connections_are_kept_for_the_configured_time(tmp_path: Path, mongo_uri: str) -> None:
    """TMF680_KEEPALIVE_S: a connection idle 2 s is still served with 4, closed by the server with 1."""
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="1", TMF680_WORKERS="false",
                 TMF680_KEEPALIVE_S="4") as server:
        assert _idle_then_ask(_port(server.url), 2.0) == 200
    with running("gunicorn", tmp_path, mongo_uri, WEB_CONCURRENCY="1", TMF680_WORKERS="false",
                 TMF680_KEEPALIVE_S="1") as server:
        assert _idle_then_ask(_port(server.url), 2.0) is None
