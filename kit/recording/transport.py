"""HTTP transports that record or replay, for httpx2 and legacy httpx, sync and async.

The transport knows bytes and HTTP, not events. It wraps the transport the
client would have used: in `live` it only forwards; in `record` it forwards
and tees each chunk to the store as it passes (the caller sees every chunk as
soon as the server sends it); in `replay` it answers from the store and never
touches the network.

Sync and async share everything in `session.py` and in `_Transport` below; only
the byte-stream adapters (`for` or `async for`, `time.sleep` or `asyncio.sleep`)
and the one call that forwards a request differ.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from types import ModuleType
from typing import Any, AsyncIterator, Callable, Iterator

from kit.recording.canonical import CanonicalRequest
from kit.setups.modes import InferenceMode
from kit.recording.session import RecordReplaySession, StreamEnding, encode_body, split_chunks
from kit.recording.store import Recording

__all__ = ["AsyncRecordReplayTransport", "RecordReplaySession", "RecordReplayTransport", "encode_body", "split_chunks"]


def _http_module(obj: Any) -> ModuleType:
    """httpx2 or httpx, whichever the request or transport belongs to."""
    return importlib.import_module(type(obj).__module__.split(".")[0])


def _transport_error(http: ModuleType, error: dict[str, Any], request: Any) -> BaseException:
    cls = getattr(http, str(error.get("type", "")), None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = http.RemoteProtocolError
    try:
        return cls(str(error.get("message", "")), request=request)
    except TypeError:
        return cls(str(error.get("message", "")))


# -- the byte-stream adapters: the only sync/async twins ------------------------------


class _SyncStream:
    """Yields chunks from a source and tells `ending` how the stream ended."""

    def __init__(self, source: Iterator[bytes], ending: StreamEnding, close_inner: Callable[[], Any] | None = None) -> None:
        self._source, self._ending, self._close_inner = source, ending, close_inner

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._source
        except BaseException as exc:
            self._ending.raised(exc)
            raise
        self._ending.complete()

    def close(self) -> None:
        self._ending.closed()
        if self._close_inner:
            self._close_inner()


class _AsyncStream:
    """The async twin of `_SyncStream`."""

    def __init__(self, source: AsyncIterator[bytes], ending: StreamEnding,
                 close_inner: Callable[[], Any] | None = None) -> None:
        self._source, self._ending, self._close_inner = source, ending, close_inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._source:
                yield chunk
        except BaseException as exc:
            self._ending.raised(exc)
            raise
        self._ending.complete()

    async def aclose(self) -> None:
        self._ending.closed()
        if self._close_inner:
            await self._close_inner()


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


def _sleeping(plan: Iterator[tuple[float, bytes]]) -> Iterator[bytes]:
    for delay, data in plan:
        if delay > 0:
            time.sleep(delay)
        yield data


async def _asleeping(plan: Iterator[tuple[float, bytes]]) -> AsyncIterator[bytes]:
    for delay, data in plan:
        if delay > 0:
            await asyncio.sleep(delay)
        yield data


def _teeing(stream: Any, chunks: list[tuple[float, bytes]], start: float) -> Iterator[bytes]:
    for data in stream:
        chunks.append((time.perf_counter() - start, data))
        yield data


async def _ateeing(stream: Any, chunks: list[tuple[float, bytes]], start: float) -> AsyncIterator[bytes]:
    async for data in stream:
        chunks.append((time.perf_counter() - start, data))
        yield data


# -- the transports -------------------------------------------------------------------


class _Transport:
    """What the sync and async transports share: routing, and building replayed and recorded responses."""

    kind = "sync"

    def __init__(self, session: RecordReplaySession, inner: Any | None) -> None:
        self.session, self.inner = session, inner

    def _live(self) -> Any:
        if self.inner is None:
            raise RuntimeError("this client was built for replay only; it has no network transport")
        return self.inner

    def _replay(self, http: ModuleType, request: Any, recording: Recording) -> Any:
        plan = self.session.replay_plan(recording, lambda error: _transport_error(http, error, request))
        source = _sleeping(plan) if self.kind == "sync" else _asleeping(plan)
        stream = _stream_class(http, self.kind)(source, StreamEnding())
        return http.Response(recording.status, headers=_replay_headers(recording), stream=stream, request=request)

    def _recorded(self, http: ModuleType, request: Any, canonical: CanonicalRequest, occurrence: int,
                  response: Any, start: float) -> Any:
        """The live response, its body teed into a recording that is saved when the stream ends, however it ends."""
        chunks: list[tuple[float, bytes]] = []

        def on_end(error: BaseException | None, closed_by: str | None) -> None:
            self.session.save(canonical, request, occurrence, response, chunks, error, time.perf_counter() - start,
                              closed_by)

        if self.kind == "sync":
            source, close_inner = _teeing(response.stream, chunks, start), getattr(response.stream, "close", None)
        else:
            source, close_inner = _ateeing(response.stream, chunks, start), getattr(response.stream, "aclose", None)
        stream = _stream_class(http, self.kind)(source, StreamEnding(on_end), close_inner)
        return http.Response(response.status_code, headers=response.headers, stream=stream, request=request,
                             extensions=response.extensions)


class RecordReplayTransport(_Transport):
    """Sync transport for httpx2.Client or httpx.Client (`handle_request`)."""

    def handle_request(self, request: Any) -> Any:
        session, http = self.session, _http_module(request)
        if session.mode is InferenceMode.LIVE:
            return self._live().handle_request(request)
        request.read()
        canonical, occurrence, recording = session.route(request)
        if recording is not None:
            return self._replay(http, request, recording)
        request.headers["accept-encoding"] = "identity"  # store bodies readable, not gzip
        start = time.perf_counter()
        response = self._live().handle_request(request)
        return self._recorded(http, request, canonical, occurrence, response, start)

    def close(self) -> None:
        self.session.save_usage()
        if self.inner is not None:
            self.inner.close()

    def __enter__(self) -> "RecordReplayTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncRecordReplayTransport(_Transport):
    """Async transport for httpx2.AsyncClient or httpx.AsyncClient (`handle_async_request`)."""

    kind = "async"

    async def handle_async_request(self, request: Any) -> Any:
        session, http = self.session, _http_module(request)
        if session.mode is InferenceMode.LIVE:
            return await self._live().handle_async_request(request)
        await request.aread()
        canonical, occurrence, recording = session.route(request)
        if recording is not None:
            return self._replay(http, request, recording)
        request.headers["accept-encoding"] = "identity"
        start = time.perf_counter()
        response = await self._live().handle_async_request(request)
        return self._recorded(http, request, canonical, occurrence, response, start)

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
