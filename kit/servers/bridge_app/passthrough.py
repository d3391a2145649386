"""`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, `/v1/completions` passed to the upstream, and `/health`.

The upstream's answer goes back as it came, status included (a 401 stays a
401); its body is read with the bridge's timeouts, and a client that goes
away closes the upstream response at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kit.servers.bridge_app.state import bridge_of
from kit.servers.bridge_app.wire import HOP_HEADERS, PASSED_THROUGH, error_body


async def passthrough(request: Request) -> Response:
    state = bridge_of(request)
    path = request.url.path.removeprefix("/v1/")
    http = state.passthrough_http
    outgoing = http.build_request(request.method, f"{state.upstream}/{path}", params=request.query_params,
                                  content=await request.body(), headers=state.upstream_headers(request))
    timeouts = state.config.timeouts
    try:
        answer = await asyncio.wait_for(http.send(outgoing, stream=True), timeouts.first_byte)
    except (httpx.TimeoutException, asyncio.TimeoutError) as exc:
        return JSONResponse(error_body(f"the upstream {state.shown_upstream} did not answer in time "
                                       f"({type(exc).__name__})", type_="upstream_error", code="upstream_timeout"), 504)
    except httpx.TransportError as exc:
        return JSONResponse(error_body(f"the upstream {state.shown_upstream} failed: {type(exc).__name__}",
                                       type_="upstream_error", code="connection_error"), 502)
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
    return StreamingResponse(_relay(answer, timeouts.idle), status_code=answer.status_code, headers=kept)


async def _relay(answer: httpx.Response, idle: float) -> AsyncIterator[bytes]:
    """The upstream's bytes; closed when done, when the upstream is idle `idle` s, and when the client goes away."""
    chunks = answer.aiter_raw()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), idle)
            except StopAsyncIteration:
                return
            yield chunk
    except (httpx.HTTPError, asyncio.TimeoutError):
        return  # the upstream broke off or stalled: the client sees the body end short, as the upstream sent it
    finally:
        await answer.aclose()


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "upstream": bridge_of(request).shown_upstream})


ROUTES = [
    Route("/health", health, methods=["GET"]),
    *(Route(f"/v1/{path}", passthrough, methods=["GET", "POST"]) for path in PASSED_THROUGH),
]
