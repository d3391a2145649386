"""Live: `kit run` records a notebook against the managed llama.cpp server, then replays it with no server."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.cli import app
from tests.runner.notebooks import write_notebook

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed (the `local` extra)"),
]

ONE_CHAT = ['import kit.notebook as nb',
            'scenario = nb.start(run)  # the run context: setup, mode, the managed server\'s URL, the recordings\n'
            'chunks = list(scenario.client.chat.completions.create(model=scenario.text_model, stream=True, max_tokens=8,\n'
            '              temperature=0, messages=[{"role": "user", "content": "Say hi."}]))',
            'assert chunks and chunks[-1].choices[0].finish_reason, "the stream did not finish"']


def test_record_with_the_managed_server_then_replay_by_default(tmp_path: Path) -> None:
    write_notebook(tmp_path / "notebooks" / "base" / "one_chat.ipynb", ONE_CHAT)
    common = ["run", "--notebooks", str(tmp_path / "notebooks"), "--recording-dir", str(tmp_path / "rec")]
    recorded = CliRunner().invoke(app, [*common, "--stack-config", "server:local", "--inference-mode",
                                        "record-if-missing", "--out", str(tmp_path / "out1")])
    assert recorded.exit_code == 0, recorded.output
    assert "1 passed" in recorded.output
    assert any((tmp_path / "rec" / "local").rglob("*.json"))

    replayed = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "out2")])  # default: setups with recordings
    assert replayed.exit_code == 0, replayed.output
    assert "base/one_chat" in replayed.output and "1 passed" in replayed.output
