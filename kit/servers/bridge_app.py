"""The kit's bridge as an ASGI app: `POST /v1/responses` over any Chat Completions server.

Any Responses client (the openai SDK, openai-agents, the Vercel AI SDK,
Codex) can then use the bridge, not only Python in-process, and every bridge
the kit compares is reached the same way: over HTTP by the same client.

The HTTP edge is Starlette on uvicorn; the translation is the in-process
bridge's own (`kit.bridge.stream_response`), so both serve the same events.
(Over 450 lines on purpose: it is one app, whose routes share the upstream
client, the stores and the event pump; it reads top to bottom route by route.)
Routes:

- `POST /v1/responses`, streaming (SSE, `event:` + `data:` per event, as
  OpenAI sends them) and not. A request the bridge cannot express is HTTP 400
  before any upstream call; an upstream failure during a stream is the
  bridge's `error` + `response.failed`; without streaming, a failed response
  is the HTTP error it maps to.
- Files and vector stores (`/v1/files`, `/v1/vector_stores[...]`) over
  `kit.bridge.VectorStores`, so hosted `file_search` works for a client that
  creates its stores through the API, as it would on OpenAI.
- `/v1/chat/completions`, `/v1/embeddings`, `/v1/models`: passed through to
  the upstream unchanged (clients probe /v1/models; chat notebooks stream).
- `GET /health`: the bridge itself is up (the managed server waits on it).

`python -m kit.servers.bridge_app --upstream URL` serves it in this process;
`kit.servers.bridge.BridgeServer` runs that as a managed server. The upstream
key is read from $KIT_BRIDGE_UPSTREAM_KEY only (never a flag); without one,
the client's own bearer token is passed on.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kit.bridge.request import UnsupportedParameter
from kit.servers.process import DEFAULT_HOST

UPSTREAM_KEY_ENV = "KIT_BRIDGE_UPSTREAM_KEY"
PASSED_THROUGH = ("chat/completions", "embeddings", "models", "completions")
_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade"}

log = logging.getLogger("kit.servers.bridge")


@dataclass(frozen=True)
class BridgeConfig:
    """What the served bridge needs: its upstream and how to talk to it."""

    upstream: str  # a Chat Completions base URL, ending in /v1
    upstream_key: str | None = None
    think_tags: bool = False  # the upstream model writes its reasoning inline in <think> tags
    max_tokens_field: str = "max_tokens"
    stores_dir: Path | None = None  # where the vector stores live (default: a folder of this run)


# ------------------------------------------------------------------------------------------------ pure helpers


def sse_event(event: Mapping[str, Any]) -> bytes:
    """One Responses event as OpenAI frames it: an `event:` line naming its type, then its JSON."""
    return f"event: {event.get('type', 'message')}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


def error_body(message: str, *, type_: str = "invalid_request_error", code: str | None = None,
               param: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def http_status_of(error: Mapping[str, Any] | None) -> int:
    """The HTTP status a failed response answers with when not streaming: the upstream's own when known."""
    code = str((error or {}).get("code") or "")
    if code.startswith("http_") and code[5:].isdigit():
        return int(code[5:])
    return {"rate_limit_exceeded": 429, "connection_error": 502, "vector_store_error": 404}.get(code, 500)


def stream_failure_event(message: str, sequence_number: int) -> dict[str, Any]:
    """The `error` event that ends a stream the bridge itself broke (a bug, not the upstream): say so plainly."""
    return {"type": "error", "code": "server_error", "message": message, "param": None,
            "sequence_number": sequence_number}


def derived_id(prefix: str, *parts: str, length: int = 24) -> str:
    """An id from content: the same uploads give the same ids, so recordings of them are stable."""
    return prefix + hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()[:length]


# ------------------------------------------------------------------------------------------------ the ASGI app


class _Files:
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


_END = object()  # the pump's end-of-stream marker


class EventPump:
    """A sync event iterator run in its own thread, its events handed to the event loop as they come.

    The bridge's core is synchronous (the openai SDK's streaming calls); one
    thread per response keeps the event loop free, and the events of one
    upstream chunk reach the loop together, so they go out in one write
    instead of one thread hop each. An exception is handed over as an item
    (it is logged here, with its traceback, for the server's log).
    `stop()` makes the thread close the iterator (and with it the upstream
    stream) after its next event.
    """

    def __init__(self, events: Iterator[dict[str, Any]]) -> None:
        import asyncio

        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._stopped = threading.Event()
        self._events = events
        self._held: list[Any] = []
        threading.Thread(target=self._run, name="kit-bridge-response", daemon=True).start()

    def _put(self, item: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: the server is going down
            self._stopped.set()

    def _run(self) -> None:
        try:
            for event in self._events:
                self._put(event)
                if self._stopped.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the loop, which answers with it
            if not isinstance(exc, UnsupportedParameter):  # a refused request is the client's, not a failure
                log.exception("POST /v1/responses failed")
            self._put(exc)
        finally:
            with contextlib.suppress(Exception):
                self._events.close()  # type: ignore[attr-defined]
            self._put(_END)

    async def get(self) -> Any:
        """The next item: an event, an exception, or _END."""
        if self._held:
            return self._held.pop(0)
        return await self._queue.get()

    async def wait(self) -> None:
        """Until at least one item is ready (it is kept for `ready`)."""
        if not self._held:
            self._held.append(await self._queue.get())

    def ready(self) -> list[Any]:
        """The items ready now, in order, without waiting."""
        items, self._held = self._held, []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def stop(self) -> None:
        self._stopped.set()


def create_app(config: BridgeConfig) -> Any:
    """The Starlette app serving the bridge over `config.upstream`."""
    import openai
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    from kit.bridge import VectorStoreError, VectorStores, stream_response

    upstream = config.upstream.rstrip("/")
    chat_client = openai.OpenAI(base_url=upstream, api_key=config.upstream_key or "kit-no-key", max_retries=0,
                                timeout=600.0)
    passthrough_http = httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0))
    stores_dir = config.stores_dir or Path(tempfile.mkdtemp(prefix="kit-bridge-stores-"))
    stores = VectorStores(stores_dir)
    files = _Files()
    store_lock = threading.Lock()

    def client_for(request: Request) -> Any:
        """The upstream client: the configured key, else the caller's own bearer token passed on."""
        bearer = request.headers.get("authorization", "")
        if config.upstream_key is None and bearer.lower().startswith("bearer ") and bearer[7:].strip():
            return chat_client.with_options(api_key=bearer[7:].strip())
        return chat_client

    async def json_body(request: Request) -> dict[str, Any] | JSONResponse:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError as exc:
            return JSONResponse(error_body(f"the request body is not JSON: {exc}", code="invalid_json"), 400)
        if not isinstance(body, dict):
            return JSONResponse(error_body("the request body must be a JSON object", code="invalid_json"), 400)
        return body

    async def responses(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        if not body.get("model"):
            return JSONResponse(error_body("Missing required parameter: 'model'.", code="missing_required_parameter",
                                           param="model"), 400)
        if body.get("input") is None:
            return JSONResponse(error_body("Missing required parameter: 'input'.", code="missing_required_parameter",
                                           param="input"), 400)
        events = stream_response(client_for(request), body, think_tags=config.think_tags, stores=stores,
                                 max_tokens_field=config.max_tokens_field)
        pump = EventPump(events)
        first = await pump.get()  # a request the bridge cannot express fails here, before any upstream call
        if isinstance(first, UnsupportedParameter):
            return JSONResponse(error_body(str(first), code="unsupported_parameter", param=first.param), 400)
        if isinstance(first, BaseException):  # a bug of the bridge: a clear 500, the traceback in the log only
            return JSONResponse(error_body(f"the bridge failed: {type(first).__name__}: {first}",
                                           type_="server_error", code="server_error"), 500)
        if first is _END:
            return JSONResponse(error_body("the bridge produced no events", type_="server_error",
                                           code="server_error"), 500)
        if body.get("stream"):
            return StreamingResponse(_sse(first, pump), media_type="text/event-stream",
                                     headers={"cache-control": "no-cache"})
        final, error_event, item = first, None, first
        while item is not _END:
            if isinstance(item, BaseException):
                return JSONResponse(error_body(f"the bridge failed: {type(item).__name__}: {item}",
                                               type_="server_error", code="server_error"), 500)
            if item.get("type") in _TERMINAL:
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
                    if item is _END:
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

    async def passthrough(request: Request) -> Response:
        path = request.url.path.removeprefix("/v1/")
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept", "authorization")}
        if config.upstream_key:
            headers["authorization"] = f"Bearer {config.upstream_key}"
        outgoing = passthrough_http.build_request(request.method, f"{upstream}/{path}", params=request.query_params,
                                                  content=await request.body(), headers=headers)
        try:
            answer = await passthrough_http.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            return JSONResponse(error_body(f"the upstream {upstream} failed: {type(exc).__name__}: {exc}",
                                           type_="upstream_error", code="connection_error"), 502)
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=kept,
                                 background=BackgroundTask(answer.aclose))

    # -- files and vector stores ------------------------------------------------------------------------------

    def not_found(exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(str(exc), code="not_found"), 404)

    def store_file(store_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A vector store file as the SDK's `VectorStoreFile` has it."""
        return {"id": record["id"], "object": "vector_store.file", "vector_store_id": store_id,
                "created_at": record.get("created_at", int(time.time())), "status": "completed",
                "usage_bytes": record.get("usage_bytes", 0), "last_error": None,
                "attributes": record.get("attributes") or {}, "chunking_strategy": {"type": "other"}}

    def attach(store_id: str, file_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
        upload = files.get(file_id)
        if upload is None:
            raise VectorStoreError(f"no uploaded file {file_id!r}: upload it first with POST /v1/files")
        known = {f["id"]: f for f in stores.list_files(store_id)}
        if file_id in known:  # attached twice: the same file, as OpenAI answers
            return store_file(store_id, known[file_id])
        added = stores.add_file(store_id, text=upload["text"], filename=upload["meta"]["filename"], file_id=file_id,
                                attributes=dict(attributes or {}))
        return store_file(store_id, {**added, "created_at": upload["meta"]["created_at"]})

    async def upload(request: Request) -> Response:
        form = await request.form()
        part = form.get("file")
        if part is None or isinstance(part, str):
            return JSONResponse(error_body("POST /v1/files needs a multipart `file` field", param="file"), 400)
        data = await part.read()
        filename = part.filename or "upload.txt"
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return JSONResponse(error_body(f"{filename}: the bridge's vector stores hold UTF-8 text only ({exc})",
                                           code="unsupported_file", param="file"), 400)
        return JSONResponse(files.add(filename, text, str(form.get("purpose") or "assistants")))

    async def file_get(request: Request) -> Response:
        upload = files.get(request.path_params["file_id"])
        if upload is None:
            return not_found(LookupError(f"no file {request.path_params['file_id']!r}"))
        return JSONResponse(upload["meta"])

    async def store_create(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        name = str(body.get("name") or "")

        def create() -> dict[str, Any]:
            with store_lock:  # the n-th store of a name gets the same id on every run
                n = sum(s["name"] == name for s in stores.list())
                store = stores.create(name, store_id=derived_id("vs_", name, str(n)))
            for file_id in body.get("file_ids") or ():
                attach(store["id"], str(file_id), None)
            return stores.retrieve(store["id"])

        try:
            return JSONResponse(_store_object(await run_in_threadpool(create)))
        except VectorStoreError as exc:
            return not_found(exc)

    async def store_list(request: Request) -> Response:
        data = [_store_object(s) for s in await run_in_threadpool(stores.list)]
        return JSONResponse({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                             "last_id": data[-1]["id"] if data else None, "has_more": False})

    async def store_get(request: Request) -> Response:
        try:
            return JSONResponse(_store_object(await run_in_threadpool(stores.retrieve, request.path_params["store_id"])))
        except VectorStoreError as exc:
            return not_found(exc)

    async def store_delete(request: Request) -> Response:
        store_id = request.path_params["store_id"]
        try:
            await run_in_threadpool(stores.delete, store_id)
        except VectorStoreError as exc:
            return not_found(exc)
        return JSONResponse({"id": store_id, "object": "vector_store.deleted", "deleted": True})

    async def store_file_add(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        if not body.get("file_id"):
            return JSONResponse(error_body("Missing required parameter: 'file_id'.",
                                           code="missing_required_parameter", param="file_id"), 400)
        try:
            return JSONResponse(await run_in_threadpool(attach, request.path_params["store_id"], str(body["file_id"]),
                                                        body.get("attributes")))
        except VectorStoreError as exc:
            return not_found(exc)

    async def store_files(request: Request) -> Response:
        store_id = request.path_params["store_id"]
        try:
            listed = [store_file(store_id, f) for f in await run_in_threadpool(stores.list_files, store_id)]
        except VectorStoreError as exc:
            return not_found(exc)
        wanted = request.path_params.get("file_id")
        if wanted is None:
            return JSONResponse({"object": "list", "data": listed, "first_id": listed[0]["id"] if listed else None,
                                 "last_id": listed[-1]["id"] if listed else None, "has_more": False})
        found = next((f for f in listed if f["id"] == wanted), None)
        return JSONResponse(found) if found else not_found(LookupError(f"{store_id} has no file {wanted!r}"))

    async def store_search(request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, JSONResponse):
            return body
        query = body.get("query")
        query = " ".join(map(str, query)) if isinstance(query, list) else str(query or "")
        try:
            results = await run_in_threadpool(lambda: stores.search(request.path_params["store_id"], query,
                                                                    max_num_results=int(body.get("max_num_results") or 10)))
        except VectorStoreError as exc:
            return not_found(exc)
        data = [{"file_id": r["file_id"], "filename": r["filename"], "score": r["score"], "attributes": r["attributes"],
                 "content": [{"type": "text", "text": r["text"]}]} for r in results]
        return JSONResponse({"object": "vector_store.search_results.page", "search_query": [query], "data": data,
                             "has_more": False, "next_page": None})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "upstream": upstream})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        yield
        await passthrough_http.aclose()
        chat_client.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/files", upload, methods=["POST"]),
        Route("/v1/files/{file_id}", file_get, methods=["GET"]),
        Route("/v1/vector_stores", store_create, methods=["POST"]),
        Route("/v1/vector_stores", store_list, methods=["GET"]),
        Route("/v1/vector_stores/{store_id}", store_get, methods=["GET"]),
        Route("/v1/vector_stores/{store_id}", store_delete, methods=["DELETE"]),
        Route("/v1/vector_stores/{store_id}/files", store_file_add, methods=["POST"]),
        Route("/v1/vector_stores/{store_id}/files", store_files, methods=["GET"]),
        Route("/v1/vector_stores/{store_id}/files/{file_id}", store_files, methods=["GET"]),
        Route("/v1/vector_stores/{store_id}/search", store_search, methods=["POST"]),
        *(Route(f"/v1/{path}", passthrough, methods=["GET", "POST"]) for path in PASSED_THROUGH),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.config = config
    app.state.stores = stores
    return app


def _store_object(store: Mapping[str, Any]) -> dict[str, Any]:
    """A vector store as the SDK's `VectorStore` has it (the local store says nothing of expiry)."""
    return {**store, "last_active_at": store.get("created_at"), "metadata": {}, "expires_after": None,
            "expires_at": None}


def serve_forever(config: BridgeConfig, host: str = DEFAULT_HOST, port: int = 8090) -> None:
    """Run the app in this process until SIGINT/SIGTERM (uvicorn's own handling)."""
    import uvicorn

    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5)


def main(argv: list[str] | None = None) -> None:
    """`python -m kit.servers.bridge_app --upstream URL`: what BridgeServer runs (and `kit serve bridge` through it)."""
    parser = argparse.ArgumentParser(prog="python -m kit.servers.bridge_app", description=__doc__.splitlines()[0])
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


def v1_url(url: str) -> str:
    """The base URL ending in /v1 (what OpenAI clients take), with or without it given."""
    url = url.rstrip("/")
    return url if url.endswith("/v1") else url + "/v1"


if __name__ == "__main__":
    main()
