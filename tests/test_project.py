"""A project is a folder: how every command and pytest find it, and what its kit-setups.toml may say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.cli import app
from kit.setups.modes import resolve_recording_dir
from kit.setups.project import ProjectError, find_project, notebook_roots, packaged_suites_dir
from kit.setups.registry import load_setups
from kit.suites import discover


def test_the_nearest_folder_with_a_marker_up_from_the_start_is_the_project(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert not find_project(deep).found and find_project(deep).root == deep.resolve()
    (tmp_path / "a" / "findings").mkdir()
    assert find_project(deep).root == (tmp_path / "a").resolve()
    (tmp_path / "a" / "b" / "kit-setups.toml").write_text("")
    assert find_project(deep).root == deep.resolve()
    assert find_project(deep, {"KIT_PROJECT": str(tmp_path)}).root == tmp_path.resolve()


def test_recordings_resolve_to_the_project_from_a_subfolder_and_the_flag_or_variable_wins(tmp_path: Path) -> None:
    (tmp_path / "recordings").mkdir()
    (tmp_path / "sub").mkdir()
    assert resolve_recording_dir(environ={}, cwd=tmp_path / "sub") == tmp_path.resolve() / "recordings"
    assert resolve_recording_dir(environ={"KIT_RECORDING_DIR": "/elsewhere"}, cwd=tmp_path / "sub") == Path("/elsewhere")
    assert resolve_recording_dir("mine", environ={}, cwd=tmp_path) == tmp_path / "mine"


def test_a_projects_own_suites_run_beside_the_packaged_ones_and_may_replace_one(tmp_path: Path) -> None:
    (tmp_path / "kit-setups.toml").write_text('[project]\nnotebooks = ["suites-of-mine"]\n')
    mine = tmp_path / "suites-of-mine"
    (mine / "responses").mkdir(parents=True)
    (mine / "custom").mkdir()
    (mine / "custom" / "mine.ipynb").write_text("{}")
    (mine / "responses" / "basic_streaming.ipynb").write_text("{}")
    roots = notebook_roots(find_project(tmp_path))
    assert roots == (packaged_suites_dir(), mine.resolve())
    found = {ref.id: ref.path for ref in discover(roots)}
    assert found["custom/mine"] == (mine / "custom" / "mine.ipynb").resolve()
    assert found["responses/basic_streaming"] == (mine / "responses" / "basic_streaming.ipynb").resolve()
    assert found["responses/function_tools"].is_relative_to(packaged_suites_dir())  # the packaged ones stay


def test_a_bad_notebooks_list_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "kit-setups.toml").write_text('[project]\nnotebooks = "notebooks"\n')
    with pytest.raises(ProjectError, match="kit-setups.toml: \\[project\\] notebooks must be a list"):
        notebook_roots(find_project(tmp_path))


def test_a_setup_needs_only_its_url_and_model_and_keeps_its_evidence_out_of_the_setup(tmp_path: Path) -> None:
    path = tmp_path / "kit-setups.toml"
    path.write_text('[setups.mine]\nbase_url = "http://127.0.0.1:9/v1"\ntext_model = "m"\ncapabilities = ["tools"]\n'
                    '[setups.mine.evidence]\ntools = "probe function_tool: a call"\n')
    mine = load_setups(path)["mine"]
    assert (mine.base_url, mine.text_model, mine.key_env, mine.capabilities) == ("http://127.0.0.1:9/v1", "m", None,
                                                                                  frozenset({"tools"}))
    path.write_text('[setups.mine]\nbase_url = "http://127.0.0.1:9/v1"\n')
    with pytest.raises(ValueError, match=r"\[setups.mine\] needs text_model .*kit setup add mine --url URL"):
        load_setups(path)
    path.write_text('[setups.mine]\nbase_url = "u"\ntext_model = "m"\ncapabilities = ["tool"]\n')
    with pytest.raises(ValueError, match="unknown capabilities tool; the capabilities are reasoning, refusal"):
        load_setups(path)


def test_kit_init_makes_a_project_and_changes_nothing_the_second_time(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings", "kit-setups.toml", "recordings"]
    assert load_setups(tmp_path / "kit-setups.toml").keys() == load_setups(tmp_path / "absent.toml").keys()
    (tmp_path / "kit-setups.toml").write_text("# mine\n")
    again = CliRunner().invoke(app, ["init"])
    assert again.exit_code == 0 and "already a project; nothing changed" in again.output
    assert (tmp_path / "kit-setups.toml").read_text() == "# mine\n"


def test_kit_setup_add_refuses_what_it_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KIT_PROJECT", raising=False)
    monkeypatch.delenv("MY_KEY", raising=False)
    outside = CliRunner().invoke(app, ["setup", "add", "mine", "--url", "http://127.0.0.1:9/v1", "--model", "m"])
    assert outside.exit_code == 2 and "run `kit init` here first" in outside.output
    (tmp_path / "kit-setups.toml").write_text("")
    for args, said in ((["local"], "'local' is a built-in setup"), (["my server"], "use letters, digits, - and _"),
                       (["mine", "--key-env", "MY_KEY"], "MY_KEY: the variable is not set")):
        result = CliRunner().invoke(app, ["setup", "add", *args, "--url", "http://127.0.0.1:9/v1", "--model", "m"])
        assert result.exit_code == 2 and said in result.output, result.output
    assert (tmp_path / "kit-setups.toml").read_text() == "" and os.listdir(tmp_path) == ["kit-setups.toml"]
