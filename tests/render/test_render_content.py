"""What the terminal and HTML views show for real streams, checked against the raw JSON."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import kit.events
import kit.render
from tests.render.conftest import KitHTML, load, raw_lines

FILE_SEARCH = "openai-dotnet__gpt4o-mini-file-search.jsonl"
WEB_SEARCH = "chatlas__gpt41-web-search.jsonl"
XAI_WEB_SEARCH = "vercel-ai__xai-web-search-tool.jsonl"  # url citations without any index
REASONING_SUMMARY = "pydantic-ai__o3-mini-reasoning-summary.jsonl"
REASONING_TEXT = "pydantic-ai__openrouter-gpt-oss-20b-reasoning-text.jsonl"
FUNCTION_CALL = "openai-dotnet__gpt4o-mini-function-call.jsonl"
MCP_FAILED = "openai-dotnet__gpt5-mcp-call-failed.jsonl"
TEXT = "otel-python-contrib__gpt4o-mini-text.jsonl"
RATE_LIMITED = "prism__gpt4o-error-rate-limited.jsonl"
INCOMPLETE = "req_llm-sgs__o3-deep-research-incomplete.jsonl"
BROKEN = "vercel-ai__github-copilot-id-rotation.jsonl"  # a new item id per event: many real violations


def of_type(raw: list[dict], kind: str) -> list[dict]:
    return [event for event in raw if event.get("type") == kind]


def answer_block(page: KitHTML):
    blocks = [block for section in page.sections if section.kind == "message" for block in section.blocks if block.role == "answer"]
    assert len(blocks) == 1
    return blocks[0]


def test_file_citation_is_footnote_1_at_its_index(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, FILE_SEARCH)
    (added,) = of_type(raw, "response.output_text.annotation.added")
    (done,) = of_type(raw, "response.output_text.done")
    annotation, text = added["annotation"], done["text"]
    stream = load(responses_dir, FILE_SEARCH)

    page = KitHTML(kit.render.render_html(stream))
    block = answer_block(page)
    assert block.text == text
    assert block.markers == [(annotation["index"], 1)]
    message = next(section for section in page.sections if section.kind == "message")
    assert message.footnotes[1].startswith(f"[1] {annotation['filename']}")
    assert annotation["file_id"] in message.footnotes[1]

    terminal = kit.render.render_terminal(stream).to_text(width=200)
    assert text[: annotation["index"]] + "[1]" + text[annotation["index"]:] in terminal
    assert f"[1] {annotation['filename']}  {annotation['file_id']}" in terminal


def test_url_citations_are_numbered_in_order_with_their_spans_marked(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, WEB_SEARCH)
    annotations = [event["annotation"] for event in sorted(of_type(raw, "response.output_text.annotation.added"),
                                                           key=lambda event: event["annotation_index"])]
    (done,) = of_type(raw, "response.output_text.done")
    text = done["text"]
    assert len({a["url"] for a in annotations}) == len(annotations) == 2

    page = KitHTML(kit.render.render_html(load(responses_dir, WEB_SEARCH)))
    block = answer_block(page)
    assert block.text == text
    assert block.markers == [(a["end_index"], n) for n, a in enumerate(annotations, 1)]
    assert block.cited == [text[a["start_index"]:a["end_index"]] for a in annotations]
    message = next(section for section in page.sections if section.kind == "message")
    for number, annotation in enumerate(annotations, 1):
        assert message.footnotes[number].startswith(f"[{number}] {annotation['title']}")
        assert message.footnote_links[number] == [annotation["url"]]


def test_citations_without_positions_are_listed_and_marked_at_the_end(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, XAI_WEB_SEARCH)
    urls = [e["annotation"]["url"] for e in sorted(of_type(raw, "response.output_text.annotation.added"),
                                                  key=lambda e: e["annotation_index"])]
    stream = load(responses_dir, XAI_WEB_SEARCH)
    page = KitHTML(kit.render.render_html(stream))
    block = answer_block(page)
    assert block.markers == [(len(block.text), n) for n in range(1, len(urls) + 1)]
    message = next(section for section in page.sections if section.kind == "message")
    assert [message.footnote_links[n] for n in range(1, len(urls) + 1)] == [[url] for url in urls]
    assert all("(no position in the text)" in note for note in message.footnotes.values())
    terminal = kit.render.render_terminal(stream).to_text(width=220)
    assert "".join(f"[{n}]" for n in range(1, len(urls) + 1)) in terminal


def test_a_repeated_source_keeps_its_number_in_a_derived_stream(responses_dir: Path) -> None:
    """Derived from the real web-search stream: its first citation is cited again, on the second span."""
    raw = raw_lines(responses_dir, WEB_SEARCH)
    added = of_type(raw, "response.output_text.annotation.added")
    again = copy.deepcopy(added[1])
    again["annotation"]["url"] = added[0]["annotation"]["url"]
    again["annotation_index"] = 2
    events = raw[: raw.index(added[1]) + 1] + [again] + raw[raw.index(added[1]) + 1:]
    page = KitHTML(kit.render.render_html(events, profile=None))
    block = answer_block(page)
    end = added[1]["annotation"]["end_index"]
    assert block.markers == [(added[0]["annotation"]["end_index"], 1), (end, 2), (end, 1)]


def test_reasoning_summary_is_in_the_reasoning_panel_not_the_answer(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, REASONING_SUMMARY)
    summaries = [event["text"] for event in of_type(raw, "response.reasoning_summary_text.done")]
    (answer,) = [event["text"] for event in of_type(raw, "response.output_text.done")]
    assert len(summaries) == 4
    stream = load(responses_dir, REASONING_SUMMARY)

    page = KitHTML(kit.render.render_html(stream))
    reasoning, message = page.sections
    assert reasoning.kind == "reasoning" and message.kind == "message"
    assert [block.text for block in reasoning.blocks if block.role == "summary"] == summaries
    assert all(summary not in message.text for summary in summaries)
    assert [block.text for block in message.blocks] == [answer]

    terminal = kit.render.render_terminal(stream).to_text(width=400)
    reasoning_at, message_at = terminal.index("#0 reasoning"), terminal.index("#1 message")
    for summary in summaries:
        first_line = summary.splitlines()[0]
        assert reasoning_at < terminal.index(first_line) < message_at


def test_raw_reasoning_text_is_in_the_reasoning_panel(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, REASONING_TEXT)
    (reasoning_text,) = [event["text"] for event in of_type(raw, "response.reasoning_text.done")]
    page = KitHTML(kit.render.render_html(load(responses_dir, REASONING_TEXT)))
    reasoning = next(section for section in page.sections if section.kind == "reasoning")
    assert [block.text for block in reasoning.blocks if block.role == "reasoning"] == [reasoning_text]
    assert all(reasoning_text not in section.text for section in page.sections if section.kind == "message")


def as_refusal(raw: list[dict]) -> list[dict]:
    """A real text stream with its message part turned into a refusal part (no real refusal capture exists)."""
    renames = {
        "response.output_text.delta": "response.refusal.delta",
        "response.output_text.done": "response.refusal.done",
    }
    out = []
    for event in copy.deepcopy(raw):
        event["type"] = renames.get(event["type"], event["type"])
        if event["type"] == "response.refusal.done":
            event["refusal"] = event.pop("text")
            event.pop("logprobs", None)
        for holder in (event.get("part"), *(event.get("item", {}).get("content") or [])):
            if isinstance(holder, dict) and holder.get("type") == "output_text":
                holder["type"] = "refusal"
                holder["refusal"] = holder.pop("text")
                holder.pop("annotations", None)
                holder.pop("logprobs", None)
        out.append(event)
    return out


def test_refusal_derived_from_a_real_stream_is_marked(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, TEXT)
    (text,) = [event["text"] for event in of_type(raw, "response.output_text.done")]
    events = as_refusal(raw)
    page = KitHTML(kit.render.render_html(events, profile=None))
    (message,) = page.sections
    assert [(block.role, block.text) for block in message.blocks] == [("refusal", text)]
    assert any("kit-flag-refusal" in flag for flag in message.flags)
    terminal = kit.render.render_terminal(events, profile=None).to_text(width=200)
    assert "#0 message  REFUSAL" in terminal


def test_function_call_arguments_are_pretty_json(responses_dir: Path) -> None:
    raw = raw_lines(responses_dir, FUNCTION_CALL)
    (done,) = of_type(raw, "response.function_call_arguments.done")
    (added,) = [e for e in of_type(raw, "response.output_item.added") if e["item"]["type"] == "function_call"]
    page = KitHTML(kit.render.render_html(load(responses_dir, FUNCTION_CALL)))
    (call,) = [section for section in page.sections if section.item_type == "function_call"]
    assert call.kind == "tool"
    assert added["item"]["name"] in call.title
    (arguments,) = [block for block in call.blocks if block.role == "arguments"]
    assert arguments.text == json.dumps(json.loads(done["arguments"]), indent=2, ensure_ascii=False)


def test_hosted_tool_status_moves_as_the_events_say(responses_dir: Path) -> None:
    for name, tool in ((FILE_SEARCH, "file_search_call"), (MCP_FAILED, "mcp_call")):
        raw = raw_lines(responses_dir, name)
        page = KitHTML(kit.render.render_html(load(responses_dir, name)))
        sections = [section for section in page.sections if section.item_type == tool]
        for section, item_id in zip(sections, dict.fromkeys(e["item_id"] for e in raw if e["type"].startswith(f"response.{tool}."))):
            steps = [e["type"].rsplit(".", 1)[1] for e in raw if e.get("item_id") == item_id and e["type"].startswith(f"response.{tool}.")
                     and not e["type"].startswith(f"response.{tool}_")]
            assert section.kind == "hosted"
            assert f"status: {' → '.join(steps)}" in section.text
    failed = [s for s in KitHTML(kit.render.render_html(load(responses_dir, MCP_FAILED))).sections if s.item_type == "mcp_call"][0]
    assert any(block.role == "error" and '"code": 424' in block.text for block in failed.blocks)


def test_violations_are_listed_under_the_stream(responses_dir: Path) -> None:
    stream = load(responses_dir, BROKEN)
    violations = kit.events.validate_stream(stream, "openai")
    assert violations  # the fixture really breaks rules
    groups = kit.events.group_violations(violations)
    page = KitHTML(kit.render.render_html(stream))
    assert page.violations == [(g.rule, g.severity) for g in groups]
    terminal = kit.render.render_terminal(stream).to_text(width=250)
    errors = sum(v.severity == "error" for v in violations)
    assert f"{kit.events.plural(errors, 'error')}, {kit.events.plural(len(violations) - errors, 'warning')} (profile openai)" in terminal
    assert terminal.index(violations[0].rule) > terminal.rindex("╰")  # under the last panel


def test_identical_violations_are_one_row_with_a_count_and_the_individual_ones_stay_available(responses_dir: Path) -> None:
    stream = load(responses_dir, BROKEN)  # a new item_id on 62 events
    violations = kit.events.validate_stream(stream, "openai")
    ids = [v for v in violations if v.rule == "item.id-matches"]
    assert len(ids) == 62
    html = kit.render.render_html(stream)
    page = KitHTML(html)
    assert page.violations.count(("item.id-matches", "error")) == 1
    assert 'data-rule="item.id-matches" data-severity="error" data-count="62"' in html
    assert f"events {ids[0].index}–{ids[-1].index}" in html and "×62" in html
    assert html.count('class="kit-violation-item" data-rule="item.id-matches"') == 62  # every one, in a <details>
    terminal = kit.render.render_terminal(stream).to_text(width=250)
    assert sum("item.id-matches" in line for line in terminal.splitlines()) == 1 and "×62" in terminal
    assert "error(s)" not in terminal and "1 errors" not in terminal

    clean = kit.render.render_html(load(responses_dir, TEXT))
    assert "no violations (profile openai)" in clean and not KitHTML(clean).violations


def test_given_violations_are_shown_instead_of_validating(responses_dir: Path) -> None:
    stream = load(responses_dir, BROKEN)
    html = kit.render.render_html(stream, violations=[])
    assert "no violations" in html


def test_header_shows_error_and_incomplete_reason(responses_dir: Path) -> None:
    (failed,) = of_type(raw_lines(responses_dir, RATE_LIMITED), "response.failed")
    html = kit.render.render_html(load(responses_dir, RATE_LIMITED))
    assert 'data-status="failed"' in html
    assert "rate_limit_exceeded" in html and failed["response"]["error"]["code"] == "rate_limit_exceeded"
    (incomplete,) = of_type(raw_lines(responses_dir, INCOMPLETE), "response.incomplete")
    reason = incomplete["response"]["incomplete_details"]["reason"]
    assert f"reason: {reason}" in kit.render.render_terminal(load(responses_dir, INCOMPLETE)).to_text(width=200)


def test_hostile_text_in_a_real_stream_is_escaped_and_never_linked(responses_dir: Path) -> None:
    """A real web-search stream with injected markup, a javascript: citation and terminal escape codes."""
    raw = raw_lines(responses_dir, WEB_SEARCH)
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>\x1b]8;;http://evil\x07click\x1b[2J'
    first_delta = next(e for e in raw if e["type"] == "response.output_text.delta")
    first_delta["delta"] = hostile + first_delta["delta"]
    added = of_type(raw, "response.output_text.annotation.added")[0]
    added["annotation"]["url"] = "javascript:alert(document.cookie)"
    added["annotation"]["title"] = '"><b>title</b>'

    html = kit.render.render_html(raw, profile=None)
    assert "<script" not in html and "<img" not in html and "<b>title" not in html
    assert "&lt;script&gt;" in html
    page = KitHTML(html)
    assert not any(href.lower().startswith("javascript") for href in page.hrefs)
    assert answer_block(page).text.startswith(hostile)

    terminal = kit.render.render_terminal(raw, profile=None).to_text(width=200, color=True)
    assert "\x1b]8;;http://evil" not in terminal and "\x1b[2J" not in terminal and "\x07" not in terminal
    assert "\\x1b]8;;http://evil\\x07click\\x1b[2J" in terminal


def test_rich_print_works_on_the_view(responses_dir: Path) -> None:
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=200).print(kit.render.render_terminal(load(responses_dir, FILE_SEARCH)))
    assert "Travis's favorite food is pizza[1]." in buffer.getvalue()


def test_html_view_reprs_for_notebooks(responses_dir: Path) -> None:
    stream = load(responses_dir, FILE_SEARCH)
    view = kit.render.HTMLView.of(stream)
    assert view._repr_html_() == kit.render.render_html(stream) == str(view)
