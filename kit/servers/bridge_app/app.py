"""The served bridge's app: its state, its door and its routes put together, and `python -m kit.servers.bridge_app`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kit.servers.bridge_app.guard import Guard, guarded_protocol
from kit.servers.bridge_app.state import BridgeState
from kit.servers.bridge_app.upstream import UpstreamTimeouts
from kit.servers.bridge_app.wire import (
    API_KEY_ENV,
    UPSTREAM_KEY_ENV,
    BridgeConfig,
    error_body,
    is_loopback,
    shown_url,
    v1_url,
)
from kit.servers.process import DEFAULT_HOST

log = logging.getLogger("kit.servers.bridge")


class NeedsApiKey(ValueError):
    """The bridge would listen beyond loopback with no key for its clients: anyone could spend its upstream key."""


def check_exposure(host: str, api_key: str | None) -> None:
    if not is_loopback(host) and not api_key:
        raise NeedsApiKey(f"the bridge refuses to listen on {host} without a client API key: anyone who reaches it "
                          f"could use its upstream. Set --api-key or ${API_KEY_ENV}, or bind 127.0.0.1")


def create_app(config: BridgeConfig) -> Any:
    """The Starlette app serving the bridge over `config.upstream`."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse

    from kit.servers.bridge_app import files, passthrough, responses, stateful, websocket
    from kit.servers.bridge_app.guard import RequestRefused

    state = BridgeState.open(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await state.aclose()

    async def refused(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, RequestRefused)
        return JSONResponse(exc.body(), exc.status)

    async def http_error(request: Any, exc: Exception) -> Any:
        status = getattr(exc, "status_code", 400)
        code = {404: "not_found", 405: "method_not_allowed"}.get(status, "invalid_request")
        return JSONResponse(error_body(f"{request.method} {request.url.path}: {getattr(exc, 'detail', exc)}",
                                       code=code), status)

    async def bug(request: Any, exc: Exception) -> Any:  # the last resort: a JSON 500, the traceback in the log
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body(f"the bridge failed: {type(exc).__name__}", type_="server_error",
                                       code="server_error"), 500)

    app = Starlette(routes=[*passthrough.ROUTES[:1], *responses.ROUTES, *websocket.ROUTES, *stateful.ROUTES, *files.ROUTES, *passthrough.ROUTES[1:]],
                    lifespan=lifespan, middleware=[Middleware(Guard, config=config)],
                    exception_handlers={RequestRefused: refused, HTTPException: http_error, Exception: bug})
    app.state.bridge = state
    app.state.config = config
    app.state.stores = state.stores
    return app


def serve_forever(config: BridgeConfig, host: str = DEFAULT_HOST, port: int = 8090) -> None:
    """Run the app in this process until SIGINT/SIGTERM (uvicorn's own handling)."""
    import uvicorn

    check_exposure(host, config.api_key)
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5, http=guarded_protocol(config.header_timeout),
                ws_max_size=config.max_body_bytes)  # a WebSocket message has the JSON body's cap


def main(argv: list[str] | None = None) -> None:
    """`python -m kit.servers.bridge_app --upstream URL`: what BridgeServer runs (and `kit serve bridge` through it)."""
    defaults = UpstreamTimeouts()
    parser = argparse.ArgumentParser(prog="python -m kit.servers.bridge_app",
                                     description="The kit's bridge: POST /v1/responses over a Chat Completions server.")
    parser.add_argument("--upstream", required=True, help="the Chat Completions base URL (…/v1)")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--think-tags", action="store_true", help="the model writes reasoning in <think> tags")
    parser.add_argument("--max-tokens-field", default="max_tokens", choices=("max_tokens", "max_completion_tokens"))
    parser.add_argument("--model", action="append", default=[], dest="models",
                        help="a model id the bridge serves (repeatable); another is refused as OpenAI refuses it, "
                             "400 model_not_found (default: any, as the upstream decides)")
    parser.add_argument("--stores", type=Path, default=None, help="vector store folder (default: a temp folder)")
    parser.add_argument("--api-key", default=None, help=f"the key clients must send (default: ${API_KEY_ENV})")
    parser.add_argument("--connect-timeout", type=float, default=defaults.connect)
    parser.add_argument("--first-byte-timeout", type=float, default=defaults.first_byte)
    parser.add_argument("--idle-timeout", type=float, default=defaults.idle)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = BridgeConfig(upstream=v1_url(args.upstream), upstream_key=os.environ.get(UPSTREAM_KEY_ENV) or None,
                          think_tags=args.think_tags, max_tokens_field=args.max_tokens_field, models=tuple(args.models),
                          stores_dir=args.stores,
                          api_key=args.api_key or os.environ.get(API_KEY_ENV) or None, bind_host=args.host,
                          timeouts=UpstreamTimeouts(args.connect_timeout, args.first_byte_timeout, args.idle_timeout))
    try:
        check_exposure(args.host, config.api_key)
    except NeedsApiKey as exc:
        print(f"kit bridge: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("the kit's bridge: http://%s:%s/v1/responses over %s", args.host, args.port, shown_url(config.upstream))
    serve_forever(config, args.host, args.port)
