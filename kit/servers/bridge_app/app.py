"""The served bridge's app: its state and its routes put together, and `python -m kit.servers.bridge_app`."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kit.servers.bridge_app.state import BridgeState
from kit.servers.bridge_app.wire import UPSTREAM_KEY_ENV, BridgeConfig, v1_url
from kit.servers.process import DEFAULT_HOST

log = logging.getLogger("kit.servers.bridge")


def create_app(config: BridgeConfig) -> Any:
    """The Starlette app serving the bridge over `config.upstream`."""
    from starlette.applications import Starlette

    from kit.servers.bridge_app import files, passthrough, responses, stateful

    state = BridgeState.open(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await state.aclose()

    app = Starlette(routes=[*passthrough.ROUTES[:1], *responses.ROUTES, *stateful.ROUTES, *files.ROUTES, *passthrough.ROUTES[1:]],
                    lifespan=lifespan)
    app.state.bridge = state
    app.state.config = config
    app.state.stores = state.stores
    return app


def serve_forever(config: BridgeConfig, host: str = DEFAULT_HOST, port: int = 8090) -> None:
    """Run the app in this process until SIGINT/SIGTERM (uvicorn's own handling)."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    """`python -m kit.servers.bridge_app --upstream URL`: what BridgeServer runs (and `kit serve bridge` through it)."""
    parser = argparse.ArgumentParser(prog="python -m kit.servers.bridge_app",
                                     description="The kit's bridge: POST /v1/responses over a Chat Completions server.")
    parser.add_argument("--upstream", required=True, help="the Chat Completions base URL (…/v1)")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--think-tags", action="store_true", help="the model writes reasoning in <think> tags")
    parser.add_argument("--max-tokens-field", default="max_tokens", choices=("max_tokens", "max_completion_tokens"))
    parser.add_argument("--stores", type=Path, default=None, help="vector store folder (default: a temp folder)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = BridgeConfig(upstream=v1_url(args.upstream), upstream_key=os.environ.get(UPSTREAM_KEY_ENV) or None,
                          think_tags=args.think_tags, max_tokens_field=args.max_tokens_field, stores_dir=args.stores)
    log.info("the kit's bridge: http://%s:%s/v1/responses over %s", args.host, args.port, config.upstream)
    serve_forever(config, args.host, args.port)
