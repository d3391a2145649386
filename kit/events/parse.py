"""Turn what a server sent (or what someone saved) into a `Stream`. Never raises on bad payloads.

`parse_sse` reads SSE through `kit.events.sse`, the kit's one SSE decoder. A
payload that is not one JSON object becomes a `NotJSONEvent` (the validator
reports `sse.json`).

`parse` accepts whatever holds a stream in memory (bytes, text, chunk
iterables, dicts, SDK objects) and picks the right parser. Reading files and
recordings is the edge's job (`kit.sources`), not this module's.
"""

from __future__ import annotations

import json
import os
from itertools import chain
from typing import Any, Iterable, Iterator

from kit.events.model import Event, NotJSONEvent, Stream, WireFacts, make_event
from kit.events.sse import SSEBlock, SSEDecoder, looks_like_sse

_loads = json.loads
_JSONDecodeError = json.JSONDecodeError


def decode_payload(payload: str) -> Event:
    """One `data:` payload (or jsonl line) as an event; garbage becomes a `NotJSONEvent`."""
    try:
        value = _loads(payload)
    except _JSONDecodeError as exc:
        return NotJSONEvent(payload, f"not JSON: {exc}")
    except RecursionError:
        return NotJSONEvent(payload, "not JSON the kit can read: nested too deeply")
    if type(value) is not dict:
        return NotJSONEvent(payload, f"payload is a JSON {type(value).__name__}, not an object")
    return make_event(value)


def _located(event: Event, line: int) -> Event:
    if type(event) is NotJSONEvent:
        event.line = line
    return event


def parse_jsonl(text: str | bytes, *, source_name: str = "<jsonl>") -> Stream:
    """One event JSON per line (the fixtures' format); blank lines are skipped.

    Only LF ends a line (a U+2028 inside a JSON string is text). Bytes that are
    not UTF-8 are replaced and their lines' offsets kept in the wire facts, so
    the validator reports `sse.utf8` for a file as it does for an SSE body.
    """
    invalid: list[int] = []
    if isinstance(text, (bytes, bytearray, memoryview)):
        lines, offset = [], 0
        for raw in bytes(text).split(b"\n"):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(raw.decode("utf-8", "replace"))
                invalid.append(offset)
            offset += len(raw) + 1
    else:
        lines = text.split("\n")
    events = [_located(decode_payload(line), number) for number, line in enumerate(lines, 1) if line.strip()]
    wire = WireFacts(framing="jsonl", invalid_utf8=invalid) if invalid else None
    return Stream(events, [None] * len(events), wire, source_name)


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
    """Incremental Responses events from SSE bytes: `feed(chunk)` returns the events that chunk completed.

    Usable live (a notebook or renderer feeds bytes as they arrive) and by
    `parse_sse`. The decoding is `kit.events.sse.SSEDecoder`'s, the one SSE
    decoder of the kit; this adds the Responses reading of its blocks and keeps
    the wire facts (`wire`) the validator's `sse.*` rules judge. Call `close()`
    at the end of the body.
    """

    def __init__(self, *, content_type: str | None = None, status: int | None = None) -> None:
        self.wire = WireFacts(content_type=content_type, status=status)
        self._decoder = SSEDecoder()
        self.wire.invalid_utf8 = self._decoder.wire.invalid_utf8  # the decoder fills it in place
        self._events_seen = 0

    def feed(self, chunk: bytes | str) -> list[Event]:
        """Decode one chunk; return the events it completed (possibly none)."""
        return self._events(self._decoder.feed(chunk))

    def close(self) -> list[Event]:
        """End of body: a final event that lacked its blank line is kept and marked (`wire.unterminated`)."""
        events = self._events(self._decoder.close())
        self.wire.unterminated = self._decoder.wire.unterminated
        return events

    def _events(self, blocks: list[SSEBlock]) -> list[Event]:
        events: list[Event] = []
        wire = self.wire
        for block in blocks:
            if block.data is None:
                continue
            if wire.done_index is not None:
                wire.after_done.append(block.data)
                continue
            if block.is_done:
                wire.done_index = self._events_seen
                continue
            self._events_seen += 1
            wire.event_names.append(block.event)
            events.append(_located(decode_payload(block.data), block.line))
        return events


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


def parse_text(text: str | bytes, *, source_name: str = "<text>") -> Stream:
    """SSE or jsonl text, whichever it looks like."""
    if looks_like_sse(text):
        return parse_sse(text, source_name=source_name)
    return parse_jsonl(text, source_name=source_name)


def parse(source: Any, *, source_name: str | None = None) -> Stream:
    """Whatever holds a Responses stream, as a `Stream`.

    Accepts: a `Stream` (returned as is); SSE or jsonl as `str`/`bytes`; an
    iterable of SSE chunks (`bytes`/`str`) or of `(arrival offset, bytes)` pairs;
    an iterable of event dicts, `Event`s or openai SDK event objects. Bad payloads
    become `NotJSONEvent`s. It reads no files: a text is a stream, never a path;
    `kit.load(path)` reads a capture or a recording from disk.
    """
    if isinstance(source, Stream):
        return source
    if isinstance(source, os.PathLike):
        raise TypeError(f"kit.events.parse reads no files; load {os.fspath(source)!r} with kit.load(path)")
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





def sse_payloads(body: Iterable[bytes | str]) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE body as they arrive (up to `[DONE]`), read by the kit's one decoder.

    `body` is byte chunks (`iter_bytes()`) or text lines without their line ends
    (`iter_lines()`). For callers that want plain dicts (benchmarks, tests of a
    server): a payload that is not one JSON object raises ValueError naming it;
    `parse_sse` keeps it as an event the validator reports instead.
    """
    parser = SSEParser()
    for piece in body:
        events = parser.feed(piece + "\n" if isinstance(piece, str) else piece)
        yield from _payloads(events)
    yield from _payloads(parser.close())


def _payloads(events: list[Event]) -> Iterator[dict[str, Any]]:
    for event in events:
        if isinstance(event, NotJSONEvent):
            line = f" (line {event.line})" if event.line is not None else ""
            raise ValueError(f"the event stream has a payload that is not JSON{line}: {event.payload[:200]!r}; "
                             "`kit check` on a recording of it shows the whole stream judged")
        yield event.raw
