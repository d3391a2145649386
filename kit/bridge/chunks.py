"""Captured Chat Completions streams through the bridge (pure: a parsed stream in, a Responses stream out).

A chat capture is read like any other stream, by the kit's one SSE decoder
(`kit.events.parse_text` / `kit.load`): a .jsonl of chunks (the project's
tests/captures/chat) or the raw SSE body a server sent. `bridge_capture` is
the one way the kit shows a chat capture as Responses events (`kit show`,
`kit bridge`, the notebooks): each event keeps the arrival time of the chunk
behind it. A payload that is not JSON becomes an `error` chunk naming where
it was, so the translation shows a failed response instead of crashing (a
server that sends garbage has failed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from kit.events import NotJSONEvent, Stream, parse_events, parse_sse, parse_text
from kit.bridge.translate import ChatToResponses


def is_chat_capture(stream: Stream) -> bool:
    """True when the stream holds Chat Completions chunks rather than Responses events."""
    first = next((e.raw for e in stream.events if e.raw), {})
    return first.get("object") == "chat.completion.chunk" or ("choices" in first and "type" not in first)


def chunks_of(stream: Stream) -> Iterator[Any]:
    """The chunk dicts of a parsed chat stream; a payload that was not JSON becomes an error chunk."""
    for index, event in enumerate(stream.events):
        if isinstance(event, NotJSONEvent):
            where = f"{stream.source}:{event.line}" if event.line is not None else f"{stream.source}: event {index}"
            yield {"error": {"message": f"{where}: {event.error}: {event.payload[:200]!r}", "code": "bridge_not_json"}}
        else:
            yield event.raw


def chunks_from_text(text: str | bytes, *, source: str = "<text>") -> Iterator[Any]:
    """The chunks of a .jsonl capture or an SSE body, whichever `text` is."""
    return chunks_of(parse_text(text, source_name=source))


def chunks_from_sse(text: str | bytes, *, source: str = "<sse>") -> Iterator[Any]:
    """The chunks of an SSE body, up to `[DONE]`."""
    return chunks_of(parse_sse(text, source_name=source))


def bridge_capture(chunks: Stream, *, source_name: str | None = None, **options: Any) -> Stream:
    """The bridge's Responses view of a parsed chat stream; each event keeps its chunk's arrival time.

    `options` are `ChatToResponses`'s (request, think_tags, strip_citations, summarize, ...).
    """
    translator = ChatToResponses(**options)
    events: list[dict[str, Any]] = []
    offsets: list[float | None] = []
    last: float | None = None
    for chunk, offset in zip(chunks_of(chunks), chunks.offsets):
        last = offset if offset is not None else last
        produced = list(translator.feed(chunk))
        events += produced
        offsets += [last] * len(produced)
        if translator.finished:
            break
    if not translator.finished:
        tail = [*translator.end_round(), *translator.finish()]
        events += tail
        offsets += [last] * len(tail)
    name = source_name or f"{chunks.source} (bridged)"
    parsed = parse_events(events, source_name=name)
    return Stream(events=parsed.events, offsets=offsets, wire=None, source=name)


def bridge_chunks(chunks: Iterable[Any], *, source_name: str = "<chunks>", **options: Any) -> Stream:
    """`bridge_capture` for chunk dicts already in memory (no arrival times)."""
    return bridge_capture(parse_events(chunks, source_name=source_name), **options)
