"""What the served bridge says on the wire, as pure functions: its config, SSE framing, error objects, ids."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from kit.servers.bridge_app.upstream import UpstreamTimeouts

UPSTREAM_KEY_ENV = "KIT_BRIDGE_UPSTREAM_KEY"
API_KEY_ENV = "KIT_BRIDGE_API_KEY"  # what clients must present as `Authorization: Bearer <key>`
MAX_BODY_BYTES = 16 * 1024 * 1024  # a JSON request: room for a few base64 images
MAX_UPLOAD_BYTES = 64 * 1024 * 1024  # a file for the vector stores
HEADER_TIMEOUT = 10.0  # seconds for a client to send its request line and headers
BODY_TIMEOUT = 30.0  # seconds a client may pause while sending its body
REDACTED = "REDACTED"
PASSED_THROUGH = ("chat/completions", "embeddings", "models", "completions")
TERMINAL = ("response.completed", "response.incomplete", "response.failed")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}


@dataclass(frozen=True)
class BridgeConfig:
    """What the served bridge needs: its upstream and how to talk to it."""

    upstream: str  # a Chat Completions base URL, ending in /v1
    upstream_key: str | None = None
    think_tags: bool = False  # the upstream model writes its reasoning inline in <think> tags
    max_tokens_field: str = "max_tokens"
    models: tuple[str, ...] = ()  # the model ids it serves (another is a 400 model_not_found); () : any
    stores_dir: Path | None = None  # where the vector stores live (default: a folder of this run)
    api_key: str | None = None  # clients must present it; required when bound beyond loopback
    bind_host: str | None = None  # where the server listens: a loopback bind accepts loopback Host headers only
    timeouts: UpstreamTimeouts = field(default_factory=UpstreamTimeouts)
    max_body_bytes: int = MAX_BODY_BYTES
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    header_timeout: float = HEADER_TIMEOUT
    body_timeout: float = BODY_TIMEOUT

    def __repr__(self) -> str:  # never the keys, never a URL's credentials
        return (f"BridgeConfig(upstream={shown_url(self.upstream)!r}, upstream_key={'set' if self.upstream_key else None},"
                f" api_key={'set' if self.api_key else None}, bind_host={self.bind_host!r})")

    @property
    def secrets(self) -> tuple[str, ...]:
        """What must never leave the bridge: the upstream key and the upstream URL's credentials."""
        parts = urlsplit(self.upstream)
        found = [self.upstream_key or "", self.api_key or "", parts.password or "", unquote(parts.password or ""),
                 f"{parts.username}:{parts.password}" if parts.password else ""]
        return tuple(sorted({s for s in found if len(s) >= 4}, key=len, reverse=True))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: a bind (or a Host header) no other machine reaches."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def shown_url(url: str) -> str:
    """A URL as it may be shown (health, output, logs): without its user and password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unreadable URL>"
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrub(data: bytes, secrets: tuple[bytes, ...]) -> bytes:
    """`data` with every secret replaced (secrets longest first)."""
    for secret in secrets:
        if secret in data:
            data = data.replace(secret, REDACTED.encode())
    return data


def v1_url(url: str) -> str:
    """The base URL ending in /v1 (what OpenAI clients take), with or without it given."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One Responses event as OpenAI frames it: an `event:` line naming its type, then its JSON."""
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def error_body(message: str, *, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def http_status_of(error: Mapping[str, Any] | None) -> int:
    """The HTTP status a failed response answers with when not streaming: the upstream's own when known."""
    code = str((error or {}).get("code") or "")
    if code.startswith("http_") and code[5:].isdigit():
        return int(code[5:])
    said = _HTTP_STATUS.search(str((error or {}).get("message") or ""))  # the bridge's "HTTP 401: ..." of the upstream
    if said and 400 <= int(said.group(1)) < 600:
        return int(said.group(1))
    return {"rate_limit_exceeded": 429, "connection_error": 502, "vector_store_error": 404,
            "upstream_timeout": 504}.get(code, 502)  # any other upstream failure: a bad gateway, not the bridge's 500


_HTTP_STATUS = re.compile(r"\bHTTP (\d{3}):")


def stream_failure_event(message: str, sequence_number: int) -> dict[str, Any]:
    """The `error` event that ends a stream the bridge itself broke (a bug, not the upstream): say so plainly."""
    return {"type": "error", "code": "server_error", "message": message, "param": None,
            "sequence_number": sequence_number}


def derived_id(prefix: str, *parts: str, length: int = 24) -> str:
    """An id from content: the same uploads give the same ids, so recordings of them are stable."""
    return prefix + hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:length]


# -- WebSocket mode: one JSON text frame per event --------------------------------------------------------------


def ws_error_frame(message: str, *, status: int | None = None, type_: str = "invalid_request_error",
                   code: str | None = None, param: str | None = None, stream_id: str | None = None,
                   sequence_number: int | None = None) -> dict[str, Any]:
    """The `error` frame of Responses WebSocket mode (the openai SDK's `ResponseWsError`): the error object nested
    under `error`, the HTTP status a request refused before streaming would have had, the lane echoed."""
    frame: dict[str, Any] = {"type": "error", "error": {"type": type_, "code": code, "message": message,
                                                        "param": param}}
    if status is not None:
        frame["status"] = status
    if sequence_number is not None:
        frame["sequence_number"] = sequence_number
    if stream_id is not None:
        frame["stream_id"] = stream_id
    return frame


def ws_frame(event: Mapping[str, Any], stream_id: str | None) -> dict[str, Any]:
    """A streamed event as its WebSocket frame: the lane echoed on it, and an SSE-shaped `error` event (its code
    and message at the top) in the WebSocket error shape."""
    if event.get("type") == "error" and not isinstance(event.get("error"), Mapping):
        code = event.get("code")
        return ws_error_frame(str(event.get("message") or "the response failed"), code=code, param=event.get("param"),
                              type_="server_error" if code in (None, "server_error") else "upstream_error",
                              stream_id=stream_id, sequence_number=event.get("sequence_number"))
    return {**event, "stream_id": stream_id} if stream_id is not None else dict(event)
