"""A tool loop over one Responses WebSocket (`client.responses.connect()`), shown live and judged.

Each turn is one `response.create` on the same socket; the next turn sends only the tool outputs and
`previous_response_id` (with `store: false`: the server must hold the response on the connection). Every frame
that crosses the socket is kept as the recordings keep them (direction, order, arrival time), so the socket is
judged by the transport's rules (`kit.events.socket`, the `ws.*` rules) and each response's events, shown live
as they arrive, by the stream rules, as an SSE stream would be.

A server that refuses the upgrade (its recorded HTTP answer) makes the notebook "unsupported", quoting it; so
does the in-process bridge, which serves no socket.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kit.events import Stream, Violation, accumulate, validate_socket
from kit.events.socket import SOCKET_RULES, ws_exempt
from kit.notebook.checks import CapabilityMissing, StreamCheckFailed
from kit.recording.client import socket_route_of
from kit.recording.socket_relay import REPLAY_MISS_CODE

ENDS = ("response.completed", "response.incomplete", "response.failed")
UPGRADE_REFUSED = frozenset({400, 401, 403, 404, 405, 426, 501})
IDLE_S = 120.0  # the longest a turn waits for a server frame (a CPU model's first token included)
AFTER_ERROR_S = 5.0  # after a mid-response error frame, for the response.failed that should follow


@dataclass
class SocketRun:
    """What one socket carried: its frames, the streams of its turns, and the transport's violations."""

    title: str
    frames: list[dict[str, Any]] = field(default_factory=list)
    turns: list[Stream] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    silences: list[str] = field(default_factory=list)  # turns ended by the server's silence, not by an event

    def table(self) -> Any:
        """One row per frame: when, which way, its type, lane and sequence number (pandas)."""
        import pandas as pd

        rows = [{"t (s)": f.get("t"), "from": f["from"], "type": (f.get("json") or {}).get("type"),
                 "stream_id": (f.get("json") or {}).get("stream_id"),
                 "sequence_number": (f.get("json") or {}).get("sequence_number")} for f in self.frames]
        return pd.DataFrame(rows)


def _unsupported(setup: str, exc: Exception) -> CapabilityMissing:
    response = getattr(exc, "response", None)
    body = bytes(getattr(response, "body", b"") or b"").decode("utf-8", "replace").strip()
    return CapabilityMissing(f"setup {setup!r} does not support Responses WebSocket mode: it answered the upgrade "
                             f"of GET /v1/responses with HTTP {response.status_code}: {body[:300] or '(no body)'}")


def tool_loop(scenario: Any, request: dict[str, Any], tools_answer: Callable[[str, dict[str, Any]], str], *,
              max_turns: int = 3, show: bool = True) -> SocketRun:
    """Run `request` (its tools and tool_choice) and then each tool's output (from `tools_answer(name, args)`)
    over one socket, until a turn calls no tool or `max_turns`; every turn shown live and observed."""
    from websockets.exceptions import InvalidStatus

    setup = scenario.setup
    if setup.responses == "bridge":
        raise CapabilityMissing(f"setup {setup.name!r} lacks a server: it runs the kit's bridge in-process, so there "
                                f"is no socket to open; Responses WebSocket mode is a server's transport (the "
                                f"served bridge, setup 'bridge', has it)")
    client = scenario.client
    run = SocketRun(f"{setup.name} · WebSocket mode")
    began = time.perf_counter()
    try:
        manager = client.responses.connect()
        connection = manager.enter()
    except InvalidStatus as exc:
        if exc.response.status_code in UPGRADE_REFUSED:
            raise _unsupported(setup.name, exc) from exc
        raise
    try:
        turn: dict[str, Any] = {"model": scenario.text_model, "store": False, **request}
        for number in range(1, max_turns + 1):
            message = {"type": "response.create", **turn}
            connection.send(message)
            run.frames.append({"t": round(time.perf_counter() - began, 6), "from": "client", "json": message})
            stream = scenario._consume(_events(connection, run, began, client), f"{run.title} · turn {number}", show)
            _judged_as_socket(scenario.observation(stream))
            run.turns.append(stream)
            final = accumulate(stream)
            calls = [i for i in final.output if i.get("type") == "function_call"]
            if not calls or final.status != "completed":
                break
            outputs = [{"type": "function_call_output", "call_id": c.get("call_id"),
                        "output": tools_answer(str(c.get("name")), _arguments(c))} for c in calls]
            turn = {"model": scenario.text_model, "store": False, "tools": request.get("tools", []),
                    "previous_response_id": final.id, "input": outputs,
                    **{k: v for k, v in request.items() if k in ("temperature", "max_output_tokens")}}
    finally:
        connection.close()
    run.violations = [v for v in validate_socket(run.frames, scenario.profile) if v.rule in SOCKET_RULES]
    scenario.sockets.append(run)
    return run


def _judged_as_socket(observation: Any) -> None:
    """The turn's stream judged as `validate_socket` judges a socket's response: what WebSocket mode's own types
    allow (an error frame without `sequence_number`) is no stream-rule breach."""
    if observation.violations is not None:
        raw = [e.raw if isinstance(e.raw, dict) else {} for e in observation.events]
        observation.violations[:] = [v for v in observation.violations if not ws_exempt(v, raw)]


def _arguments(call: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(call.get("arguments") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _recv(connection: Any, seconds: float) -> bytes | None:
    """The next message, or None after `seconds` of silence (the SDK's `recv_bytes` waits forever: a server that
    leaves a response open must not hang the notebook)."""
    try:
        message = connection._connection.recv(timeout=seconds)  # the SDK's websockets connection
    except TimeoutError:
        return None
    return message.encode("utf-8") if isinstance(message, str) else message


def _events(connection: Any, run: SocketRun, began: float, client: Any, *, idle: float = IDLE_S
            ) -> Iterator[dict[str, Any]]:
    """One turn's server frames as they arrive, kept raw in `run`; a kit replay miss raises the miss itself. A
    turn ends at its terminal event, at an error frame answering the request (`status`), or when the server
    says nothing more for `idle` seconds (`AFTER_ERROR_S` once an error frame came: a `response.failed` should
    follow at once)."""
    wait = idle
    while True:
        raw = _recv(connection, wait)
        if raw is None:
            run.silences.append(f"turn {len(run.turns) + 1}: nothing for {wait:g} s after "
                                f"{(run.frames[-1].get('json') or {}).get('type')!r}; the turn was ended here")
            return
        t = round(time.perf_counter() - began, 6)
        try:
            event = json.loads(raw)
        except ValueError:
            run.frames.append({"t": t, "from": "server", "text": raw.decode("utf-8", "replace")})
            raise StreamCheckFailed(f"{run.title}: a server frame is not JSON: {raw[:80]!r}") from None
        run.frames.append({"t": t, "from": "server", "json": event})
        if isinstance(event, dict) and event.get("type") == "error" and \
                (event.get("error") or {}).get("code") == REPLAY_MISS_CODE:
            route = socket_route_of(client)
            if route is not None:
                route.raise_error()
        yield {k: v for k, v in event.items() if k != "stream_id"} if isinstance(event, dict) else event
        if not isinstance(event, dict) or event.get("type") in ENDS or "status" in event:
            return
        if event.get("type") == "error":
            wait = min(idle, AFTER_ERROR_S)


def expect_continued(run: SocketRun) -> Stream:
    """More than one turn, each after the first naming the previous turn's response (`previous_response_id`)
    and completing: the server held a `store: false` response on the connection. Returns the last turn."""
    from kit.notebook.checks import _fail

    if not run.turns:
        raise StreamCheckFailed(f"{run.title}: no turn streamed")
    if len(run.turns) < 2:
        _fail(run.turns[-1], "expected a second turn: the first turn called no tool")
    for before, after in zip(run.turns, run.turns[1:]):
        previous, response = accumulate(before), accumulate(after)
        if response.status != "completed":
            _fail(after, f"the turn continuing {previous.id!r} ended {response.status!r}, not completed "
                         f"({response.error or response.incomplete_details or 'no error given'})")
        named = (response.response or {}).get("previous_response_id")
        if named != previous.id:
            _fail(after, f"the turn's response names previous_response_id {named!r}, not {previous.id!r}")
    return run.turns[-1]


def socket_summary(run: SocketRun) -> str:
    """The socket in one paragraph: frames each way, turns, and the transport's violations."""
    sent = sum(f["from"] == "client" for f in run.frames)
    lines = [f"{run.title}: {sent} message(s) sent, {len(run.frames) - sent} frame(s) received, "
             f"{len(run.turns)} turn(s) on one socket"]
    lines += [str(v) for v in run.violations] or ["no violation of the ws.* rules"]
    lines += [f"the server fell silent: {s}" for s in run.silences]
    return "\n".join(lines)
