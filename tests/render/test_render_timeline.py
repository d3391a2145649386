"""The timeline plot: lanes per item, x axis from arrival offsets or event index, first event and first text marked."""

from __future__ import annotations

import io
import json
from pathlib import Path

from matplotlib.figure import Figure

import kit.events
import kit.render
from tests.render.conftest import load, raw_lines

CODE_FILES = "openai-dotnet__gpt4o-mini-code-interpreter-files.jsonl"


def vertical_lines(axes) -> list[float]:
    return [line.get_xdata()[0] for line in axes.get_lines() if line.get_linestyle() != "None"]


def test_without_timing_the_x_axis_is_the_event_index(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, CODE_FILES)
    figure = kit.render.timeline(load(responses_dir, CODE_FILES))
    (axes,) = figure.axes
    assert axes.get_xlabel() == "event index (arrival times unknown)"
    added = [e["item"]["type"] for e in raw if e["type"] == "response.output_item.added"]
    assert [t.get_text() for t in axes.get_yticklabels()] == ["response"] + [f"#{n} {t}" for n, t in enumerate(added)]
    first_text = next(n for n, e in enumerate(raw) if e["type"] == "response.output_text.delta")
    assert vertical_lines(axes) == [0, first_text]
    # every event is drawn in its item's lane (response-level events in lane 0)
    lanes = {}
    for line in axes.get_lines():
        if line.get_linestyle() == "None":
            lanes.update(zip(line.get_xdata(), line.get_ydata()))
    lane_of_id = {e["item"]["id"]: n + 1 for n, e in enumerate(e for e in raw if e["type"] == "response.output_item.added")}
    for n, event in enumerate(raw):
        item_id = event.get("item_id") or (event.get("item") or {}).get("id")
        assert lanes[n] == lane_of_id.get(item_id, 0)
    figure.savefig(io.BytesIO(), format="png")  # Agg, no display


def test_with_timing_the_x_axis_is_seconds(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, CODE_FILES)
    chunks = [(0.5 + 0.01 * n, f"data: {json.dumps(e)}\n\n") for n, e in enumerate(raw)]
    figure = kit.render.timeline(kit.events.parse_sse(chunks))
    (axes,) = figure.axes
    assert axes.get_xlabel() == "arrival time (s)"
    first_text = next(n for n, e in enumerate(raw) if e["type"] == "response.output_text.delta")
    assert vertical_lines(axes) == [0.5, 0.5 + 0.01 * first_text]
    labels = [text.get_text() for text in axes.texts]
    assert labels == [" first event 0.5s", f" first text {0.5 + 0.01 * first_text:.3g}s"]


def test_draws_on_a_given_axes(responses_dir: Path) -> None:
    figure = Figure()
    axes = figure.add_subplot()
    assert kit.render.timeline(load(responses_dir, "prism__gpt4o-error-rate-limited.jsonl"), ax=axes) is figure
    assert [t.get_text() for t in axes.get_yticklabels()] == ["response"]
    assert "no output text" in axes.get_title()
