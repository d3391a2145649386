"""The stateful half of the Responses API, served by the bridge: stored responses, `previous_response_id`,
conversations and background mode.

`Turns` sits between `POST /v1/responses` and the pure bridge: it resolves a request's state against the
store (`kit.bridge.conversation` decides what the records mean), echoes the state fields in every snapshot,
keeps the finished response (and its conversation's new items) and runs background responses in their own
thread, their events kept so a client can poll, cancel or resume them with `starting_after`. The routes here
read and delete what it kept: `GET|DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`,
`POST /v1/responses/{id}/cancel` and `/v1/conversations[/{id}[/items[/{item_id}]]]`.

A cancelled background response keeps the events streamed before the cancel and ends with no further event
(OpenAI's reference names no event for it); its stored status is `cancelled`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from kit.bridge.conversation import (
    TERMINAL_STATUSES,
    StateError,
    StoredTurn,
    Turn,
    conversation_items_after,
    input_items,
    item_list,
    resolve_turn,
    with_state,
)
from kit.bridge.response_store import ResponseStore
from kit.servers.bridge_app.state import bridge_of, json_body
from kit.servers.bridge_app.wire import TERMINAL, error_body, sse_event

log = logging.getLogger("kit.servers.bridge")
FOLLOW_POLL_S = 0.05  # how often a follower of a background stream looks for new events


class Turns:
    """The served bridge's conversation state over one `ResponseStore`."""

    def __init__(self, store: ResponseStore) -> None:
        self.store = store
        self._cancel: dict[str, threading.Event] = {}
        self._calls: dict[str, Any] = {}
        self._lock = threading.Lock()

    def begin(self, body: Mapping[str, Any], held: Callable[[str], StoredTurn | None] | None = None
              ) -> tuple[str, Turn]:
        """A new response id and the resolved turn; a 404 StateError for an id the store does not hold.
        `held` looks up responses a WebSocket connection keeps itself (store:false included) before the store."""
        response_id = f"resp_{uuid.uuid4().hex}"
        prefix = f"msg_{uuid.uuid4().hex}"  # not the response's: its output items are msg_<response>_<n>
        turn = resolve_turn(body, item_prefix=prefix)  # the request's own contradictions first: a 400
        previous_id = turn.echo["previous_response_id"]
        if previous_id:
            previous = (held(previous_id) if held else None) or self.store.turn(previous_id)
            if previous is None:
                raise StateError(f"Previous response with id '{previous_id}' not found.", status=404,
                                 param="previous_response_id", code="previous_response_not_found")
            turn = resolve_turn(body, previous=previous, item_prefix=prefix)
        elif turn.conversation_id:
            if self.store.conversation(turn.conversation_id) is None:
                raise StateError(f"Conversation with id '{turn.conversation_id}' not found.", status=404,
                                 param="conversation", code="conversation_not_found")
            turn = resolve_turn(body, conversation_items=self.store.items(turn.conversation_id), item_prefix=prefix)
        return response_id, turn

    def track(self, turn: Turn, events: Iterator[dict[str, Any]], response_id: str) -> Iterator[dict[str, Any]]:
        """The events with the state echoed; what must be kept is kept as it passes (in the pump's thread)."""
        for event in with_state(events, turn.echo, queued=turn.background, response_id=response_id):
            if self._cancelled(response_id):  # what a cancelled upstream call says after the cancel is not kept
                return
            snapshot = event.get("response")
            snapshot = snapshot if isinstance(snapshot, Mapping) else None
            created = event.get("type") == "response.created"
            if snapshot is not None and turn.store and created:
                self.store.put(snapshot, context=turn.context, new_items=turn.new_items,
                               background=turn.background)
            if turn.background:  # after the response is kept (an event belongs to it), before its new status:
                self.store.add_event(response_id, event)  # a follower that reads a terminal status has every event
            if snapshot is not None:
                if turn.store and not created:
                    self.store.update(snapshot)
                if event.get("type") in TERMINAL and turn.conversation_id:  # a conversation keeps its items
                    self.store.add_items(turn.conversation_id, conversation_items_after(turn, snapshot))
            yield event

    # ----------------------------------------------------------- background

    def run_in_background(self, turn: Turn, events: Iterator[dict[str, Any]], response_id: str,
                          call: Any = None) -> None:
        """Run the response to its end in a thread of its own, whoever listens; `cancel` stops it, and cancels
        its upstream call (`call`, an UpstreamCall) at once, stalled or not. `events` are already tracked
        (`track`): each is kept as it passes, once."""
        flag = threading.Event()
        with self._lock:
            self._cancel[response_id] = flag
            if call is not None:
                self._calls[response_id] = call

        def run() -> None:
            try:
                for _ in events:
                    if flag.is_set():
                        break
            except Exception:  # noqa: BLE001 - the bridge's own failure: logged; the response is marked failed
                log.exception("background response %s failed", response_id)
                self._finish(response_id, "failed")
            finally:
                with contextlib.suppress(Exception):
                    events.close()  # type: ignore[attr-defined]
                if flag.is_set():
                    self._finish(response_id, "cancelled")
                with self._lock:
                    self._cancel.pop(response_id, None)
                    self._calls.pop(response_id, None)
                if call is not None:
                    call.close()

        threading.Thread(target=run, name=f"kit-bridge-background-{response_id}", daemon=True).start()

    def _cancelled(self, response_id: str) -> bool:
        with self._lock:
            flag = self._cancel.get(response_id)
        return flag is not None and flag.is_set()

    def cancel(self, response_id: str) -> dict[str, Any]:
        """Cancel a background response that has not finished; OpenAI's 400s otherwise."""
        response = self.store.get(response_id)
        if response is None:
            raise StateError(f"Response with id '{response_id}' not found.", status=404, code="not_found")
        if not self.store.is_background(response_id):
            raise StateError("Only responses created with background=true can be cancelled.",
                             code="invalid_request")
        if response.get("status") in TERMINAL_STATUSES - {"cancelled"}:
            raise StateError(f"Cannot cancel a {response['status']} response.", code="invalid_request")
        with self._lock:
            flag, call = self._cancel.get(response_id), self._calls.get(response_id)
        if flag is not None:
            flag.set()
        if call is not None:
            call.cancel()  # a stalled upstream read ends now
        return self._finish(response_id, "cancelled")

    def _finish(self, response_id: str, status: str) -> dict[str, Any]:
        response = self.store.get(response_id) or {"id": response_id}
        if response.get("status") not in TERMINAL_STATUSES:
            response = {**response, "status": status}
            self.store.update(response)
        return response

    async def follow(self, response_id: str, starting_after: int | None) -> AsyncIterator[bytes]:
        """A background response's events after `starting_after`, as they are kept, to its end."""
        last = starting_after
        while True:
            events = await run_in_threadpool(self.store.events_after, response_id, last)
            for event in events:
                last = int(event.get("sequence_number", last or 0))
                yield sse_event(event)
                if event.get("type") in TERMINAL:
                    return
            if not events:
                response = await run_in_threadpool(self.store.get, response_id)
                if response is None or response.get("status") in TERMINAL_STATUSES:
                    # kept before the terminal status (`track`): what came between the two reads is sent too
                    for event in await run_in_threadpool(self.store.events_after, response_id, last):
                        yield sse_event(event)
                    return
                await asyncio.sleep(FOLLOW_POLL_S)


def turns_of(request: Request) -> Turns:
    return bridge_of(request).turns


def state_error(exc: StateError) -> JSONResponse:
    return JSONResponse(error_body(str(exc), code=exc.code, param=exc.param), exc.status)


def not_found(kind: str, key: str) -> JSONResponse:
    return JSONResponse(error_body(f"{kind} with id '{key}' not found.", code="not_found"), 404)


# ------------------------------------------------------------------------------------------------ responses


async def response_get(request: Request) -> Response:
    turns, response_id = turns_of(request), request.path_params["response_id"]
    response = await run_in_threadpool(turns.store.get, response_id)
    if response is None:
        return not_found("Response", response_id)
    if request.query_params.get("stream") in ("true", "1"):
        if not await run_in_threadpool(turns.store.is_background, response_id):
            return JSONResponse(error_body("Only background responses can be streamed again: create it with "
                                           "background=true and stream=true.", param="stream"), 400)
        try:
            after = request.query_params.get("starting_after")
            starting_after = None if after is None else int(after)
        except ValueError:
            return JSONResponse(error_body(f"starting_after must be an integer, got {after!r}",
                                           param="starting_after"), 400)
        return StreamingResponse(turns.follow(response_id, starting_after), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"})
    return JSONResponse(response)


async def response_delete(request: Request) -> Response:
    turns, response_id = turns_of(request), request.path_params["response_id"]
    if not await run_in_threadpool(turns.store.delete, response_id):
        return not_found("Response", response_id)
    return JSONResponse({"id": response_id, "object": "response", "deleted": True})


async def response_input_items(request: Request) -> Response:
    turns, response_id = turns_of(request), request.path_params["response_id"]
    context = await run_in_threadpool(turns.store.context, response_id)
    if context is None:
        return not_found("Response", response_id)
    return _page(request, context)


async def response_cancel(request: Request) -> Response:
    try:
        return JSONResponse(await run_in_threadpool(turns_of(request).cancel, request.path_params["response_id"]))
    except StateError as exc:
        return state_error(exc)


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    query = request.query_params
    try:
        limit = int(query.get("limit", 20))
        return JSONResponse(item_list(items, order=query.get("order", "desc"), limit=limit, after=query.get("after")))
    except ValueError as exc:  # StateError is one; int() of a non-number the other
        return JSONResponse(error_body(str(exc), param=getattr(exc, "param", "limit")), 400)


# ------------------------------------------------------------------------------------------------ conversations


async def _body_and_items(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]] | JSONResponse:
    """The request's JSON and its `items` as conversation items with ids, or the 400 saying what is wrong."""
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    try:
        return body, input_items(body.get("items") or [], f"msg_{uuid.uuid4().hex}")
    except StateError as exc:
        return state_error(exc)


async def conversation_create(request: Request) -> Response:
    parsed = await _body_and_items(request)
    if isinstance(parsed, JSONResponse):
        return parsed
    body, items = parsed
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        return JSONResponse(error_body("metadata must be an object", param="metadata"), 400)
    return JSONResponse(await run_in_threadpool(turns_of(request).store.create_conversation, metadata, items))


async def conversation_get(request: Request) -> Response:
    store, key = turns_of(request).store, request.path_params["conversation_id"]
    conversation = await run_in_threadpool(store.conversation, key)
    return JSONResponse(conversation) if conversation else not_found("Conversation", key)


async def conversation_update(request: Request) -> Response:
    store, key = turns_of(request).store, request.path_params["conversation_id"]
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    if not isinstance(body.get("metadata"), Mapping):
        return JSONResponse(error_body("metadata must be an object", param="metadata"), 400)
    conversation = await run_in_threadpool(store.update_conversation, key, body["metadata"])
    return JSONResponse(conversation) if conversation else not_found("Conversation", key)


async def conversation_delete(request: Request) -> Response:
    store, key = turns_of(request).store, request.path_params["conversation_id"]
    if not await run_in_threadpool(store.delete_conversation, key):
        return not_found("Conversation", key)
    return JSONResponse({"id": key, "object": "conversation.deleted", "deleted": True})


async def conversation_items(request: Request) -> Response:
    store, key = turns_of(request).store, request.path_params["conversation_id"]
    if await run_in_threadpool(store.conversation, key) is None:
        return not_found("Conversation", key)
    if request.method == "POST":
        parsed = await _body_and_items(request)
        if isinstance(parsed, JSONResponse):
            return parsed
        items = parsed[1]
        await run_in_threadpool(store.add_items, key, items)
        return JSONResponse({"object": "list", "data": items, "first_id": items[0]["id"] if items else None,
                             "last_id": items[-1]["id"] if items else None, "has_more": False})
    return _page(request, await run_in_threadpool(store.items, key))


async def conversation_item(request: Request) -> Response:
    store = turns_of(request).store
    key, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    if await run_in_threadpool(store.conversation, key) is None:
        return not_found("Conversation", key)
    if request.method == "DELETE":
        if not await run_in_threadpool(store.delete_item, key, item_id):
            return not_found("Item", item_id)
        return JSONResponse(await run_in_threadpool(store.conversation, key))
    item = next((i for i in await run_in_threadpool(store.items, key) if i.get("id") == item_id), None)
    return JSONResponse(item) if item else not_found("Item", item_id)


ROUTES = [
    Route("/v1/responses/{response_id}", response_get, methods=["GET"]),
    Route("/v1/responses/{response_id}", response_delete, methods=["DELETE"]),
    Route("/v1/responses/{response_id}/input_items", response_input_items, methods=["GET"]),
    Route("/v1/responses/{response_id}/cancel", response_cancel, methods=["POST"]),
    Route("/v1/conversations", conversation_create, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", conversation_get, methods=["GET"]),
    Route("/v1/conversations/{conversation_id}", conversation_update, methods=["POST"]),
    Route("/v1/conversations/{conversation_id}", conversation_delete, methods=["DELETE"]),
    Route("/v1/conversations/{conversation_id}/items", conversation_items, methods=["GET", "POST"]),
    Route("/v1/conversations/{conversation_id}/items/{item_id}", conversation_item, methods=["GET", "DELETE"]),
]
