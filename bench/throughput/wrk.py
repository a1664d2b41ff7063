"""Driving ``wrk``: the request files, the command, the result line its Lua ``done()`` prints, and the
CPU time wrk itself used (to show the load generator is not the bottleneck)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("scenario.lua")
PACED_SCRIPT = Path(__file__).with_name("paced.lua")
MARKER = "WRK_JSON "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no result line."""


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: dict[str, Any] | None = None

    def line(self) -> str:
        """One line of the scenario's request file (the body as compact JSON, never a newline)."""
        if any(c.isspace() for c in self.path):
            raise ValueError(f"a request path cannot contain white space: {self.path!r}")
        if self.body is None:
            return f"{self.method} {self.path}"
        return f"{self.method} {self.path} {json.dumps(self.body, separators=(',', ':'))}"


def write_requests(path: Path, requests: Iterable[Request]) -> Path:
    lines = [r.line() for r in requests]
    if not lines:
        raise ValueError(f"no requests for {path}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    socket_errors: dict[str, int]
    http_errors: int
    unexpected: int
    unexpected_statuses: dict[str, int]
    latency_ms: dict[str, float]
    wrk_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    mongod_cpu_s: float = 0.0
    system_busy: float = 0.0  # share of all CPUs busy during the run (every process on the machine)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def errors(self) -> int:
        """Requests that did not get an expected status: socket errors and unexpected statuses."""
        return sum(self.socket_errors.values()) + self.unexpected

    @property
    def wrk_cpu_share(self) -> float:
        """wrk's CPU time over the run's wall time: 1.0 is one core kept fully busy."""
        return self.wrk_cpu_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def server_cpu_share(self) -> float:
        """CPU time of the server's worker processes over the run's wall time."""
        return self.server_cpu_s / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def wrk_us_per_request(self) -> float | None:
        """wrk's CPU time per request (µs): 1e6 / this is what wrk alone could drive on one core."""
        return self.wrk_cpu_s * 1e6 / self.requests if self.requests and self.wrk_cpu_s else None

    @property
    def mongod_cpu_share(self) -> float:
        return self.mongod_cpu_s / self.duration_s if self.duration_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "requests": self.requests,
            "durationS": round(self.duration_s, 3),
            "latencyMs": self.latency_ms,
            "errors": self.errors,
            "socketErrors": self.socket_errors,
            "httpErrors": self.http_errors,
            "unexpectedStatuses": self.unexpected_statuses,
            "wrkCpuS": self.wrk_cpu_s,
            "wrkCpuShare": round(self.wrk_cpu_share, 3),
            "wrkCpuUsPerRequest": None if self.wrk_us_per_request is None else round(self.wrk_us_per_request, 1),
            "serverCpuS": self.server_cpu_s,
            "serverCpuShare": round(self.server_cpu_share, 3),
            "mongodCpuS": self.mongod_cpu_s,
            "mongodCpuShare": round(self.mongod_cpu_share, 3),
            "systemBusy": self.system_busy,
            **self.extra,
        }


def parse_output(text: str) -> WrkResult:
    """The ``WRK_JSON {...}`` line of scenario.lua's ``done()`` (anywhere in wrk's stdout)."""
    for line in text.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER):])
            break
    else:
        raise WrkError(f"wrk printed no result line:\n{text[-2000:]}")
    latency_us = data["latencyUs"]
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=int(data["durationUs"]) / 1e6,
        socket_errors={k: int(v) for k, v in data["socketErrors"].items()},
        http_errors=int(data["httpErrors"]),
        unexpected=int(data["unexpected"]),
        unexpected_statuses={str(k): int(v) for k, v in data["unexpectedStatuses"].items()},
        latency_ms={k: round(float(v) / 1000, 3) for k, v in latency_us.items()},
    )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise WrkError("wrk not found: install Debian's wrk (apt-get install wrk) or run ./scripts/bench.sh")
    return found


def wrk_version() -> str:
    done = subprocess.run([wrk_binary(), "--version"], capture_output=True, text=True, check=False)
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0].split(" Copyright")[0].strip() if text else "unknown"


def command(url: str, requests_file: Path, expected: Sequence[int], duration_s: float, connections: int,
            threads: int = 1, cpus: str | None = None, timeout_s: float = 10.0, body_mark: str | None = None,
            pause_ms: int | None = None) -> list[str]:
    """The wrk command of one scenario; ``body_mark``: text every expected response must contain;
    ``pause_ms``: each connection waits that long before each request (an offered load, ``paced.lua``)."""
    argv = [wrk_binary(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration_s))}s",
            f"--timeout={max(1, round(timeout_s))}s", "-s", str(SCRIPT if pause_ms is None else PACED_SCRIPT),
            url, "--", str(requests_file), ",".join(str(s) for s in expected)]
    if body_mark or pause_ms is not None:
        argv.append(body_mark or "")
    if pause_ms is not None:
        argv.append(str(pause_ms))
    return ["taskset", "-c", cpus, *argv] if cpus is not None else argv


def run(argv: Sequence[str], server_pids: Sequence[int] = (), mongod_pids: Sequence[int] = ()) -> WrkResult:
    """Run wrk to completion; add its own CPU time (rusage of the child: taskset execs wrk in the
    same process), the server's and mongod's CPU time and how busy the whole machine was over the run."""
    with tempfile.TemporaryFile("w+") as out:
        server_before = [cpu_seconds(pid) for pid in server_pids]
        mongod_before = [cpu_seconds(pid) for pid in mongod_pids]
        system_before = system_cpu_times()
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = cpu_used(server_pids, server_before)
        mongod_cpu = cpu_used(mongod_pids, mongod_before)
        system_after = system_cpu_times()
        out.seek(0)
        text = out.read()
    if process.returncode != 0:
        raise WrkError(f"wrk exited with {process.returncode}: {' '.join(argv)}\n{text[-2000:]}")
    result = parse_output(text)
    result.wrk_cpu_s = round(usage.ru_utime + usage.ru_stime, 3)
    result.server_cpu_s = round(server_cpu, 3)
    result.mongod_cpu_s = round(mongod_cpu, 3)
    result.system_busy = round(busy_share(system_before, system_after), 3)
    return result


# -- /proc ---------------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat


def cpu_used(pids: Sequence[int], before: Sequence[float]) -> float:
    """CPU seconds the processes used since ``before`` (a process that has gone counts 0, not minus)."""
    return sum(max(0.0, cpu_seconds(pid) - start) for pid, start in zip(pids, before, strict=True))


def wait_quiet(pids: Sequence[int], share: float, window_s: float = 0.5, timeout_s: float = 60.0,
               ) -> tuple[float, float]:
    """Until the processes together use less than ``share`` of one core over ``window_s``; (seconds
    waited, the share of the last window)."""
    started = time.monotonic()
    while True:
        before = [cpu_seconds(pid) for pid in pids]
        time.sleep(window_s)
        busy = cpu_used(pids, before) / window_s
        waited = time.monotonic() - started
        if busy < share or waited >= timeout_s:
            return round(waited, 1), busy


def system_cpu_times() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0
