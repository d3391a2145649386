"""`POST /v1/responses`: the bridge's own route, streaming (SSE) and not."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
from kit.servers.bridge_app.wire import TERMINAL, error_body, http_status_of, sse_event, stream_failure_event


async def responses(request: Request) -> Response:
    state = bridge_of(request)
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    if not body.get("model"):
        return JSONResponse(error_body("Missing required parameter: 'model'.", code="missing_required_parameter",
                                       param="model"), 400)
    if body.get("input") is None:
        return JSONResponse(error_body("Missing required parameter: 'input'.", code="missing_required_parameter",
                                       param="input"), 400)
    try:  # previous_response_id, conversation, store, background: resolved by the bridge's own state
        response_id, turn = await run_in_threadpool(state.turns.begin, body)
    except StateError as exc:
        return state_error(exc)
    events = state.turns.track(turn, stream_response(
        state.client_for(request), turn.request, think_tags=state.config.think_tags, stores=state.stores,
        max_tokens_field=state.config.max_tokens_field, response_id=response_id), response_id)
    if turn.background:
        return await _background(state, turn, events, response_id, streaming=bool(body.get("stream")))
    pump = EventPump(events)
    first = await pump.get()  # a request the bridge cannot express fails here, before any upstream call
    if isinstance(first, UnsupportedParameter):
        return JSONResponse(error_body(str(first), code="unsupported_parameter", param=first.param), 400)
    if isinstance(first, BaseException):  # a bug of the bridge: a clear 500, the traceback in the log only
        return JSONResponse(error_body(f"the bridge failed: {type(first).__name__}: {first}",
                                       type_="server_error", code="server_error"), 500)
    if first is END:
        return JSONResponse(error_body("the bridge produced no events", type_="server_error",
                                       code="server_error"), 500)
    if body.get("stream"):
        return StreamingResponse(_sse(first, pump), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    return await _whole(first, pump)


async def _background(state: Any, turn: Any, events: Any, response_id: str, *, streaming: bool) -> Response:
    """A background response runs on whoever listens: streamed, the client follows its kept events; not
    streamed, the answer is its snapshot once created (status `queued`), to poll with GET."""
    try:  # a request the bridge cannot express fails here, before the response exists
        first = await run_in_threadpool(next, events, None)
    except UnsupportedParameter as exc:
        return JSONResponse(error_body(str(exc), code="unsupported_parameter", param=exc.param), 400)
    if first is None:
        return JSONResponse(error_body("the bridge produced no events", type_="server_error",
                                       code="server_error"), 500)
    state.turns.run_in_background(turn, _prepend(first, events), response_id)
    if streaming:
        return StreamingResponse(state.turns.follow(response_id, None), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    return JSONResponse(first.get("response") or {})


def _prepend(first: dict[str, Any], rest: Any) -> Any:
    yield first
    yield from rest


async def _whole(first: dict[str, Any], pump: EventPump) -> Response:
    """Without streaming: the final response, or the HTTP error a failed one maps to."""
    final, error_event, item = first, None, first
    while item is not END:
        if isinstance(item, BaseException):
            return JSONResponse(error_body(f"the bridge failed: {type(item).__name__}: {item}",
                                           type_="server_error", code="server_error"), 500)
        if item.get("type") in TERMINAL:
            final = item
        elif item.get("type") == "error":
            error_event = item
        item = await pump.get()
    response = final.get("response") or {}
    if final.get("type") == "response.failed":  # the `error` event keeps the upstream's own code
        error = error_event or response.get("error") or {}
        return JSONResponse(error_body(error.get("message") or "the upstream failed", type_="upstream_error",
                                       code=error.get("code")), http_status_of(error))
    return JSONResponse(response)


async def _sse(first: dict[str, Any], pump: EventPump) -> AsyncIterator[bytes]:
    """The events as SSE; what is ready goes out in one write (the events of one upstream chunk, usually)."""
    last = int(first.get("sequence_number") or 0)
    batch = [sse_event(first)]
    try:
        while True:
            for item in pump.ready():
                if item is END:
                    yield b"".join(batch)
                    return
                if isinstance(item, BaseException):  # the response has begun: an `error` event is all that is left
                    batch.append(sse_event(stream_failure_event(
                        f"the bridge failed: {type(item).__name__}: {item}", last + 1)))
                    yield b"".join(batch)
                    return
                last = int(item.get("sequence_number", last))
                batch.append(sse_event(item))
            yield b"".join(batch)
            batch = []
            await pump.wait()
    finally:
        pump.stop()  # the client went away (or the stream ended): the upstream stream is closed too


ROUTES = [Route("/v1/responses", responses, methods=["POST"])]
