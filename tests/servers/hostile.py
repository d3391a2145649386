"""Fault injection for the served bridge: a hostile Chat Completions upstream, and the bridge in this process.

`HostileUpstream` is a raw loopback TCP server whose faults are chosen by
the request's `user` field (chat) or path: `stall` (reads the request, never
answers), `stall-mid` (one chunk, then silence), `bad-json` (one chunk, then
a payload that is not JSON), `echo-auth` (a 401 whose body echoes the
Authorization header it got); anything else gets one short, valid chat stream.
It counts the connections still open, so a test can assert that the bridge
closed every one. This is a mock, for fault injection only (marker
`fault_injection`).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from kit.servers.bridge_app import BridgeConfig, create_app
from kit.servers.bridge_app.guard import guarded_protocol
from kit.servers.process import free_port

CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": None}]}
LAST = {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


def _sse(payload: Any) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


class HostileUpstream:
    def __init__(self, always: str | None = None) -> None:
        self.always = always  # one fault for every request (`echo-auth` for every route)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.open = 0
        self.accepted = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"

    def __enter__(self) -> HostileUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.sock.close()

    def wait_closed(self, timeout: float) -> int:
        """The connections still open after waiting up to `timeout` for them all to close."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.open:
            time.sleep(0.02)
        return self.open

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.open += 1
                self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            head, body = self._read_request(conn)
            self._answer(conn, head, body)
            self._until_closed(conn)
        except OSError:
            pass
        finally:
            conn.close()
            with self.lock:
                self.open -= 1

    @staticmethod
    def _read_request(conn: socket.socket) -> tuple[str, bytes]:
        data = b""
        while b"\r\n\r\n" not in data:
            part = conn.recv(65536)
            if not part:
                raise OSError("closed")
            data += part
        head, _, body = data.partition(b"\r\n\r\n")
        text = head.decode("latin-1")
        length = next((int(line.split(":", 1)[1]) for line in text.split("\r\n")
                       if line.lower().startswith("content-length:")), 0)
        while len(body) < length:
            part = conn.recv(65536)
            if not part:
                raise OSError("closed")
            body += part
        return text, body

    def _answer(self, conn: socket.socket, head: str, body: bytes) -> None:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        fault = str(request.get("user") or "") if isinstance(request, dict) else ""
        if "/models" in head.split("\r\n")[0]:
            fault = fault or "models"
        fault = self.always or fault
        auth = next((line.split(":", 1)[1].strip() for line in head.split("\r\n")
                     if line.lower().startswith("authorization:")), "")
        if fault == "stall":
            return
        if fault == "echo-auth":
            payload = json.dumps({"error": {"message": f"Incorrect API key provided: {auth}", "type": "invalid_request_error",
                                            "code": "invalid_api_key", "param": None}}).encode()
            conn.sendall(b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(payload)).encode() + b"\r\nconnection: close\r\n\r\n" + payload)
            return
        if fault == "models":
            payload = json.dumps({"object": "list", "data": [{"id": "m", "object": "model"}]}).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                         + str(len(payload)).encode() + b"\r\nconnection: close\r\n\r\n" + payload)
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
                     + _sse(CHUNK))
        if fault == "stall-mid":
            return
        if fault == "bad-json":
            conn.sendall(b"data: {this is not json\n\n")
            return
        conn.sendall(_sse(LAST) + b"data: [DONE]\n\n")
        conn.shutdown(socket.SHUT_WR)

    def _until_closed(self, conn: socket.socket) -> None:
        """Hold the connection until the peer closes it (or the server stops)."""
        conn.settimeout(0.05)
        while not self.stop.is_set():
            try:
                if not conn.recv(65536):
                    return
            except socket.timeout:
                continue


def response_threads() -> int:
    return sum(t.name == "kit-bridge-response" and t.is_alive() for t in threading.enumerate())


def wait_threads(timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and response_threads():
        time.sleep(0.02)
    return response_threads()


@contextmanager
def bridge_in_process(config: BridgeConfig, host: str = "127.0.0.1") -> Iterator[str]:
    """The bridge app on uvicorn in a thread of this process (so its threads can be counted); yields its /v1 URL."""
    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(create_app(config), host=host, port=port, log_level="critical",
                                           http=guarded_protocol(config.header_timeout), lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the bridge did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(10)
