"""A real HTTP server on loopback that serves the real captured streams of tests/captures.

Until a model server runs, this is what record mode records from: each
captured event goes out byte-for-byte as its own chunk. Requests choose the
capture with `metadata.fixture` (Responses) or `user` (chat: `fixture:NAME`).
Fault injection (and only that) is asked for with `metadata.fault`:
`drop-after:N` closes the connection after N events, `status:500` answers an
error, `slow:SECONDS` sleeps between events, `gate` waits for the test to
release the rest after the first event, `unterminated` sends the last event
without the blank line that ends it, `not-json:N` sends the payload of event N
cut in half (not JSON); `metadata.gzip` compresses a
JSON answer whatever the client accepts. A `fixture` of `a|b` answers
identical requests with a, then b.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "captures"


def fixture_lines(name: str) -> list[str]:
    return [line for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines() if line.strip()]


class LoopbackServer:
    def __init__(self) -> None:
        self.gate = threading.Event()
        self.first_event_sent = threading.Event()
        self.requests: list[dict[str, Any]] = []
        self.calls: dict[bytes, int] = {}
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self._handle(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self._handle(self.rfile.read(length))

            def _handle(self, body: bytes) -> None:
                server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if "multipart/form-data" in (self.headers.get("content-type") or ""):
                    return self._json(200, {"id": "file-loopback", "object": "file", "bytes": len(body),
                                            "purpose": "assistants", "filename": "upload", "created_at": 0,
                                            "status": "processed"})
                req = json.loads(body or b"{}")
                meta = req.get("metadata") or {}
                fixture = meta.get("fixture") or (req.get("user") or "").removeprefix("fixture:")
                fault = meta.get("fault", "")
                if fault.startswith("status:"):
                    code = int(fault.split(":")[1])
                    return self._json(code, {"error": {"message": "injected fault", "type": "server_error",
                                                       "param": None, "code": None}})
                if "|" in fixture:  # identical requests get the captures in turn
                    with server.lock:
                        n = server.calls.get(body, 0)
                        server.calls[body] = n + 1
                    choices = fixture.split("|")
                    fixture = choices[n % len(choices)]
                lines = fixture_lines(fixture)
                if not req.get("stream"):
                    final = json.loads(lines[-1])
                    return self._json(200, final.get("response", final), gzip_it=bool(meta.get("gzip")))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream; charset=utf-8")
                self.send_header("transfer-encoding", "chunked")
                self.send_header("openai-organization", "org-should-never-be-stored")
                self.send_header("set-cookie", "session=should-never-be-stored")
                self.end_headers()
                chat = fixture.startswith("chat/")
                drop_after = int(fault.split(":")[1]) if fault.startswith("drop-after:") else None
                garbled = int(fault.split(":")[1]) if fault.startswith("not-json:") else None
                for i, line in enumerate(lines):
                    if i == garbled:
                        line = line[: len(line) // 2]
                    if drop_after is not None and i == drop_after:
                        self.wfile.flush()
                        self.close_connection = True
                        return  # no terminating chunk: the client sees the body cut short
                    if chat:
                        event = f"data: {line}\n\n"
                    else:
                        event = f"event: {json.loads(line).get('type')}\ndata: {line}\n\n"
                    if fault == "unterminated" and i == len(lines) - 1:
                        event = event[:-2]
                    self._chunk(event.encode("utf-8"))
                    if i == 0:
                        server.first_event_sent.set()
                        if fault == "gate":
                            server.gate.wait(10)
                    if fault.startswith("slow:"):
                        time.sleep(float(fault.split(":")[1]))
                if chat:
                    self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _json(self, code: int, payload: Any, gzip_it: bool = False) -> None:
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("content-type", "application/json")
                if gzip_it:  # even though the client asked for identity: some servers do
                    import gzip

                    data = gzip.compress(data)
                    self.send_header("content-encoding", "gzip")
                self.send_header("content-length", str(len(data)))
                self.send_header("openai-project", "proj_should_never_be_stored")
                self.end_headers()
                self.wfile.write(data)

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that hang up early (a closed stream) are part of the tests

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.httpd.shutdown()
        self.httpd.server_close()
