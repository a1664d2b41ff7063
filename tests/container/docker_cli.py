"""The Docker daemon and CLI for the container tests: start or find the daemon, build the base and the image,
run containers on the host network, and read what a container's processes use from the host's /proc."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BASE_TAG = "tmf680-base:bookworm-python3"
IMAGE_TAG = "tmf680-recommendation:container-test"
BUILD_TIMEOUT_S = 1200


class DockerUnavailable(RuntimeError):
    """No Docker daemon can run on this machine (the reason is the message)."""


def script(name: str, *args: str, timeout: float = BUILD_TIMEOUT_S, env: dict[str, str] | None = None) -> str:
    """Run ``scripts/<name>``; its last stdout line, or a failure carrying its stderr."""
    result = subprocess.run(["bash", str(ROOT / "scripts" / name), *args], capture_output=True, text=True,
                            timeout=timeout, env=env, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/{name} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout.strip().splitlines()[-1]


def ensure_daemon() -> str:
    try:
        return script("container-daemon.sh", timeout=900)
    except RuntimeError as exc:
        raise DockerUnavailable(str(exc)) from exc


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def inspect(kind: str, name: str) -> dict[str, Any]:
    return dict(json.loads(docker(kind, "inspect", name).stdout)[0])


# What every container of the tests gets: the host's network (127.0.0.1 only), a read-only root, and the
# image's three writable paths as tmpfs.
HARDENED = ("--network", "host", "--read-only", "--tmpfs", "/tmp", "--tmpfs", "/var/lib/tmf680",
            "--tmpfs", "/var/run/tmf680/prometheus", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")


def env_args(env: dict[str, str]) -> list[str]:
    return [part for key, value in env.items() for part in ("--env", f"{key}={value}")]


def run_once(image: str, command: Sequence[str], env: dict[str, str], timeout: float = 300) -> str:
    """``tmf680 <command>`` in a throw-away container of ``image``; its output (stdout + stderr)."""
    result = docker("run", "--rm", *HARDENED, *env_args(env), "--entrypoint", "tmf680", image, *command,
                    timeout=timeout)
    return result.stdout + result.stderr


class Container:
    """A detached container, removed on close (its log kept for failure messages)."""

    def __init__(self, image: str, name: str, env: dict[str, str], *extra: str, entrypoint: str | None = None,
                 command: Sequence[str] = (), options: Sequence[str] = HARDENED) -> None:
        self.name = name
        docker("rm", "--force", name, check=False)
        entry = ["--entrypoint", entrypoint] if entrypoint else []
        docker("run", "--detach", "--name", name, *options, *env_args(env), *extra, *entry, image, *command)

    def logs(self) -> str:
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def state(self) -> dict[str, Any]:
        return dict(inspect("container", self.name)["State"])

    def running(self) -> bool:
        return bool(self.state()["Running"])

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return docker("exec", self.name, *command, check=False)

    def host_pids(self) -> list[int]:
        """The container's processes as the host sees them (``docker top``)."""
        result = docker("top", self.name)
        lines = result.stdout.strip().splitlines()
        column = lines[0].split().index("PID")
        return [int(line.split()[column]) for line in lines[1:]]

    def rss_kib(self) -> dict[int, int]:
        """Resident memory of each of the container's processes, from /proc/<pid>/status."""
        rss = {}
        for pid in self.host_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss[pid] = int(line.split()[1])
        return rss

    def stop(self, timeout_s: int = 30) -> float:
        """SIGTERM (the image's stop signal), then the seconds until the container exited."""
        started = time.monotonic()
        docker("stop", "--time", str(timeout_s), self.name, timeout=timeout_s + 30)
        return time.monotonic() - started

    def close(self) -> None:
        docker("rm", "--force", self.name, check=False)
