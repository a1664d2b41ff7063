"""EventSender against real HTTP servers on 127.0.0.1 (no MongoDB)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from outbound.event_sender import EventSender, SendResult
from services.callback_policy import CallbackPolicy

EVENT = {"eventId": "e-1", "eventType": "QueryProductRecommendationCreateEvent", "event": {"name": "café"}}
HUGE = 50 * 1024 * 1024


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, respond: Callable[[Handler], None]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.respond = respond
        self.received: list[Received] = []
        self.release = threading.Event()  # ends slow handlers at teardown
        self.done = threading.Event()
        self.sent = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        self.server.respond(self)

    def reply(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[Handler], None]], LocalServer]]:
    servers: list[LocalServer] = []

    def start(respond: Callable[[Handler], None]) -> LocalServer:
        server = LocalServer(respond)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def sender() -> Iterator[EventSender]:
    with EventSender(CallbackPolicy(["127.0.0.1"]), timeout_s=2.0) as s:
        yield s


def accepted(handler: Handler) -> None:
    handler.reply(201, b'{"ok":true}', Content_Type="application/json")


def timed(call: Callable[[], SendResult]) -> tuple[SendResult, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_2xx_is_ok_and_the_event_arrives_as_json(serve: Callable[..., LocalServer], sender: EventSender) -> None:
    server = serve(accepted)
    result = sender.send(f"{server.url}/listener/event?x=1", EVENT, headers={"X-Trace": "t1",
                                                                            "content-type": "text/plain"})
    assert result.ok and result.status == 201 and result.error is None
    assert 0 <= result.seconds < 2
    [received] = server.received
    assert received.path == "/listener/event?x=1"
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-trace"] == "t1"
    assert json.loads(received.body) == EVENT


def test_500_is_a_failure(serve: Callable[..., LocalServer], sender: EventSender) -> None:
    server = serve(lambda h: h.reply(500, b"boom"))
    result = sender.send(server.url, EVENT)
    assert result == SendResult(False, 500, "HTTP 500", result.seconds)
    assert len(server.received) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(serve: Callable[..., LocalServer], sender: EventSender, status: int) -> None:
    target = serve(accepted)
    origin = serve(lambda h: h.reply(status, Location=f"{target.url}/elsewhere"))
    result = sender.send(origin.url, EVENT)
    assert not result.ok and result.status == status
    assert result.error is not None and "redirect" in result.error and "/elsewhere" in result.error
    assert len(origin.received) == 1
    assert target.received == []


def test_a_supplied_client_does_not_follow_redirects_either(serve: Callable[..., LocalServer]) -> None:
    target = serve(accepted)
    origin = serve(lambda h: h.reply(302, Location=target.url))
    with httpx.Client(follow_redirects=True) as client:
        result = EventSender(CallbackPolicy(["127.0.0.1"]), client=client).send(origin.url, EVENT)
    assert result.status == 302 and not result.ok
    assert target.received == []


def test_a_slow_callback_costs_at_most_the_timeout(serve: Callable[..., LocalServer]) -> None:
    server = serve(lambda h: (h.server.release.wait(3), h.reply(200)))
    with EventSender(CallbackPolicy(["127.0.0.1"]), timeout_s=0.5) as sender:
        result, elapsed = timed(lambda: sender.send(server.url, EVENT))
    assert not result.ok and result.status is None
    assert result.error is not None and "timed out" in result.error
    assert elapsed < 1.0 and result.seconds < 1.0


def trickle_headers(handler: Handler) -> None:
    """Every read finishes well within a per-read timeout, but the headers never end."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    for _ in range(60):
        if handler.server.release.wait(0.05):
            return
        handler.wfile.write(b"X")
        handler.wfile.flush()


def test_the_timeout_bounds_the_whole_request_not_each_read(serve: Callable[..., LocalServer]) -> None:
    server = serve(trickle_headers)
    with EventSender(CallbackPolicy(["127.0.0.1"]), timeout_s=0.6) as sender:
        result, elapsed = timed(lambda: sender.send(server.url, EVENT))
    assert not result.ok
    assert result.error is not None and "timed out" in result.error
    assert elapsed < 1.2


def trickle_body(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        if handler.server.release.wait(0.05):
            return
        handler.wfile.write(b"x")
        handler.wfile.flush()


def test_a_2xx_with_a_slow_body_is_delivered_within_the_timeout(serve: Callable[..., LocalServer]) -> None:
    server = serve(trickle_body)
    with EventSender(CallbackPolicy(["127.0.0.1"]), timeout_s=0.5) as sender:
        result, elapsed = timed(lambda: sender.send(server.url, EVENT))
    assert result.ok and result.status == 200
    assert elapsed < 1.0


def huge_body(handler: Handler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(HUGE))
    handler.end_headers()
    chunk = b"x" * 65536
    try:
        while handler.server.sent < HUGE and not handler.server.release.is_set():
            handler.wfile.write(chunk)
            handler.server.sent += len(chunk)
    except OSError:  # the client hung up
        pass
    finally:
        handler.close_connection = True
        handler.server.done.set()


def test_a_huge_response_body_is_not_read_beyond_the_limit(serve: Callable[..., LocalServer]) -> None:
    server = serve(huge_body)
    with EventSender(CallbackPolicy(["127.0.0.1"]), timeout_s=5.0, max_response_bytes=65536) as sender:
        result, elapsed = timed(lambda: sender.send(server.url, EVENT))
    assert result.ok and result.status == 200
    assert elapsed < 1.0
    assert server.done.wait(5)
    assert server.sent < HUGE // 2  # the server gave up when the client hung up


def test_without_allow_list_loopback_is_refused_and_nothing_is_sent(serve: Callable[..., LocalServer]) -> None:
    server = serve(accepted)
    port = server.server_address[1]
    with EventSender(CallbackPolicy(), timeout_s=1.0) as sender:
        for url in (server.url, f"http://localhost:{port}/", f"http://2130706433:{port}/",
                    f"http://[::ffff:127.0.0.1]:{port}/"):
            result = sender.send(url, EVENT)
            assert not result.ok and result.status is None
            assert result.error is not None and result.error.startswith("refused:") and "loopback" in result.error
        assert not sender.send("ftp://127.0.0.1/", EVENT).ok
    time.sleep(0.1)
    assert server.received == []


def test_the_connection_goes_to_the_address_the_policy_vetted(serve: Callable[..., LocalServer]) -> None:
    """``callback.test`` is unknown to the system resolver: only the policy's answer can reach the server."""
    server = serve(accepted)
    port = server.server_address[1]
    policy = CallbackPolicy(["127.0.0.1"], resolver=lambda host, p: ["127.0.0.1"] if host == "callback.test" else [])
    with EventSender(policy, timeout_s=2.0) as sender:
        result = sender.send(f"http://callback.test:{port}/cb", EVENT)
    assert result.ok, result.error
    assert server.received[0].headers["host"] == f"callback.test:{port}"


def test_the_policy_is_checked_again_at_send_time(serve: Callable[..., LocalServer]) -> None:
    """A host that passed at registration and now resolves to the metadata service is not contacted."""
    server = serve(accepted)
    answers = {"callback.test": ["127.0.0.1"]}
    policy = CallbackPolicy(["127.0.0.1"], resolver=lambda host, port: answers[host])
    url = f"http://callback.test:{server.server_address[1]}/cb"
    assert policy.check(url) == ["127.0.0.1"]  # registration
    answers["callback.test"] = ["169.254.169.254"]
    with EventSender(policy, timeout_s=1.0) as sender:
        result = sender.send(url, EVENT)
    assert not result.ok and result.error is not None and "metadata" in result.error
    assert server.received == []


def test_slow_name_resolution_is_bounded_by_the_timeout() -> None:
    release = threading.Event()

    def stuck(host: str, port: int) -> list[str]:
        release.wait(3)
        return ["127.0.0.1"]

    with EventSender(CallbackPolicy(["127.0.0.1"], resolver=stuck), timeout_s=0.5) as sender:
        result, elapsed = timed(lambda: sender.send("http://callback.test:9/", EVENT))
    release.set()
    assert not result.ok and result.error is not None and "timed out" in result.error
    assert elapsed < 1.0


def test_connection_refused_is_a_failure_not_an_exception(sender: EventSender) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        result = sender.send(f"http://127.0.0.1:{port}/", EVENT)
    assert not result.ok and result.status is None
    assert result.error is not None and "ConnectError" in result.error


def test_concurrent_sends_from_many_threads(serve: Callable[..., LocalServer], sender: EventSender) -> None:
    server = serve(accepted)
    results: list[SendResult] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for i in range(4):
            result = sender.send(f"{server.url}/t{n}/{i}", {**EVENT, "eventId": f"{n}-{i}"})
            with lock:
                results.append(result)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 32 and all(r.ok for r in results)
    assert sorted(json.loads(r.body)["eventId"] for r in server.received) == sorted(
        f"{n}-{i}" for n in range(8) for i in range(4))
