"""The HTML report: the matrix page and the offline notebook pages (no kernels)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from kit.runner.outcome import Outcome, Status
from kit.runner.report import render_index, write_notebook_page, write_report


def _outcomes(root: Path) -> list[Outcome]:
    return [
        Outcome("base", "chat_stream", "gpt", Status.PASSED, 2.25, executed=root / "gpt/base/chat_stream.ipynb",
                page=root / "gpt/base/chat_stream.html",
                violations={"errors": 0, "warnings": 2, "rules": ["seq.contiguous"]}),
        Outcome("base", "chat_stream", "ollama", Status.NOT_RECORDED, 1.0,
                record_command="kit run --setup ollama --suite base --pattern chat_stream --inference-mode record-if-missing"),
        Outcome("responses", "refusal", "gpt", Status.FAILED, 3.0,
                message="In [5]: sc.check(stream)\nStreamCheckFailed: <script>alert(1)</script> lifecycle.one-terminal"),
        Outcome("responses", "refusal", "ollama", Status.UNSUPPORTED, 0.5, message="setup 'ollama' lacks refusal"),
    ]


def test_index_is_a_notebook_by_setup_matrix(tmp_path: Path) -> None:
    page = render_index(_outcomes(tmp_path), root=tmp_path)
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", page, re.DOTALL)
    assert header and re.findall(r"<th>(.*?)</th>", header.group(1)) == ["notebook", "gpt", "ollama"]
    rows = re.findall(r"<tr><td class=\"nb\">(.*?)</td>(.*?)</tr>", page, re.DOTALL)
    assert [name for name, _ in rows] == ["base/chat_stream", "responses/refusal"]
    assert re.findall(r'class="status"[^>]*>(.*?)</span>', rows[0][1]) == ["passed", "not recorded"]
    assert re.findall(r'class="status"[^>]*>(.*?)</span>', rows[1][1]) == ["failed", "unsupported"]


def test_index_shows_the_record_command_violations_and_links(tmp_path: Path) -> None:
    page = render_index(_outcomes(tmp_path), root=tmp_path)
    assert "kit run --setup ollama --suite base --pattern chat_stream --inference-mode record-if-missing" in page
    assert "0 errors, 2 warnings: seq.contiguous" in page
    assert 'href="gpt/base/chat_stream.html"' in page and 'href="gpt/base/chat_stream.ipynb"' in page
    assert "1 passed" in page and "1 failed" in page and "1 not recorded" in page and "1 unsupported" in page


def test_index_escapes_what_notebooks_said(tmp_path: Path) -> None:
    page = render_index(_outcomes(tmp_path), root=tmp_path)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; lifecycle.one-terminal" in page


def test_write_report_also_writes_results_json(tmp_path: Path) -> None:
    index = write_report(tmp_path, _outcomes(tmp_path), meta={"mode": "replay"})
    assert index == tmp_path / "index.html" and index.is_file()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"] == {"mode": "replay"}
    assert [o["status"] for o in results["outcomes"]] == ["passed", "not recorded", "failed", "unsupported"]


def test_an_empty_run_says_so(tmp_path: Path) -> None:
    assert "Nothing was run." in render_index([], root=tmp_path)


def test_notebook_page_shows_the_request_folds_other_code_and_loads_nothing_from_the_network(tmp_path: Path) -> None:
    nb = new_notebook(cells=[
        new_markdown_cell("# Refusal scenario"),
        new_code_cell("import kit.notebook as nb\nsecret_sauce = 1", execution_count=1),
        new_code_cell("stream = sc.responses_stream({'input': 'hi'})", execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="response.completed after 12 events\n")]),
    ])
    executed = tmp_path / "out" / "gpt" / "responses" / "refusal.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, executed)
    page = write_notebook_page(executed, executed.with_suffix(".html"), title="responses/refusal on gpt: passed")
    text = page.read_text()
    details = re.search(r'<details class="kit-code">(.*?)</details>', text, re.DOTALL)
    assert details and "secret_sauce" in details.group(1)  # other code is there, folded
    assert "secret_sauce" not in text.replace(details.group(0), "")
    request = re.search(r'<details class="kit-code kit-request" open(?:="")?><summary>request</summary>(.*?)</details>', text, re.DOTALL)
    assert request and "responses_stream" in request.group(1)  # the request is shown open
    assert "response.completed after 12 events" in text  # outputs are shown
    assert "Refusal scenario" in text
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+href=\"https?:", text)
    assert 'href="../../index.html"' in text and "responses/refusal on gpt: passed" in text


def _known_findings_page(tmp_path: Path) -> str:
    """A page like litellm's function_tools: two error rules, both known findings, one with no upstream issue."""
    nb = new_notebook(cells=[
        new_markdown_cell("# Function tools"),
        new_code_cell("stream = scenario.responses_stream({'input': 'weather?'})", execution_count=1),
        new_markdown_cell("Checks: no conformance error, and a `get_weather` call."),
        new_code_cell("scenario.check(stream)", execution_count=2,
                      outputs=[new_output("stream", name="stdout", text="known finding: item.closed-once\n")]),
        new_code_cell("scenario.finish()", execution_count=3,
                      outputs=[new_output("execute_result", data={"text/plain": "{'setup': 'litellm', 'violations': {...}}"},
                                          execution_count=3)]),
    ])
    executed = tmp_path / "out" / "litellm" / "responses" / "function_tools.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, executed)
    summary = {"setup": "litellm", "notebook": "responses/function_tools", "streams": 1, "violations": {
        "errors": 2, "warnings": 4, "error_rules": ["item.closed-once", "item.final-output"],
        "warning_rules": ["event.unknown-type"], "by_rule": {"item.closed-once": 1, "item.final-output": 1, "event.unknown-type": 4},
        "error_events": {"item.closed-once": "event 2: item 0 (function_call) never got output_item.done"}}}
    executed.with_suffix(".summary.json").write_text(json.dumps(summary), encoding="utf-8")
    findings = [{"rule": "item.closed-once", "reason": "LiteLLM fails to rebuild the chunks. No upstream issue found.", "upstream": ""},
                {"rule": "item.final-output", "reason": "The same failure.", "upstream": "https://github.com/x/y/issues/1"}]
    page = write_notebook_page(executed, executed.with_suffix(".html"), title="responses/function_tools on litellm: known findings",
                               findings=findings)
    return page.read_text()


def test_the_page_opens_with_the_verdict_its_rules_and_findings(tmp_path: Path) -> None:
    text = _known_findings_page(tmp_path)
    verdict = re.search(r'<section class="kit-verdict" data-status="known findings".*?</section>', text, re.DOTALL)
    assert verdict, "no verdict block"
    block = verdict.group(0)
    assert "2 errors, 4 warnings" in block and "1 stream judged" in block
    assert re.findall(r'data-rule="([^"]+)" data-severity="error"', block) == ["item.closed-once", "item.final-output"]
    assert 'data-rule="event.unknown-type" data-severity="warning"' in block and "×4" in block
    assert "never got output_item.done" in block and "https://github.com/x/y/issues/1" in block
    assert text.index('<section class="kit-verdict"') < text.index('class="kit-code kit-request"')  # the verdict before the request


def test_the_page_says_nothing_that_contradicts_its_verdict(tmp_path: Path) -> None:
    text = _known_findings_page(tmp_path)
    assert "Checks: no conformance error" not in text
    assert "Expected:" in text and "On this setup: <strong>known findings</strong>" in text
    assert "No upstream issue found. — no upstream issue known" not in text and "no upstream issue known" not in text
    assert "{&#39;setup&#39;: &#39;litellm&#39;" not in text and "{'setup': 'litellm'" not in text  # no raw dict at the end


def test_findings_in_the_index_do_not_say_twice_that_no_upstream_issue_exists(tmp_path: Path) -> None:
    outcome = Outcome("responses", "function_tools", "litellm", Status.KNOWN_FINDINGS, 1.0, findings=(
        {"rule": "item.closed-once", "reason": "It fails. No upstream issue found.", "upstream": "", "event": "e"},))
    page = render_index([outcome], root=tmp_path)
    assert "No upstream issue found." in page and "no upstream issue known" not in page


def test_a_chat_warning_the_baseline_names_reads_as_a_known_finding_on_the_page() -> None:
    """ogx's chat stream without [DONE] (a warning under the chat profile, named by findings/ogx.toml): the verdict
    says how many chat streams were judged and puts the finding's reason and link under the warning; a warning
    no finding names stays a bare line."""
    from kit.runner.report import verdict_html

    summary = {"setup": "ogx", "notebook": "base/chat_streaming", "streams": 4, "chat_streams": 2, "violations": {
        "errors": 0, "warnings": 4, "error_rules": [], "warning_rules": ["sse.done-sentinel", "final.usage"],
        "by_rule": {"sse.done-sentinel": 2, "final.usage": 2}, "error_events": {},
        "warning_events": {"sse.done-sentinel": "ogx · Chat Completions stream: the stream does not end with data: [DONE]",
                           "final.usage": "ogx · chat stream as Responses events, event 9: usage is missing"}}}
    finding = {"rule": "sse.done-sentinel", "reason": "ogx's chat stream ends without data: [DONE]",
               "upstream": "https://github.com/ogx-ai/ogx/issues/4744"}
    block = verdict_html("base/chat_streaming on ogx: known findings", "known findings", summary, [finding])
    assert "4 streams judged (2 Chat Completions, profile chat)" in block
    done = re.search(r'<li class="kit-verdict-rule" data-rule="sse.done-sentinel".*?</li>', block, re.DOTALL)
    assert done and "known finding: ogx&#x27;s chat stream ends without data: [DONE]" in done.group(0)
    assert "does not end with data: [DONE]" in done.group(0) and "issues/4744" in done.group(0)
    usage = re.search(r'<li class="kit-verdict-rule" data-rule="final.usage".*?</li>', block, re.DOTALL)
    assert usage and "known finding" not in usage.group(0) and "usage is missing" not in usage.group(0)
