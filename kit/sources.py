"""The edge where streams come from: disk (captures and recordings, by format) and servers (native or bridged).

The events core parses bytes it is handed and reads no file; this module
reads them. `load(path)` picks a loader by the file's suffix (`LOADERS`):
`.jsonl` (one event or chunk JSON per line), `.json` (a kit recording, or a
list of events), anything else raw SSE; `-` is standard input, read as bytes
so a file and a pipe are judged alike. `load_capture` also shows a Chat
Completions capture through the bridge, the one way the CLI and the notebooks
do it. `responses_events` streams from a server: its native /v1/responses
(`NativeEvents`) or the bridge over its Chat Completions (`BridgedEvents`),
both read by the one SSE decoder and yielding `Event`s.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kit.events import Event, SSEParser, Stream, WireFacts, make_event, parse_events, parse_jsonl, parse_sse, parse_text

Loader = Callable[[Path, bytes], Stream]


class SourceError(ValueError):
    """A file that holds no stream the kit can read; the message names it and says what was expected."""


def _jsonl(path: Path, data: bytes) -> Stream:
    return parse_jsonl(data, source_name=str(path))


def _json(path: Path, data: bytes) -> Stream:
    if data.lstrip()[:1] == b"[":  # a saved list of event objects
        try:
            items = json.loads(data)
        except RecursionError as exc:
            raise SourceError(f"{path}: JSON nested too deeply to read; expected a kit recording or a list of events") from exc
        except ValueError as exc:
            raise SourceError(f"{path}: not valid JSON ({exc}); expected a kit recording or a list of events") from exc
        return parse_events(items, source_name=str(path))
    return load_recording_stream(path)


def _sse_or_jsonl(path: Path, data: bytes) -> Stream:
    return parse_text(data, source_name=str(path))


LOADERS: dict[str, Loader] = {".jsonl": _jsonl, ".json": _json}
DEFAULT_LOADER: Loader = _sse_or_jsonl


def load(source: str | os.PathLike[str], *, source_name: str | None = None) -> Stream:
    """The stream in a file (`-`: standard input). Raises OSError or SourceError (a RecordingError for a bad recording)."""
    if str(source) == "-":
        return parse_text(sys.stdin.buffer.read(), source_name=source_name or "<stdin>")
    path = Path(source)
    stream = LOADERS.get(path.suffix, DEFAULT_LOADER)(path, path.read_bytes())
    if source_name is not None:
        stream = Stream(stream.events, stream.offsets, stream.wire, source_name)
    return stream


def load_recording_stream(path: str | os.PathLike[str]) -> Stream:
    """A kit recording as its server sent it: exact body bytes, arrival times, content type, status, cut."""
    from kit.recording import load_recording  # the recording store is an edge of its own (HTTP stack)

    recording = load_recording(Path(path))
    headers = {key.lower(): value for key, value in (recording.response_headers or {}).items()}
    stream = parse_sse(recording.response_chunks(), content_type=headers.get("content-type"),
                       status=recording.status, source_name=str(path))
    error = getattr(recording, "error", None)
    if error and stream.wire is not None:
        stream.wire.transport_error = str(error.get("message", error) if isinstance(error, dict) else error)
    return stream


def load_capture(source: str | os.PathLike[str] | Stream, *, think_tags: bool = False,
                 source_name: str | None = None) -> Stream:
    """A Responses stream from a capture; a Chat Completions capture is shown through the bridge."""
    from kit.bridge.chunks import bridge_capture, is_chat_capture

    stream = source if isinstance(source, Stream) else load(source, source_name=source_name)
    if is_chat_capture(stream):
        return bridge_capture(stream, think_tags=think_tags)
    return stream


def to_stream(source: Any) -> Stream:
    """A `Stream` from a path or from whatever `kit.events.parse` accepts (for views that take either).

    A `str` is a path only when it is one line naming an existing file; otherwise it is stream text.
    """
    from kit.events import parse

    if isinstance(source, os.PathLike):
        return load(source)
    if isinstance(source, str) and "\n" not in source and len(source) < 4096 and os.path.isfile(source):
        return load(source)
    return parse(source)


# -- streams from a server: its native /v1/responses, or the bridge over its Chat Completions ---------------


def responses_events(client: Any, setup: Any, request: Mapping[str, Any], *, route: str | None = None,
                     **options: Any) -> NativeEvents | BridgedEvents:
    """Responses `Event`s for `request` from the setup's server: native /v1/responses or the bridge.

    `setup` is a `kit.setups.Setup` (its `responses`, `think_tags` and
    `text_model` are read; `route` overrides `responses`). Both routes read
    the server's bytes with the kit's one SSE decoder and yield `Event`s; the
    native one also keeps the body's wire facts (`wire`). `options` go to the
    bridge (`stores`, ...).
    """
    full = {"model": setup.text_model, **request}
    if (route or setup.responses) == "native":
        return NativeEvents(client, full)
    return BridgedEvents(client, full, think_tags=setup.think_tags, **options)


def responses_object(client: Any, setup: Any, request: Mapping[str, Any], *, route: str | None = None,
                     **options: Any) -> dict[str, Any]:
    """The Response object for `request` sent with `stream: false`, as the server's JSON (native), or the
    bridge's final response (`kit.bridge.create_response`), as a dict either way."""
    full = {"model": setup.text_model, **request, "stream": False}
    if (route or setup.responses) == "native":
        raw = client.responses.with_raw_response.create(**full)
        return dict(raw.http_response.json())
    from kit.bridge import create_response

    full.pop("stream")
    return create_response(client, full, think_tags=setup.think_tags, **options)


class NativeEvents:
    """A server's own /v1/responses stream: iterate for `Event`s as bytes arrive; `wire` once iterated.

    The body goes through `kit.events.SSEParser`, the decoder `kit check` uses,
    so a notebook judges a native stream exactly as `kit check` judges the same
    bytes (`sse.*` rules included). A payload that is not JSON is an event the
    validator reports (`sse.json`), not an exception. Native errors (HTTP
    status, connection) propagate as the SDK raises them: the native view shows
    what the server did.
    """

    def __init__(self, client: Any, request: Mapping[str, Any]) -> None:
        self.client = client
        self.request = dict(request)
        self.wire: WireFacts | None = None

    def _open(self) -> Any:
        return self.client.responses.with_streaming_response.create(**self.request, stream=True)

    def __iter__(self) -> Iterator[Event]:
        with self._open() as response:
            parser = SSEParser(content_type=response.headers.get("content-type"), status=response.status_code)
            self.wire = parser.wire
            for chunk in response.iter_bytes():
                yield from parser.feed(chunk)
            yield from parser.close()


class ChatEvents(NativeEvents):
    """A server's Chat Completions stream: its chunks as `Event`s, read from the body's bytes by the same decoder.

    The openai SDK's parsed chunks lose the wire (`data: [DONE]`, unterminated
    events, payloads that are not JSON, non-UTF-8 bytes); these keep it in
    `wire`, so a notebook judges a chat stream under the `chat` profile exactly
    as `kit check` judges its recorded body. HTTP errors propagate as the SDK
    raises them.
    """

    def _open(self) -> Any:
        return self.client.chat.completions.with_streaming_response.create(**self.request, stream=True)


class BridgedEvents:
    """The bridge's Responses stream over a server's Chat Completions (`kit.bridge.stream_response`), as `Event`s.

    The chat body is read by the same decoder (`kit.bridge.chat_chunks`);
    the Responses events are the translator's, so they have no wire of their own (`wire` is None).
    """

    wire: WireFacts | None = None

    def __init__(self, client: Any, request: Mapping[str, Any], **options: Any) -> None:
        self.client = client
        self.request = dict(request)
        self.options = options

    def __iter__(self) -> Iterator[Event]:
        from kit.bridge import stream_response

        for event in stream_response(self.client, self.request, **self.options):
            yield make_event(event)
