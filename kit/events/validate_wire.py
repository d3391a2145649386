"""Rules on the wire (only when the raw SSE is known): content type, event names, [DONE], unterminated, UTF-8."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kit.events.text import plural


if TYPE_CHECKING:  # the mixin's `self` is the validator: its state and `emit` are typed there
    from kit.events.validate import _Validator as _Base
else:
    _Base = object


class WireRules(_Base):
    """Handlers of one rule family, mixed into `kit.events.validate._Validator` (which holds the state and `emit`)."""

    def check_wire(self) -> None:
        wire = self.stream.wire
        if wire is None:
            return
        if wire.invalid_utf8:
            self.emit("sse.utf8", None, f"{plural(len(wire.invalid_utf8), 'line')} {'is' if len(wire.invalid_utf8) == 1 else 'are'} not UTF-8 (replaced by U+FFFD), "
                                        f"the first at byte {wire.invalid_utf8[0]}")
        if wire.framing != "sse":
            return  # a one-event-per-line file: no SSE framing to judge
        if wire.unterminated:
            last = len(self.events) - 1 if self.events else None
            self.emit("sse.unterminated", last, "the body ends inside the last event (no blank line after it): "
                                               "the openai SDK drops that event")
        if wire.content_type is not None and (wire.status is None or wire.status == 200):
            media_type = wire.content_type.split(";")[0].strip().lower()
            if media_type != "text/event-stream":
                self.emit("sse.content-type", None, f"Content-Type is {wire.content_type!r}, not text/event-stream")
        for index, name in enumerate(wire.event_names):
            if index >= len(self.events):
                break
            if name is not None:
                actual = self.events[index].raw.get("type")
                if name != actual:
                    self.emit("sse.event-name", index, f"event: {name!r} but the JSON type is {actual!r}")
        if not wire.done_seen:
            self.emit("sse.done-sentinel", None, "the stream does not end with data: [DONE]")
        if wire.after_done:
            self.emit("sse.after-done", None, f"{plural(len(wire.after_done), 'payload')} after data: [DONE], first: {wire.after_done[0][:80]!r}")
