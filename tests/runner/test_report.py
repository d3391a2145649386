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


def test_notebook_page_hides_code_in_details_and_loads_nothing_from_the_network(tmp_path: Path) -> None:
    nb = new_notebook(cells=[
        new_markdown_cell("# Refusal scenario"),
        new_code_cell("secret_sauce = sc.responses_stream({'input': 'hi'})", execution_count=1,
                      outputs=[new_output("stream", name="stdout", text="response.completed after 12 events\n")]),
    ])
    executed = tmp_path / "out" / "gpt" / "responses" / "refusal.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(nb, executed)
    page = write_notebook_page(executed, executed.with_suffix(".html"), title="responses/refusal on gpt: passed")
    text = page.read_text()
    details = re.search(r'<details class="kit-code">(.*?)</details>', text, re.DOTALL)
    assert details and "secret_sauce" in details.group(1)  # the code is there, folded
    assert "secret_sauce" not in text.replace(details.group(0), "")
    assert "response.completed after 12 events" in text  # outputs are shown
    assert "Refusal scenario" in text
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+href=\"https?:", text)
    assert 'href="../../index.html"' in text and "responses/refusal on gpt: passed" in text
