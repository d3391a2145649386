"""The pandas tables, checked against the raw JSON of real streams."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import kit.events
import kit.render
from tests.render.conftest import RESPONSE_FILES, load, raw_lines

WEB_SEARCH = "openai-dotnet__gpt4o-mini-web-search.jsonl"
BROKEN = "vercel-ai__github-copilot-id-rotation.jsonl"


def expected_delta_len(event: dict) -> int | None:
    delta = event.get("delta")
    if isinstance(delta, str):
        return len(delta)
    if isinstance(delta, dict):  # shell output: {"stdout": ...} / {"stderr": ...}
        return sum(len(v) for v in delta.values() if isinstance(v, str))
    return None


def na_to_none(values) -> list:
    return [None if pd.isna(value) else value for value in values]


@pytest.mark.parametrize("name", RESPONSE_FILES)
def test_events_table_has_one_row_per_event_matching_the_raw_json(name: str, responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, name)
    table = kit.render.events_table(load(responses_dir, name))
    assert len(table) == len(raw) and list(table.index) == list(range(len(raw)))
    assert na_to_none(table["delta_len"]) == [expected_delta_len(event) for event in raw]
    assert na_to_none(table["sequence_number"]) == [event.get("sequence_number") for event in raw]
    assert na_to_none(table["output_index"]) == [event.get("output_index") for event in raw]
    assert na_to_none(table["item_id"]) == [event.get("item_id") for event in raw]
    assert na_to_none(table["content_index"]) == [event.get("content_index") for event in raw]
    assert na_to_none(table["summary_index"]) == [event.get("summary_index") for event in raw]
    assert na_to_none(table["annotation_index"]) == [event.get("annotation_index") for event in raw]
    assert table["offset"].isna().all()  # jsonl fixtures carry no timing


def test_events_table_counts_violations_per_event(responses_dir: Path) -> None:
    stream = load(responses_dir, BROKEN)
    violations = kit.events.validate_stream(stream)
    table = kit.render.events_table(stream)
    for index in {v.index for v in violations if v.index is not None}:
        rules = [v.rule for v in violations if v.index == index]
        assert table.loc[index, "violations"] == len(rules)
        assert table.loc[index, "rules"].split(",") == list(dict.fromkeys(rules))
    assert table["violations"].sum() == sum(v.index is not None for v in violations)
    assert kit.render.events_table(stream, profile=None)["violations"].sum() == 0


def sse_with_offsets(raw: list[dict], step: float) -> list[tuple[float, bytes]]:
    """The fixture as SSE chunks arriving `step` seconds apart."""
    return [(step * n, f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()) for n, event in enumerate(raw)]


def test_event_and_item_timing_come_from_arrival_offsets(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, WEB_SEARCH)
    stream = kit.events.parse_sse(sse_with_offsets(raw, 0.25))
    events = kit.render.events_table(stream)
    assert list(events["offset"]) == [0.25 * n for n in range(len(raw))]

    items = kit.render.items_table(stream)
    for row in items.itertuples():
        positions = [n for n, e in enumerate(raw) if row.id in (e.get("item_id"), (e.get("item") or {}).get("id"))]
        deltas = [n for n in positions if raw[n]["type"].endswith(".delta")]
        assert (row.first_event, row.last_event, row.events) == (positions[0], positions[-1], len(positions))
        assert row.first_offset == 0.25 * positions[0] and row.last_offset == 0.25 * positions[-1]
        if deltas:
            assert row.time_to_first_delta == 0.25 * (deltas[0] - positions[0])
        else:
            assert math.isnan(row.time_to_first_delta)


def test_items_table_summarises_each_item(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, WEB_SEARCH)
    done_items = [event["item"] for event in raw if event["type"] == "response.output_item.done"]
    table = kit.render.items_table(load(responses_dir, WEB_SEARCH))
    assert list(table["id"]) == [item["id"] for item in done_items]
    assert list(table["type"]) == [item["type"] for item in done_items]
    assert list(table["status"]) == [item["status"] for item in done_items]
    search, message = table.itertuples()
    assert search.status_history == " → ".join(
        e["type"].rsplit(".", 1)[1] for e in raw if e["type"].startswith("response.web_search_call."))
    (text,) = [e["text"] for e in raw if e["type"] == "response.output_text.done"]
    assert message.text_len == len(text)
    assert message.annotations == sum(e["type"] == "response.output_text.annotation.added" for e in raw)
    assert math.isnan(message.first_offset)


def test_items_table_shows_function_arguments(responses_dir: Path) -> None:
    name = "openai-dotnet__gpt4o-mini-function-call.jsonl"
    (done,) = [e for e in raw_lines(responses_dir, name) if e["type"] == "response.function_call_arguments.done"]
    table = kit.render.items_table(load(responses_dir, name))
    assert list(table["arguments"]) == [done["arguments"]]


def test_tables_show_a_heading_and_every_column_with_long_values_shortened_for_display_only(responses_dir: Path) -> None:
    import re

    stream = load(responses_dir, WEB_SEARCH)
    items = kit.render.items_table(stream)
    html = items._repr_html_()
    assert items.caption == "Output items" and 'class="kit-table-caption"' in html and "Output items" in html
    assert "columns" not in re.sub(r"<[^>]+>", " ", html)  # no "1 rows × 21 columns": nothing hidden
    shown = re.sub(r"<[^>]+>", " ", html.replace("<wbr>", "").replace("<br>", ""))
    for column in kit.render.tables.ITEM_COLUMNS:  # shown, or named as empty in every row
        assert column in shown, column
    empty = shown.split("empty in every row: ")[1].split(")")[0].split(", ")
    assert "first_offset" in empty and "name" in empty  # a .jsonl has no timing; a message and a search have no name
    assert items["first_offset"].isna().all() and "text_len" not in empty
    long_id = next(value for value in items["id"] if len(value) > kit.render.tables.ID_DISPLAY_LIMIT)
    plain = html.replace("<wbr>", "").replace("<br>", "")
    assert long_id not in plain and long_id[:10] in plain and "…" in plain  # shortened on screen
    assert long_id in list(items["id"])  # the frame keeps it whole
    assert len(items) <= kit.render.tables.TRANSPOSE_ROWS and "item 0" in shown  # few items: one column per item
    events = kit.render.events_table(stream)
    assert events.caption == "Events" and f"({len(events)} rows" in events._repr_html_()
    assert type(events[["type"]]).__name__ == "ViewTable" and isinstance(events, pd.DataFrame)


def test_a_column_with_one_value_in_every_row_is_said_once_under_the_heading(responses_dir: Path) -> None:
    import re

    events = kit.render.events_table(load(responses_dir, WEB_SEARCH))
    assert events["known"].all() and len(events) > kit.render.tables.TRANSPOSE_ROWS
    text = re.sub(r"<[^>]+>", " ", events._repr_html_().replace("<wbr>", "").replace("<br>", ""))
    assert "the same in every row: " in text and "known = True" in text
    assert text.count("True") == 1  # not repeated in every row


def test_values_said_under_the_heading_are_escaped() -> None:
    events = [{"type": "<script>x</script>", "sequence_number": n} for n in range(6)]
    html = kit.render.events_table(kit.events.parse_events(events), profile=None)._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_chat_table_of_mistral_content_blocks_shows_them_as_json_with_every_row_counted() -> None:
    """Mistral streams `delta.content` as a list of blocks (docs.mistral.ai, "thinking"); a table view of such
    chunks must show them, not fail on unhashable values, and never fall back to pandas' "rows × columns"."""
    from kit.notebook.checks import chat_table

    block = [{"type": "thinking", "thinking": [{"type": "text", "text": "17 has no divisor"}]}]
    chunks = [{"choices": [{"delta": {"content": block}}]}] * 70 + [{"choices": [{"delta": {"content": "Yes."},
                                                                                 "finish_reason": "stop"}]}]
    html = chat_table(chunks)._repr_html_()
    assert "17 has no divisor" in html and "Yes." in html
    assert "71 rows, 60 shown" in html and "rows ×" not in html
