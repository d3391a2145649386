"""What the accumulator shows: immutable views of the response as streamed, built from the reducer's state.

`kit.events.accumulate` folds events into mutable state (`Accumulator.feed`);
this module turns that state into the frozen views `snapshot()` returns
(`AccumulatedResponse`, `ItemView`, `PartView`, `SummaryView`), so a live
renderer may ask for them as often as it redraws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


if TYPE_CHECKING:
    from kit.events.accumulate import _ItemState



@dataclass(frozen=True)
class PartView:
    """One content part: `type` is output_text, refusal or reasoning_text (or what the server said)."""

    index: int
    type: str | None
    text: str
    annotations: list[dict[str, Any]]
    done: bool
    logprobs: list[Any] | None = None


@dataclass(frozen=True)
class SummaryView:
    """One reasoning summary part."""

    index: int
    text: str
    done: bool


@dataclass(frozen=True)
class ItemView:
    """One output item as streamed so far.

    `item` is the rebuilt Responses output item (a dict shaped like the API's);
    `arguments` holds function/mcp arguments or a custom tool's input;
    `status_history` the hosted tool steps seen (e.g. in_progress, searching,
    completed); `implicit` is True when events referred to an item that was
    never announced by `output_item.added` (a server bug; kept so no text is lost).
    """

    output_index: int | None
    id: str | None
    type: str | None
    status: str | None
    done: bool
    item: dict[str, Any]
    parts: list[PartView]
    summary: list[SummaryView]
    arguments: str | None
    name: str | None
    status_history: list[str]
    partial_images: int
    implicit: bool = False

    @property
    def text(self) -> str:
        """Concatenated output_text of a message item."""
        return "".join(part.text for part in self.parts if part.type == "output_text")

    @property
    def refusal(self) -> str:
        return "".join(part.text for part in self.parts if part.type == "refusal")

    @property
    def reasoning_text(self) -> str:
        return "".join(part.text for part in self.parts if part.type == "reasoning_text")

    @property
    def summary_text(self) -> str:
        return "\n\n".join(summary.text for summary in self.summary)

    @property
    def annotations(self) -> list[dict[str, Any]]:
        """All annotations of the item's output_text parts, in part order."""
        return [annotation for part in self.parts for annotation in part.annotations]


@dataclass(frozen=True)
class AccumulatedResponse:
    """The response rebuilt from the events: `output` is shaped like the API's `response.output`.

    `response` is the latest response snapshot a lifecycle event carried (the
    terminal one when the stream ended); `status` is that snapshot's status, or the
    one the terminal event's type implies. `usage` comes from the terminal event.
    `error` is the `error` event's payload or the response's `error`.
    """

    id: str | None
    model: str | None
    status: str | None
    usage: dict[str, Any] | None
    error: dict[str, Any] | None
    incomplete_details: dict[str, Any] | None
    items: list[ItemView]
    response: dict[str, Any] | None
    terminal_type: str | None
    events: int

    @property
    def output(self) -> list[dict[str, Any]]:
        return [view.item for view in self.items]

    @property
    def done(self) -> bool:
        """True once a terminal event was seen."""
        return self.terminal_type is not None

    @property
    def text(self) -> str:
        """All output_text of all message items, concatenated."""
        return "".join(view.text for view in self.items if view.type == "message")

    @property
    def refusal(self) -> str:
        return "".join(view.refusal for view in self.items)

    @property
    def reasoning_text(self) -> str:
        return "".join(view.reasoning_text for view in self.items)

    @property
    def summary_text(self) -> str:
        return "\n\n".join(view.summary_text for view in self.items if view.summary)


def _output_order(state: _ItemState) -> tuple[int, int]:
    return (state.output_index if state.output_index is not None else 1 << 30, 0)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _view(state: _ItemState) -> ItemView:
    base = state.base
    item: dict[str, Any] = dict(base)
    item_type = _opt_str(base.get("type")) or state.type_hint
    if item_type is not None:
        item["type"] = item_type
    parts = _part_views(state, base)
    summary = _summary_views(state, base)
    if state.parts or (item_type == "message" and "content" in base):
        item["content"] = _content(parts, base, item_type)
    if state.summaries:
        item["summary"] = [{**_base_entry(base, "summary", view.index), "type": "summary_text", "text": view.text} for view in summary]
    arguments: str | None = None
    field_name = "input" if item_type == "custom_tool_call" else "arguments"
    if state.args.deltas or state.args.done_text is not None:
        arguments = state.args.value()
        item[field_name] = arguments
    elif isinstance(base.get(field_name), str):
        arguments = base[field_name]
    if state.code.deltas or state.code.done_text is not None:
        item["code"] = state.code.value()
    if state.diff.deltas or state.diff.done_text is not None:
        operation = dict(base.get("operation") or {}) if isinstance(base.get("operation"), dict) else {}
        operation["diff"] = state.diff.value()
        item["operation"] = operation
    if state.commands:
        action = dict(base["action"]) if isinstance(base.get("action"), dict) else {}
        commands = list(action.get("commands") or []) if isinstance(action.get("commands"), list) else []
        for index in sorted(state.commands):
            _put(commands, index, state.commands[index].value())
        action["commands"] = commands
        item["action"] = action
    if state.shell_output and not state.done_item:
        item["output"] = [
            {key: "".join(chunks) for key, chunks in state.shell_output[index].items()} for index in sorted(state.shell_output)
        ]
    status = _opt_str(base.get("status"))
    if status is None and state.done_item is None and not state.implicit:
        status = "in_progress"
    return ItemView(
        output_index=state.output_index,
        id=state.id,
        type=item_type,
        status=status,
        done=state.done_item is not None,
        item=item,
        parts=parts,
        summary=summary,
        arguments=arguments,
        name=state.name or _opt_str(base.get("name")),
        status_history=list(state.history),
        partial_images=state.partial_images,
        implicit=state.implicit,
    )


def _base_entry(base: dict[str, Any], key: str, index: int) -> dict[str, Any]:
    entries = base.get(key)
    if isinstance(entries, list) and 0 <= index < len(entries) and isinstance(entries[index], dict):
        return entries[index]
    return {}


def _part_views(state: _ItemState, base: dict[str, Any]) -> list[PartView]:
    views: list[PartView] = []
    for index in sorted(state.parts):
        part = state.parts[index]
        from_item = _base_entry(base, "content", index)
        raw = part.part or from_item
        kind = part.kind or _opt_str(raw.get("type"))
        text_field = "refusal" if kind == "refusal" else "text"
        fallback = raw.get(text_field) if isinstance(raw.get(text_field), str) else from_item.get(text_field)
        text = part.value(fallback if isinstance(fallback, str) else None)
        annotations = part.annotations
        if not annotations:
            for source in (part.part, from_item):
                if source is not None and isinstance(source.get("annotations"), list) and source["annotations"]:
                    annotations = source["annotations"]
                    break
        logprobs = raw.get("logprobs") if isinstance(raw.get("logprobs"), list) else None
        views.append(PartView(index, kind, text, list(annotations), part.done or part.part_done, logprobs))
    return views


def _content(parts: list[PartView], base: dict[str, Any], item_type: str | None) -> list[dict[str, Any]]:
    content = [dict(entry) if isinstance(entry, dict) else entry for entry in base.get("content") or []] if isinstance(base.get("content"), list) else []
    for view in parts:
        existing = content[view.index] if 0 <= view.index < len(content) else None
        entry = dict(existing) if isinstance(existing, dict) else {}
        if view.type is not None:
            entry["type"] = view.type
        if view.type == "refusal":
            entry["refusal"] = view.text
        else:
            entry["text"] = view.text
        if view.type == "output_text":
            entry["annotations"] = copy.copy(view.annotations)
        _put(content, view.index, entry)
    return content


def _put(entries: list[Any], index: int, value: Any) -> None:
    """entries[index] = value, appending when the index is past the end (a bad index never allocates)."""
    if 0 <= index < len(entries):
        entries[index] = value
    else:
        entries.append(value)


def _summary_views(state: _ItemState, base: dict[str, Any]) -> list[SummaryView]:
    views = []
    for index in sorted(state.summaries):
        summary = state.summaries[index]
        fallback = _base_entry(base, "summary", index).get("text")
        views.append(SummaryView(index, summary.value(fallback if isinstance(fallback, str) else None), summary.done))
    return views
