"""SocketSlots (runtime/worker_sockets.py): which listening socket of its own each gunicorn worker serves, as
the master spawns, replaces, adds, retires and reloads workers. Real sockets on 127.0.0.1, a stand-in
for gunicorn's arbiter (its WORKERS table, LISTENERS and num_workers)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runtime.worker_sockets import SocketSlots, allow_reuseport


class Worker:
    own_sockets: list[socket.socket]


@dataclass
class Arbiter:
    LISTENERS: list[socket.socket]
    num_workers: int = 2
    WORKERS: dict[int, Any] = field(default_factory=dict)
    next_pid: int = 100

    def spawn(self, slots: SocketSlots) -> Worker:
        worker = Worker()
        slots.assign(self, worker)  # pre_fork
        self.next_pid += 1
        self.WORKERS[self.next_pid] = worker
        return worker

    def exit(self, worker: Worker, slots: SocketSlots) -> None:
        pid = next(pid for pid, w in self.WORKERS.items() if w is worker)
        del self.WORKERS[pid]
        slots.release(self)  # child_exit


def shared_listener() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    allow_reuseport(sock)  # when_ready
    return sock


@pytest.fixture
def arbiter() -> Iterator[Arbiter]:
    listener = shared_listener()
    yield Arbiter([listener])
    listener.close()


@pytest.fixture
def slots() -> Iterator[SocketSlots]:
    made = SocketSlots(backlog=16)
    yield made
    made.stop()


def is_open(sockets: list[socket.socket]) -> bool:
    return bool(sockets) and all(s.fileno() != -1 for s in sockets)


def test_each_worker_gets_a_listening_socket_of_its_own_on_the_shared_address(arbiter: Arbiter,
                                                                              slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    assert is_open(a.own_sockets) and is_open(b.own_sockets)
    assert a.own_sockets[0] is not b.own_sockets[0]
    address = arbiter.LISTENERS[0].getsockname()
    assert a.own_sockets[0].getsockname() == b.own_sockets[0].getsockname() == address
    with socket.create_connection(address, timeout=2):  # the kernel accepts on the address (a queue somewhere)
        pass


def test_a_replacement_takes_over_the_dead_workers_socket(arbiter: Arbiter, slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    kept = a.own_sockets
    arbiter.exit(a, slots)  # killed: its socket stays open, connections wait in its queue
    assert is_open(kept)
    replacement = arbiter.spawn(slots)
    assert replacement.own_sockets is kept
    assert len(slots.slots) == 2 and b.own_sockets is not kept


def test_after_a_reload_new_workers_share_the_old_sockets_then_keep_them(arbiter: Arbiter,
                                                                         slots: SocketSlots) -> None:
    old = [arbiter.spawn(slots), arbiter.spawn(slots)]
    new = [arbiter.spawn(slots), arbiter.spawn(slots)]  # SIGHUP: new workers first, then the old ones stop
    assert {id(w.own_sockets) for w in new} == {id(w.own_sockets) for w in old}  # one new worker per old socket
    for worker in old:
        arbiter.exit(worker, slots)
    assert len(slots.slots) == 2 and all(is_open(w.own_sockets) for w in new)


def test_an_added_worker_gets_a_new_socket_and_a_retired_one_gives_it_back(arbiter: Arbiter,
                                                                           slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    arbiter.num_workers = 3  # SIGTTIN
    c = arbiter.spawn(slots)
    assert len(slots.slots) == 3 and c.own_sockets not in (a.own_sockets, b.own_sockets)
    arbiter.num_workers = 2  # SIGTTOU: gunicorn stops the oldest
    arbiter.exit(a, slots)
    assert not is_open(a.own_sockets)  # nobody would accept from it
    assert len(slots.slots) == 2 and is_open(b.own_sockets) and is_open(c.own_sockets)


def test_sockets_on_an_address_no_longer_configured_are_closed_once_unserved(arbiter: Arbiter,
                                                                             slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    old_listener = arbiter.LISTENERS[0]
    arbiter.LISTENERS = [shared_listener()]  # a reload with another bind
    try:
        c = arbiter.spawn(slots)
        assert c.own_sockets[0].getsockname() == arbiter.LISTENERS[0].getsockname()
        arbiter.exit(a, slots)
        assert not is_open(a.own_sockets)  # old address, no worker left on it
        assert is_open(b.own_sockets)  # still served by b until it stops
        arbiter.exit(b, slots)
        assert not is_open(b.own_sockets)
    finally:
        arbiter.LISTENERS[0].close()
        old_listener.close()


def test_a_new_worker_keeps_only_its_own_socket(arbiter: Arbiter, slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    child = SocketSlots(backlog=16)  # what the forked worker holds: copies of every slot
    child.slots = list(slots.slots)
    child.keep_only(b)  # post_fork (here the copies are the master's own objects)
    assert not is_open(a.own_sockets) and is_open(b.own_sockets)
    assert child.slots == []


def test_stopping_closes_every_socket_and_gives_none_to_later_workers(arbiter: Arbiter,
                                                                      slots: SocketSlots) -> None:
    a, b = arbiter.spawn(slots), arbiter.spawn(slots)
    slots.stop()  # SIGTERM to the master: refuse new connections while the workers drain
    assert not is_open(a.own_sockets) and not is_open(b.own_sockets)
    assert arbiter.spawn(slots).own_sockets == []


def test_a_unix_socket_gets_no_socket_of_its_own(tmp_path: Path, slots: SocketSlots) -> None:
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(tmp_path / "s"))
    unix.listen(4)
    try:
        arbiter = Arbiter([unix])
        assert arbiter.spawn(slots).own_sockets == [] and slots.slots == []
    finally:
        unix.close()
