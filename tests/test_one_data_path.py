"""One data path: a native stream in a notebook is judged exactly as `kit check` judges the same bytes.

A real HTTP server on loopback sends a real captured Responses stream with one
wire fault (fault injection: its last event lacks the blank line that ends it,
which the openai SDK's decoder drops). The kit records it; then the recording
is given to `kit check`, and the same request is replayed inside a real
notebook kernel (papermill). Both must report the same rules, `sse.unterminated`
among them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import papermill
from typer.testing import CliRunner

import kit.notebook
from kit.cli import app

NATIVE = "responses/pydantic-ai__openrouter-gpt-oss-20b-reasoning-text.jsonl"
REQUEST = {"input": "hi", "metadata": {"fixture": NATIVE, "fault": "unterminated"}}


def _errors_and_wire_rules(violations: list[dict[str, Any]]) -> set[str]:
    return {v["rule"] for v in violations}


def test_a_wire_fault_is_reported_alike_by_a_notebook_and_by_kit_check(loopback: Any, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "loopback")  # the vllm setup wants a key to record; the loopback ignores it
    recordings = tmp_path / "recordings"
    recorded = kit.notebook.start("vllm", mode="record", base_url=loopback.base_url, recording_dir=str(recordings))
    live = recorded.responses_stream(REQUEST, show=False)
    live_rules = {v.rule for v in recorded.observation(live).violations or ()}
    assert "sse.unterminated" in live_rules
    assert len(live.events) == len((Path(__file__).parent / "captures" / NATIVE).read_text().splitlines())

    [recording] = [p for p in recordings.rglob("*.json")]
    checked = CliRunner().invoke(app, ["check", "--json", str(recording)])
    reports = [json.loads(line) for line in checked.output.splitlines() if line.startswith("{")]
    assert reports, checked.output
    check_rules = _errors_and_wire_rules(reports[0]["violations"])
    assert "sse.unterminated" in check_rules

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import json, kit.notebook\n"
        f"s = kit.notebook.start({{'setup': 'vllm', 'recording_dir': {str(recordings)!r}}})\n"
        f"stream = s.responses_stream({REQUEST!r})\n"
        "print('RULES=' + json.dumps(sorted({v.rule for v in s.observation(stream).violations})))")])
    source, executed = tmp_path / "wire.ipynb", tmp_path / "wire.out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    text = "".join(o.get("text", "") for c in nbformat.read(executed, as_version=4).cells for o in c.get("outputs", []))
    notebook_rules = set(json.loads(text.split("RULES=")[1].splitlines()[0]))

    assert notebook_rules == check_rules == live_rules
