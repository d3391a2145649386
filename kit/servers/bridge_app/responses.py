"""`POST /v1/responses`: the bridge's own route, streaming (SSE) and not.

Every way a response can end badly ends it properly: a request the bridge
cannot read is a 400 before any upstream call; an upstream that does not
answer in time is a 504 before streaming, or `error` + `response.failed`
once the stream has begun, as is any other upstream fault (a broken chunk,
a dropped connection). A client that goes away cancels the upstream call at
once, streaming or not (`EventPump.stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from kit.bridge import stream_response
from kit.bridge.conversation import StateError
from kit.bridge.request import UnsupportedParameter
from kit.servers.bridge_app.pump import END, EventPump
from kit.servers.bridge_app.state import bridge_of, json_body
from kit.servers.bridge_app.stateful import state_error
from kit.servers.bridge_app.upstream import UpstreamCall, UpstreamTimeouts
from kit.servers.bridge_app.wire import TERMINAL, error_body, http_status_of, sse_event, stream_failure_event

_OPENING = ("response.created", "response.in_progress")
_GONE = object()  # the client disconnected
_LATE = object()  # the deadline passed


class Progress:
    """What a stream has said so far: enough to end it with `error` + `response.failed` at any point."""

    def __init__(self, timeouts: UpstreamTimeouts) -> None:
        self.timeouts = timeouts
        self.sequence = -1
        self.response: dict[str, Any] = {}
        self.items: list[Any] = []
        self.answered = False  # the upstream has sent something beyond the opening events
        self.ended = False

    def see(self, event: dict[str, Any]) -> None:
        self.sequence = int(event.get("sequence_number", self.sequence + 1))
        kind = event.get("type")
        if isinstance(event.get("response"), dict):
            self.response = event["response"]
        if kind not in _OPENING:
            self.answered = True
        if kind == "response.output_item.done":
            self.items.append(event.get("item"))
        self.ended = self.ended or kind in TERMINAL

    @property
    def deadline(self) -> float:
        return self.timeouts.idle if self.answered else self.timeouts.first_byte

    def failure(self, message: str, code: str) -> list[dict[str, Any]]:
        """The two events that end the stream now (none if it has ended already)."""
        if self.ended:
            return []
        self.ended = True
        error = stream_failure_event(message, self.sequence + 1)
        error["code"] = code
        response = {**self.response, "status": "failed", "error": {"code": code, "message": message},
                    "output": [i for i in self.items if i is not None]}
        return [error, {"type": "response.failed", "sequence_number": self.sequence + 2, "response": response}]


def request_problem(body: dict[str, Any], models: Iterable[str] = ()) -> tuple[str, str, str] | None:
    """What makes a create request unreadable before any state or upstream call (message, code, param), or None:
    the same for `POST /v1/responses` and a WebSocket `response.create`. `models`: the ones the bridge serves
    (`--model`; none: any)."""
    if not isinstance(body.get("model"), str) or not body.get("model"):
        return "Missing required parameter: 'model' (a string).", "missing_required_parameter", "model"
    if body.get("input") is None:
        return "Missing required parameter: 'input'.", "missing_required_parameter", "input"
    if not isinstance(body.get("stream", False), (bool, type(None))):
        return "'stream' must be a boolean", "invalid_type", "stream"
    models = set(models)
    if models and body["model"] not in models:
        return f"The requested model '{body['model']}' does not exist.", "model_not_found", "model"
    return None


async def responses(request: Request) -> Response:
    state = bridge_of(request)
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    problem = request_problem(body, state.config.models)
    if problem is not None:
        message, code, param = problem
        return JSONResponse(error_body(message, code=code, param=param), 400)
    try:  # previous_response_id, conversation, store, background: resolved by the bridge's own state
        response_id, turn = await run_in_threadpool(state.turns.begin, body)
    except StateError as exc:
        return state_error(exc)
    call = state.call_for(request)

    def events() -> Iterator[dict[str, Any]]:
        return state.turns.track(turn, stream_response(
            call.client, turn.request, think_tags=state.config.think_tags, stores=state.stores,
            max_tokens_field=state.config.max_tokens_field, response_id=response_id,
            files=state.files.text_of), response_id)

    if turn.background:
        return await _background(state, turn, events(), response_id, call, streaming=bool(body.get("stream")))
    pump = EventPump(events, call)
    progress = Progress(state.config.timeouts)
    watch = asyncio.ensure_future(_disconnect(request))
    streaming = False
    try:
        first = await _next(pump, watch, progress.deadline)
        if first is _GONE:
            return Response(status_code=499)  # nobody reads it; the upstream call is cancelled
        if first is _LATE:
            return _timeout_response(progress)
        if isinstance(first, UnsupportedParameter):
            return JSONResponse(first.error_object(), 400)
        if isinstance(first, BaseException):
            return _upstream_fault(first) if call.connected else _unreadable(first)
        if first is END:
            return JSONResponse(error_body("the bridge produced no events", type_="server_error",
                                           code="server_error"), 502)
        progress.see(first)
        if body.get("stream"):
            streaming = True
            watch.cancel()  # from here the streaming response watches the client itself
            return StreamingResponse(_sse(first, pump, progress), media_type="text/event-stream",
                                     headers={"cache-control": "no-cache"})
        return await _whole(first, pump, progress, watch)
    finally:
        watch.cancel()
        if not streaming:
            pump.stop()


def _unreadable(exc: BaseException) -> JSONResponse:
    """A request the bridge failed to translate, before any upstream call: the request is at fault."""
    return JSONResponse(error_body(f"the bridge cannot read this request: {type(exc).__name__}: {exc}",
                                   code="invalid_request"), 400)


def _upstream_fault(exc: BaseException) -> JSONResponse:
    return JSONResponse(error_body(f"the upstream's answer broke off: {type(exc).__name__}: {exc}",
                                   type_="upstream_error", code="upstream_error"), 502)


def _timeout_response(progress: Progress) -> JSONResponse:
    return JSONResponse(error_body(f"the upstream sent nothing for {progress.deadline:g} s",
                                   type_="upstream_error", code="upstream_timeout"), 504)


async def _disconnect(request: Request) -> None:
    """Returns when the client has gone away (the body has been read by then)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _next(pump: EventPump, watch: asyncio.Future[Any], seconds: float) -> Any:
    """The pump's next item, or _GONE, or _LATE; the pump is stopped in both of those cases."""
    item = asyncio.ensure_future(pump.get())
    done, _ = await asyncio.wait({item, watch}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    if item in done:
        return item.result()
    item.cancel()
    pump.stop()
    return _GONE if watch in done else _LATE


async def _background(state: Any, turn: Any, events: Any, response_id: str, call: UpstreamCall, *,
                      streaming: bool) -> Response:
    """A background response runs on whoever listens: streamed, the client follows its kept events; not
    streamed, the answer is its snapshot once created (status `queued`), to poll with GET."""
    try:  # a request the bridge cannot express fails here, before the response exists
        first = await run_in_threadpool(next, events, None)
    except UnsupportedParameter as exc:
        call.close()
        return JSONResponse(exc.error_object(), 400)
    if first is None:
        call.close()
        return JSONResponse(error_body("the bridge produced no events", type_="server_error",
                                       code="server_error"), 500)
    state.turns.run_in_background(turn, _prepend(first, events), response_id, call)
    if streaming:
        return StreamingResponse(state.turns.follow(response_id, None), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    return JSONResponse(first.get("response") or {})


def _prepend(first: dict[str, Any], rest: Any) -> Any:
    yield first
    yield from rest


async def _whole(first: dict[str, Any], pump: EventPump, progress: Progress, watch: asyncio.Future[Any]) -> Response:
    """Without streaming: the final response, or the HTTP error a failed one maps to."""
    final, error_event, item = first, None, first
    while item is not END:
        if item is _GONE:
            return Response(status_code=499)
        if item is _LATE:
            return _timeout_response(progress)
        if isinstance(item, BaseException):
            return _upstream_fault(item)
        if item is not first:
            progress.see(item)
        if item.get("type") in TERMINAL:
            final = item
        elif item.get("type") == "error":
            error_event = item
        item = await _next(pump, watch, progress.deadline)
    response = final.get("response") or {}
    if final.get("type") == "response.failed":  # the `error` event keeps the upstream's own code
        error = error_event or response.get("error") or {}
        return JSONResponse(error_body(error.get("message") or "the upstream failed", type_="upstream_error",
                                       code=error.get("code")), http_status_of(error))
    return JSONResponse(response)


async def _sse(first: dict[str, Any], pump: EventPump, progress: Progress) -> AsyncIterator[bytes]:
    """The events as SSE; what is ready goes out in one write (the events of one upstream chunk, usually)."""
    batch = [sse_event(first)]
    try:
        while True:
            for item in pump.ready():
                if item is END:
                    batch += [sse_event(e) for e in progress.failure("the upstream stream ended without a "
                                                                     "terminal event", "upstream_error")]
                    yield b"".join(batch)
                    return
                if isinstance(item, BaseException):  # the response has begun: end it with error + failed
                    batch += [sse_event(e) for e in progress.failure(
                        f"the upstream's answer broke off: {type(item).__name__}: {item}", "upstream_error")]
                    yield b"".join(batch)
                    return
                progress.see(item)
                batch.append(sse_event(item))
            yield b"".join(batch)
            batch = []
            try:
                await asyncio.wait_for(pump.wait(), progress.deadline)
            except asyncio.TimeoutError:
                pump.stop()
                yield b"".join(sse_event(e) for e in progress.failure(
                    f"the upstream sent nothing for {progress.deadline:g} s", "upstream_timeout"))
                return
    finally:
        with contextlib.suppress(Exception):
            pump.stop()  # the client went away (or the stream ended): the upstream call is cancelled at once


ROUTES = [Route("/v1/responses", responses, methods=["POST"])]
