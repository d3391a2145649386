"""What the served bridge's routes share: the upstream clients, the uploaded files and the vector stores."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kit.servers.bridge_app.upstream import UpstreamCall, ssl_context
from kit.servers.bridge_app.wire import BridgeConfig, derived_id, error_body, shown_url


class Files:
    """Uploaded files (`POST /v1/files`) until a store takes them: their text on disk, in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._meta: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, filename: str, text: str, purpose: str) -> dict[str, Any]:
        file_id = derived_id("file-", filename, text, length=22)
        record = {"id": file_id, "object": "file", "bytes": len(text.encode("utf-8")), "created_at": int(time.time()),
                  "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}
        with self._lock:
            if file_id not in self._meta:
                self.folder.mkdir(parents=True, exist_ok=True)
                (self.folder / file_id).write_text(text, encoding="utf-8")
                self._meta[file_id] = record
            return dict(self._meta[file_id])

    def get(self, file_id: str) -> dict[str, Any] | None:
        """The file's record and text (`{"meta", "text"}`), or None."""
        with self._lock:
            meta = self._meta.get(file_id)
            if meta is None:
                return None
            return {"meta": dict(meta), "text": (self.folder / file_id).read_text(encoding="utf-8")}

    def text_of(self, file_id: str) -> tuple[str, str] | None:
        """The file's name and text (the bridge's `FileLookup` for `input_file` by `file_id`), or None."""
        found = self.get(file_id)
        return None if found is None else (found["meta"]["filename"], found["text"])

    def meta(self, file_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._meta.get(file_id)
            return dict(found) if found else None

    def delete(self, file_id: str) -> bool:
        with self._lock:
            if self._meta.pop(file_id, None) is None:
                return False
            (self.folder / file_id).unlink(missing_ok=True)
            return True


@dataclass
class BridgeState:
    """One served bridge's shared parts; the routes find it as `request.app.state.bridge`."""

    config: BridgeConfig
    chat_client: Any  # openai.OpenAI over the upstream
    passthrough_http: httpx.AsyncClient
    stores: Any  # kit.bridge.VectorStores
    files: Files
    turns: Any  # kit.servers.bridge_app.stateful.Turns: stored responses, conversations, background runs
    store_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def open(cls, config: BridgeConfig) -> BridgeState:
        import openai

        from kit.bridge import VectorStores
        from kit.bridge.response_store import ResponseStore
        from kit.servers.bridge_app.stateful import Turns

        chat_client = openai.OpenAI(base_url=config.upstream.rstrip("/"), api_key=config.upstream_key or "kit-no-key",
                                    max_retries=0, timeout=config.timeouts.httpx())
        passthrough_http = httpx.AsyncClient(timeout=config.timeouts.httpx(), trust_env=False)
        stores_dir = config.stores_dir or Path(tempfile.mkdtemp(prefix="kit-bridge-stores-"))
        uploads = Path(tempfile.mkdtemp(prefix="kit-bridge-uploads-"))
        ssl_context()  # loaded once now (a fifth of a second), not on the first request
        return cls(config, chat_client, passthrough_http, VectorStores(stores_dir), Files(uploads),
                   Turns(ResponseStore(stores_dir)))

    @property
    def upstream(self) -> str:
        return self.config.upstream.rstrip("/")

    @property
    def shown_upstream(self) -> str:
        return shown_url(self.upstream)

    def call_for(self, request: Any) -> UpstreamCall:
        """One cancellable upstream call: the configured key, else the caller's own bearer token passed on
        (not when the bridge has a key of its own for its clients: that one is never relayed)."""
        bearer = request.headers.get("authorization", "")
        key = None
        if self.config.upstream_key is None and self.config.api_key is None and bearer.lower().startswith("bearer "):
            key = bearer[7:].strip() or None
        return UpstreamCall(self.chat_client, self.config.timeouts, api_key=key)

    def upstream_headers(self, request: Any) -> dict[str, str]:
        """What a passed-through request carries upstream: its content type, and a key as `call_for` chooses."""
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        if self.config.upstream_key:
            headers["authorization"] = f"Bearer {self.config.upstream_key}"
        elif self.config.api_key is None and "authorization" in request.headers:
            headers["authorization"] = request.headers["authorization"]
        return headers

    async def aclose(self) -> None:
        await self.passthrough_http.aclose()
        self.chat_client.close()
        shutil.rmtree(self.files.folder, ignore_errors=True)
        if self.config.stores_dir is None:  # a folder of this run's own: its stores and responses go with it
            shutil.rmtree(self.stores.root, ignore_errors=True)


async def json_body(request: Any) -> dict[str, Any] | Any:
    """The request's JSON object, or the 400 JSONResponse saying why not."""
    from starlette.responses import JSONResponse

    raw = await request.body()
    try:
        body = json.loads(raw or b"{}", parse_constant=_no_constant)
        json.dumps(body, ensure_ascii=False).encode("utf-8")  # a lone surrogate cannot go upstream
    except (ValueError, UnicodeError) as exc:
        return JSONResponse(error_body(f"the request body is not valid JSON: {exc}", code="invalid_json"), 400)
    except RecursionError:
        return JSONResponse(error_body("the request body is nested too deeply", code="invalid_json"), 400)
    if not isinstance(body, dict):
        return JSONResponse(error_body("the request body must be a JSON object", code="invalid_json"), 400)
    return body


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def bridge_of(request: Any) -> BridgeState:
    return request.app.state.bridge
