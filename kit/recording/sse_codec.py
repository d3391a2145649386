"""Store an SSE body readably (each event's data as parsed JSON) and get the exact bytes back.

The blocks are the ones the kit's one SSE decoder (`kit.events.sse`) sees, so a
recording and `kit check` cut a body the same way.

Each event block is kept as `{"event": name?, "data": parsed}`; the stream's
line ending, `data:` prefix and JSON style are stored once, and a block whose
bytes these cannot reproduce keeps its exact text in `"raw"`. Chunk
boundaries and arrival offsets are stored as `[offset_seconds, byte_count]`,
so the exact byte chunks are recoverable.
"""

from __future__ import annotations

import json
from typing import Any

from kit.events.sse import SSEBlock, decode_sse as split_blocks

JSON_STYLES: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},
    "compact-ascii": {"separators": (",", ":"), "ensure_ascii": True},
    "spaced": {"separators": (", ", ": "), "ensure_ascii": False},
    "spaced-ascii": {"separators": (", ", ": "), "ensure_ascii": True},
}


def encode_sse(body: bytes) -> dict[str, Any]:
    """Split a complete or truncated SSE body into readable events (blocks as the kit's one SSE decoder sees them)."""
    blocks, _ = split_blocks(body)
    eol = "\r\n" if b"\r\n" in body[:4096] else "\n"
    prefix = "data: " if b"data: " in body[:4096] or b"data:" not in body[:4096] else "data:"
    complete = [block for block in blocks if block.terminated]
    style = _guess_style(complete, eol, prefix)
    events = []
    for block in complete:
        text = block.raw.decode("utf-8", "surrogateescape")
        event = _readable(block)
        if event is None or _render(event, eol, prefix, style) != text:
            event = dict(event or {})
            event["raw"] = text
        events.append(event)
    out: dict[str, Any] = {"eol": eol, "data_prefix": prefix, "json_style": style, "events": events}
    tail = b"".join(block.raw for block in blocks if not block.terminated)
    if tail:
        out["tail"] = tail.decode("utf-8", "surrogateescape")
    return out


def decode_sse(sse: dict[str, Any]) -> bytes:
    eol, prefix, style = sse.get("eol", "\n"), sse.get("data_prefix", "data: "), sse.get("json_style", "compact")
    parts = [e["raw"] if "raw" in e else _render(e, eol, prefix, style) for e in sse.get("events", [])]
    parts.append(sse.get("tail", ""))
    return "".join(parts).encode("utf-8", "surrogateescape")


def _readable(block: SSEBlock) -> dict[str, Any] | None:
    """A block with one `data:` line and at most one `event:` line before it, else None (kept raw)."""
    if block.data is None or block.fields not in (("data",), ("event", "data")):
        return None
    event: dict[str, Any] = {} if block.event is None else {"event": block.event}
    try:
        event["data"] = json.loads(block.data) if block.data != "[DONE]" else block.data
    except (ValueError, RecursionError):
        event["data"] = block.data
    return event


def _render(event: dict[str, Any], eol: str, prefix: str, style: str) -> str:
    data = event.get("data")
    payload = data if isinstance(data, str) else json.dumps(data, **JSON_STYLES.get(style, JSON_STYLES["compact"]))
    head = f"event: {event['event']}{eol}" if "event" in event else ""
    return f"{head}{prefix}{payload}{eol}{eol}"


def _guess_style(blocks: list[SSEBlock], eol: str, prefix: str) -> str:
    for block in blocks[:5]:
        event = _readable(block)
        if event is None or isinstance(event.get("data"), str):
            continue
        text = block.raw.decode("utf-8", "surrogateescape")
        for style in JSON_STYLES:
            if _render(event, eol, prefix, style) == text:
                return style
    return "compact"
