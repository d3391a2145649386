"""`POST /v1/responses`: the bridge's own route, streaming (SSE) and not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kit.bridge import stream_response
from kit.bridge.request import UnsupportedParameter
from kit.servers.bridge_app.pump import END, EventPump
from kit.servers.bridge_app.state import bridge_of, json_body
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
    events = stream_response(state.client_for(request), body, think_tags=state.config.think_tags,
                             stores=state.stores, max_tokens_field=state.config.max_tokens_field)
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
