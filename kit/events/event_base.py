"""The base of the event model: field kinds, the `Event` class with its never-raising accessors,
the registry of event classes by type, and the events outside the catalog.

The catalog's classes live in `response_events.py` (lifecycle, items, parts, text,
summaries) and `tool_events.py` (tool-call payloads, hosted tool steps); `model.py`
puts them together with `Stream`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

# Field kinds used by the schema table: checked by the validator (event.schema).
IDX = "idx"  # integer >= 0 (bool is not an integer here)
INT = "int"
STR = "str"
OBJ = "obj"
LIST = "list"
ANY = "any"
STR_OR_OBJ = "str|obj"

_COMMON_OPTIONAL = frozenset({"obfuscation"})

# Field types of tool-call output items, as the openai SDK's item models declare them; a field
# that is present must have its type (event.schema). `None` after the kind: null is allowed too.
ITEM_FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "function_call": {"call_id": (STR, False), "name": (STR, False), "arguments": (STR, False)},
    "custom_tool_call": {"call_id": (STR, False), "name": (STR, False), "input": (STR, False)},
    "mcp_call": {"name": (STR, False), "server_label": (STR, False), "arguments": (STR, False)},
    "mcp_approval_request": {"name": (STR, False), "server_label": (STR, False), "arguments": (STR, False)},
    "mcp_list_tools": {"server_label": (STR, False), "tools": (LIST, False)},
    "file_search_call": {"queries": (LIST, False), "results": (LIST, True)},
    "code_interpreter_call": {"code": (STR, True), "container_id": (STR, False), "outputs": (LIST, True)},
    "web_search_call": {"action": (OBJ, False)},
    "computer_call": {"call_id": (STR, False), "action": (OBJ, False), "pending_safety_checks": (LIST, False)},
    "local_shell_call": {"call_id": (STR, False), "action": (OBJ, False)},
    "image_generation_call": {"result": (STR, True)},
}

# Output item types whose `status` the openai SDK declares optional or does not declare at all
# (`ResponseOutputItem`'s members): OpenAI sends reasoning, compaction, mcp_list_tools, ... without one,
# so under the `openai` profile item.fields does not ask these for a status. tests/events checks the set
# against the installed SDK.
STATUS_OPTIONAL: frozenset[str] = frozenset({
    "function_call", "reasoning", "program", "additional_tools", "compaction", "local_shell_call_output", "mcp_call",
    "mcp_list_tools", "mcp_approval_request", "mcp_approval_response", "custom_tool_call",
})


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


