"""The edge where streams come from disk: captures and recordings, by format, the way papermill keys its I/O.

The events core parses bytes it is handed and reads no file; this module
reads them. `load(path)` picks a loader by the file's suffix (`LOADERS`):
`.jsonl` (one event or chunk JSON per line), `.json` (a kit recording, or a
list of events), anything else raw SSE; `-` is standard input, read as bytes
so a file and a pipe are judged alike. `load_capture` also shows a Chat
Completions capture through the bridge, the one way the CLI and the notebooks
do it.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kit.events import Stream, parse_events, parse_jsonl, parse_sse, parse_text

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
