"""The Responses stream event model: one `Event` per `data:` payload, one `Stream` per answer.

Every event keeps the JSON it arrived with (`Event.raw`), untouched: the
validator must judge what the server sent, not what a parser made of it, and
unknown fields and types must survive for reports. Typed access is a thin
layer of properties over `raw`; a property returns `None` when the field is
absent *or has the wrong type*, so renderers never crash on bad servers (the
validator reads `raw` and reports the wrong type instead).

Each known event `type` has its own class (see `EVENT_CLASSES`), so renderers
can dispatch with `isinstance` on families (`TextDelta`, `ArgumentsDelta`,
`HostedToolStatus`, ...). Types outside the catalog become `UnknownEvent`;
payloads that are not one JSON object become `NotJSONEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from kit.events.event_base import (  # noqa: F401  (re-exported: the model's public names)
    _COMMON_OPTIONAL,
    _EVENT_CLASSES,
    ANY,
    IDX,
    INT,
    ITEM_FIELDS,
    LIST,
    OBJ,
    STR,
    STR_OR_OBJ,
    Event,
    NotJSONEvent,
    UnknownEvent,
)
from kit.events.response_events import *  # noqa: F401,F403  (every catalog class, by name)
from kit.events.tool_events import *  # noqa: F401,F403
from kit.events.tool_events import _HOSTED_STATUS_CLASSES, HOSTED_STATUS_ORDER  # noqa: F401

globals().update({cls.__name__: cls for cls in _HOSTED_STATUS_CLASSES.values()})

# The public registry: event type -> class. Read-only by convention.
EVENT_CLASSES: Mapping[str, type[Event]] = _EVENT_CLASSES
KNOWN_EVENT_TYPES: frozenset[str] = frozenset(_EVENT_CLASSES)
TERMINAL_TYPES: frozenset[str] = frozenset({"response.completed", "response.failed", "response.incomplete"})


def make_event(raw: Any) -> Event:
    """The typed event for one decoded JSON value; a non-object becomes a `NotJSONEvent`."""
    if type(raw) is not dict:
        import json

        return NotJSONEvent(json.dumps(raw), f"payload is a JSON {type(raw).__name__}, not an object")
    cls = _EVENT_CLASSES.get(raw.get("type"), UnknownEvent) if type(raw.get("type")) is str else UnknownEvent
    return cls(raw)


# --- Streams ------------------------------------------------------------------------------------


@dataclass
class WireFacts:
    """What the raw SSE said besides the events: only known when the parser saw the bytes.

    `event_names[i]` is the `event:` field sent with `events[i]` (None when absent).
    `done_index` is the number of events before `data: [DONE]` (None if never sent).
    `after_done` holds the payloads that arrived after `[DONE]` (not parsed into events).
    `unterminated` is True when the body ended inside an event (no blank line after it).
    `transport_error` is the recorded connection failure that cut the body, if any.
    `invalid_utf8` holds the byte offsets of lines that were not UTF-8 (replaced by U+FFFD).
    `framing` is "sse", or "jsonl" for a one-event-per-line file (then only `invalid_utf8` is known).
    """

    content_type: str | None = None
    status: int | None = None
    event_names: list[str | None] = field(default_factory=list)
    done_index: int | None = None
    after_done: list[str] = field(default_factory=list)
    unterminated: bool = False
    transport_error: str | None = None
    invalid_utf8: list[int] = field(default_factory=list)
    framing: str = "sse"

    @property
    def done_seen(self) -> bool:
        return self.done_index is not None


@dataclass(frozen=True)
class Stream:
    """One Responses stream: its events in order, their arrival offsets, wire facts, its source.

    `offsets[i]` is the arrival time (seconds since the first byte of the body) of the
    chunk that completed `events[i]`, or None when the source had no timing.
    `wire` is None when the source was not raw SSE (jsonl, event dicts, SDK objects).
    """

    events: list[Event]
    offsets: list[float | None]
    wire: WireFacts | None = None
    source: str = "<events>"

    def __post_init__(self) -> None:
        if len(self.offsets) != len(self.events):
            raise ValueError(f"{self.source}: {len(self.offsets)} offsets for {len(self.events)} events")

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)

    def __getitem__(self, index: int) -> Event:
        return self.events[index]

    def types(self) -> list[str | None]:
        """The `type` of every event (None for payloads without one)."""
        return [event.type for event in self.events]
