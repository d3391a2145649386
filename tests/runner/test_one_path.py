"""`kit run`, the pytest plugin and `kit.notebook.start` resolve the same way: one rule each, checked here."""

from __future__ import annotations

from pathlib import Path

import pytest

import kit.notebook as nb
from kit.setups.modes import InferenceMode, resolve_mode
from kit.setups.modes import resolve_recording_dir as modes_recording_dir
from kit.runner.matrix import job_for
from kit.setups.options import OptionError, RunOptions, parse_mode, resolve_recording_dir, resolve_run
from kit.setups.registry import BUILTIN_SETUPS
from kit.suites import MatrixEntry, NotebookRef

CWD = Path("/project")


@pytest.mark.parametrize("given", [
    {},
    {"text_model": "my-model", "embedding_dimension": 256},
    {"vision_model": "", "embedding_model": "e5"},  # "" is "not given", as an unset flag
])
def test_start_fills_models_as_kit_run_does(given: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_INFERENCE_MODE", raising=False)
    run = resolve_run(RunOptions(setup=("ollama",), **given), known=BUILTIN_SETUPS, recorded=[], environ={}, cwd=CWD)
    parameters = run.parameters(run.setups[0])["run"]
    scenario = nb.start("ollama", **given)
    for name in ("text_model", "vision_model", "embedding_model", "embedding_dimension"):
        assert getattr(scenario, name) == parameters[name], name


def test_one_mode_resolution_with_the_same_message() -> None:
    env = {"KIT_INFERENCE_MODE": "record"}
    assert parse_mode("live", env) is resolve_mode(flag="live", environ=env) is InferenceMode.LIVE
    assert parse_mode(None, env) is resolve_mode(environ=env) is InferenceMode.RECORD
    with pytest.raises(ValueError) as plain:
        resolve_mode(environ={"KIT_INFERENCE_MODE": "fast"})
    with pytest.raises(OptionError) as option:
        parse_mode(None, {"KIT_INFERENCE_MODE": "fast"})
    assert str(plain.value) == str(option.value)
    assert "KIT_INFERENCE_MODE 'fast'" in str(plain.value) and "record-if-missing" in str(plain.value)


def test_one_recording_dir_resolution() -> None:
    env = {"KIT_RECORDING_DIR": "rec-env"}
    assert resolve_recording_dir(RunOptions(), env, CWD) == modes_recording_dir(environ=env, cwd=CWD) == CWD / "rec-env"
    assert (resolve_recording_dir(RunOptions(recording_dir=Path("r")), env, CWD)
            == modes_recording_dir(flag=Path("r"), environ=env, cwd=CWD) == CWD / "r")
    assert modes_recording_dir("explicit", "flag", environ=env) == Path("explicit")


def test_a_job_for_a_setup_outside_the_run_is_refused(tmp_path: Path) -> None:
    run = resolve_run(RunOptions(setup=("gpt",)), known=BUILTIN_SETUPS, recorded=[], environ={}, cwd=CWD)
    entry = MatrixEntry(NotebookRef("base", "x", tmp_path / "x.ipynb"), "vllm")
    with pytest.raises(OptionError, match="setup 'vllm' is not one of this run's setups \\(gpt\\)"):
        job_for(run, entry, tmp_path)
    job = job_for(run, MatrixEntry(entry.notebook, "gpt"), tmp_path)
    assert job.context.setup == "gpt" and job.replaying and job.stem == tmp_path / "gpt" / "base" / "x"


def test_a_compare_notebook_runs_once_on_the_first_setup_others_on_each(tmp_path: Path) -> None:
    from kit.suites import matrix, setups_for

    compare = NotebookRef("compare", "bridges", tmp_path / "compare" / "bridges.ipynb")
    basic = NotebookRef("responses", "basic_streaming", tmp_path / "responses" / "basic_streaming.ipynb")
    assert setups_for(compare, ["local", "litellm"]) == ("local",)
    assert setups_for(basic, ["local", "litellm"]) == ("local", "litellm")
    assert [e.id for e in matrix([basic, compare], ["local", "litellm"])] == [
        "compare/bridges[local]", "responses/basic_streaming[litellm]", "responses/basic_streaming[local]"]
