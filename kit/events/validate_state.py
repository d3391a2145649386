"""The validator's state: what it remembers of each item, part and summary, and the catalog's field tables.

Split from `kit.events.validate` (the pass and its reporting) so each rule family reads on its own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kit.events.model import (
    IDX,
    INT,
    LIST,
    OBJ,
    STR,
    STR_OR_OBJ,
    Event,
    _COMMON_OPTIONAL,
)
from kit.events.accumulate import streamed_text

RESPONSE_STATUSES = frozenset({"completed", "failed", "in_progress", "cancelled", "queued", "incomplete"})
PART_TYPES = frozenset({"output_text", "refusal", "reasoning_text"})
TEXT_FIELD = {"output_text": "text", "refusal": "refusal", "reasoning_text": "text"}
ANNOTATION_FIELDS: dict[str, dict[str, str]] = {
    "url_citation": {"url": STR, "title": STR, "start_index": INT, "end_index": INT},
    "file_citation": {"file_id": STR, "filename": STR, "index": INT},
    "container_file_citation": {"container_id": STR, "file_id": STR, "filename": STR, "start_index": INT, "end_index": INT},
    "file_path": {"file_id": STR, "index": INT},
}
# Tool-call markup that models emit when a server fails to parse their tool calls.
TOOL_MARKUP = re.compile(
    r"<tool_call>|</tool_call>|<\|tool_call|<function=|<\|python_tag\|>|\[TOOL_CALLS\]|<\|channel\|>[^<]*to=functions\."
    r"|<\|start\|>assistant<\|channel\|>commentary|^\s*\{\s*\"(?:name|function)\"\s*:\s*\"[^\"]+\"\s*,\s*\"(?:arguments|parameters)\"\s*:"
)
_ARG_ITEM_FIELD = {"function_call": "arguments", "mcp_call": "arguments", "custom_tool_call": "input"}


def _kind_ok(kind: str, value: Any) -> bool:
    if kind == IDX:
        return type(value) is int and value >= 0
    if kind == STR:
        return type(value) is str
    if kind == OBJ:
        return type(value) is dict
    if kind == INT:
        return type(value) is int
    if kind == LIST:
        return type(value) is list
    if kind == STR_OR_OBJ:
        return type(value) in (str, dict)
    return True


def _describe(value: Any) -> str:
    if value is _MISSING:
        return "missing"
    text = json.dumps(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


_MISSING = object()


class _Part:
    __slots__ = ("kind", "added_at", "phantom", "deltas", "kind_done", "kind_done_text", "done_at", "done_part",
                 "annotations", "text_reported", "ann_reported", "kind_reported")

    def __init__(self, kind: str | None, added_at: int | None, phantom: bool = False) -> None:
        self.kind = kind
        self.added_at = added_at
        self.phantom = phantom
        self.deltas: list[str] = []
        self.kind_done = 0
        self.kind_done_text: str | None = None
        self.done_at: int | None = None
        self.done_part: dict[str, Any] | None = None
        self.annotations: list[dict[str, Any]] = []
        self.text_reported = False
        self.ann_reported = False
        self.kind_reported = False

    def streamed_text(self) -> str | None:
        """The text as the stream settled it: `kit.events.accumulate.streamed_text` (the deltas, else .done)."""
        return streamed_text(self.deltas, self.kind_done_text)


class _Summary:
    __slots__ = ("deltas", "text_done", "text", "part_done", "phantom", "reported", "consistent_reported")

    def __init__(self, phantom: bool = False) -> None:
        self.deltas: list[str] = []
        self.text_done = 0
        self.text: str | None = None
        self.part_done = False
        self.phantom = phantom
        self.reported = False
        self.consistent_reported = False


class _Item:
    __slots__ = ("index", "id", "type", "added_at", "done_at", "parts", "parts_added", "summaries", "summaries_added",
                 "args", "args_done", "args_value", "args_name", "args_reported", "hosted_pos", "flags", "done_item")

    def __init__(self, index: int, item: dict[str, Any], added_at: int) -> None:
        self.index = index
        item_id = item.get("id")
        item_type = item.get("type")
        self.id = item_id if type(item_id) is str else None
        self.type = item_type if type(item_type) is str else None
        self.added_at = added_at
        self.done_at: int | None = None
        self.done_item: dict[str, Any] | None = None
        self.parts: dict[int, _Part] = {}
        self.parts_added = 0
        self.summaries: dict[int, _Summary] = {}
        self.summaries_added = 0
        self.args: list[str] = []
        self.args_done = 0
        self.args_value: str | None = None
        self.args_name: str | None = None
        self.args_reported = False
        self.hosted_pos = -1
        self.flags: set[str] = set()  # rule ids already reported for this item (once-per-item rules)


def _len_or(value: Any) -> int | str:
    return len(value) if isinstance(value, (str, list)) else repr(value)


def _final_projection(item: dict[str, Any]) -> dict[str, Any]:
    """The fields item.final-output compares: ids, types, status, text, arguments, annotations.

    Not compared: fields the API legitimately re-issues (encrypted_content,
    fingerprints), tool results and lists only filled in the final response.
    """
    projection: dict[str, Any] = {name: item.get(name) for name in ("id", "type", "status")}
    content = item.get("content")
    if type(content) is list:
        projection["content"] = [
            (part.get("type"), part.get("text"), part.get("refusal"), part.get("annotations") or [])
            if type(part) is dict else part
            for part in content
        ]
    summary = item.get("summary")
    if type(summary) is list:
        projection["summary"] = [part.get("text") if type(part) is dict else part for part in summary]
    for name in ("arguments", "input", "name", "call_id"):
        if name in item:
            projection[name] = item[name]
    return projection


_PYTHON_TYPE = {IDX: int, INT: int, STR: str, OBJ: dict, LIST: list, STR_OR_OBJ: str}
_SCHEMA_CHECKS: dict[type, tuple[tuple[str, type, bool, str], ...]] = {}


def _schema_checks(cls: type[Event]) -> tuple[tuple[str, type, bool, str], ...]:
    """(field, exact Python type, must be >= 0, kind) per required field; sequence_number is checked apart."""
    checks = tuple(
        (name, _PYTHON_TYPE[kind], kind == IDX, kind)
        for name, kind in cls.REQUIRED.items()
        if name != "sequence_number" and kind in _PYTHON_TYPE
    )
    _SCHEMA_CHECKS[cls] = checks
    return checks


def _known_fields_uncached(cls: type[Event]) -> frozenset[str]:
    return frozenset(cls.REQUIRED) | cls.OPTIONAL | _COMMON_OPTIONAL | {"type"}


_KNOWN_FIELDS: dict[type, frozenset[str]] = {}


def _known_fields(cls: type[Event]) -> frozenset[str]:
    known = _KNOWN_FIELDS.get(cls)
    if known is None:
        known = _KNOWN_FIELDS[cls] = _known_fields_uncached(cls)
    return known
