"""A private replica set: three ``mongod`` of the embedded default's binary on 127.0.0.1.

Each member is an :class:`EmbeddedMongo` (own data directory, free port, stopped with us) started with
``--replSet``; the first one initiates the set, and :meth:`ReplicaSet.start` returns once a primary is
elected and every member is a primary or a secondary, so a ``w: majority`` write succeeds at once. The test
session runs on it with ``TMF680_TEST_TOPOLOGY=replset``; the fault tests step its primary down, or kill
it and start it again (:meth:`step_down`, :meth:`kill`, :meth:`restart`).

Replica-set members keep a journal (MongoDB refuses ``--nojournal`` with ``--replSet``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from runtime.embedded_mongo import EmbeddedMongo, EmbeddedMongoError

log = logging.getLogger(__name__)
PRIMARY, SECONDARY = 1, 2  # member states in replSetGetStatus


class ReplicaSet:
    """``members`` mongod processes forming the replica set ``name``. Use as a context manager or
    start()/stop(). ``election_timeout_ms`` is how long the secondaries wait for a silent primary
    before electing another (MongoDB's default is 10 s)."""

    def __init__(self, base_dir: Path, *, members: int = 3, name: str = "rs0", cache_gb: float = 0.25,
                 election_timeout_ms: int = 10_000, heartbeat_ms: int = 2_000, start_timeout_s: float = 60.0,
                 extra_args: Sequence[str] = ()) -> None:
        self.name = name
        self.election_timeout_ms = election_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        self.start_timeout_s = start_timeout_s
        self.members = [
            EmbeddedMongo(Path(base_dir) / f"member{i}", cache_gb=cache_gb, start_timeout_s=start_timeout_s,
                          extra_args=("--replSet", name, *extra_args))
            for i in range(members)
        ]

    @property
    def hosts(self) -> list[str]:
        return [f"127.0.0.1:{member.port}" for member in self.members]

    @property
    def uri(self) -> str:
        return f"mongodb://{','.join(self.hosts)}/?replicaSet={self.name}"

    def start(self) -> str:
        try:
            # one after the other, from this thread: PR_SET_PDEATHSIG stops a mongod with the thread that started it
            for member in self.members:
                member.start()
            self._admin(0).command("replSetInitiate", {
                "_id": self.name,
                "members": [{"_id": i, "host": host} for i, host in enumerate(self.hosts)],
                "settings": {"electionTimeoutMillis": self.election_timeout_ms,
                             "heartbeatIntervalMillis": self.heartbeat_ms},
            })
            self.wait_until_whole(self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        log.info("replica set %s on %s", self.name, ", ".join(self.hosts))
        return self.uri

    def _admin(self, index: int) -> Any:
        client: MongoClient = MongoClient(self.members[index].uri, directConnection=True,  # type: ignore[type-arg]
                                          serverSelectionTimeoutMS=2_000)
        return _ClosingAdmin(client)

    def status(self) -> dict[int, int]:
        """Member index → state (1 primary, 2 secondary, ...) as a running member sees it."""
        for index, member in enumerate(self.members):
            if not member.running:
                continue
            with contextlib.suppress(PyMongoError):
                status = self._admin(index).command("replSetGetStatus")
                ports = {f"127.0.0.1:{m.port}": i for i, m in enumerate(self.members)}
                return {ports[m["name"]]: int(m["state"]) for m in status["members"]}
        return {}

    def primary(self) -> int | None:
        """The index of the member that is primary now (None: none is)."""
        for index, member in enumerate(self.members):
            if not member.running:
                continue
            with contextlib.suppress(PyMongoError):
                if self._admin(index).command("hello").get("isWritablePrimary"):
                    return index
        return None

    def wait_for_primary(self, timeout_s: float, other_than: int | None = None) -> int:
        """Until a member (not ``other_than``) is primary; its index."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            index = self.primary()
            if index is not None and index != other_than:
                return index
            time.sleep(0.05)
        raise EmbeddedMongoError(f"no primary within {timeout_s:.0f} s: {self.status()}")

    def wait_until_whole(self, timeout_s: float) -> int:
        """Until one member is primary and every other one secondary; the primary's index."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            states = self.status()
            if len(states) == len(self.members) and sorted(states.values()) == [PRIMARY] + [SECONDARY] * (
                    len(self.members) - 1):
                return next(i for i, state in states.items() if state == PRIMARY)
            time.sleep(0.1)
        raise EmbeddedMongoError(f"the replica set was not whole within {timeout_s:.0f} s: {self.status()}")

    def step_down(self, seconds: int = 10) -> int:
        """Ask the primary to step down (``replSetStepDown``) and not stand again for ``seconds``;
        the index of the member that was primary."""
        index = self.wait_for_primary(self.start_timeout_s)
        self._admin(index).command("replSetStepDown", seconds, secondaryCatchUpPeriodSecs=5)
        return index

    def kill(self, index: int) -> None:
        """SIGKILL one member, as a crash would."""
        self.members[index].kill()

    def restart(self, index: int) -> None:
        """Start a stopped member again on its data and port; returns once the set is whole again."""
        member = self.members[index]
        self.members[index] = EmbeddedMongo(member.data_dir, port=member.port, cache_gb=member.cache_gb,
                                            start_timeout_s=member.start_timeout_s, extra_args=member.extra_args)
        self.members[index].start()
        self.wait_until_whole(self.start_timeout_s)

    def stop(self) -> None:
        for member in self.members:
            member.stop()

    def __enter__(self) -> ReplicaSet:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _ClosingAdmin:
    """One admin command on a direct connection, then the connection is closed."""

    def __init__(self, client: MongoClient) -> None:  # type: ignore[type-arg]
        self._client = client

    def command(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return dict(self._client.admin.command(*args, **kwargs))
        finally:
            self._client.close()
