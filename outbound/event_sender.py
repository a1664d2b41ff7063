"""Delivering one event to one hub callback: a bounded, redirect-free JSON POST that never raises.

Three guarantees beyond a plain ``httpx.post``:

- **Where**: the callback policy is checked again at send time, and the connection goes to the
  addresses that check vetted (the resolution is not repeated by the HTTP client), so a DNS answer
  that changes between the check and the connection (DNS rebinding) cannot reach an internal host.
- **How long**: httpx timeouts apply per socket operation, so a peer trickling one byte at a time
  could hold a request open for ever; here every operation, and the name resolution, shares one
  deadline of ``timeout_s`` from the start of the send.
- **How much**: at most ``max_response_bytes`` of the answer are read (raw, so a compressed body
  cannot expand in memory); the rest is dropped with the connection.

A caller-supplied ``httpx.Client`` is used as is: it gets the send-time check, the redirect refusal
and the body limit, but neither the address pinning nor the shared deadline (its transport decides).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpcore
import httpx

from services.callback_policy import CallbackPolicy, normal_host
from services.errors import InvalidRequest

T = TypeVar("T")
_MAX_ERROR_TEXT = 300


@dataclass(frozen=True)
class SendResult:
    """The outcome of one delivery: ``ok`` for a 2xx answer; ``error`` says what went wrong otherwise."""

    ok: bool
    status: int | None
    error: str | None
    seconds: float


class _SendScope(threading.local):
    """The current thread's send: its deadline and the addresses vetted for its host.

    httpcore calls the network backend on the thread that sends, so a thread-local reaches it.
    """

    deadline: float | None = None
    vetted: dict[tuple[str, int], list[str]] | None = None

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def clip(self, timeout: float | None, expired: type[Exception]) -> float | None:
        """``timeout`` shortened to what is left of the deadline; ``expired`` raised once it has passed."""
        remaining = self.remaining()
        if remaining is None:
            return timeout
        if remaining <= 0:
            raise expired("the delivery deadline has passed")
        return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, scope: _SendScope) -> None:
        self._inner = inner
        self._scope = scope

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._scope.clip(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._scope.clip(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._scope.clip(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner, self._scope)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the policy vetted for the host, within the send's deadline."""

    def __init__(self, vet: Callable[[str, int], list[str]], scope: _SendScope) -> None:
        self._vet = vet
        self._scope = scope
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        vetted = self._scope.vetted or {}
        addresses = vetted.get((host, port)) or self._vet(host, port)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(address, port, self._scope.clip(timeout, httpcore.ConnectTimeout),
                                                 local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._scope)
        raise failure or httpcore.ConnectError(f"no address to connect to for {host}")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("callbacks are not delivered over unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport (request mapping, error mapping) over a pool that connects through our backend.

    httpx has no public hook for the network backend, so the pool it builds is replaced.
    """

    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        super().__init__(trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.ConnectionPool):
            raise RuntimeError("this httpx version does not keep its connection pool in HTTPTransport._pool")
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=backend,
        )


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_MAX_ERROR_TEXT]


class EventSender:
    """POSTs events to hub callbacks; safe to share between threads."""

    def __init__(self, policy: CallbackPolicy, timeout_s: float = 5.0, max_response_bytes: int = 65536,
                 client: httpx.Client | None = None) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        self._policy = policy
        self.timeout_s = timeout_s
        self.max_response_bytes = max_response_bytes
        self._scope = _SendScope()
        # name resolution has no timeout of its own: it runs here, waited on for what is left of the deadline
        self._resolvers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="callback-dns")
        self._owns_client = client is None
        self._client = client or httpx.Client(
            transport=_PinnedTransport(_PinnedBackend(self._vet_host, self._scope)),
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: it would connect where the policy did not look
        )

    def close(self) -> None:
        """Close the connections (of a client this sender created) and the resolver threads."""
        if self._owns_client:
            self._client.close()
        self._resolvers.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> EventSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _bounded(self, call: Callable[[], T]) -> T:
        """``call()`` on a resolver thread, given what is left of the current send's deadline."""
        future = self._resolvers.submit(call)
        remaining = self._scope.remaining()
        try:
            return future.result(timeout=None if remaining is None else max(remaining, 0.0))
        except FutureTimeout:
            future.cancel()
            raise httpcore.ConnectTimeout("resolving the callback host took too long") from None

    def _vet_host(self, host: str, port: int) -> list[str]:
        return self._bounded(lambda: self._policy.check_host(host, port))

    @contextmanager
    def _send_scope(self, deadline: float) -> Iterator[dict[tuple[str, int], list[str]]]:
        self._scope.deadline, self._scope.vetted = deadline, {}
        try:
            yield self._scope.vetted
        finally:
            self._scope.deadline, self._scope.vetted = None, None

    def send(self, url: str, event: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> SendResult:
        """POST ``event`` as JSON to ``url``. Never raises for a refused, unreachable or failing callback.

        Once a 2xx status has arrived the event counts as delivered: a body that is slow or too long
        to read does not change that.
        """
        started = time.monotonic()
        body = json.dumps(dict(event), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
        request_headers = httpx.Headers(headers)
        request_headers["Content-Type"] = "application/json"

        def result(ok: bool, status: int | None, error: str | None) -> SendResult:
            return SendResult(ok, status, error, time.monotonic() - started)

        with self._send_scope(started + self.timeout_s) as vetted:
            try:
                target = httpx.URL(url)
                addresses = self._bounded(lambda: self._policy.check(url))
            except InvalidRequest as exc:
                return result(False, None, f"refused: {exc.message}"[:_MAX_ERROR_TEXT])
            except httpx.InvalidURL as exc:
                return result(False, None, f"refused: {exc}"[:_MAX_ERROR_TEXT])
            except httpcore.TimeoutException:
                return result(False, None, f"timed out after {self.timeout_s:g} s (resolving the host)")
            # the connection uses these addresses, unless httpx reads the host differently from the check
            # (then the backend checks httpx's reading itself)
            host = target.raw_host.decode("ascii")
            if normal_host(host) == normal_host(urlsplit(url).hostname or ""):
                vetted[(host, target.port or (443 if target.scheme == "https" else 80))] = addresses
            try:
                with self._client.stream("POST", url, content=body, headers=request_headers,
                                         follow_redirects=False, timeout=self.timeout_s) as response:
                    status = response.status_code
                    self._drain(response)
            except InvalidRequest as exc:  # the connection-time check of another spelling of the host
                return result(False, None, f"refused: {exc.message}"[:_MAX_ERROR_TEXT])
            except httpx.TimeoutException:
                return result(False, None, f"timed out after {self.timeout_s:g} s")
            except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError) as exc:
                return result(False, None, _short(exc))
        if 200 <= status < 300:
            return result(True, status, None)
        if 300 <= status < 400:
            location = response.headers.get("Location", "")[:200]
            return result(False, status, f"HTTP {status}: redirect to {location!r} not followed")
        return result(False, status, f"HTTP {status}")

    def _drain(self, response: httpx.Response) -> None:
        """Read at most ``max_response_bytes`` of the body, within the deadline; read failures are ignored."""
        received = 0
        try:
            for chunk in response.iter_raw():
                received += len(chunk)
                remaining = self._scope.remaining()
                if received >= self.max_response_bytes or (remaining is not None and remaining <= 0):
                    return
        except (httpx.HTTPError, httpx.StreamError, OSError):
            return
