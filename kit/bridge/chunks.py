"""Captured Chat Completions streams as chunk dicts (pure: text in, chunks out).

Two formats: one chunk JSON per line (the project's tests/captures/chat), or the raw
SSE body a server sent. A payload that is not JSON becomes an `error` chunk
naming where it was, so the translation shows a failed response instead of
crashing (a server that sends garbage has failed).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def looks_like_sse(text: str) -> bool:
    for line in text.splitlines():
        if line.strip():
            return line.startswith(("data:", "event:", ":", "id:", "retry:"))
    return False


def chunks_from_text(text: str, *, source: str = "<text>") -> Iterator[Any]:
    """The chunks of a .jsonl capture or an SSE body, whichever `text` is."""
    return chunks_from_sse(text, source=source) if looks_like_sse(text) else chunks_from_jsonl(text, source=source)


def chunks_from_jsonl(text: str, *, source: str = "<jsonl>") -> Iterator[Any]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield _decode(line, f"{source}:{number}")


def chunks_from_sse(text: str, *, source: str = "<sse>") -> Iterator[Any]:
    """SSE events' data (multi-line data joined by newlines); stops at `[DONE]`."""
    data: list[str] = []
    start = 0
    for number, line in enumerate(text.splitlines() + [""], 1):
        if not line:
            if data:
                payload = "\n".join(data)
                data = []
                if payload.strip() == "[DONE]":
                    return
                yield _decode(payload, f"{source}:{start}")
            continue
        if line.startswith("data:"):
            if not data:
                start = number
            data.append(line[5:].removeprefix(" "))


def _decode(payload: str, where: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError as exc:
        return {"error": {"message": f"{where}: not JSON ({exc}): {payload[:200]!r}", "code": "bridge_not_json"}}
