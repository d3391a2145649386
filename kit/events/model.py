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
from typing import Any, ClassVar, Iterator, Mapping

# Field kinds used by the schema table: checked by the validator (event.schema).
IDX = "idx"  # integer >= 0 (bool is not an integer here)
INT = "int"
STR = "str"
OBJ = "obj"
LIST = "list"
ANY = "any"
STR_OR_OBJ = "str|obj"

_COMMON_OPTIONAL = frozenset({"obfuscation"})


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _str(value: Any) -> str | None:
    return value if type(value) is str else None


def _dict(value: Any) -> dict[str, Any] | None:
    return value if type(value) is dict else None


class Event:
    """One Responses stream event: the original JSON (`raw`) plus typed, never-raising accessors.

    Build one with `make_event(raw)` so the right subclass is chosen. `TYPE` is the
    catalog type of the class (None for `UnknownEvent`/`NotJSONEvent`); `REQUIRED`
    maps required field names to kinds (the SDK's required fields), `OPTIONAL` lists
    other fields the API is known to send. Anything else is an unknown field.
    """

    __slots__ = ("raw",)
    TYPE: ClassVar[str | None] = None
    REQUIRED: ClassVar[Mapping[str, str]] = {}
    OPTIONAL: ClassVar[frozenset[str]] = frozenset()
    known: ClassVar[bool] = True

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.raw!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.raw == self.raw  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]  # mutable payload

    def get(self, key: str, default: Any = None) -> Any:
        """Any field of the original JSON, whatever its type."""
        return self.raw.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        """The original JSON object (the same dict, not a copy)."""
        return self.raw

    def unknown_fields(self) -> list[str]:
        """Top-level fields that the catalog does not know for this type, in arrival order."""
        known = self.REQUIRED.keys() | self.OPTIONAL | _COMMON_OPTIONAL | {"type"}
        return [key for key in self.raw if key not in known]

    # Typed accessors shared by all events: None when absent or mistyped.
    @property
    def type(self) -> str | None:
        return _str(self.raw.get("type"))

    @property
    def sequence_number(self) -> int | None:
        return _int(self.raw.get("sequence_number"))

    @property
    def output_index(self) -> int | None:
        return _int(self.raw.get("output_index"))

    @property
    def item_id(self) -> str | None:
        return _str(self.raw.get("item_id"))

    @property
    def content_index(self) -> int | None:
        return _int(self.raw.get("content_index"))

    @property
    def summary_index(self) -> int | None:
        return _int(self.raw.get("summary_index"))

    @property
    def annotation_index(self) -> int | None:
        return _int(self.raw.get("annotation_index"))

    @property
    def delta(self) -> str | None:
        return _str(self.raw.get("delta"))

    @property
    def text(self) -> str | None:
        return _str(self.raw.get("text"))

    @property
    def item(self) -> dict[str, Any] | None:
        return _dict(self.raw.get("item"))

    @property
    def part(self) -> dict[str, Any] | None:
        return _dict(self.raw.get("part"))

    @property
    def response(self) -> dict[str, Any] | None:
        return _dict(self.raw.get("response"))

    @property
    def annotation(self) -> dict[str, Any] | None:
        return _dict(self.raw.get("annotation"))

    @property
    def arguments(self) -> str | None:
        return _str(self.raw.get("arguments"))

    @property
    def logprobs(self) -> Any:
        return self.raw.get("logprobs")


_EVENT_CLASSES: dict[str, type[Event]] = {}


def _register(cls: type[Event]) -> type[Event]:
    assert cls.TYPE is not None and cls.TYPE not in _EVENT_CLASSES, cls
    _EVENT_CLASSES[cls.TYPE] = cls
    return cls


class UnknownEvent(Event):
    """A JSON object whose `type` is missing, not a string, or outside the catalog; kept whole."""

    __slots__ = ()
    known = False

    def unknown_fields(self) -> list[str]:
        return []  # the whole type is unknown; listing its fields says nothing more


class NotJSONEvent(Event):
    """A `data:` payload (or jsonl line) that is not one JSON object; `raw` is `{}`.

    `payload` is the text as received, `error` says why it was rejected.
    """

    __slots__ = ("payload", "error", "line")
    known = False

    def __init__(self, payload: str, error: str, line: int | None = None) -> None:
        super().__init__({})
        self.payload = payload
        self.error = error
        self.line = line  # where it was in its file or body (1-based), when the parser knew

    def __repr__(self) -> str:
        return f"NotJSONEvent(payload={self.payload[:80]!r}, error={self.error!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NotJSONEvent) and (other.payload, other.error) == (self.payload, self.error)

    def unknown_fields(self) -> list[str]:
        return []


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


# --- Tool-call argument streams ------------------------------------------------------------------


class ArgumentsDelta(Event):
    """A delta of a tool call's arguments (function, mcp) or input (custom tool)."""

    __slots__ = ()
    REQUIRED = {**_ITEM_REF, "delta": STR}
    item_type: ClassVar[str] = ""
    item_field: ClassVar[str] = "arguments"


class ArgumentsDone(Event):
    """The final arguments/input; `item_field` names both the event field and the item field."""

    __slots__ = ()
    item_type: ClassVar[str] = ""
    item_field: ClassVar[str] = "arguments"
    OPTIONAL = frozenset({"name"})

    @property
    def final_value(self) -> str | None:
        return _str(self.raw.get(self.item_field))

    @property
    def name(self) -> str | None:
        return _str(self.raw.get("name"))


@_register
class FunctionCallArgumentsDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.function_call_arguments.delta"
    item_type = "function_call"


@_register
class FunctionCallArgumentsDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.function_call_arguments.done"
    REQUIRED = {**_ITEM_REF, "arguments": STR}
    item_type = "function_call"


@_register
class McpCallArgumentsDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.mcp_call_arguments.delta"
    item_type = "mcp_call"


@_register
class McpCallArgumentsDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.mcp_call_arguments.done"
    REQUIRED = {**_ITEM_REF, "arguments": STR}
    item_type = "mcp_call"


@_register
class CustomToolCallInputDelta(ArgumentsDelta):
    __slots__ = ()
    TYPE = "response.custom_tool_call_input.delta"
    item_type = "custom_tool_call"
    item_field = "input"


@_register
class CustomToolCallInputDone(ArgumentsDone):
    __slots__ = ()
    TYPE = "response.custom_tool_call_input.done"
    REQUIRED = {**_ITEM_REF, "input": STR}
    item_type = "custom_tool_call"
    item_field = "input"


# --- Other streamed tool payloads ----------------------------------------------------------------


@_register
class CodeInterpreterCallCodeDelta(Event):
    __slots__ = ()
    TYPE = "response.code_interpreter_call_code.delta"
    REQUIRED = {**_ITEM_REF, "delta": STR}


@_register
class CodeInterpreterCallCodeDone(Event):
    __slots__ = ()
    TYPE = "response.code_interpreter_call_code.done"
    REQUIRED = {**_ITEM_REF, "code": STR}


@_register
class ApplyPatchCallOperationDiffDelta(Event):
    """Not in the SDK's event union yet, but sent by OpenAI for apply_patch tools."""

    __slots__ = ()
    TYPE = "response.apply_patch_call_operation_diff.delta"
    REQUIRED = {**_ITEM_REF, "delta": STR}


@_register
class ApplyPatchCallOperationDiffDone(Event):
    __slots__ = ()
    TYPE = "response.apply_patch_call_operation_diff.done"
    REQUIRED = {**_ITEM_REF, "diff": STR}


_COMMAND_REF = {"command_index": IDX, "output_index": IDX, "sequence_number": INT}


@_register
class ShellCallCommandAdded(Event):
    """Shell command events carry no `item_id`: they refer to their item by `output_index` only."""

    __slots__ = ()
    TYPE = "response.shell_call_command.added"
    REQUIRED = {**_COMMAND_REF, "command": STR}


@_register
class ShellCallCommandDelta(Event):
    __slots__ = ()
    TYPE = "response.shell_call_command.delta"
    REQUIRED = {**_COMMAND_REF, "delta": STR}


@_register
class ShellCallCommandDone(Event):
    __slots__ = ()
    TYPE = "response.shell_call_command.done"
    REQUIRED = {**_COMMAND_REF, "command": STR}


@_register
class ShellCallOutputContentDelta(Event):
    """`delta` is an object (`{"stdout": ...}` / `{"stderr": ...}`), not a string."""

    __slots__ = ()
    TYPE = "response.shell_call_output_content.delta"
    REQUIRED = {**_COMMAND_REF, "item_id": STR, "delta": OBJ}


@_register
class ShellCallOutputContentDone(Event):
    __slots__ = ()
    TYPE = "response.shell_call_output_content.done"
    REQUIRED = {**_COMMAND_REF, "item_id": STR, "output": LIST}


@_register
class AudioDelta(Event):
    __slots__ = ()
    TYPE = "response.audio.delta"
    REQUIRED = {"delta": STR, "sequence_number": INT}


@_register
class AudioDone(Event):
    __slots__ = ()
    TYPE = "response.audio.done"
    REQUIRED = {"sequence_number": INT}


@_register
class AudioTranscriptDelta(Event):
    __slots__ = ()
    TYPE = "response.audio.transcript.delta"
    REQUIRED = {"delta": STR, "sequence_number": INT}


@_register
class AudioTranscriptDone(Event):
    __slots__ = ()
    TYPE = "response.audio.transcript.done"
    REQUIRED = {"sequence_number": INT}


# --- Hosted tool status --------------------------------------------------------------------------


class HostedToolStatus(Event):
    """A hosted tool's progress step (`tool` e.g. "web_search_call", `status` e.g. "searching")."""

    __slots__ = ()
    REQUIRED = _ITEM_REF
    tool: ClassVar[str] = ""
    status: ClassVar[str] = ""


@_register
class ImageGenerationCallPartialImage(HostedToolStatus):
    """A partial image (base64) of an image generation call; also a status step (`partial_image`)."""

    __slots__ = ()
    TYPE = "response.image_generation_call.partial_image"
    REQUIRED = {**_ITEM_REF, "partial_image_b64": STR, "partial_image_index": IDX}
    OPTIONAL = frozenset({"background", "output_format", "quality", "size"})
    tool = "image_generation_call"
    status = "partial_image"


# Status steps per hosted tool, in the order they must occur (hosted.status-order).
HOSTED_STATUS_ORDER: dict[str, tuple[str, ...]] = {
    "file_search_call": ("in_progress", "searching", "completed"),
    "web_search_call": ("in_progress", "searching", "completed"),
    "code_interpreter_call": ("in_progress", "interpreting", "completed"),
    "image_generation_call": ("in_progress", "generating", "partial_image", "completed"),
    "mcp_call": ("in_progress", "completed|failed"),
    "mcp_list_tools": ("in_progress", "completed|failed"),
    "compaction": ("compacting",),
}


def _hosted_status_class(tool: str, status: str) -> type[Event]:
    name = "".join(word.capitalize() for word in f"{tool}_{status}".split("_"))
    cls = type(name, (HostedToolStatus,), {"__slots__": (), "TYPE": f"response.{tool}.{status}", "tool": tool, "status": status})
    cls.__doc__ = f"`response.{tool}.{status}`: a status step of a `{tool}` item."
    cls.__module__ = __name__
    return _register(cls)


_HOSTED_STATUS_CLASSES: dict[str, type[Event]] = {
    f"response.{tool}.{status}": _hosted_status_class(tool, status)
    for tool, steps in HOSTED_STATUS_ORDER.items()
    for step in steps
    for status in step.split("|")
    if status != "partial_image"
}
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

    @classmethod
    def from_events(cls, events: list[Event], source: str = "<events>", wire: WireFacts | None = None) -> "Stream":
        """A stream without timing."""
        return cls(list(events), [None] * len(events), wire, source)

    def types(self) -> list[str | None]:
        """The `type` of every event (None for payloads without one)."""
        return [event.type for event in self.events]
