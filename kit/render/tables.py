"""pandas views: one row per event, one row per output item.

Values are read from the events (`Event` accessors), the accumulator (item
text, status, annotations) and the validator (violation counts); nothing is
judged here. Missing values are pandas NA (nullable dtypes), so a column of
indices stays integer even when some events lack the field.
"""

from __future__ import annotations

import json

import math
import re
from collections import Counter, defaultdict
from typing import Any, Iterable

from html import escape

import pandas as pd

from kit.events import AccumulatedResponse, Event, NotJSONEvent, Stream, Violation, accumulate, validate_stream
from kit.sources import to_stream
from kit.events.model import ArgumentsDone, TextDone
from kit.render.layout import shorten

ID_DISPLAY_LIMIT = 22  # ids in a table cell: start and end kept, the full value stays in the frame
TEXT_DISPLAY_LIMIT = 120
LONG_CELL = 30  # characters: a longer value (arguments, many rules) may wrap, a shorter one keeps to one line
TRANSPOSE_ROWS = 4  # a table of so few rows reads better as one column per row (fields down the side)
MAX_DISPLAY_ROWS = 60


class ViewTable(pd.DataFrame):
    """A DataFrame that shows itself, in a notebook or a report, with a heading and every column.

    pandas' own HTML hides columns behind "1 rows × 21 columns" and draws 500-character
    ids in full; this view shortens long values for display only (the frame keeps
    them), shows a few rows as columns, and never hides a column.
    """

    _metadata = ["caption"]
    caption: str = ""

    @property
    def _constructor(self) -> type["ViewTable"]:
        return ViewTable

    def _repr_html_(self) -> str:  # type: ignore[override]
        return table_html(self, getattr(self, "caption", "") or "")


def _display_value(value: Any, column: str) -> Any:
    if isinstance(value, (list, dict)):  # e.g. Mistral's content blocks in a chat chunk: shown as their JSON
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if column == "rules" and isinstance(value, str):
        return value.replace(",", ", ")  # room to break between rule ids
    if isinstance(value, str):
        return shorten(value, ID_DISPLAY_LIMIT if column in ("id", "item_id") else TEXT_DISPLAY_LIMIT)
    return value


def table_html(frame: pd.DataFrame, caption: str) -> str:
    """The frame as an HTML table under its heading: values shortened, few rows transposed, no column hidden."""
    shown = pd.DataFrame({column: [_display_value(value, str(column)) for value in frame[column]] for column in frame.columns},
                         index=frame.index).astype(object)
    shown = shown.where(shown.notna(), "")
    empty = [str(column) for column in shown.columns if len(shown) and (shown[column] == "").all()]
    same = {str(column): shown[column].iloc[0] for column in shown.columns
            if len(shown) > TRANSPOSE_ROWS and str(column) not in empty and shown[column].nunique() == 1}
    shown = shown.drop(columns=[*empty, *same])  # named under the heading: nothing is hidden, no width spent on repeats
    rows = len(frame)
    transposed = 0 < rows <= TRANSPOSE_ROWS and len(frame.columns) > 8
    if transposed:
        shown = shown.T
        shown.columns = [f"{frame.index.name or 'row'} {label}" for label in frame.index]
    body = shown.to_html(max_rows=MAX_DISPLAY_ROWS, max_cols=None, border=0, classes="kit-table",
                         show_dimensions=False, index=True, float_format=lambda value: f"{value:.3f}")
    body = _CELL.sub(lambda match: _breakable(match, split_names=not transposed), body)
    body = body.replace("<table ", '<table style="max-width:100%;table-layout:auto;overflow-wrap:break-word" ', 1)
    what = f"{rows} row{'' if rows == 1 else 's'}" + (f", {MAX_DISPLAY_ROWS} shown" if rows > MAX_DISPLAY_ROWS else "")
    if empty:
        what += "; empty in every row: " + ", ".join(empty)
    if same:
        what += "; the same in every row: " + ", ".join(f"{name} = {value}" for name, value in same.items())
    heading = f'<div class="kit-table-caption" style="font-weight:600;margin:8px 0 4px">{escape(caption)} <span style="font-weight:400;opacity:.65">({escape(what)})</span></div>'
    return f'<div class="kit-table-view" data-caption="{escape(caption)}">{heading}{body}</div>'


_CELL = re.compile(r"(<t[dh][^>]*>)([^<]+)(</t[dh]>)")
_BREAK = re.compile(r"([._/])(?=\w)")


def _breakable(match: re.Match[str], *, split_names: bool) -> str:
    """A long column name takes two lines, so a narrow column of numbers stays narrow; a value stays on one
    line unless it is long text (then it wraps, at dots and underscores first)."""
    opening, text, closing = match.groups()
    if opening.startswith("<th"):
        return opening + (text.replace("_", "_<br>", 1) if split_names and len(text) > 8 else text) + closing
    if len(text) <= LONG_CELL:
        return f'{opening[:-1]} style="white-space:nowrap">' + text + closing
    return f'{opening[:-1]} style="white-space:normal;overflow-wrap:anywhere;min-width:12em">' + _BREAK.sub("\\1<wbr>", text) + closing


def _titled(frame: pd.DataFrame, caption: str) -> ViewTable:
    table = ViewTable(frame)
    table.caption = caption
    return table

EVENT_COLUMNS = (
    "sequence_number", "offset", "type", "known", "output_index", "item_id", "content_index", "summary_index",
    "annotation_index", "delta_len", "done_len", "violations", "rules",
)
ITEM_COLUMNS = (
    "output_index", "id", "type", "status", "done", "implicit", "name", "text_len", "refusal_len", "reasoning_len",
    "summary_len", "arguments", "annotations", "status_history", "events", "first_event", "last_event",
    "first_offset", "last_offset", "first_delta_offset", "time_to_first_delta",
)


def _stream(stream: Stream | Any) -> Stream:
    return stream if isinstance(stream, Stream) else to_stream(stream)


def delta_length(event: Event) -> int | None:
    """Characters in the event's `delta`: a string's length, or the sum over an object's strings (shell output)."""
    delta = event.get("delta")
    if isinstance(delta, str):
        return len(delta)
    if isinstance(delta, dict):
        return sum(len(value) for value in delta.values() if isinstance(value, str))
    return None


def _done_length(event: Event) -> int | None:
    value = event.final_text if isinstance(event, TextDone) else event.final_value if isinstance(event, ArgumentsDone) else None
    return len(value) if value is not None else None


def events_table(
    stream: Stream | Any, violations: Iterable[Violation] | None = None, *, profile: str | None = "openai"
) -> ViewTable:
    """One row per event, indexed by its position (`event`): where it points, its size, its violations.

    `offset` is the arrival time in seconds (NaN when the source had no timing);
    `violations`/`rules` come from `validate_stream(stream, profile)` unless given.
    """
    stream = _stream(stream)
    if violations is None and profile is not None:
        violations = validate_stream(stream, profile)
    per_event: dict[int, list[str]] = defaultdict(list)
    for violation in violations or ():
        if violation.index is not None:
            per_event[violation.index].append(violation.rule)
    events = stream.events
    rules = [per_event.get(index, []) for index in range(len(events))]
    columns: dict[str, Any] = {
        "sequence_number": pd.array([event.sequence_number for event in events], dtype="Int64"),
        "offset": pd.array([math.nan if offset is None else offset for offset in stream.offsets], dtype="float64"),
        "type": pd.array([_type_name(event) for event in events], dtype="string"),
        "known": pd.array([event.known for event in events], dtype="bool"),
        "output_index": pd.array([event.output_index for event in events], dtype="Int64"),
        "item_id": pd.array([event.item_id for event in events], dtype="string"),
        "content_index": pd.array([event.content_index for event in events], dtype="Int64"),
        "summary_index": pd.array([event.summary_index for event in events], dtype="Int64"),
        "annotation_index": pd.array([event.annotation_index for event in events], dtype="Int64"),
        "delta_len": pd.array([delta_length(event) for event in events], dtype="Int64"),
        "done_len": pd.array([_done_length(event) for event in events], dtype="Int64"),
        "violations": pd.array([len(found) for found in rules], dtype="Int64"),
        "rules": pd.array([",".join(dict.fromkeys(found)) for found in rules], dtype="string"),
    }
    frame = pd.DataFrame(columns, index=pd.RangeIndex(len(events), name="event"))
    return _titled(frame, "Events")


def _type_name(event: Event) -> str:
    if event.type is not None:
        return event.type
    return "<not json>" if isinstance(event, NotJSONEvent) else "<no type>"


def _event_item_key(event: Event) -> tuple[str | None, int | None]:
    item = event.item
    item_id = event.item_id or (item.get("id") if item is not None and isinstance(item.get("id"), str) else None)
    return item_id, event.output_index


def item_of_events(stream: Stream, response: AccumulatedResponse) -> list[int | None]:
    """For each event, the position in `response.items` of the item it refers to (None: response-level).

    By `item_id` (or the item's own id on `output_item.*`), else by `output_index`.
    """
    by_id = {item.id: row for row, item in enumerate(response.items) if item.id is not None}
    by_index: dict[int, int] = {}
    for row, item in enumerate(response.items):
        if item.output_index is not None:
            by_index.setdefault(item.output_index, row)
    rows: list[int | None] = []
    for event in stream.events:
        item_id, output_index = _event_item_key(event)
        row = by_id.get(item_id) if item_id is not None else None
        if row is None and output_index is not None:
            row = by_index.get(output_index)
        rows.append(row)
    return rows


def items_table(stream: Stream | Any, *, response: AccumulatedResponse | None = None) -> ViewTable:
    """One row per output item (as the accumulator rebuilt it) with its event span and timing.

    Events are attributed to an item by `item_id` (or the item's id), else by
    `output_index`. `time_to_first_delta` is seconds from the item's first event to
    its first `.delta`; timing columns are NaN when the source had no timing.
    """
    stream = _stream(stream)
    response = response or accumulate(stream)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    first_delta: dict[int, int] = {}
    counts: Counter[int] = Counter()
    for index, (event, row) in enumerate(zip(stream.events, item_of_events(stream, response))):
        if row is None:
            continue
        counts[row] += 1
        first.setdefault(row, index)
        last[row] = index
        if (event.type or "").endswith(".delta"):
            first_delta.setdefault(row, index)

    def offset(index: int | None) -> float:
        value = stream.offsets[index] if index is not None else None
        return value if value is not None else math.nan

    items = response.items
    rows = range(len(items))
    first_offsets = [offset(first.get(row)) for row in rows]
    first_delta_offsets = [offset(first_delta.get(row)) for row in rows]
    columns: dict[str, Any] = {
        "output_index": pd.array([item.output_index for item in items], dtype="Int64"),
        "id": pd.array([item.id for item in items], dtype="string"),
        "type": pd.array([item.type for item in items], dtype="string"),
        "status": pd.array([item.status for item in items], dtype="string"),
        "done": pd.array([item.done for item in items], dtype="bool"),
        "implicit": pd.array([item.implicit for item in items], dtype="bool"),
        "name": pd.array([item.name for item in items], dtype="string"),
        "text_len": pd.array([len(item.text) for item in items], dtype="Int64"),
        "refusal_len": pd.array([len(item.refusal) for item in items], dtype="Int64"),
        "reasoning_len": pd.array([len(item.reasoning_text) for item in items], dtype="Int64"),
        "summary_len": pd.array([sum(len(summary.text) for summary in item.summary) for item in items], dtype="Int64"),
        "arguments": pd.array([item.arguments for item in items], dtype="string"),
        "annotations": pd.array([len(item.annotations) for item in items], dtype="Int64"),
        "status_history": pd.array([" → ".join(item.status_history) for item in items], dtype="string"),
        "events": pd.array([counts[row] for row in rows], dtype="Int64"),
        "first_event": pd.array([first.get(row) for row in rows], dtype="Int64"),
        "last_event": pd.array([last.get(row) for row in rows], dtype="Int64"),
        "first_offset": pd.array(first_offsets, dtype="float64"),
        "last_offset": pd.array([offset(last.get(row)) for row in rows], dtype="float64"),
        "first_delta_offset": pd.array(first_delta_offsets, dtype="float64"),
        "time_to_first_delta": pd.array([d - f for d, f in zip(first_delta_offsets, first_offsets)], dtype="float64"),
    }
    return _titled(pd.DataFrame(columns, index=pd.RangeIndex(len(items), name="item")), "Output items")
