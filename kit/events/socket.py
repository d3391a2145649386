"""Responses WebSocket mode, judged: a socket's frames split into its responses, each response's events through
the same validator as an SSE stream, and the rules the transport adds (`ws.*`).

A frame is a dict as the kit records it: `from` (`client` or `server`), one payload (`json`, `text` or
`base64`) and, optionally, `t` (its arrival time). The WebSocket envelope of an event (`stream_id`) is judged
here and taken off before the event meets the stream rules, so an SSE stream and a socket's response are
judged alike.

- `ws.one-event-per-frame`: every server frame is one text frame holding one JSON object with a string `type`;
- `ws.stream-id-echo`: every event of a request made with a `stream_id` echoes it, and no event carries a lane
  on which no request waits;
- `ws.error-shape`: an `error` frame nests its error object (`error.type`, `error.message` strings;
  `code`, `param` strings or null) and types `status`, `sequence_number` and `stream_id` (the SDK's
  `ResponseWsError`);
- `ws.one-in-flight`: a lane streams one response at a time: no `response.created` on a lane before the
  response before it on that lane has ended;
- `ws.sequence-per-response`: each response's `sequence_number`s count from 0, per response (not per socket).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from kit.events.model import TERMINAL_TYPES
from kit.events.parse import parse
from kit.events.rules import RULES
from kit.events.validate import Violation, validate_stream

ONE_EVENT = "ws.one-event-per-frame"
STREAM_ID = "ws.stream-id-echo"
ERROR_SHAPE = "ws.error-shape"
IN_FLIGHT = "ws.one-in-flight"
SEQUENCE = "ws.sequence-per-response"
SOCKET_RULES = (ONE_EVENT, STREAM_ID, ERROR_SHAPE, IN_FLIGHT, SEQUENCE)
ENVELOPE = ("stream_id",)


@dataclass
class SocketResponse:
    """One response streamed over a socket: its lane, its events (envelope off) and their frame indexes."""

    lane: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return bool(self.events) and self.events[-1].get("type") in TERMINAL_TYPES

    @property
    def id(self) -> str | None:
        for event in self.events:
            response = event.get("response")
            if isinstance(response, Mapping) and isinstance(response.get("id"), str):
                return response["id"]
        return None


@dataclass
class SocketSession:
    """What a socket carried: its responses in order of creation, the error frames outside any response, and the
    violations of the transport's own rules."""

    responses: list[SocketResponse]
    refusals: list[tuple[int, dict[str, Any]]]  # (frame index, error frame) answering a request with no response
    violations: list[Violation]
    requests: list[tuple[int, dict[str, Any]]]  # (frame index, client message)


def payload(frame: Mapping[str, Any]) -> tuple[Any, str | None]:
    """A frame's JSON value, or None and why it is not one JSON value."""
    if "json" in frame:
        return frame["json"], None
    if "base64" in frame:
        return None, "a binary frame"
    text = frame.get("text")
    if not isinstance(text, str):
        return None, "a frame with no payload"
    try:
        return json.loads(text), None
    except ValueError:
        return None, f"text that is not one JSON value ({text[:60]!r})"


class _Split:
    """The walk over a socket's frames: lanes, what waits on them, and the transport's rules as they show."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.waiting: dict[str | None, int] = {}  # requests sent on each lane, not yet answered to their end
        self.open: dict[str | None, SocketResponse] = {}  # the response streaming on each lane
        self.unreadable = 0  # client messages that are not a response.create: an error frame may answer them
        self.responses: list[SocketResponse] = []
        self.refusals: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[int, dict[str, Any]]] = []
        self.violations: list[Violation] = []

    def emit(self, rule: str, index: int, message: str, **where: Any) -> None:
        severity = RULES[rule].severity(self.profile)
        if severity:
            self.violations.append(Violation(rule, severity, message, index=index, **where))

    def client(self, index: int, frame: Mapping[str, Any]) -> None:
        message, _ = payload(frame)
        if isinstance(message, dict) and message.get("type") == "response.create":
            lane = message.get("stream_id") if isinstance(message.get("stream_id"), str) else None
            self.waiting[lane] = self.waiting.get(lane, 0) + 1
            self.requests.append((index, message))
        else:
            self.unreadable += 1

    def server(self, index: int, frame: Mapping[str, Any]) -> None:
        event, why = payload(frame)
        if why is None and isinstance(event, list):
            why = f"a JSON list of {len(event)} value(s)"
        elif why is None and not (isinstance(event, dict) and isinstance(event.get("type"), str)):
            why = "JSON that is not an event object with a string type"
        if why is not None:
            self.emit(ONE_EVENT, index, f"server frame {index} is {why}, not one event")
            return
        lane = event.get("stream_id")
        if "stream_id" in event and not isinstance(lane, str):
            self.emit(STREAM_ID, index, f"stream_id is {lane!r}, not a string", sequence_number=_seq(event))
            lane = None
        kind = event["type"]
        if kind == "error":
            self.error(index, event, lane)
            return
        response = self.open.get(lane)
        if kind == "response.created":
            if response is not None and not response.ended:
                self.emit(IN_FLIGHT, index, f"response.created on lane {_lane(lane)} while response "
                                            f"{response.id!r} on that lane has not ended", sequence_number=_seq(event))
            self.check_waiting(index, event, lane)
            response = self.open[lane] = SocketResponse(lane)
            self.responses.append(response)
        elif response is None or response.ended:
            if not self.check_waiting(index, event, lane):
                return  # an event of no response a request waits for: told by the echo rule, judged no further
            response = self.open[lane] = SocketResponse(lane)  # a response that never said created
            self.responses.append(response)
        response.events.append({k: v for k, v in event.items() if k not in ENVELOPE})
        response.frames.append(index)
        if kind in TERMINAL_TYPES:
            self.waiting[lane] = max(self.waiting.get(lane, 0) - 1, 0)

    def check_waiting(self, index: int, event: Mapping[str, Any], lane: str | None) -> bool:
        """A response begins on `lane`: some request must wait there (a missing echo shows as the wrong lane)."""
        if self.waiting.get(lane, 0) > len([r for r in self.open.values() if r.lane == lane and not r.ended]):
            return True
        lanes = sorted(_lane(k) for k, n in self.waiting.items() if n)
        self.emit(STREAM_ID, index, f"a response begins on lane {_lane(lane)}, where no request waits"
                                    + (f" (requests wait on {', '.join(lanes)}: the stream_id was not echoed?)"
                                       if lanes else ""), sequence_number=_seq(event))
        return False

    def error(self, index: int, event: dict[str, Any], lane: str | None) -> None:
        self.check_error_shape(index, event)
        response = self.open.get(lane)
        if "status" not in event and response is not None and not response.ended:  # a failure inside a response
            response.events.append({k: v for k, v in event.items() if k not in ENVELOPE})
            response.frames.append(index)
            return
        if self.waiting.get(lane, 0):  # a request refused before it streamed
            self.waiting[lane] -= 1
        elif lane is None and self.unreadable:
            self.unreadable -= 1
        elif "stream_id" in event or not any(self.waiting.values()):
            pass  # an error about the socket itself, or a lane named and none waiting: told by the echo rule below
        else:
            self.emit(STREAM_ID, index, "an error frame with no stream_id answers none of the requests waiting on "
                                        "lanes: the stream_id was not echoed?", sequence_number=_seq(event))
        self.refusals.append((index, event))

    def check_error_shape(self, index: int, event: Mapping[str, Any]) -> None:
        error = event.get("error")
        problems = []
        if not isinstance(error, Mapping):
            flat = [k for k in ("code", "message", "param") if k in event]
            problems.append("no error object under `error`" + (f" (the SSE shape: {', '.join(flat)} at the top)"
                                                               if flat else ""))
        else:
            for name in ("type", "message"):
                if not isinstance(error.get(name), str):
                    problems.append(f"error.{name} is {error.get(name)!r}, not a string")
            for name in ("code", "param"):
                if error.get(name) is not None and not isinstance(error.get(name), str):
                    problems.append(f"error.{name} is {error.get(name)!r}, not a string or null")
        for name, kind in (("status", int), ("sequence_number", int), ("stream_id", str)):
            value = event.get(name)
            if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
                problems.append(f"{name} is {value!r}, not {'an integer' if kind is int else 'a string'}")
        if problems:
            self.emit(ERROR_SHAPE, index, "; ".join(problems), sequence_number=_seq(event))


def _seq(event: Mapping[str, Any]) -> int | None:
    number = event.get("sequence_number")
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _lane(lane: str | None) -> str:
    return "(default)" if lane is None else repr(lane)


def ws_exempt(violation: Violation, events: list[dict[str, Any]]) -> bool:
    """An `error` frame's `sequence_number` is optional in WebSocket mode (the SDK's `ResponseWsError`), unlike the
    SSE `error` event's: its absence there is no `event.schema` breach (its shape is `ws.error-shape`'s to judge)."""
    index = violation.index
    return (violation.rule == "event.schema" and index is not None and index < len(events)
            and events[index].get("type") == "error" and "sequence_number" not in events[index]
            and violation.message == "sequence_number is missing")


def split_socket(frames: Iterable[Mapping[str, Any]], profile: str = "openai") -> SocketSession:
    """The responses a socket carried, its refusals, and the violations of `ws.*` rules other than the sequence."""
    walk = _Split(profile)
    for index, frame in enumerate(frames):
        (walk.client if frame.get("from") == "client" else walk.server)(index, frame)
    return SocketSession(walk.responses, walk.refusals, walk.violations, walk.requests)


def validate_socket(frames: Iterable[Mapping[str, Any]], profile: str = "openai") -> list[Violation]:
    """Every violation of a socket: the `ws.*` rules, then each response's stream under the catalog, each
    violation's `index` the frame's index in `frames`."""
    session = split_socket(list(frames), profile)
    found = list(session.violations)
    for response in session.responses:
        numbers = [_seq(e) for e in response.events]
        first = next((n for n in numbers if n is not None), None)
        if first not in (None, 0):
            severity = RULES[SEQUENCE].severity(profile)
            if severity:
                found.append(Violation(SEQUENCE, severity, f"response {response.id!r} begins at sequence_number "
                                                           f"{first}, not 0: numbered per socket, not per response?",
                                       index=response.frames[0], sequence_number=first))
        for violation in validate_stream(parse(response.events), profile):
            where = violation.index
            if ws_exempt(violation, response.events):
                continue
            found.append(replace(violation, index=response.frames[where] if where is not None
                                 and where < len(response.frames) else response.frames[-1]))
    return sorted(found, key=lambda v: (v.index if v.index is not None else -1))
