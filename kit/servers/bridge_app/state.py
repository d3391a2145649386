"""What the served bridge's routes share: the upstream clients, the uploaded files and the vector stores."""

from __future__ import annotations

import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kit.servers.bridge_app.wire import BridgeConfig, derived_id, error_body


class Files:
    """Uploaded files (`POST /v1/files`) until a store takes them: kept in memory for the server's life."""

    def __init__(self) -> None:
        self._files: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, filename: str, text: str, purpose: str) -> dict[str, Any]:
        file_id = derived_id("file-", filename, text, length=22)
        record = {"id": file_id, "object": "file", "bytes": len(text.encode("utf-8")), "created_at": int(time.time()),
                  "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}
        with self._lock:
            self._files.setdefault(file_id, {"meta": record, "text": text})
            return dict(self._files[file_id]["meta"])

    def get(self, file_id: str) -> dict[str, Any] | None:
        with self._lock:
            return self._files.get(file_id)


@dataclass
class BridgeState:
    """One served bridge's shared parts; the routes find it as `request.app.state.bridge`."""

    config: BridgeConfig
    chat_client: Any  # openai.OpenAI over the upstream
    passthrough_http: httpx.AsyncClient
    stores: Any  # kit.bridge.VectorStores
    turns: Any  # kit.servers.bridge_app.stateful.Turns: stored responses, conversations, background runs
    files: Files = field(default_factory=Files)
    store_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, config: BridgeConfig) -> BridgeState:
        import openai

        from kit.bridge import VectorStores
        from kit.bridge.response_store import ResponseStore
        from kit.servers.bridge_app.stateful import Turns

        chat_client = openai.OpenAI(base_url=config.upstream.rstrip("/"), api_key=config.upstream_key or "kit-no-key",
                                    max_retries=0, timeout=600.0)
        passthrough_http = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0))
        stores_dir = config.stores_dir or Path(tempfile.mkdtemp(prefix="kit-bridge-stores-"))
        return cls(config, chat_client, passthrough_http, VectorStores(stores_dir), Turns(ResponseStore(stores_dir)))

    @property
    def upstream(self) -> str:
        return self.config.upstream.rstrip("/")

    def client_for(self, request: Any) -> Any:
        """The upstream client: the configured key, else the caller's own bearer token passed on."""
        bearer = request.headers.get("authorization", "")
        if self.config.upstream_key is None and bearer.lower().startswith("bearer ") and bearer[7:].strip():
            return self.chat_client.with_options(api_key=bearer[7:].strip())
        return self.chat_client

    async def aclose(self) -> None:
        await self.passthrough_http.aclose()
        self.chat_client.close()


async def json_body(request: Any) -> dict[str, Any] | Any:
    """The request's JSON object, or the 400 JSONResponse saying why not."""
    from starlette.responses import JSONResponse

    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        return JSONResponse(error_body(f"the request body is not JSON: {exc}", code="invalid_json"), 400)
    if not isinstance(body, dict):
        return JSONResponse(error_body("the request body must be a JSON object", code="invalid_json"), 400)
    return body


def bridge_of(request: Any) -> BridgeState:
    return request.app.state.bridge
