"""The loopback proxies' shared plumbing: send a request on to the upstream, relay its answer as it comes.

The reasoning server (`kit.servers.reasoning`) and ogx's request normaliser (`kit.servers.ogx_proxy`)
each change some chat requests and pass everything else through byte for byte; this is the byte-for-byte
part, and the Starlette app around their `forward`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

HOP_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "accept-encoding"})
METHODS = ["GET", "POST", "DELETE", "PUT", "PATCH"]


def upstream_client() -> httpx.AsyncClient:
    """No proxy from the environment (loopback only); a long first byte is a slow model, not a dead one."""
    return httpx.AsyncClient(trust_env=False, timeout=httpx.Timeout(600.0, connect=10.0))


async def send_on(client: httpx.AsyncClient, request: Any, root: str, body: bytes) -> httpx.Response:
    """Send the incoming Starlette `request` (with `body`) to `root` + its path; the answer is left streaming."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
    outgoing = client.build_request(request.method, root + request.url.path, params=request.query_params,
                                    headers=headers, content=body)
    return await client.send(outgoing, stream=True)


def passed_headers(answer: httpx.Response) -> dict[str, str]:
    """The answer's headers a relay may pass on (httpx has already decoded nothing: the bytes stay as sent)."""
    return {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS | {"content-encoding"}}


def relay_raw(answer: httpx.Response, headers: dict[str, str]) -> Any:
    """The upstream's answer as it arrives, status and bytes unchanged; closed when the client is done."""
    from starlette.background import BackgroundTask
    from starlette.responses import StreamingResponse

    async def raw() -> AsyncIterator[bytes]:
        async for chunk in answer.aiter_raw():
            yield chunk

    return StreamingResponse(raw(), status_code=answer.status_code, headers=headers,
                             background=BackgroundTask(answer.aclose))


def proxy_app(client: httpx.AsyncClient, forward: Callable[[Any], Awaitable[Any]]) -> Any:
    """One catch-all route to `forward`; the upstream client is closed with the app."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=[Route("/{path:path}", forward, methods=METHODS)], lifespan=lifespan)
