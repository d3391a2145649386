"""One upstream call of the served bridge, cancellable from the event loop at once, stalled or not.

The bridge's core is synchronous (the openai SDK) and runs in a thread; a
thread blocked in `recv` on a stalled upstream does not notice its client is
gone, nor a deadline. Each call therefore gets its own connection, whose
sockets are known: `cancel()` shuts them down, which wakes the blocked read
with an error, so the thread ends and the socket is released now rather than
after the upstream's own timeout.
"""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import httpcore
import httpx


@dataclass(frozen=True)
class UpstreamTimeouts:
    """Seconds: to connect, to the first byte of the answer, and between two chunks of it."""

    connect: float = 10.0
    first_byte: float = 300.0  # a CPU model may take minutes over a long prompt before its first token
    idle: float = 60.0

    def httpx(self) -> httpx.Timeout:
        """The socket-level backstop; the bridge enforces first byte and idle itself, exactly."""
        return httpx.Timeout(max(self.first_byte, self.idle) + 5.0, connect=self.connect, write=self.idle,
                             pool=self.connect)


class _TrackedStream(httpcore.NetworkStream):
    """A connection's stream that its call can shut down from another thread (TLS upgrades included)."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        self._inner = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return self

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


class _TrackingBackend(httpcore.SyncBackend):
    """Connects as usual, keeping the streams so that `cancel` can shut them down."""

    def __init__(self) -> None:
        self.streams: list[_TrackedStream] = []
        self.cancelled = False
        self._lock = threading.Lock()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        if self.cancelled:
            raise httpcore.ConnectError("the call was cancelled")
        stream = _TrackedStream(super().connect_tcp(host, port, timeout, local_address, socket_options))
        with self._lock:
            self.streams.append(stream)
            cancelled = self.cancelled
        if cancelled:
            stream.shutdown()
        return stream

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            streams = list(self.streams)
        for stream in streams:
            stream.shutdown()


@lru_cache(maxsize=1)
def ssl_context() -> ssl.SSLContext:
    """One verified TLS context for every call (building one per call costs milliseconds)."""
    return httpx.create_ssl_context()


class UpstreamCall:
    """An openai client over a connection of its own, for one request: `cancel()` from any thread; `close()`."""

    def __init__(self, base: Any, timeouts: UpstreamTimeouts, api_key: str | None = None) -> None:
        self._backend = _TrackingBackend()
        self._base, self._timeouts, self._api_key = base, timeouts, api_key
        self._made: tuple[httpx.Client, Any] | None = None

    @property
    def client(self) -> Any:
        """The openai client of this call, made on first use (in the thread that uses it)."""
        if self._made is None:
            transport = httpx.HTTPTransport(verify=ssl_context(), trust_env=False)
            transport._pool = httpcore.ConnectionPool(ssl_context=ssl_context(), max_connections=4,
                                                      network_backend=self._backend)
            http = httpx.Client(transport=transport, timeout=self._timeouts.httpx(), trust_env=False)
            options: dict[str, Any] = {"http_client": http, "timeout": self._timeouts.httpx()}
            if self._api_key:
                options["api_key"] = self._api_key
            self._made = (http, self._base.with_options(**options))
        return self._made[1]

    @property
    def connected(self) -> bool:
        """Whether the call reached the upstream (a failure before it is the request's own)."""
        return bool(self._backend.streams)

    @property
    def cancelled(self) -> bool:
        return self._backend.cancelled

    def cancel(self) -> None:
        self._backend.cancel()

    def close(self) -> None:
        self.cancel()
        if self._made is not None:
            self._made[0].close()
