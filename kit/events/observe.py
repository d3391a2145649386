"""Observing a stream once: its events, arrival offsets, wire facts, the accumulated response and its violations.

The one place a consumed stream is folded and judged, below every view:
`consume(events)` gives an `Observation`; an `Observer` does the same one
event at a time, for a live view that draws between events (`kit.render.live`).
Pure: the clock that stamps arrival offsets is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kit.events.accumulate import Accumulator
from kit.events.accumulate_views import AccumulatedResponse
from kit.events.model import Event, Stream, WireFacts, make_event
from kit.events.parse import parse_events
from kit.events.validate import Violation, validate_stream


@dataclass(frozen=True)
class Observation:
    """What one pass over a stream saw; `violations` is None when no profile judged it."""

    stream: Stream
    response: AccumulatedResponse
    violations: list[Violation] | None

    @property
    def events(self) -> list[Event]:
        return self.stream.events

    @property
    def wire(self) -> WireFacts | None:
        return self.stream.wire

    @property
    def source(self) -> str:
        return self.stream.source

    def errors(self, allowed: Iterable[str] = ()) -> list[Violation]:
        """The error violations, except the `allowed` rules."""
        skip = frozenset(allowed)
        return [v for v in self.violations or () if v.severity == "error" and v.rule not in skip]


def to_event(item: Any) -> Event:
    """An `Event` for whatever a source yields: `Event`, event dict, or openai SDK event object."""
    if isinstance(item, Event):
        return item
    if isinstance(item, dict):
        return make_event(item)
    return parse_events([item]).events[0]


class Observer:
    """Feed it the events of one stream as they come; `finish()` makes the `Observation`.

    Offsets: the source's own when it is a `Stream`, else `clock()` at each
    event minus `clock()` at the start (None without a clock). Wire facts: the
    source's `wire` attribute (a `Stream`, or a live source that decoded bytes).
    """

    def __init__(self, source: Iterable[Any], *, source_name: str = "<stream>", profile: str | None = "openai",
                 clock: Callable[[], float] | None = None, start: float | None = None) -> None:
        self._source = source
        self._known_offsets = source.offsets if isinstance(source, Stream) else None
        self._clock = clock
        self._start = start if start is not None else clock() if clock is not None else 0.0
        self.source_name = source_name
        self.profile = profile
        self.accumulator = Accumulator()
        self.events: list[Event] = []
        self.offsets: list[float | None] = []

    def feed(self, item: Any, *, now: float | None = None) -> Event:
        """Observe one event; `now` (the caller's reading of the clock) saves reading it again."""
        event = to_event(item)
        if self._known_offsets is not None:
            self.offsets.append(self._known_offsets[len(self.events)])
        elif now is not None or self._clock is not None:
            self.offsets.append((now if now is not None else self._clock()) - self._start)  # type: ignore[misc]
        else:
            self.offsets.append(None)
        self.events.append(event)
        self.accumulator.feed(event)
        return event

    def snapshot(self) -> AccumulatedResponse:
        return self.accumulator.snapshot()

    def finish(self) -> Observation:
        """The observation of what was fed (also when the source stopped early): validated once, here."""
        stream = Stream(self.events, self.offsets, getattr(self._source, "wire", None), self.source_name)
        violations = validate_stream(stream, self.profile) if self.profile is not None else None
        return Observation(stream, self.accumulator.snapshot(), violations)


def consume(events: Iterable[Any], *, source_name: str | None = None, profile: str | None = "openai",
            clock: Callable[[], float] | None = None) -> Observation:
    """Read a whole stream once and observe it (no view)."""
    name = source_name or (events.source if isinstance(events, Stream) else "<stream>")
    observer = Observer(events, source_name=name, profile=profile, clock=clock)
    for item in events:
        observer.feed(item)
    return observer.finish()


__all__ = ["Observation", "Observer", "consume", "to_event"]
