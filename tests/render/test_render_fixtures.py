"""Every real stream renders in every renderer, and each view shows what the raw JSON says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import kit.events
import kit.render
from tests.render.conftest import RESPONSE_FILES, KitHTML, load, raw_lines

# Anything that would make a report fetch or run something: scripts, stylesheets, images, frames, CSS imports.
FETCHING = re.compile(r"<script|<link|<img|<iframe|<object|<embed|\bsrc\s*=|@import|url\(", re.IGNORECASE)


def streamed(raw: list[dict], delta_type: str, done: dict, index_key: str) -> str:
    """The deltas of the part `done` closes, joined."""
    return "".join(
        event["delta"] for event in raw
        if event.get("type") == delta_type and event.get("item_id") == done.get("item_id")
        and event.get(index_key) == done.get(index_key)
    )


@pytest.mark.parametrize("name", RESPONSE_FILES)
def test_every_fixture_renders_in_every_renderer(name: str, responses_dir: Path) -> None:
    stream = load(responses_dir, name)
    raw = raw_lines(responses_dir, name)
    items = kit.events.accumulate(stream).items

    html = kit.render.render_html(stream)
    page = KitHTML(html)
    assert not FETCHING.search(html), f"{name}: the HTML view fetches or runs something"
    assert len(page.sections) == len(items), f"{name}: one panel per output item"
    assert len(page.ids) == len(set(page.ids)), f"{name}: anchor ids repeat"
    for href in page.hrefs:
        assert not href.startswith("#") or href[1:] in page.ids, f"{name}: footnote link {href} leads nowhere"
    citation_urls = {
        event["annotation"].get("url") for event in raw
        if event.get("type") == "response.output_text.annotation.added" and isinstance(event.get("annotation"), dict)
    }
    for href in page.hrefs:  # in-page anchors, or the stream's own citation URLs: nothing else
        assert href.startswith("#") or href in citation_urls, f"{name}: unexpected link {href}"

    # Every text the server streamed appears whole, in the right kind of panel: the concatenated deltas
    # (or the .done text when there were none), as the accumulator's precedence says. Trimmed fixtures
    # whose .done text differs from their deltas are the validator's business (part.text-consistent).
    answers = [b.text for s in page.sections if s.kind == "message" for b in s.blocks if b.role == "answer"]
    summaries = [b.text for s in page.sections if s.kind == "reasoning" for b in s.blocks if b.role == "summary"]
    for event in raw:
        if event.get("type") == "response.output_text.done":
            expected = streamed(raw, "response.output_text.delta", event, "content_index") or event["text"]
            assert not expected or expected in answers, f"{name}: output text missing from the answer blocks"
        if event.get("type") == "response.reasoning_summary_text.done":
            expected = streamed(raw, "response.reasoning_summary_text.delta", event, "summary_index") or event["text"]
            assert not expected or expected in summaries, f"{name}: summary text missing from the reasoning panel"
        if event.get("type") == "response.function_call_arguments.done":
            assert any(b.role == "arguments" for s in page.sections for b in s.blocks), f"{name}: arguments not shown"

    text = kit.render.render_terminal(stream).to_text(width=160)
    for item in items:
        assert f"#{item.output_index} {item.type}" in text, f"{name}: no terminal panel for item {item.output_index}"

    events = kit.render.events_table(stream)
    assert len(events) == len(raw)
    assert list(events["type"]) == [event.get("type", "<no type>") for event in raw]
    assert len(kit.render.items_table(stream)) == len(items)

    figure = kit.render.timeline(stream)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert [tick.get_text() for tick in axes.get_yticklabels()] == ["response"] + [f"#{i.output_index} {i.type}" for i in items]
    assert sum(len(line.get_xdata()) for line in axes.get_lines() if line.get_linestyle() == "None") == len(raw)
