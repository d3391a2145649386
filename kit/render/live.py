"""Live views: pass events through to the caller while a view redraws, at most `max_fps` times a second.

A `LiveSession` is the edge between a stream being consumed and a display: it
feeds each event to the accumulator, and asks its `Sink` (terminal, Jupyter,
anything) to draw the current `Document` only when the `Throttle` allows, so the
redraw rate is bounded by the clock, not by the event rate. The first state is
drawn when iteration starts and the final state (validated) always at the end,
also when the consumer stops early or the source raises.

Redraws happen when an event arrives (no background thread): during a pause in
the stream the view shows the state of the last redraw, at most 1/max_fps older
than the last event before the pause.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator

from kit.events import AccumulatedResponse, Stream, Violation, accumulate, validate_stream
from kit.events.observe import Observation, Observer, to_event  # noqa: F401  (to_event: kept for callers of kit.render.live)
from kit.render.layout import Document, build_document

DEFAULT_MAX_FPS = 20.0


class Throttle:
    """Says yes at most once per `1 / max_fps` seconds of whatever clock the caller reads.

    A redraw slower than the interval must not eat the stream: after one that took
    `cost` seconds (reported with `finished`), the next waits `cost / busy_share`
    from its start, so drawing uses at most `busy_share` of the time.
    """

    def __init__(self, max_fps: float, *, busy_share: float = 0.5) -> None:
        if not max_fps > 0:
            raise ValueError(f"max_fps must be a positive number of redraws per second, not {max_fps!r}")
        if not 0 < busy_share <= 1:
            raise ValueError(f"busy_share must be in (0, 1], not {busy_share!r}")
        self.interval = 1.0 / max_fps
        self.busy_share = busy_share
        self._last: float | None = None
        self._wait = self.interval

    def ready(self, now: float) -> bool:
        """True (and the time is taken) when a redraw at `now` keeps within the cap."""
        if self._last is not None and now - self._last < self._wait:
            return False
        self._last = now
        return True

    def finished(self, now: float) -> None:
        """The redraw that `ready` allowed ended at `now`: its cost sets the wait before the next."""
        if self._last is not None:
            self._wait = max(self.interval, (now - self._last) / self.busy_share)


class Sink:
    """Where a live session draws. Subclasses override what they need; the base draws nothing."""

    def start(self, document: Document) -> None:
        """Show the first (empty) state."""

    def draw(self, document: Document) -> None:
        """Replace what is shown with `document`."""

    def stop(self) -> None:
        """The stream ended: release the display (the last state stays visible)."""


def document_of(
    stream: Stream | Any, violations: Iterable[Violation] | None = None, *, profile: str | None = "openai"
) -> Document:
    """The final `Document` of a whole stream: accumulator for content, validator for the verdict.

    Given `violations` are shown as they are (no profile is claimed for them); `profile=None`
    without violations shows the stream unjudged.
    """
    if not isinstance(stream, Stream):
        from kit.sources import to_stream

        stream = to_stream(stream)
    validated_here = violations is None and profile is not None
    if validated_here:
        violations = validate_stream(stream, profile)
    return build_document(accumulate(stream), list(violations) if violations is not None else None,
                          source=stream.source, final=True, profile=profile if validated_here else None)


class LiveSession:
    """Iterate it to consume `events`: each one is yielded unchanged while the sink shows the stream so far.

    The stream is observed by a `kit.events.observe.Observer` (the view only
    draws): after iteration, `observation` holds the events (arrival offsets from
    `offset_clock`, default `clock`, unless the source was a `Stream` with its
    own; the source's wire facts when it has them), the accumulated response and
    the violations (None when `profile` is None), with `stream`, `response` and
    `violations` as shortcuts; `document` is the final state and `redraws`
    counts every draw, including the first and the final one.
    """

    def __init__(
        self,
        events: Iterable[Any],
        sink: Sink,
        *,
        max_fps: float = DEFAULT_MAX_FPS,
        profile: str | None = "openai",
        source_name: str = "<live>",
        clock: Callable[[], float] = time.monotonic,
        offset_clock: Callable[[], float] | None = None,
    ) -> None:
        self._events = events
        self._offset_clock = offset_clock  # None: offsets read `clock` (once per event, with the redraw decision)
        self.sink = sink
        self.throttle = Throttle(max_fps)
        self.profile = profile
        self.source_name = events.source if isinstance(events, Stream) and source_name == "<live>" else source_name
        self._clock = clock
        self._observer: Observer | None = None
        self._started = False
        self.redraws = 0
        self.observation: Observation | None = None
        self.document: Document | None = None

    @property
    def stream(self) -> Stream | None:
        return self.observation.stream if self.observation else None

    @property
    def response(self) -> AccumulatedResponse | None:
        return self.observation.response if self.observation else None

    @property
    def violations(self) -> list[Violation] | None:
        return self.observation.violations if self.observation else None

    def __iter__(self) -> Iterator[Any]:
        if self._started:
            raise RuntimeError("a live session shows one pass over its events; start a new one to show them again")
        self._started = True
        return self._run()

    def _current(self, observer: Observer) -> Document:
        return build_document(observer.snapshot(), None, source=self.source_name, final=False, profile=self.profile)

    def _run(self) -> Iterator[Any]:
        start = self._clock()
        own_clock = self._offset_clock is None
        observer = Observer(self._events, source_name=self.source_name, profile=self.profile,
                            clock=self._offset_clock, start=start if own_clock else None)
        self.throttle.ready(start)
        self.sink.start(self._current(observer))
        self.throttle.finished(self._clock())
        self.redraws = 1
        try:
            for original in self._events:
                now = self._clock()
                observer.feed(original, now=now if own_clock else None)
                if self.throttle.ready(now):
                    self.sink.draw(self._current(observer))
                    self.throttle.finished(self._clock())
                    self.redraws += 1
                yield original
        finally:
            self._finish(observer)

    def _finish(self, observer: Observer) -> None:
        self.observation = observation = observer.finish()
        self.document = build_document(observation.response, observation.violations, source=self.source_name,
                                       final=True, profile=self.profile)
        try:
            self.sink.draw(self.document)
            self.redraws += 1
        finally:
            self.sink.stop()
