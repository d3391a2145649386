"""Turn what a server sent (or what someone saved) into a `Stream`. Never raises on bad payloads.

`parse_sse` follows the WHATWG server-sent events rules: lines end with CRLF, LF
or CR; `data:` lines of one event are joined with "\\n"; one space after the
colon is dropped; `:` lines are comments; a blank line dispatches. Bytes may be
split anywhere, even inside a UTF-8 character or a CRLF. A payload that is not
one JSON object becomes a `NotJSONEvent` (the validator reports `sse.json`).

`parse` is the edge that accepts everything (paths, bytes, text, chunk
iterables, dicts, SDK objects, kit recordings) and picks the right parser.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from itertools import chain
from pathlib import Path
from typing import Any, Iterable, Iterator

from kit.events.model import Event, NotJSONEvent, Stream, WireFacts, make_event

DONE_SENTINEL = "[DONE]"

# Only CRLF, LF and CR end SSE lines (str.splitlines would also split on U+2028 inside JSON strings).
_LINE_END = re.compile(r"\r\n|\r|\n")
_loads = json.loads
_JSONDecodeError = json.JSONDecodeError


def decode_payload(payload: str) -> Event:
    """One `data:` payload (or jsonl line) as an event; garbage becomes a `NotJSONEvent`."""
    try:
        value = _loads(payload)
    except (_JSONDecodeError, RecursionError) as exc:
        return NotJSONEvent(payload, f"not JSON: {exc}")
    if type(value) is not dict:
        return NotJSONEvent(payload, f"payload is a JSON {type(value).__name__}, not an object")
    return make_event(value)


def parse_jsonl(text: str | bytes, *, source_name: str = "<jsonl>") -> Stream:
    """One event JSON per line (the fixtures' format); blank lines are skipped."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    events = [decode_payload(line) for line in text.split("\n") if line.strip()]
    return Stream(events, [None] * len(events), None, source_name)


def parse_events(items: Iterable[Any], *, source_name: str = "<events>") -> Stream:
    """Event dicts, `Event`s or openai SDK event objects (pydantic models), in order."""
    events = [_to_event(item) for item in items]
    return Stream(events, [None] * len(events), None, source_name)


def _to_event(item: Any) -> Event:
    if isinstance(item, Event):
        return item
    if isinstance(item, dict):
        return make_event(item)
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):  # openai SDK models keep unknown fields in to_dict()
        return make_event(to_dict(mode="json"))
    model_dump = getattr(item, "model_dump", None)
    if callable(model_dump):
        return make_event(model_dump(mode="json", exclude_unset=True, by_alias=True))
    return NotJSONEvent(repr(item)[:200], f"not an event: a {type(item).__name__}")


class SSEParser:
    """Incremental SSE decoder: `feed(chunk, offset)` returns the events that chunk completed.

    Usable live (a renderer feeds bytes as they arrive) and by `parse_sse`. Keeps the
    wire facts as it goes; call `close()` at the end of the body.
    """

    def __init__(self, *, content_type: str | None = None, status: int | None = None) -> None:
        self.wire = WireFacts(content_type=content_type, status=status)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending_parts: list[str] = []  # text of the current, incomplete line
        self._data: list[str] = []
        self._event_name: str | None = None
        self._started = False
        self._events_seen = 0
        self._skip_lf = False  # a CR ended the last chunk: a leading LF belongs to it

    def feed(self, chunk: bytes | str) -> list[Event]:
        """Decode one chunk; return the events it completed (possibly none)."""
        text = chunk if isinstance(chunk, str) else self._decoder.decode(chunk)
        return self._feed_text(text)

    def close(self) -> list[Event]:
        """End of body: flush a final event that lacked its blank line (marked `unterminated`)."""
        text = self._decoder.decode(b"", final=True)
        events = self._feed_text(text)
        if self._pending_parts:
            self._line("".join(self._pending_parts))
            self._pending_parts = []
        if self._data:
            self.wire.unterminated = True
            event = self._dispatch()
            if event is not None:
                events.append(event)
        return events

    def _feed_text(self, text: str) -> list[Event]:
        if not text:
            return []
        if not self._started:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf and text.startswith("\n"):
            text = text[1:]
        self._skip_lf = text.endswith("\r")
        if "\n" not in text and "\r" not in text:  # no line ends: just remember it (no quadratic re-joining)
            self._pending_parts.append(text)
            return []
        lines = _LINE_END.split(text)
        if self._pending_parts:
            lines[0] = "".join(self._pending_parts) + lines[0]
        tail = lines.pop()  # after the last line end: an incomplete line (often "")
        self._pending_parts = [tail] if tail else []
        events: list[Event] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_name = value
        return None  # `id`, `retry` and unknown fields do not matter to a Responses client

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._event_name = None
            return None
        payload = "\n".join(self._data)
        name = self._event_name
        self._data = []
        self._event_name = None
        wire = self.wire
        if wire.done_index is not None:
            wire.after_done.append(payload)
            return None
        if payload.strip() == DONE_SENTINEL:
            wire.done_index = self._events_seen
            return None
        self._events_seen += 1
        wire.event_names.append(name)
        return decode_payload(payload)


def parse_sse(
    chunks: str | bytes | Iterable[bytes | str | tuple[float | None, bytes | str]],
    *,
    content_type: str | None = None,
    status: int | None = None,
    source_name: str = "<sse>",
) -> Stream:
    """Raw SSE (whole body, or chunks, or `(arrival offset, chunk)` pairs) as a `Stream` with wire facts."""
    parser = SSEParser(content_type=content_type, status=status)
    events: list[Event] = []
    offsets: list[float | None] = []
    if isinstance(chunks, (str, bytes, bytearray, memoryview)):
        chunks = [bytes(chunks) if not isinstance(chunks, str) else chunks]
    for chunk in chunks:
        offset: float | None = None
        if isinstance(chunk, tuple):
            offset, chunk = chunk
        completed = parser.feed(chunk)
        events.extend(completed)
        offsets.extend([offset] * len(completed))
    tail = parser.close()
    events.extend(tail)
    offsets.extend([offsets[-1] if offsets else None] * len(tail))
    return Stream(events, offsets, parser.wire, source_name)


def looks_like_sse(text: str) -> bool:
    """True when some line starts with an SSE field (`data:`, `event:`); else treat as jsonl."""
    for line in text.splitlines():
        stripped = line.lstrip("\ufeff")
        if stripped.startswith(("data:", "event:", ":")) or stripped == "data":
            return True
        if stripped.strip():
            return False  # the first non-blank line decides
    return False


def parse_text(text: str | bytes, *, source_name: str = "<text>") -> Stream:
    """SSE or jsonl text, whichever it looks like."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        raw = bytes(text)
        sniff = raw[:4096].decode("utf-8", errors="replace")
        return parse_sse(raw, source_name=source_name) if looks_like_sse(sniff) else parse_jsonl(raw, source_name=source_name)
    return parse_sse(text, source_name=source_name) if looks_like_sse(text) else parse_jsonl(text, source_name=source_name)


# --- The edge: files and whatever else a caller has ----------------------------------------------


def parse_recording(path: str | os.PathLike[str]) -> Stream:
    """A kit recording (`.json` written by kit.recording): exact body bytes, timing, content type."""
    from kit.recording import load_recording  # lazy: recording depends on the HTTP stack

    recording = load_recording(Path(path))
    headers = {key.lower(): value for key, value in (recording.response_headers or {}).items()}
    stream = parse_sse(
        recording.response_chunks(),
        content_type=headers.get("content-type"),
        status=recording.status,
        source_name=str(path),
    )
    error = getattr(recording, "error", None)
    if error and stream.wire is not None:
        stream.wire.transport_error = str(error.get("message", error) if isinstance(error, dict) else error)
    return stream


def parse_file(path: str | os.PathLike[str]) -> Stream:
    """A `.jsonl` fixture, a kit recording `.json` (or a `.json` list of events), or a saved SSE body."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".json":
        if data.lstrip()[:1] == b"[":  # a saved list of event objects
            try:
                items = json.loads(data)
            except ValueError as exc:
                raise ValueError(f"{path}: not valid JSON ({exc}); expected a kit recording or a list of events") from exc
            return parse_events(items, source_name=str(path))
        return parse_recording(path)
    if path.suffix == ".jsonl":
        return parse_jsonl(data, source_name=str(path))
    return parse_text(data, source_name=str(path))


def _is_path(source: Any) -> bool:
    if isinstance(source, os.PathLike):
        return True
    return (
        isinstance(source, str)
        and "\n" not in source
        and len(source) < 4096
        and not source.lstrip().startswith(("data:", "event:", "{", ":"))
        and source.strip() != ""
    )


def parse(source: Any, *, source_name: str | None = None) -> Stream:
    """Whatever holds a Responses stream, as a `Stream`.

    Accepts: a `Stream` (returned as is); a path (`.jsonl`, kit recording `.json`,
    SSE text otherwise); SSE or jsonl as `str`/`bytes`; an iterable of SSE chunks
    (`bytes`/`str`) or of `(arrival offset, bytes)` pairs; an iterable of event
    dicts, `Event`s or openai SDK event objects. Bad payloads become `NotJSONEvent`s;
    only an unreadable file (or a source of an unknown kind) raises.
    """
    if isinstance(source, Stream):
        return source
    if _is_path(source):
        stream = parse_file(source)
        return stream if source_name is None else _renamed(stream, source_name)
    if isinstance(source, (str, bytes, bytearray, memoryview)):
        return parse_text(source, source_name=source_name or "<text>")
    if isinstance(source, dict) or not isinstance(source, Iterable):
        raise TypeError(
            f"cannot parse a {type(source).__name__} as a Responses stream: pass SSE text/bytes, a path, "
            "chunks, or a list of events"
        )
    iterator: Iterator[Any] = iter(source)
    first = next(iterator, None)
    if first is None:
        return Stream([], [], None, source_name or "<empty>")
    rest = chain([first], iterator)
    if isinstance(first, tuple) or isinstance(first, (bytes, bytearray, str)):
        return parse_sse(rest, source_name=source_name or "<sse>")
    return parse_events(rest, source_name=source_name or "<events>")


def _renamed(stream: Stream, source_name: str) -> Stream:
    return Stream(stream.events, stream.offsets, stream.wire, source_name)
