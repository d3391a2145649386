"""Catalog events of the response itself: lifecycle, output items, content parts, text, summaries."""

from __future__ import annotations

from typing import Any, ClassVar

from kit.events.event_base import IDX, INT, OBJ, STR, Event, _dict, _register, _str

# --- Response lifecycle -------------------------------------------------------------------------

_RESPONSE_FIELDS = {"response": OBJ, "sequence_number": INT}


class ResponseLifecycleEvent(Event):
    """Events that carry a full `response` snapshot (created, queued, in_progress, terminals)."""

    __slots__ = ()
    REQUIRED = _RESPONSE_FIELDS
    terminal: ClassVar[bool] = False


@_register
class ResponseCreated(ResponseLifecycleEvent):
    __slots__ = ()
    TYPE = "response.created"


@_register
class ResponseQueued(ResponseLifecycleEvent):
    __slots__ = ()
    TYPE = "response.queued"


@_register
class ResponseInProgress(ResponseLifecycleEvent):
    __slots__ = ()
    TYPE = "response.in_progress"


class TerminalEvent(ResponseLifecycleEvent):
    """The one event that ends a response; `status` is the status its type implies."""

    __slots__ = ()
    terminal = True
    status: ClassVar[str] = ""


@_register
class ResponseCompleted(TerminalEvent):
    __slots__ = ()
    TYPE = "response.completed"
    status = "completed"


@_register
class ResponseFailed(TerminalEvent):
    __slots__ = ()
    TYPE = "response.failed"
    status = "failed"


@_register
class ResponseIncomplete(TerminalEvent):
    __slots__ = ()
    TYPE = "response.incomplete"
    status = "incomplete"


@_register
class ErrorEvent(Event):
    """A stream-level `error`: flat `{code, message, param}` or nested `{error: {...}}` (both are real)."""

    __slots__ = ()
    TYPE = "error"
    REQUIRED = {"sequence_number": INT}
    OPTIONAL = frozenset({"code", "message", "param", "error"})

    @property
    def error(self) -> dict[str, Any]:
        """The error fields whichever shape was sent."""
        nested = _dict(self.raw.get("error"))
        if nested is not None:
            return nested
        return {key: self.raw[key] for key in ("code", "message", "param") if key in self.raw}

    @property
    def message(self) -> str | None:
        return _str(self.error.get("message"))

    @property
    def code(self) -> str | None:
        return _str(self.error.get("code"))


# --- Output items and content parts --------------------------------------------------------------


class OutputItemEvent(Event):
    """`output_item.added` / `.done`: `item` is the whole item at that moment."""

    __slots__ = ()
    REQUIRED = {"item": OBJ, "output_index": IDX, "sequence_number": INT}


@_register
class OutputItemAdded(OutputItemEvent):
    __slots__ = ()
    TYPE = "response.output_item.added"


@_register
class OutputItemDone(OutputItemEvent):
    __slots__ = ()
    TYPE = "response.output_item.done"


_ITEM_REF = {"item_id": STR, "output_index": IDX, "sequence_number": INT}
_PART_REF = {**_ITEM_REF, "content_index": IDX}


class ContentPartEvent(Event):
    """`content_part.added` / `.done` of a message or reasoning item; `part.type` names the kind."""

    __slots__ = ()
    REQUIRED = {**_PART_REF, "part": OBJ}


@_register
class ContentPartAdded(ContentPartEvent):
    __slots__ = ()
    TYPE = "response.content_part.added"


@_register
class ContentPartDone(ContentPartEvent):
    __slots__ = ()
    TYPE = "response.content_part.done"


class TextDelta(Event):
    """A text delta on a content part; `kind` is the part type it belongs to."""

    __slots__ = ()
    REQUIRED = {**_PART_REF, "delta": STR}
    kind: ClassVar[str] = ""


class TextDone(Event):
    """The final text of a content part; `done_field` names the field holding it."""

    __slots__ = ()
    kind: ClassVar[str] = ""
    done_field: ClassVar[str] = "text"

    @property
    def final_text(self) -> str | None:
        return _str(self.raw.get(self.done_field))


@_register
class OutputTextDelta(TextDelta):
    __slots__ = ()
    TYPE = "response.output_text.delta"
    REQUIRED = {**_PART_REF, "delta": STR}
    OPTIONAL = frozenset({"logprobs"})  # required by the SDK, but judged by event.logprobs (a warning)
    kind = "output_text"


@_register
class OutputTextDone(TextDone):
    __slots__ = ()
    TYPE = "response.output_text.done"
    REQUIRED = {**_PART_REF, "text": STR}
    OPTIONAL = frozenset({"logprobs"})
    kind = "output_text"


@_register
class RefusalDelta(TextDelta):
    __slots__ = ()
    TYPE = "response.refusal.delta"
    kind = "refusal"


@_register
class RefusalDone(TextDone):
    __slots__ = ()
    TYPE = "response.refusal.done"
    REQUIRED = {**_PART_REF, "refusal": STR}
    kind = "refusal"
    done_field = "refusal"


@_register
class ReasoningTextDelta(TextDelta):
    __slots__ = ()
    TYPE = "response.reasoning_text.delta"
    kind = "reasoning_text"


@_register
class ReasoningTextDone(TextDone):
    __slots__ = ()
    TYPE = "response.reasoning_text.done"
    REQUIRED = {**_PART_REF, "text": STR}
    kind = "reasoning_text"


@_register
class OutputTextAnnotationAdded(Event):
    """A citation/file path annotation appended to an output_text part."""

    __slots__ = ()
    TYPE = "response.output_text.annotation.added"
    REQUIRED = {**_PART_REF, "annotation_index": IDX}
    OPTIONAL = frozenset({"annotation"})


# --- Reasoning summaries -------------------------------------------------------------------------

_SUMMARY_REF = {**_ITEM_REF, "summary_index": IDX}


class ReasoningSummaryEvent(Event):
    """Any event of a reasoning item's summary part (`summary_index`)."""

    __slots__ = ()


@_register
class ReasoningSummaryPartAdded(ReasoningSummaryEvent):
    __slots__ = ()
    TYPE = "response.reasoning_summary_part.added"
    REQUIRED = {**_SUMMARY_REF, "part": OBJ}


@_register
class ReasoningSummaryPartDone(ReasoningSummaryEvent):
    __slots__ = ()
    TYPE = "response.reasoning_summary_part.done"
    REQUIRED = {**_SUMMARY_REF, "part": OBJ}
    OPTIONAL = frozenset({"status"})


@_register
class ReasoningSummaryTextDelta(ReasoningSummaryEvent):
    __slots__ = ()
    TYPE = "response.reasoning_summary_text.delta"
    REQUIRED = {**_SUMMARY_REF, "delta": STR}


@_register
class ReasoningSummaryTextDone(ReasoningSummaryEvent):
    __slots__ = ()
    TYPE = "response.reasoning_summary_text.done"
    REQUIRED = {**_SUMMARY_REF, "text": STR}


