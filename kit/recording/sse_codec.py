"""Store an SSE body readably (each event's data as parsed JSON) and get the exact bytes back.

Each event block is kept as `{"event": name?, "data": parsed}`; the stream's
line ending, `data:` prefix and JSON style are stored once, and a block whose
bytes these cannot reproduce keeps its exact text in `"raw"`. Chunk
boundaries and arrival offsets are stored as `[offset_seconds, byte_count]`,
so the exact byte chunks are recoverable.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BLOCK_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")

JSON_STYLES: dict[str, dict[str, Any]] = {
    "compact": {"separators": (",", ":"), "ensure_ascii": False},
    "compact-ascii": {"separators": (",", ":"), "ensure_ascii": True},
    "spaced": {"separators": (", ", ": "), "ensure_ascii": False},
    "spaced-ascii": {"separators": (", ", ": "), "ensure_ascii": True},
}


def encode_sse(body: bytes) -> dict[str, Any]:
    """Split a complete or truncated SSE body into readable events."""
    blocks: list[bytes] = []
    pos = 0
    for match in _BLOCK_END.finditer(body):
        blocks.append(body[pos : match.end()])
        pos = match.end()
    tail = body[pos:]
    eol = "\r\n" if b"\r\n" in body[:4096] else "\n"
    prefix = "data: " if b"data: " in body[:4096] or b"data:" not in body[:4096] else "data:"
    style = _guess_style(blocks, eol, prefix)
    events = []
    for block in blocks:
        text = block.decode("utf-8", "surrogateescape")
        event = _parse_block(text)
        if event is None or _render(event, eol, prefix, style) != text:
            event = dict(event or {})
            event["raw"] = text
        events.append(event)
    out: dict[str, Any] = {"eol": eol, "data_prefix": prefix, "json_style": style, "events": events}
    if tail:
        out["tail"] = tail.decode("utf-8", "surrogateescape")
    return out


def decode_sse(sse: dict[str, Any]) -> bytes:
    eol, prefix, style = sse.get("eol", "\n"), sse.get("data_prefix", "data: "), sse.get("json_style", "compact")
    parts = [e["raw"] if "raw" in e else _render(e, eol, prefix, style) for e in sse.get("events", [])]
    parts.append(sse.get("tail", ""))
    return "".join(parts).encode("utf-8", "surrogateescape")


def _parse_block(text: str) -> dict[str, Any] | None:
    """One block with at most an `event:` line and one `data:` line, else None (kept raw)."""
    lines = text.splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    event: dict[str, Any] = {}
    for line in lines:
        field, sep, value = line.partition(":")
        if not sep or field not in ("event", "data") or field in event:
            return None
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event["event"] = value
        else:
            try:
                event["data"] = json.loads(value) if value != "[DONE]" else value
            except ValueError:
                event["data"] = value
    return event if "data" in event else None


def _render(event: dict[str, Any], eol: str, prefix: str, style: str) -> str:
    data = event.get("data")
    payload = data if isinstance(data, str) else json.dumps(data, **JSON_STYLES.get(style, JSON_STYLES["compact"]))
    head = f"event: {event['event']}{eol}" if "event" in event else ""
    return f"{head}{prefix}{payload}{eol}{eol}"


def _guess_style(blocks: list[bytes], eol: str, prefix: str) -> str:
    for block in blocks[:5]:
        event = _parse_block(block.decode("utf-8", "surrogateescape"))
        if event is None or isinstance(event.get("data"), str):
            continue
        text = block.decode("utf-8", "surrogateescape")
        for style in JSON_STYLES:
            if _render(event, eol, prefix, style) == text:
                return style
    return "compact"
