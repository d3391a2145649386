"""`kit run` end to end on small real notebooks, and `kit lab`'s kernel."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.cli import app
from tests.runner.notebooks import FAILING, PASSING, REPLAY_MISS, write_notebook

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_notebook(tmp_path / "notebooks" / "base" / "passing.ipynb", PASSING)
    write_notebook(tmp_path / "notebooks" / "base" / "replay_miss.ipynb", REPLAY_MISS)
    write_notebook(tmp_path / "notebooks" / "responses" / "failing.ipynb", FAILING)
    (tmp_path / "recordings").mkdir()
    return tmp_path


def _kit_run(project: Path, *args: str):
    return runner.invoke(app, ["run", "--notebooks", str(project / "notebooks"), "--recording-dir",
                               str(project / "recordings"), "--out", str(project / "reports"), *args])


def test_kit_run_executes_the_matrix_writes_the_report_and_fails_on_a_failure(project: Path) -> None:
    result = _kit_run(project, "--setup", "gpt", "--workers", "2")
    assert result.exit_code == 1, result.output
    out = result.output
    assert "1 passed, 1 failed, 1 not recorded, 0 unsupported" in out
    assert "FAILED responses/failing[gpt]" in out
    assert "AssertionError: expected the stream to end with response.failed" in out
    # the record command stays on one line, ready to paste
    assert "  kit run --setup gpt --suite base --pattern replay_miss --inference-mode record-if-missing\n" in out
    assert "Traceback" not in out and "papermill" not in out.lower()
    reports = project / "reports"
    index = (reports / "index.html").read_text()
    for name in ("passing", "replay_miss", "failing"):
        suite = "responses" if name == "failing" else "base"
        assert (reports / "gpt" / suite / f"{name}.ipynb").is_file()
        assert (reports / "gpt" / suite / f"{name}.html").is_file()
        assert f'href="gpt/{suite}/{name}.html"' in index
    statuses = {o["name"]: o["status"] for o in json.loads((reports / "results.json").read_text())["outcomes"]}
    assert statuses == {"passing": "passed", "replay_miss": "not recorded", "failing": "failed"}


def test_kit_run_shards_split_the_matrix(project: Path) -> None:
    result = _kit_run(project, "--setup", "gpt", "--pattern", "passing", "--shard", "2/2")
    assert result.exit_code == 0, result.output
    assert "0 passed, 0 failed, 0 not recorded, 0 unsupported" in result.output  # one job, and it is in shard 1


def test_kit_run_with_nothing_recorded_says_how_to_record(project: Path) -> None:
    result = _kit_run(project)
    assert result.exit_code == 0
    assert "no setup has recordings" in result.output and "--inference-mode record-if-missing" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--setup", "gpt", "--env", "OPENAI_API_KEY=sk-x"], "export OPENAI_API_KEY in the environment"),
    (["--setup", "gpt", "--shard", "3/2"], "expected I/N"),
    (["--setup", "gpt", "--suite", "audio"], "unknown suite(s) audio"),
    (["--setup", "nope"], "unknown setup(s) nope"),
    (["--setup", "gpt", "--stack-config", "server:gpt"], "does not manage a server for setup 'gpt'"),
])
def test_kit_run_refuses_bad_options_with_exit_2(project: Path, args: list[str], message: str) -> None:
    result = _kit_run(project, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_kit_lab_kernel_is_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jupyter_client.kernelspec import KernelSpecManager

    from kit.cli.run import _kit_kernelspec_root

    root = _kit_kernelspec_root()
    monkeypatch.setenv("JUPYTER_PATH", str(root))
    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable and spec.resource_dir == str(root / "kernels" / "python3")
