"""Responses WebSocket mode on `/v1/responses`: one socket, one `response.create` message per turn.

What OpenAI's WebSocket mode promises (the openai SDK's `responses.connect()` and its event types):
- each server event is one JSON text frame;
- `previous_response_id` continues a response made earlier on the same connection even with `store: false`:
  the connection holds its own responses (the latest `HELD` of them), the store the stored ones;
- `stream_id` names a lane: requests on one lane run one at a time, first in first out, and every event of a
  request echoes its `stream_id`; different lanes run side by side;
- a request refused before streaming is an `error` frame with the error object nested under `error` and the
  HTTP status it would have had (`ResponseWsError`); a failure mid-stream is `error` + `response.failed`, as in SSE.

The door is the HTTP route's (`guard.Guard`: auth, origin, host, secrets scrubbed from what is sent) and so is
the path to the upstream (`Turns`, `EventPump`, `UpstreamCall`, `Progress`). A client that goes away cancels
every upstream call of its connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import OrderedDict
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from kit.bridge import stream_response
from kit.bridge.conversation import StateError, StoredTurn
from kit.bridge.request import UnsupportedParameter
from kit.servers.bridge_app.pump import END, EventPump
from kit.servers.bridge_app.responses import Progress, request_problem
from kit.servers.bridge_app.state import BridgeState
from kit.servers.bridge_app.wire import TERMINAL, ws_error_frame, ws_frame

log = logging.getLogger("kit.servers.bridge")
HELD = 64  # responses a connection keeps for `previous_response_id` (store:false ones included)
ENVELOPE = ("type", "stream_id")  # WebSocket-only fields of `response.create`: not part of the request


class SocketSession:
    """One WebSocket connection: its lanes, the responses it holds, and its one sender."""

    def __init__(self, socket: WebSocket, state: BridgeState) -> None:
        self.socket, self.state = socket, state
        self.held: OrderedDict[str, StoredTurn] = OrderedDict()
        self.lanes: dict[str | None, asyncio.Queue[dict[str, Any]]] = {}
        self.workers: list[asyncio.Task[None]] = []
        self.pumps: set[EventPump] = set()
        self._send_lock = asyncio.Lock()

    async def send(self, frame: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.socket.send_text(json.dumps(frame, separators=(",", ":")))

    async def run(self) -> None:
        """Read client messages until the client leaves; each `response.create` goes to its lane."""
        try:
            while True:
                message = await self.socket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                if text is None:
                    await self.send(ws_error_frame("Binary frames are not supported: send each client event as "
                                                   "one JSON text frame.", status=400, code="invalid_frame"))
                    continue
                await self.accept(text)
        except WebSocketDisconnect:
            return
        finally:
            for pump in list(self.pumps):
                pump.stop()  # the client has gone: its upstream calls end now
            for worker in self.workers:
                worker.cancel()

    async def accept(self, text: str) -> None:
        """One client message: a `response.create` is queued on its lane, anything else is an error frame."""
        try:
            event = json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as exc:
            await self.send(ws_error_frame(f"the message is not valid JSON: {exc}", status=400, code="invalid_json"))
            return
        if not isinstance(event, dict):
            await self.send(ws_error_frame("a client event must be a JSON object", status=400, code="invalid_json"))
            return
        stream_id = event.get("stream_id")
        if stream_id is not None and not (isinstance(stream_id, str) and stream_id):
            await self.send(ws_error_frame("stream_id must be a non-empty string", status=400, code="invalid_type",
                                           param="stream_id"))
            return
        kind = event.get("type")
        if kind != "response.create":
            supported = "response.steer is not supported by the kit's bridge" if kind == "response.steer" else \
                f"unknown client event type {kind!r}"
            await self.send(ws_error_frame(f"{supported}: send `response.create`", status=400,
                                           code="unsupported_event" if kind == "response.steer" else "invalid_event",
                                           param="type", stream_id=stream_id))
            return
        body = {k: v for k, v in event.items() if k not in ENVELOPE}
        problem = request_problem(body, self.state.config.models)
        if problem is None and body.get("background"):
            problem = ("background is not supported in WebSocket mode: use POST /v1/responses", "unsupported_parameter",
                       "background")
        if problem is not None:
            message, code, param = problem
            await self.send(ws_error_frame(message, status=400, code=code, param=param, stream_id=stream_id))
            return
        body["stream"] = True  # implicit over WebSocket
        lane = self.lanes.get(stream_id)
        if lane is None:
            lane = self.lanes[stream_id] = asyncio.Queue()
            self.workers.append(asyncio.ensure_future(self._lane(lane, stream_id)))
        lane.put_nowait(body)

    async def _lane(self, lane: asyncio.Queue[dict[str, Any]], stream_id: str | None) -> None:
        """One lane's responses, one at a time, in the order they were asked for."""
        while True:
            body = await lane.get()
            try:
                await self.respond(body, stream_id)
            except (WebSocketDisconnect, RuntimeError):  # the socket closed under a send
                return
            except Exception:  # noqa: BLE001 - the bridge's own failure: logged, told, the connection goes on
                log.exception("a WebSocket response.create failed")
                await self.send(ws_error_frame("the bridge failed", status=500, type_="server_error",
                                               code="server_error", stream_id=stream_id))

    async def respond(self, body: dict[str, Any], stream_id: str | None) -> None:
        """Stream one response as frames; keep it for `previous_response_id` once it has ended."""
        state = self.state
        try:
            response_id, turn = await run_in_threadpool(state.turns.begin, body, self.held.get)
        except StateError as exc:
            await self.send(ws_error_frame(str(exc), status=exc.status, code=exc.code, param=exc.param,
                                           stream_id=stream_id))
            return
        call = state.call_for(self.socket)

        def events() -> Any:
            return state.turns.track(turn, stream_response(
                call.client, turn.request, think_tags=state.config.think_tags, stores=state.stores,
                max_tokens_field=state.config.max_tokens_field, response_id=response_id,
                files=state.files.text_of), response_id)

        pump = EventPump(events, call)
        self.pumps.add(pump)
        progress = Progress(state.config.timeouts)
        try:
            while True:
                try:
                    item = await pump.get_within(progress.deadline)
                except asyncio.TimeoutError:
                    pump.stop()
                    for frame in progress.failure(f"the upstream sent nothing for {progress.deadline:g} s",
                                                  "upstream_timeout"):
                        await self.send(ws_frame(frame, stream_id))
                    return
                if item is END:
                    for frame in progress.failure("the upstream stream ended without a terminal event",
                                                  "upstream_error"):
                        await self.send(ws_frame(frame, stream_id))
                    return
                if isinstance(item, BaseException):
                    await self._failed(item, progress, call, stream_id)
                    return
                progress.see(item)
                await self.send(ws_frame(item, stream_id))
                if item.get("type") in TERMINAL:
                    self._hold(response_id, turn.context, item.get("response") or {})
        finally:
            pump.stop()
            self.pumps.discard(pump)

    async def _failed(self, exc: BaseException, progress: Progress, call: Any, stream_id: str | None) -> None:
        """An exception from the bridge: before any event, the request's fault (400) or the upstream's (502);
        after, the stream ends with `error` + `response.failed`."""
        if progress.sequence < 0:
            if isinstance(exc, UnsupportedParameter):
                frame = ws_error_frame(str(exc), status=400, code="unsupported_parameter", param=exc.param,
                                       stream_id=stream_id)
            elif call.connected:
                frame = ws_error_frame(f"the upstream's answer broke off: {type(exc).__name__}: {exc}", status=502,
                                       type_="upstream_error", code="upstream_error", stream_id=stream_id)
            else:
                frame = ws_error_frame(f"the bridge cannot read this request: {type(exc).__name__}: {exc}",
                                       status=400, code="invalid_request", stream_id=stream_id)
            await self.send(frame)
            return
        for frame in progress.failure(f"the upstream's answer broke off: {type(exc).__name__}: {exc}",
                                      "upstream_error"):
            await self.send(ws_frame(frame, stream_id))

    def _hold(self, response_id: str, context: list[dict[str, Any]], response: dict[str, Any]) -> None:
        self.held[response_id] = StoredTurn(context=tuple(context), output=tuple(response.get("output") or ()))
        while len(self.held) > HELD:
            self.held.popitem(last=False)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


async def responses_socket(socket: WebSocket) -> None:
    await socket.accept()
    await SocketSession(socket, socket.app.state.bridge).run()
    with contextlib.suppress(Exception):
        await socket.close()


ROUTES = [WebSocketRoute("/v1/responses", responses_socket)]
