"""Files and vector stores (`/v1/files`, `/v1/vector_stores[...]`) over `kit.bridge.VectorStores`.

Hosted `file_search` then works for a client that creates its stores through
the API, as it would on OpenAI.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kit.bridge import VectorStoreError
from kit.bridge.file_input import FileInputError, file_as_text
from kit.servers.bridge_app.state import BridgeState, bridge_of, json_body
from kit.servers.bridge_app.wire import derived_id, error_body


def not_found(exc: Exception) -> JSONResponse:
    return JSONResponse(error_body(str(exc), code="not_found"), 404)


def store_object(store: Mapping[str, Any]) -> dict[str, Any]:
    """A vector store as the SDK's `VectorStore` has it (the local store says nothing of expiry)."""
    return {**store, "last_active_at": store.get("created_at"), "metadata": {}, "expires_after": None,
            "expires_at": None}


def store_file(store_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """A vector store file as the SDK's `VectorStoreFile` has it."""
    return {"id": record["id"], "object": "vector_store.file", "vector_store_id": store_id,
            "created_at": record.get("created_at", int(time.time())), "status": "completed",
            "usage_bytes": record.get("usage_bytes", 0), "last_error": None,
            "attributes": record.get("attributes") or {}, "chunking_strategy": {"type": "other"}}


def attach(state: BridgeState, store_id: str, file_id: str, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    upload = state.files.get(file_id)
    if upload is None:
        raise VectorStoreError(f"no uploaded file {file_id!r}: upload it first with POST /v1/files")
    known = {f["id"]: f for f in state.stores.list_files(store_id)}
    if file_id in known:  # attached twice: the same file, as OpenAI answers
        return store_file(store_id, known[file_id])
    added = state.stores.add_file(store_id, text=upload["text"], filename=upload["meta"]["filename"],
                                  file_id=file_id, attributes=dict(attributes or {}))
    return store_file(store_id, {**added, "created_at": upload["meta"]["created_at"]})


async def upload(request: Request) -> Response:
    form = await request.form()
    part = form.get("file")
    if part is None or isinstance(part, str):
        return JSONResponse(error_body("POST /v1/files needs a multipart `file` field", param="file"), 400)
    data = await part.read()
    filename = part.filename or "upload.txt"
    try:  # what the bridge keeps of a file is its text: a text file's, or a PDF's text layer
        text = await run_in_threadpool(file_as_text, data, part.content_type or "", filename, "file")
    except FileInputError as exc:
        return JSONResponse(error_body(exc.reason, code="unsupported_file", param="file"), 400)
    files = bridge_of(request).files
    return JSONResponse(await run_in_threadpool(files.add, filename, text, str(form.get("purpose") or "assistants")))


async def file_get(request: Request) -> Response:
    meta = bridge_of(request).files.meta(request.path_params["file_id"])
    if meta is None:
        return not_found(LookupError(f"no file {request.path_params['file_id']!r}"))
    return JSONResponse(meta)


async def file_delete(request: Request) -> Response:
    file_id = request.path_params["file_id"]
    if not await run_in_threadpool(bridge_of(request).files.delete, file_id):
        return not_found(LookupError(f"no file {file_id!r}"))
    return JSONResponse({"id": file_id, "object": "file", "deleted": True})


async def store_create(request: Request) -> Response:
    state = bridge_of(request)
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    name = str(body.get("name") or "")
    file_ids = body.get("file_ids") or []
    if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
        return JSONResponse(error_body("'file_ids' must be a list of file ids", code="invalid_type",
                                       param="file_ids"), 400)

    def create() -> dict[str, Any]:
        with state.store_lock:  # the n-th store of a name gets the same id on every run
            n = sum(s["name"] == name for s in state.stores.list())
            store = state.stores.create(name, store_id=derived_id("vs_", name, str(n)))
        for file_id in file_ids:
            attach(state, store["id"], file_id, None)
        return state.stores.retrieve(store["id"])

    try:
        return JSONResponse(store_object(await run_in_threadpool(create)))
    except VectorStoreError as exc:
        return not_found(exc)


async def store_list(request: Request) -> Response:
    data = [store_object(s) for s in await run_in_threadpool(bridge_of(request).stores.list)]
    return JSONResponse({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": False})


async def store_get(request: Request) -> Response:
    stores = bridge_of(request).stores
    try:
        return JSONResponse(store_object(await run_in_threadpool(stores.retrieve, request.path_params["store_id"])))
    except VectorStoreError as exc:
        return not_found(exc)


async def store_delete(request: Request) -> Response:
    store_id = request.path_params["store_id"]
    try:
        await run_in_threadpool(bridge_of(request).stores.delete, store_id)
    except VectorStoreError as exc:
        return not_found(exc)
    return JSONResponse({"id": store_id, "object": "vector_store.deleted", "deleted": True})


async def store_file_add(request: Request) -> Response:
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    if not body.get("file_id") or not isinstance(body["file_id"], str):
        return JSONResponse(error_body("Missing required parameter: 'file_id' (a string).",
                                       code="missing_required_parameter", param="file_id"), 400)
    if not isinstance(body.get("attributes") or {}, dict):
        return JSONResponse(error_body("'attributes' must be an object", code="invalid_type", param="attributes"),
                            400)
    try:
        return JSONResponse(await run_in_threadpool(attach, bridge_of(request), request.path_params["store_id"],
                                                    str(body["file_id"]), body.get("attributes")))
    except VectorStoreError as exc:
        return not_found(exc)


async def store_files(request: Request) -> Response:
    store_id = request.path_params["store_id"]
    try:
        listed = [store_file(store_id, f)
                  for f in await run_in_threadpool(bridge_of(request).stores.list_files, store_id)]
    except VectorStoreError as exc:
        return not_found(exc)
    wanted = request.path_params.get("file_id")
    if wanted is None:
        return JSONResponse({"object": "list", "data": listed, "first_id": listed[0]["id"] if listed else None,
                             "last_id": listed[-1]["id"] if listed else None, "has_more": False})
    found = next((f for f in listed if f["id"] == wanted), None)
    return JSONResponse(found) if found else not_found(LookupError(f"{store_id} has no file {wanted!r}"))


async def store_search(request: Request) -> Response:
    stores = bridge_of(request).stores
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    query = body.get("query")
    query = " ".join(map(str, query)) if isinstance(query, list) else str(query or "")
    limit = body.get("max_num_results") or 10
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        return JSONResponse(error_body("'max_num_results' must be an integer from 1 to 50",
                                       code="invalid_value", param="max_num_results"), 400)
    try:
        results = await run_in_threadpool(lambda: stores.search(request.path_params["store_id"], query,
                                                                max_num_results=limit))
    except VectorStoreError as exc:
        return not_found(exc)
    data = [{"file_id": r["file_id"], "filename": r["filename"], "score": r["score"], "attributes": r["attributes"],
             "content": [{"type": "text", "text": r["text"]}]} for r in results]
    return JSONResponse({"object": "vector_store.search_results.page", "search_query": [query], "data": data,
                         "has_more": False, "next_page": None})


ROUTES = [
    Route("/v1/files", upload, methods=["POST"]),
    Route("/v1/files/{file_id}", file_get, methods=["GET"]),
    Route("/v1/files/{file_id}", file_delete, methods=["DELETE"]),
    Route("/v1/vector_stores", store_create, methods=["POST"]),
    Route("/v1/vector_stores", store_list, methods=["GET"]),
    Route("/v1/vector_stores/{store_id}", store_get, methods=["GET"]),
    Route("/v1/vector_stores/{store_id}", store_delete, methods=["DELETE"]),
    Route("/v1/vector_stores/{store_id}/files", store_file_add, methods=["POST"]),
    Route("/v1/vector_stores/{store_id}/files", store_files, methods=["GET"]),
    Route("/v1/vector_stores/{store_id}/files/{file_id}", store_files, methods=["GET"]),
    Route("/v1/vector_stores/{store_id}/search", store_search, methods=["POST"]),
]
