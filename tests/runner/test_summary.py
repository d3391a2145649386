"""The summary a notebook hands back through KIT_NOTEBOOK_REPORT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.runner import REPORT_ENV, report_summary
from kit.summary import merge_summaries, read_summary


def test_outside_a_run_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPORT_ENV, raising=False)
    assert report_summary({"violations": {"errors": 1, "warnings": 0, "rules": ["seq.increasing"]}}) is None


def test_calls_merge_counts_and_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "nb.summary.json"
    monkeypatch.setenv(REPORT_ENV, str(target))
    report_summary({"violations": {"errors": 1, "warnings": 2, "rules": ["seq.increasing", "seq.contiguous"]}})
    report_summary({"violations": {"errors": 0, "warnings": 1, "rules": ["seq.contiguous", "event.logprobs"]}})
    assert json.loads(target.read_text()) == {
        "violations": {"errors": 1, "warnings": 3, "rules": ["seq.increasing", "seq.contiguous", "event.logprobs"]}}


def test_the_flat_scenario_shape_is_filed_under_violations() -> None:
    # kit.notebook.Scenario.summary() returns counts at the top level and rules as {id: count}.
    flat = {"setup": "gpt", "mode": "replay", "streams": 2, "errors": 1, "warnings": 1,
            "rules": {"seq.contiguous": 1, "lifecycle.one-terminal": 1}}
    merged = merge_summaries([flat])
    assert merged["violations"] == {"errors": 1, "warnings": 1, "rules": ["seq.contiguous", "lifecycle.one-terminal"]}
    assert merged["streams"] == 2 and merged["setup"] == "gpt" and "errors" not in merged


@pytest.mark.parametrize(("summary", "message"), [
    ({"violations": {"errors": -1}}, "count >= 0"),
    ({"violations": {"rules": "seq.increasing"}}, "list of rule ids"),
    ({"violations": 3}, "must be a dict"),
    ({"when": object()}, "not JSON serializable"),
])
def test_a_summary_the_report_cannot_show_is_refused(summary: dict, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        report_summary(summary)


def test_an_unreadable_summary_reads_as_none(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{not json")
    assert read_summary(tmp_path / "s.json") is None
    assert read_summary(tmp_path / "absent.json") is None
