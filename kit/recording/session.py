"""The record/replay session: everything a transport does besides I/O, shared by sync and async.

Routing a request to a recording, counting identical requests, scrubbing and building a
recording, deciding how a recorded stream ended, and planning a replay (which chunk,
after how long, which error at the end). The transports in `transport.py` only move
bytes and sleep.
"""

from __future__ import annotations

import atexit
import base64
import gzip
import itertools
import json
import sys
import threading
import time
import uuid
import weakref
import zlib
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qsl

from kit.recording.canonical import CanonicalRequest, canonical_body, canonical_path
from kit.recording.errors import ChainNotRecorded, RecordingError, RefusedToRecord, ReplayMiss
from kit.setups.modes import InferenceMode, ReplayStyle
from kit.recording.scrub import (
    find_secrets,
    has_credential,
    header_secrets,
    query_secrets,
    scrub_chunks,
    scrub_headers,
    scrub_text,
)
from kit.recording.sse_codec import encode_sse
from kit.recording.store import Recording, RecordingStore, interruption_of

# How a recorded stream ended besides running to its end: the consumer closed it on purpose.
CLOSED_BY_CONSUMER = "consumer"


class StreamEnding:
    """Calls `on_end(error, closed_by)` once, with how the stream ended.

    A clean end (the source ran out) has neither; a transport failure has the error;
    anything else (the consumer closed it, Ctrl-C, a cancelled task, an exception in the
    consumer, a stream dropped unread) has `closed_by` naming it, so a partial recording
    never looks whole.
    """

    def __init__(self, on_end: Callable[[BaseException | None, str | None], None] | None = None) -> None:
        self._on_end, self.done = on_end, False

    def _end(self, error: BaseException | None, closed_by: str | None) -> None:
        if not self.done:
            self.done = True
            if self._on_end is not None:
                self._on_end(error, closed_by)

    def complete(self) -> None:
        self._end(None, None)

    def raised(self, exc: BaseException) -> None:
        """An exception came through the byte stream: a transport failure, or an interruption."""
        if isinstance(exc, Exception):
            self._end(exc, None)
        else:  # KeyboardInterrupt, asyncio.CancelledError, SystemExit, GeneratorExit (dropped unread)
            self._end(None, "dropped unread" if isinstance(exc, GeneratorExit) else type(exc).__name__)

    def closed(self) -> None:
        """The consumer closed the response; an exception on its way up (Ctrl-C, an error) is the reason."""
        active = sys.exc_info()[1]
        self._end(None, CLOSED_BY_CONSUMER if active is None else type(active).__name__)


class RecordReplaySession:
    """What a transport needs besides I/O: mode, store, occurrence counting, building recordings."""

    def __init__(self, *, setup: str, mode: InferenceMode, store: RecordingStore, style: ReplayStyle = ReplayStyle.FAST,
                 speed: float = 1.0) -> None:
        self.setup, self.mode, self.store, self.style, self.speed = setup, mode, store, style, speed
        self.started = time.time()
        self.id = uuid.uuid4().hex
        self._seen: Counter[str] = Counter()
        self._used: set[Path] = set()
        self._unsaved: list[Path] = []
        # Ids that replayed answers made (a response id, a conversation, file or vector store id), and where:
        # a later request carrying one continues a recorded chain (`carried_ids`).
        self._replayed_ids: dict[str, Path | None] = {}
        self._lock = threading.Lock()
        # In replay, the recorded arrival time of the last chunk handed out, running on across
        # requests: views timestamp events with it, so a fast replay still shows the recorded pacing.
        self.replay_clock = 0.0

    def canonical(self, request: Any) -> CanonicalRequest:
        content = request.content  # the SDK always sends a fully built body
        query = request.url.query
        query = query.decode("ascii", "replace") if isinstance(query, bytes) else query
        removed: list[str] = []
        body = canonical_body(content, request.headers.get("content-type"), removed)
        secrets = [*removed, *query_secrets(parse_qsl(query, keep_blank_values=True)), *header_secrets(request.headers)]
        return CanonicalRequest(
            setup=self.setup,
            method=request.method,
            path=canonical_path(request.url.path, query),
            body=body,
            content_type=request.headers.get("content-type"),
            secrets=tuple(secrets),
        )

    def next_occurrence(self, key: str) -> int:
        with self._lock:
            n = self._seen[key]
            self._seen[key] += 1
            return n

    def route(self, request: Any) -> tuple[CanonicalRequest, int, Recording | None]:
        """Which recording answers this (read) request; None means record it. Raises ReplayMiss in replay,
        and RefusedToRecord before anything is sent when the request itself holds a credential."""
        canonical = self.canonical(request)
        occurrence = self.next_occurrence(canonical.key)
        recording = None
        if self.mode in (InferenceMode.REPLAY, InferenceMode.RECORD_IF_MISSING):
            recording = self.lookup(canonical, occurrence)
            if recording is None and self.mode is InferenceMode.REPLAY:
                raise self.miss(canonical)
            if recording is None and self.carried_ids(canonical):  # record-if-missing over a half-recorded chain
                raise ChainNotRecorded(setup=self.setup, method=canonical.method, path=canonical.path,
                                       carried=self.carried_ids(canonical))
        if recording is None:
            self.refuse_secrets(canonical, occurrence, {"request": self.stored_request(canonical, request)})
        return canonical, occurrence, recording

    def lookup(self, request: CanonicalRequest, occurrence: int) -> Recording | None:
        recording = self.store.find(request, occurrence)
        if recording is not None and self.mode is InferenceMode.RECORD_IF_MISSING and interruption_of(recording):
            return None  # an interrupted recording is as good as missing: record it again
        if recording is not None:
            with self._lock:
                for made in server_ids(recording.response):
                    self._replayed_ids.setdefault(made, recording.path)
        if recording is not None and recording.path is not None and recording.path not in self._used:
            with self._lock:
                self._used.add(recording.path)
                self._unsaved.append(recording.path)
                if len(self._unsaved) == 1:
                    _PENDING_USAGE.add(self)
        return recording

    def carried_ids(self, request: CanonicalRequest) -> dict[str, Path | None]:
        """The ids replayed answers made that this request carries (in its path or body), with their recordings."""
        with self._lock:
            if not self._replayed_ids:
                return {}
            text = request.path + json.dumps(request.body, ensure_ascii=False, default=str)
            return {made: path for made, path in self._replayed_ids.items() if made in text}

    def save_usage(self) -> None:
        """Write which recordings this session used (for `prune`): off the replay path, at exit or after a cell."""
        with self._lock:
            paths, self._unsaved = self._unsaved, []
        if paths:
            self.store.index().mark_used(paths)

    def miss(self, request: CanonicalRequest) -> ReplayMiss:
        try:
            near = self.store.nearest(request)
        except Exception:  # the miss itself is the news; a broken index must not hide it
            near = None
        return ReplayMiss(
            mode=self.mode.value, setup=self.setup, method=request.method, path=request.path, model=request.model,
            key=request.key, recording_dir=self.store.root, nearest=near[0] if near else None,
            diff=near[1] if near else "", carried=self.carried_ids(request),
        )

    # -- recording -------------------------------------------------------------------
    @staticmethod
    def stored_request(request: CanonicalRequest, raw_request: Any) -> dict[str, Any]:
        req_headers = scrub_headers(raw_request.headers, request.secrets)
        req_headers.pop("accept", None)
        return {"method": request.method, "path": request.path, "headers": req_headers, "body": _sorted(request.body)}

    def refuse_secrets(self, request: CanonicalRequest, occurrence: int, data: dict[str, Any]) -> None:
        """Raise RefusedToRecord naming the first credential-looking value in `data` (names are scrubbed
        already; one scan of the serialized text rules most recordings out before any walk)."""
        if not has_credential(json.dumps(data, ensure_ascii=False, default=str)):
            return
        for where in find_secrets(data):
            raise RefusedToRecord(self.store.path_for(request, occurrence), request.method, request.path, where)

    def save(self, request: CanonicalRequest, raw_request: Any, occurrence: int, response: Any,
             chunks: list[tuple[float, bytes]], error: BaseException | None, duration: float,
             closed_by: str | None) -> None:
        headers = scrub_headers(response.headers, request.secrets)
        chunks = scrub_chunks(chunks, request.secrets)
        chunks, decoded = _scrub_compressed(chunks, headers.get("content-encoding", ""), request.secrets)
        body = b"".join(c for _, c in chunks)
        stored: dict[str, Any] = {"status": response.status_code, "headers": headers}
        stored.update(encode_body(body, headers))
        if "sse" in stored:
            stored["chunks"] = [[round(t, 6), len(c)] for t, c in chunks]
        if error is not None:
            message = scrub_text(str(error), request.secrets)
            stored["error"] = {"type": type(error).__name__, "message": message, "after_bytes": len(body)}
        if closed_by is not None and body.rstrip().endswith(b"data: [DONE]"):
            closed_by = CLOSED_BY_CONSUMER  # closed after chat's end marker: nothing of the answer is missing
        if closed_by is not None:
            stored["closed_early"] = {"by": closed_by, "after_bytes": len(body), "after_chunks": len(chunks)}
        self.keep(request, occurrence, self.stored_request(request, raw_request), stored, duration,
                  _versions(raw_request), {"decompressed response body": decoded} if decoded else {})

    def keep(self, request: CanonicalRequest, occurrence: int, stored_request: dict[str, Any],
             stored_response: dict[str, Any], duration: float, versions: dict[str, str],
             also_checked: dict[str, Any] | None = None) -> Path:
        """Write one recording (HTTP or WebSocket) with its metadata, after refusing any credential left in it."""
        meta = {
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recorded_at_epoch": round(time.time(), 3),
            "duration": round(duration, 6),
            "session": self.id,
            "model": request.model,
            "versions": versions,
        }
        recording = Recording(key=request.key, occurrence=occurrence, setup=self.setup,
                              request=stored_request, response=stored_response, meta=meta)
        self.refuse_secrets(request, occurrence, {"request": recording.request, "response": recording.response,
                                                  **(also_checked or {})})
        path = self.store.write(recording, request, session_started=self.started)
        with self._lock:  # recording a file is using it
            self._used.add(path)
            self._unsaved.append(path)
            _PENDING_USAGE.add(self)
        return path

    # -- replaying -------------------------------------------------------------------
    def replay_plan(self, recording: Recording, error_for: Callable[[dict[str, Any]], BaseException]
                    ) -> Iterator[tuple[float, bytes]]:
        """(seconds to wait, chunk) pairs, then the recorded transport error, or the interruption, at its place."""
        chunks = recording.response_chunks()
        if self.style is ReplayStyle.SPLIT:
            chunks = list(split_chunks(chunks))
        start, base = time.perf_counter(), self.replay_clock
        for t, data in chunks:
            delay = t / self.speed - (time.perf_counter() - start) if self.style is ReplayStyle.REALTIME else 0.0
            self.replay_clock = base + t
            yield delay, data
        if recording.error:
            raise error_for(recording.error)
        interrupted = interruption_of(recording)
        if interrupted:
            raise RecordingError(
                f"{recording.path}: this recording was interrupted ({interrupted}) and holds only what arrived "
                f"before; the rest of the answer was never recorded. Re-record it "
                f"(KIT_INFERENCE_MODE=record-if-missing replaces interrupted recordings) or delete it.")


MIN_ID_LENGTH = 8  # shorter values ("1", "abc") would be found by chance in any body


def server_ids(response: dict[str, Any]) -> set[str]:
    """The ids of the objects a recorded answer made: a JSON body's `id` (a response, conversation, file,
    vector store, ...), and the `response.id` its SSE events carry. Later requests name them."""
    found: set[str] = set()
    body = response.get("json")
    if isinstance(body, dict) and isinstance(body.get("id"), str):
        found.add(body["id"])
    for event in (response.get("sse") or {}).get("events") or ():
        data = event.get("data") if isinstance(event, dict) else None
        snapshot = data.get("response") if isinstance(data, dict) else None
        if isinstance(snapshot, dict) and isinstance(snapshot.get("id"), str):
            found.add(snapshot["id"])
    return {made for made in found if len(made) >= MIN_ID_LENGTH}


_PENDING_USAGE: "weakref.WeakSet[RecordReplaySession]" = weakref.WeakSet()


@atexit.register
def save_pending_usage() -> None:
    """Write the usage every session has not saved yet (at exit; a notebook's kernel also after each cell, so
    that the runner may stop the kernel without waiting for its exit)."""
    for session in list(_PENDING_USAGE):
        session.save_usage()


def _scrub_compressed(chunks: list[tuple[float, bytes]], encoding: str, secrets: Iterable[str]
                      ) -> tuple[list[tuple[float, bytes]], str | None]:
    """A gzip/deflate body is stored compressed: look inside it, take echoed secrets out (compressing it
    again), and return its text for the credential check. Other encodings are returned as they are."""
    encoding = encoding.strip().lower()
    if encoding not in ("gzip", "deflate") or not chunks:
        return chunks, None
    body = b"".join(c for _, c in chunks)
    try:
        plain = gzip.decompress(body) if encoding == "gzip" else zlib.decompress(body)
    except (OSError, EOFError, zlib.error):
        return chunks, None  # a cut or broken body: stored as it came
    scrubbed = b"".join(c for _, c in scrub_chunks([(0.0, plain)], secrets))
    if scrubbed != plain:
        body = gzip.compress(scrubbed, mtime=0) if encoding == "gzip" else zlib.compress(scrubbed)
        chunks = [(chunks[-1][0], body)]
    return chunks, scrubbed.decode("utf-8", "replace")


def encode_body(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The readable form of a response body: SSE events, parsed JSON, text, or (compressed, binary) base64."""
    ctype = headers.get("content-type", "")
    if headers.get("content-encoding", "identity") not in ("identity", ""):
        return {"base64": base64.b64encode(body).decode("ascii")}  # kept compressed, with its header
    if not body:
        return {}
    if "text/event-stream" in ctype:
        return {"sse": encode_sse(body)}
    if "json" in ctype:
        try:
            return {"json": json.loads(body)}
        except (ValueError, RecursionError):
            pass
    try:
        return {"text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(body).decode("ascii")}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _versions(request: Any, transport: str | None = None) -> dict[str, str]:
    out = {}
    for name in ("openai", transport or type(request).__module__.split(".")[0]):
        module = sys.modules.get(name)
        if module is not None:
            out[name] = getattr(module, "__version__", "?")
    from kit import __version__

    out["responses-kit"] = __version__
    return out


def split_chunks(chunks: Iterable[tuple[float, bytes]]) -> Iterator[tuple[float, bytes]]:
    """Re-chunk into tiny pieces that split lines, `\\n\\n` and UTF-8 characters."""
    sizes = itertools.cycle((1, 2, 3, 1, 5, 8, 1, 13, 2, 21))
    for t, data in chunks:
        pos = 0
        while pos < len(data):
            n = next(sizes)
            yield t, data[pos : pos + n]
            pos += n
