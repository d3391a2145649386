"""What the served bridge says on the wire, as pure functions: its config, SSE framing, error objects, ids."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UPSTREAM_KEY_ENV = "KIT_BRIDGE_UPSTREAM_KEY"
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
    stores_dir: Path | None = None  # where the vector stores live (default: a folder of this run)


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
    return {"rate_limit_exceeded": 429, "connection_error": 502, "vector_store_error": 404}.get(code, 500)


def stream_failure_event(message: str, sequence_number: int) -> dict[str, Any]:
    """The `error` event that ends a stream the bridge itself broke (a bug, not the upstream): say so plainly."""
    return {"type": "error", "code": "server_error", "message": message, "param": None,
            "sequence_number": sequence_number}


def derived_id(prefix: str, *parts: str, length: int = 24) -> str:
    """An id from content: the same uploads give the same ids, so recordings of them are stable."""
    return prefix + hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:length]
