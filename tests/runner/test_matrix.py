"""Suites, selection, the matrix, shards and job planning (no kernels)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.runner.matrix import Shard, parse_shard, plan, recorded_setups, shard
from kit.setups.options import OptionError, RunOptions, resolve_run
from kit.setups.registry import BUILTIN_SETUPS
from kit.suites import NotebookRef, SuiteError, discover, is_matrix_notebook, matches, matrix, select


def _touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    return path


@pytest.fixture
def notebooks(tmp_path: Path) -> Path:
    root = tmp_path / "notebooks"
    for rel in ("base/chat_stream.ipynb", "base/embeddings.ipynb", "responses/basic_stream.ipynb",
                "responses/function_tools.ipynb", "vision/image_input.ipynb",
                # not part of the matrix:
                "explore.ipynb", "inspect_capture.ipynb", "base/.ipynb_checkpoints/chat_stream-checkpoint.ipynb",
                ".ipynb_checkpoints/explore-checkpoint.ipynb", "base/notes.md"):
        _touch(root / rel)
    return root


def test_discover_finds_suite_notebooks_only(notebooks: Path) -> None:
    found = [n.id for n in discover(notebooks)]
    assert found == ["base/chat_stream", "base/embeddings", "responses/basic_stream", "responses/function_tools",
                     "vision/image_input"]


def test_is_matrix_notebook_by_place(notebooks: Path) -> None:
    assert is_matrix_notebook(notebooks / "base" / "chat_stream.ipynb", notebooks)
    assert not is_matrix_notebook(notebooks / "explore.ipynb", notebooks)
    assert not is_matrix_notebook(notebooks / "base" / ".ipynb_checkpoints" / "chat_stream-checkpoint.ipynb", notebooks)
    assert not is_matrix_notebook(notebooks / "base" / "chat_stream.ipynb", [notebooks.parent / "elsewhere"])


def test_discover_without_a_folder_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="pass --notebooks DIR"):
        discover(tmp_path / "missing")


def test_select_by_suite_and_pattern(notebooks: Path) -> None:
    found = discover(notebooks)
    assert [n.id for n in select(found, ["vision", "base"])] == ["base/chat_stream", "base/embeddings", "vision/image_input"]
    assert [n.id for n in select(found, [], "*stream")] == ["base/chat_stream", "responses/basic_stream"]
    assert [n.id for n in select(found, [], "responses/*")] == ["responses/basic_stream", "responses/function_tools"]
    assert [n.id for n in select(found, ["responses"], "tool")] == ["responses/function_tools"]  # substring


def test_unknown_suite_lists_the_suites_that_exist(notebooks: Path) -> None:
    with pytest.raises(SuiteError, match="unknown suite\\(s\\) audio; suites with notebooks: base, responses, vision"):
        select(discover(notebooks), ["audio"])


def test_a_pattern_that_matches_nothing_is_an_error(notebooks: Path) -> None:
    with pytest.raises(SuiteError, match="no notebook matches --pattern 'zzz'"):
        select(discover(notebooks), [], "zzz")


def test_exact_name_pattern_as_in_the_record_command() -> None:
    ref = NotebookRef("responses", "refusal", Path("x"))
    assert matches(ref, "refusal") and matches(ref, "responses/refusal") and not matches(ref, "chat")


def test_a_pattern_naming_a_notebook_selects_only_it(tmp_path: Path) -> None:
    found = [NotebookRef("base", "chat_stream", tmp_path), NotebookRef("base", "chat_stream_reasoning", tmp_path)]
    assert [n.name for n in select(found, [], "chat_stream")] == ["chat_stream"]
    assert [n.name for n in select(found, [], "chat")] == ["chat_stream", "chat_stream_reasoning"]


def test_matrix_is_every_notebook_on_every_setup_in_a_stable_order(notebooks: Path) -> None:
    entries = matrix(reversed(discover(notebooks)), ["vllm", "gpt"])
    assert len(entries) == 10
    assert [e.id for e in entries[:3]] == ["base/chat_stream[gpt]", "base/chat_stream[vllm]", "base/embeddings[gpt]"]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_shards_are_disjoint_and_cover_the_matrix(count: int) -> None:
    jobs = list(range(10))
    slices = [shard(jobs, Shard(i, count)) for i in range(1, count + 1)]  # type: ignore[arg-type]
    assert sorted(j for s in slices for j in s) == jobs
    assert max(map(len, slices)) - min(map(len, slices)) <= 1


@pytest.mark.parametrize("value", ["0/2", "3/2", "2", "a/b", "1/0"])
def test_bad_shards_say_the_format(value: str) -> None:
    with pytest.raises(OptionError, match="expected I/N with 1 <= I <= N"):
        parse_shard(value)


def test_parse_shard() -> None:
    assert parse_shard("2/3") == Shard(2, 3) and parse_shard(None) is None


def test_recorded_setups_are_folders_holding_recordings(tmp_path: Path) -> None:
    _touch(tmp_path / "gpt" / "responses" / "abc.0.json")
    _touch(tmp_path / "ollama" / "chat-completions" / "def.0.json")
    (tmp_path / "claude").mkdir()  # empty: nothing recorded
    _touch(tmp_path / ".index.sqlite")
    assert recorded_setups(tmp_path) == ["gpt", "ollama"]
    assert recorded_setups(tmp_path / "absent") == []


def test_plan_gives_each_job_its_setup_parameters_and_files(notebooks: Path, tmp_path: Path) -> None:
    run = resolve_run(RunOptions(setup=("gpt", "ollama"), env=("LOG=1",)), known=BUILTIN_SETUPS, recorded=[],
                      environ={}, cwd=tmp_path)
    jobs = plan(run, select(discover(notebooks), ["vision"]), tmp_path / "out")
    assert [(j.entry.setup, j.context.text_model) for j in jobs] == [("gpt", "gpt-4o"),
                                                                         ("ollama", "llama3.2:3b-instruct-fp16")]
    assert all(j.replaying and j.env == {"LOG": "1"} for j in jobs)
    assert jobs[0].executed_path == tmp_path / "out" / "gpt" / "vision" / "image_input.ipynb"
    assert jobs[0].executed_path != jobs[1].executed_path  # each execution its own notebook (and so its result)
