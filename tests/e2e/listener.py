"""A real HTTP listener on 127.0.0.1 for event-delivery tests: records what it receives, and can
be slow or down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from local_http import LocalHTTPServer


class Listener:
    def __init__(self, port: int = 0, delay_s: float = 0.0, status: int = 201) -> None:
        self.received: list[dict[str, Any]] = []
        self.delay_s = delay_s
        self.status = status
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"null")
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                with outer._lock:
                    outer.received.append({"path": self.path, "body": body})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LocalHTTPServer(Handler, port)
        self.port = self._http.port

    def url(self, path: str = "/events") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r["body"] for r in self.received if path is None or r["path"] == path]

    def close(self) -> None:
        self._http.close()


def wait_until(condition: Any, timeout_s: float = 20.0, interval_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"condition not met within {timeout_s} s")
