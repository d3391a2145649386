"""Real executions: small notebooks run by papermill in real kernels, two at a time."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pytest

from kit.runner.execute import NotebookContractError, check_parameters, declared_parameters
from kit.runner.matrix import plan, run_jobs
from kit.runner.outcome import Outcome, Status
from kit.setups.options import NOTEBOOK_PARAMETERS, RunOptions, resolve_run
from kit.setups.registry import BUILTIN_SETUPS
from kit.suites import discover
from tests.runner.notebooks import FAILING, LOOKALIKE, PASSING, REPLAY_MISS as REPLAY_MISS_CELLS, UNSUPPORTED, write_notebook


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    root = tmp_path_factory.mktemp("project")
    notebooks = root / "notebooks"
    write_notebook(notebooks / "base" / "passing.ipynb", PASSING)
    write_notebook(notebooks / "base" / "replay_miss.ipynb", REPLAY_MISS_CELLS)
    write_notebook(notebooks / "responses" / "failing.ipynb", FAILING)
    write_notebook(notebooks / "vision" / "unsupported.ipynb", UNSUPPORTED)
    write_notebook(notebooks / "vision" / "lookalike.ipynb", LOOKALIKE)
    write_notebook(notebooks / "vision" / "old_parameters.ipynb", ["1"], parameters='setup = "local"\nmodel = None\n')
    (root / "recordings").mkdir()
    run = resolve_run(RunOptions(setup=("gpt",), env=("TEST_FLAG=on", "KIT_REPLAY_STYLE=split"),
                                 recording_dir=root / "recordings"),
                      known=BUILTIN_SETUPS, recorded=[], environ={}, cwd=root)
    jobs = plan(run, discover(notebooks), root / "out")
    ours = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}  # what the runner adds shows alone
    return {o.name: o for o in run_jobs(jobs, workers=2, base_env=ours)}


def _stdout(notebook: Path) -> str:
    nb = nbformat.read(notebook, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.output_type == "stream")


def test_a_passing_notebook_passes_and_hands_back_its_summary(executed: dict[str, Outcome]) -> None:
    outcome = executed["passing"]
    assert outcome.status is Status.PASSED, outcome.message
    assert outcome.violations is not None
    assert {k: outcome.violations[k] for k in ("errors", "warnings", "rules", "error_rules")} == {
        "errors": 0, "warnings": 3, "rules": ["seq.contiguous", "event.logprobs"], "error_rules": []}
    assert outcome.executed is not None and outcome.executed.is_file()
    assert outcome.page is not None and "<details class=\"kit-code\">" in outcome.page.read_text()


def test_the_kernel_gets_the_run_context_as_its_one_parameter_and_no_kit_variable(
        executed: dict[str, Outcome]) -> None:
    outcome = executed["passing"]
    facts = json.loads(_stdout(outcome.executed).strip().splitlines()[-1])  # type: ignore[arg-type]
    assert Path(facts["executable"]).resolve() == Path(sys.executable).resolve()
    assert Path(facts["cwd"]).resolve() == (outcome.executed.parents[3] / "notebooks" / "base").resolve()  # type: ignore[union-attr]
    run = facts["run"]
    assert run["setup"] == "gpt" and run["text_model"] == "gpt-4o"  # setup default filled in
    assert run["mode"] == "replay" and run["notebook"] == "base/passing"
    assert run["replay_style"] == "split"  # a kit setting given with --env goes into the context ...
    assert facts["kit_vars"] == []  # ... and no kit setting into the kernel's environment
    assert facts["user_env"] == "on"  # the user's own --env is the kernel's environment


def test_a_replay_miss_is_not_recorded_and_says_how_to_record(executed: dict[str, Outcome]) -> None:
    outcome = executed["replay_miss"]
    assert outcome.status is Status.NOT_RECORDED, outcome.message
    assert outcome.record_command == ("kit run --setup gpt --suite base --pattern replay_miss "
                                      "--inference-mode record-if-missing")
    assert outcome.executed is not None  # the executed notebook shows the miss and its nearest-recording diff


def test_a_failing_notebook_reports_the_cell_and_the_error_in_a_few_lines(executed: dict[str, Outcome]) -> None:
    outcome = executed["failing"]
    assert outcome.status is Status.FAILED
    # In [4] as in the executed notebook: parameters, injected parameters, `streamed = ...`, the assert.
    assert outcome.message.splitlines() == [
        'In [4]: assert streamed[-1] == "response.failed", "expected the stream to end with response.failed"',
        "AssertionError: expected the stream to end with response.failed",
    ]


def test_a_missing_capability_is_unsupported(executed: dict[str, Outcome]) -> None:
    outcome = executed["unsupported"]
    assert outcome.status is Status.UNSUPPORTED
    assert outcome.message.startswith("setup 'gpt' (gpt-4o) cannot show this scenario: it lacks reasoning")


def test_an_exception_only_named_like_the_kits_is_a_failure(executed: dict[str, Outcome]) -> None:
    outcome = executed["lookalike"]
    assert outcome.status is Status.FAILED
    assert outcome.message.splitlines()[-1] == "CapabilityMissing: setup 'gpt' lacks vision"


def test_unknown_parameters_fail_before_any_kernel_starts(executed: dict[str, Outcome]) -> None:
    outcome = executed["old_parameters"]
    assert outcome.status is Status.FAILED and outcome.executed is None
    assert "unknown parameter(s) run" in outcome.message
    assert "defines model, setup" in outcome.message


def test_declared_parameters_read_the_tagged_cell(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "nb.ipynb", ["x = 1"])
    assert declared_parameters(nbformat.read(path, as_version=4)) == set(NOTEBOOK_PARAMETERS)


def test_a_notebook_without_a_parameters_cell_is_refused(tmp_path: Path) -> None:
    nb = nbformat.read(write_notebook(tmp_path / "nb.ipynb", ["x = 1"]), as_version=4)
    nb.cells[1].metadata["tags"] = []
    with pytest.raises(NotebookContractError, match="no cell is tagged `parameters`"):
        declared_parameters(nb, "nb.ipynb")


def test_check_parameters_names_the_unknown_ones() -> None:
    check_parameters({"a", "b"}, {"a": 1})
    with pytest.raises(NotebookContractError, match=r"unknown parameter\(s\) c: the `parameters` cell defines a, b"):
        check_parameters({"a", "b"}, {"a": 1, "c": 2})


def test_a_cell_that_runs_too_long_fails_with_the_timeout_and_its_first_line(tmp_path: Path) -> None:
    from kit.runner.execute import Job, run_job
    from kit.suites import MatrixEntry, NotebookRef

    path = write_notebook(tmp_path / "notebooks" / "base" / "slow.ipynb", ["import time\ntime.sleep(60)"])
    params = {"run": {"setup": "gpt"}}
    job = Job(entry=MatrixEntry(NotebookRef("base", "slow", path), "gpt"), parameters=params, replaying=True,
              out_dir=tmp_path / "out", cell_timeout=2, render_html=False)
    outcome = run_job(job)
    assert outcome.status is Status.FAILED
    assert outcome.message.splitlines()[:2] == ["cell: import time",
                                                "CellTimeoutError: the cell ran longer than 2 s (raise --cell-timeout)"]
