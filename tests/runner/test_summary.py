"""The typed result a notebook hands back as an output of the executed notebook."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from kit.events import parse_events, validate_stream
from kit.summary import RESULT_MIME, Expectation, RuleSeen, RunResult, Stop, StreamSeen, read_result, stream_seen


def _executed(*results: RunResult, text: str = "run result") -> nbformat.NotebookNode:
    outputs = [new_output("display_data", data={"text/plain": text, RESULT_MIME: r.to_json()}) for r in results]
    return new_notebook(cells=[new_code_cell("scenario.finish()", outputs=outputs)])


def test_a_notebook_without_a_result_has_none() -> None:
    nb = new_notebook(cells=[new_code_cell("1", outputs=[new_output("display_data", data={"text/plain": "1"})])])
    assert read_result(nb) is None


def test_publications_merge_counts_and_first_sight_of_each_rule() -> None:
    a = RunResult(streams=(StreamSeen("a", 5, (RuleSeen("seq.increasing", "error", 1, "a, event 2: x"),
                                                RuleSeen("seq.contiguous", "warning", 2, "a, event 3: y"))),), observed=True)
    b = RunResult(streams=(StreamSeen("b", 4, (RuleSeen("seq.contiguous", "warning", 1, "b, event 0: z"),
                                                RuleSeen("event.logprobs", "warning", 1, "b, event 1: w"))),))
    merged = read_result(_executed(a, b))
    assert merged is not None
    assert merged.violations() == {
        "errors": 1, "warnings": 4, "rules": ["seq.increasing", "seq.contiguous", "event.logprobs"],
        "by_rule": {"seq.increasing": 1, "seq.contiguous": 3, "event.logprobs": 1},
        "error_rules": ["seq.increasing"], "warning_rules": ["seq.contiguous", "event.logprobs"],
        "error_events": {"seq.increasing": "a, event 2: x"},
        "warning_events": {"seq.contiguous": "a, event 3: y", "event.logprobs": "b, event 1: w"},  # first sight
    }


def test_allowed_rules_are_counted_but_not_judged_and_missed_expectations_are() -> None:
    result = RunResult(streams=(StreamSeen("s", 3, (RuleSeen("item.closed-once", "error", 2, "s, event 1: m"),),
                                           allowed=("item.closed-once",)),),
                       expectations=(Expectation("expect.failure", False, "s: ended completed"),
                                     Expectation("expect.failure", True)), observed=True)
    assert result.error_rules() == {"expect.failure": "s: ended completed"}
    assert result.violations()["errors"] == 2  # type: ignore[index]


def test_the_result_survives_the_notebook_file_as_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = RunResult(streams=(StreamSeen("s", 1),), stops=(Stop("unsupported", "lacks vision"),),
                       not_shown=("citations",), data={"compared": ["local"]})
    path = tmp_path / "nb.ipynb"
    nbformat.write(_executed(result), path)
    assert read_result(nbformat.read(path, as_version=4)) == result
    assert json.loads(path.read_text())["cells"][0]["outputs"][0]["data"][RESULT_MIME]["stops"][0]["kind"] == "unsupported"


def test_without_a_finished_scenario_there_are_no_violation_counts() -> None:
    assert RunResult(stops=(Stop("not recorded", "miss"),)).violations() is None


def test_a_streams_entry_counts_each_rule_once_with_where_it_was_first_seen() -> None:
    stream = parse_events([{"type": "response.created", "sequence_number": 5, "response": {"id": "r", "status": "in_progress"}},
                           {"type": "response.created", "sequence_number": 3, "response": {"id": "r", "status": "in_progress"}}],
                          source_name="two starts")
    violations = validate_stream(stream)
    seen = stream_seen("two starts", 2, violations)
    assert sum(r.count for r in seen.rules) == len(violations)
    assert [r.rule for r in seen.rules] == list(dict.fromkeys(v.rule for v in violations))
    assert all(r.where.startswith("two starts") for r in seen.rules)


@pytest.mark.parametrize("bad", [{"streams": [{"title": "s"}]}, {"stops": [{"kind": "unsupported"}]}])
def test_a_result_that_does_not_read_is_refused_naming_the_problem(bad: dict) -> None:
    with pytest.raises(ValueError, match="a run result that does not read"):
        RunResult.from_json(bad)
