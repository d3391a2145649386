"""`/v1/chat/completions`, `/v1/embeddings`, `/v1/models`, `/v1/completions` passed to the upstream, and `/health`."""

from __future__ import annotations

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kit.servers.bridge_app.state import bridge_of
from kit.servers.bridge_app.wire import HOP_HEADERS, PASSED_THROUGH, error_body


async def passthrough(request: Request) -> Response:
    state = bridge_of(request)
    path = request.url.path.removeprefix("/v1/")
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept", "authorization")}
    if state.config.upstream_key:
        headers["authorization"] = f"Bearer {state.config.upstream_key}"
    http = state.passthrough_http
    outgoing = http.build_request(request.method, f"{state.upstream}/{path}", params=request.query_params,
                                  content=await request.body(), headers=headers)
    try:
        answer = await http.send(outgoing, stream=True)
    except httpx.TransportError as exc:
        return JSONResponse(error_body(f"the upstream {state.upstream} failed: {type(exc).__name__}: {exc}",
                                       type_="upstream_error", code="connection_error"), 502)
    kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
    return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=kept,
                             background=BackgroundTask(answer.aclose))


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "upstream": bridge_of(request).upstream})


ROUTES = [
    Route("/health", health, methods=["GET"]),
    *(Route(f"/v1/{path}", passthrough, methods=["GET", "POST"]) for path in PASSED_THROUGH),
]
