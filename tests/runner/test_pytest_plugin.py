"""The pytest plugin, exercised by running pytest itself on a small project (real kernels for notebooks)."""

from __future__ import annotations

import pytest

from tests.runner.notebooks import FAILING, PASSING, REPLAY_MISS, UNSUPPORTED, write_notebook

pytest_plugins = ["pytester"]

FIXTURE_TEST = '''
from kit.recording import session_of


def test_client(kit_client, kit_setup, kit_parameters):
    session = session_of(kit_client)
    assert session.mode.value == "replay" and session.setup == kit_setup.name
    assert kit_parameters["run"]["setup"] == kit_setup.name
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("KIT_INFERENCE_MODE", "KIT_RECORDING_DIR", "KIT_SETUPS_FILE"):
        monkeypatch.delenv(name, raising=False)
    tmp_path = pytester.path
    write_notebook(tmp_path / "notebooks" / "base" / "passing.ipynb", PASSING)
    write_notebook(tmp_path / "notebooks" / "base" / "replay_miss.ipynb", REPLAY_MISS)
    write_notebook(tmp_path / "notebooks" / "responses" / "failing.ipynb", FAILING)
    write_notebook(tmp_path / "notebooks" / "vision" / "unsupported.ipynb", UNSUPPORTED)
    write_notebook(tmp_path / "notebooks" / "explore.ipynb", ["1"])  # not a matrix notebook
    (tmp_path / "recordings").mkdir()
    (tmp_path / "test_fixture.py").write_text(FIXTURE_TEST)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


class Result:
    """What the inner pytest run printed and returned."""

    def __init__(self, run: pytest.RunResult) -> None:
        self.stdout, self.stderr, self.returncode = run.stdout.str(), run.stderr.str(), run.ret


def pytest_in(project: pytest.Pytester, *args: str) -> Result:
    """pytest on the project, in this process (the kit plugin loads through its entry point as it would)."""
    return Result(project.runpytest("-p", "no:cacheprovider", "--recording-dir", "recordings", *args))


def test_notebook_items_pass_skip_and_fail_in_a_few_lines(project: pytest.Pytester) -> None:
    result = pytest_in(project, "notebooks", "--setup", "gpt", "--kit-workers", "2", "-rs", "-q")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 1 passed, 2 skipped" in out
    failure = out.split("= FAILURES =", 1)[1].split("short test summary", 1)[0]
    assert "notebook responses/failing failed on setup gpt" in failure
    assert 'In [4]: assert streamed[-1] == "response.failed"' in failure
    assert "AssertionError: expected the stream to end with response.failed" in failure
    assert "Traceback" not in failure and "papermill" not in failure.lower() and len(failure.splitlines()) <= 8
    assert ("SKIPPED [1] notebooks/base/replay_miss.ipynb:1: not recorded for setup gpt; record with: "
            "kit run --setup gpt --suite base --pattern replay_miss --inference-mode record-if-missing") in out
    assert ("SKIPPED [1] notebooks/vision/unsupported.ipynb:1: unsupported on setup gpt: setup 'gpt' (gpt-4o) "
            "cannot show this scenario: it lacks reasoning") in out
    assert (project.path / "reports" / "pytest" / "gpt" / "responses" / "failing.ipynb").is_file()


def test_collection_is_notebook_by_setup_with_the_same_selection_as_kit_run(project: pytest.Pytester) -> None:
    recording = project.path / "recordings" / "ollama" / "chat-completions" / "0123456789abcdef.0.json"
    recording.parent.mkdir(parents=True)
    recording.write_text("{}")
    default = pytest_in(project, "notebooks", "--collect-only", "-q")
    assert default.stdout.splitlines()[:4] == [
        "notebooks/base/passing.ipynb::ollama", "notebooks/base/replay_miss.ipynb::ollama",
        "notebooks/responses/failing.ipynb::ollama", "notebooks/vision/unsupported.ipynb::ollama",
    ]  # default: every setup with recordings; explore.ipynb is not collected
    chosen = pytest_in(project, "notebooks", "--collect-only", "-q", "--setup", "gpt,claude", "--suite", "base",
                       "--pattern", "passing")
    assert chosen.stdout.splitlines()[:2] == ["notebooks/base/passing.ipynb::gpt", "notebooks/base/passing.ipynb::claude"]
    assert "2 tests collected" in chosen.stdout


def test_kit_client_runs_once_per_setup(project: pytest.Pytester) -> None:
    result = pytest_in(project, "test_fixture.py", "--setup", "gpt,claude", "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_fixture.py::test_client[gpt] PASSED" in result.stdout
    assert "test_fixture.py::test_client[claude] PASSED" in result.stdout


def test_kit_client_without_a_setup_skips_with_the_reason(project: pytest.Pytester) -> None:
    result = pytest_in(project, "test_fixture.py", "-rs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no setup to run on: pass --setup" in result.stdout


def test_bad_options_are_usage_errors(project: pytest.Pytester) -> None:
    result = pytest_in(project, "notebooks", "--setup", "gpt", "--env", "OPENAI_API_KEY=sk-x")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR, result.stdout + result.stderr
    assert "export OPENAI_API_KEY in the environment" in result.stderr
