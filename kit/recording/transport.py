"""HTTP transports that record or replay, for httpx2 and legacy httpx, sync and async.

The transport knows bytes and HTTP, not events. It wraps the transport the
client would have used: in `live` it only forwards; in `record` it forwards
and tees each chunk to the store as it passes (the caller sees every chunk as
soon as the server sends it); in `replay` it answers from the store and never
touches the network.
"""

from __future__ import annotations

import asyncio
import base64
import json
import atexit
import weakref
import importlib
import itertools
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any, AsyncIterator, Callable, Iterable, Iterator

from kit.recording.canonical import CanonicalRequest, canonical_body, canonical_path
from kit.recording.errors import ReplayMiss
from kit.setups.modes import InferenceMode, ReplayStyle
from kit.recording.scrub import scrub_headers
from kit.recording.sse_codec import encode_sse
from kit.recording.store import Recording, RecordingStore

# -- one session: the shared logic of the sync and async transports -----------


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
        self._lock = threading.Lock()
        # In replay, the recorded arrival time of the last chunk handed out, running on across
        # requests: views timestamp events with it, so a fast replay still shows the recorded pacing.
        self.replay_clock = 0.0

    def canonical(self, request: Any) -> CanonicalRequest:
        content = request.content  # the SDK always sends a fully built body
        return CanonicalRequest(
            setup=self.setup,
            method=request.method,
            path=canonical_path(request.url.path, request.url.query),
            body=canonical_body(content, request.headers.get("content-type")),
            content_type=request.headers.get("content-type"),
        )

    def next_occurrence(self, key: str) -> int:
        with self._lock:
            n = self._seen[key]
            self._seen[key] += 1
            return n

    def route(self, request: Any) -> tuple[CanonicalRequest, int, Recording | None]:
        """Which recording answers this (read) request; None means record it. Raises ReplayMiss in replay."""
        canonical = self.canonical(request)
        occurrence = self.next_occurrence(canonical.key)
        recording = None
        if self.mode in (InferenceMode.REPLAY, InferenceMode.RECORD_IF_MISSING):
            recording = self.lookup(canonical, occurrence)
            if recording is None and self.mode is InferenceMode.REPLAY:
                raise self.miss(canonical)
        return canonical, occurrence, recording

    def lookup(self, request: CanonicalRequest, occurrence: int) -> Recording | None:
        recording = self.store.find(request, occurrence)
        if recording is not None and recording.path is not None and recording.path not in self._used:
            with self._lock:
                self._used.add(recording.path)
                self._unsaved.append(recording.path)
                if len(self._unsaved) == 1:
                    _PENDING_USAGE.add(self)
        return recording

    def save_usage(self) -> None:
        """Write which recordings this session used (for `prune`): once, at exit, off the replay path."""
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
            diff=near[1] if near else "",
        )

    def save(self, request: CanonicalRequest, raw_request: Any, occurrence: int, response: Any,
             chunks: list[tuple[float, bytes]], error: BaseException | None, duration: float,
             closed_early: bool) -> None:
        body = b"".join(c for _, c in chunks)
        headers = scrub_headers(response.headers)
        stored: dict[str, Any] = {"status": response.status_code, "headers": headers}
        stored.update(encode_body(body, headers))
        if "sse" in stored:
            stored["chunks"] = [[round(t, 6), len(c)] for t, c in chunks]
        if error is not None:
            stored["error"] = {"type": type(error).__name__, "message": str(error), "after_bytes": len(body)}
        if closed_early:
            stored["closed_early"] = True
        meta = {
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "recorded_at_epoch": round(time.time(), 3),
            "duration": round(duration, 6),
            "session": self.id,
            "model": request.model,
            "versions": _versions(raw_request),
        }
        req_headers = scrub_headers(raw_request.headers)
        req_headers.pop("accept", None)
        recording = Recording(
            key=request.key, occurrence=occurrence, setup=self.setup,
            request={"method": request.method, "path": request.path, "headers": req_headers,
                     "body": _sorted(request.body)},
            response=stored, meta=meta,
        )
        path = self.store.write(recording, request, session_started=self.started)
        with self._lock:  # recording a file is using it
            self._used.add(path)
            self._unsaved.append(path)
            _PENDING_USAGE.add(self)

    def replay_chunks(self, recording: Recording) -> list[tuple[float, bytes]]:
        chunks = recording.response_chunks()
        if self.style is ReplayStyle.SPLIT:
            return list(split_chunks(chunks))
        return chunks


_PENDING_USAGE: "weakref.WeakSet[RecordReplaySession]" = weakref.WeakSet()


@atexit.register
def _save_all_usage() -> None:
    for session in list(_PENDING_USAGE):
        session.save_usage()


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
        except ValueError:
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


def _versions(request: Any) -> dict[str, str]:
    out = {}
    for name in ("openai", type(request).__module__.split(".")[0]):
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


def _http_module(obj: Any) -> ModuleType:
    """httpx2 or httpx, whichever the request or transport belongs to."""
    return importlib.import_module(type(obj).__module__.split(".")[0])


def _transport_error(http: ModuleType, error: dict[str, Any], request: Any) -> BaseException:
    cls = getattr(http, error.get("type", ""), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = http.RemoteProtocolError
    try:
        return cls(error.get("message", ""), request=request)
    except TypeError:
        return cls(error.get("message", ""))


_stream_classes: dict[tuple[str, str], type] = {}


def _stream_class(http: ModuleType, kind: str) -> type:
    """A subclass of the HTTP library's own byte-stream base, so its Response accepts it."""
    cached = _stream_classes.get((http.__name__, kind))
    if cached is None:
        base = http.SyncByteStream if kind == "sync" else http.AsyncByteStream
        impl = _SyncStream if kind == "sync" else _AsyncStream
        cached = type(f"Kit{impl.__name__}", (impl, base), {})
        _stream_classes[(http.__name__, kind)] = cached
    return cached


# -- streams ----------------------------------------------------------------------


class _SyncStream:
    """Yields chunks from a source; calls `on_end(error, closed_early)` once."""

    def __init__(self, source: Iterator[bytes], on_end: Callable[[BaseException | None, bool], None] | None = None,
                 close_inner: Callable[[], None] | None = None) -> None:
        self._source, self._on_end, self._close_inner, self._done = source, on_end, close_inner, False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._source:
                yield chunk
        except BaseException as exc:
            self._finish(exc if isinstance(exc, Exception) else None, False)
            raise
        self._finish(None, False)

    def _finish(self, error: BaseException | None, closed_early: bool) -> None:
        if not self._done:
            self._done = True
            if self._on_end:
                self._on_end(error, closed_early)

    def close(self) -> None:
        self._finish(None, True)
        if self._close_inner:
            self._close_inner()


class _AsyncStream:
    def __init__(self, source: AsyncIterator[bytes], on_end: Callable[[BaseException | None, bool], None] | None = None,
                 close_inner: Callable[[], Any] | None = None) -> None:
        self._source, self._on_end, self._close_inner, self._done = source, on_end, close_inner, False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._source:
                yield chunk
        except BaseException as exc:
            self._finish(exc if isinstance(exc, Exception) else None, False)
            raise
        self._finish(None, False)

    def _finish(self, error: BaseException | None, closed_early: bool) -> None:
        if not self._done:
            self._done = True
            if self._on_end:
                self._on_end(error, closed_early)

    async def aclose(self) -> None:
        self._finish(None, True)
        if self._close_inner:
            await self._close_inner()


# -- the transports -----------------------------------------------------------------


class RecordReplayTransport:
    """Sync transport for httpx2.Client or httpx.Client (`handle_request`)."""

    def __init__(self, session: RecordReplaySession, inner: Any | None) -> None:
        self.session, self.inner = session, inner

    def handle_request(self, request: Any) -> Any:
        session, http = self.session, _http_module(request)
        if session.mode is InferenceMode.LIVE:
            return self._live().handle_request(request)
        request.read()
        canonical, occurrence, recording = session.route(request)
        if recording is not None:
            return self._replay(http, request, recording)
        return self._record(http, request, canonical, occurrence)

    def _live(self) -> Any:
        if self.inner is None:
            raise RuntimeError("this client was built for replay only; it has no network transport")
        return self.inner

    def _replay(self, http: ModuleType, request: Any, recording: Recording) -> Any:
        chunks, error, style, speed = self.session.replay_chunks(recording), recording.error, self.session.style, self.session.speed

        session = self.session

        def source() -> Iterator[bytes]:
            start, base = time.perf_counter(), session.replay_clock
            for t, data in chunks:
                if style is ReplayStyle.REALTIME:
                    delay = t / speed - (time.perf_counter() - start)
                    if delay > 0:
                        time.sleep(delay)
                session.replay_clock = base + t
                yield data
            if error:
                raise _transport_error(http, error, request)

        return http.Response(recording.status, headers=_replay_headers(recording), stream=_stream_class(http, "sync")(source()),
                             request=request)

    def _record(self, http: ModuleType, request: Any, canonical: CanonicalRequest, occurrence: int) -> Any:
        request.headers["accept-encoding"] = "identity"  # store bodies readable, not gzip
        start = time.perf_counter()
        response = self._live().handle_request(request)
        chunks: list[tuple[float, bytes]] = []

        def source() -> Iterator[bytes]:
            for data in response.stream:
                chunks.append((time.perf_counter() - start, data))
                yield data

        def on_end(error: BaseException | None, closed_early: bool) -> None:
            self.session.save(canonical, request, occurrence, response, chunks, error, time.perf_counter() - start, closed_early)

        stream = _stream_class(http, "sync")(source(), on_end, getattr(response.stream, "close", None))
        return http.Response(response.status_code, headers=response.headers, stream=stream, request=request,
                             extensions=response.extensions)

    def close(self) -> None:
        self.session.save_usage()
        if self.inner is not None:
            self.inner.close()

    def __enter__(self) -> "RecordReplayTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRecordReplayTransport:
    """Async transport for httpx2.AsyncClient or httpx.AsyncClient (`handle_async_request`)."""

    def __init__(self, session: RecordReplaySession, inner: Any | None) -> None:
        self.session, self.inner = session, inner

    async def handle_async_request(self, request: Any) -> Any:
        session, http = self.session, _http_module(request)
        if session.mode is InferenceMode.LIVE:
            return await self._live().handle_async_request(request)
        await request.aread()
        canonical, occurrence, recording = session.route(request)
        if recording is not None:
            return self._replay(http, request, recording)
        return await self._record(http, request, canonical, occurrence)

    def _live(self) -> Any:
        if self.inner is None:
            raise RuntimeError("this client was built for replay only; it has no network transport")
        return self.inner

    def _replay(self, http: ModuleType, request: Any, recording: Recording) -> Any:
        chunks, error, style, speed = self.session.replay_chunks(recording), recording.error, self.session.style, self.session.speed

        session = self.session

        async def source() -> AsyncIterator[bytes]:
            start, base = time.perf_counter(), session.replay_clock
            for t, data in chunks:
                if style is ReplayStyle.REALTIME:
                    delay = t / speed - (time.perf_counter() - start)
                    if delay > 0:
                        await asyncio.sleep(delay)
                session.replay_clock = base + t
                yield data
            if error:
                raise _transport_error(http, error, request)

        return http.Response(recording.status, headers=_replay_headers(recording), stream=_stream_class(http, "async")(source()),
                             request=request)

    async def _record(self, http: ModuleType, request: Any, canonical: CanonicalRequest, occurrence: int) -> Any:
        request.headers["accept-encoding"] = "identity"
        start = time.perf_counter()
        response = await self._live().handle_async_request(request)
        chunks: list[tuple[float, bytes]] = []

        async def source() -> AsyncIterator[bytes]:
            async for data in response.stream:
                chunks.append((time.perf_counter() - start, data))
                yield data

        def on_end(error: BaseException | None, closed_early: bool) -> None:
            self.session.save(canonical, request, occurrence, response, chunks, error, time.perf_counter() - start, closed_early)

        stream = _stream_class(http, "async")(source(), on_end, getattr(response.stream, "aclose", None))
        return http.Response(response.status_code, headers=response.headers, stream=stream, request=request,
                             extensions=response.extensions)

    async def aclose(self) -> None:
        self.session.save_usage()
        if self.inner is not None:
            await self.inner.aclose()

    async def __aenter__(self) -> "AsyncRecordReplayTransport":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _replay_headers(recording: Recording) -> dict[str, str]:
    headers = dict(recording.response_headers)
    if "base64" not in recording.response:  # stored decoded: the bytes replayed are not compressed
        headers.pop("content-encoding", None)
    return headers


def recording_dir_of(transport: Any) -> Path | None:
    session = getattr(transport, "session", None)
    return session.store.root if session else None
