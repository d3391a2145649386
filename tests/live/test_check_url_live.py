"""`kit check --url` against the kit's own llama.cpp server, whose model (SmolLM2-135M) does not reason.

A capability the server lacks is "unsupported", not a failure: the battery exits 0, and its text and --json
say the same thing about every probe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.servers import LocalServer

pytestmark = pytest.mark.live


def _check(server: LocalServer, cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    return subprocess.run([sys.executable, "-m", "kit", "check", "--url", server.base_url, "--model",
                           server.model_alias, "--bridge", *extra], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def test_a_model_that_does_not_reason_is_unsupported_not_a_failure_in_text_and_json(local_server: LocalServer,
                                                                                      tmp_path: Path) -> None:
    text = _check(local_server, tmp_path)
    assert text.returncode == 0, text.stdout + text.stderr
    verdicts = {line.split(":")[1]: line.split(":")[2].strip() for line in text.stdout.splitlines()
                if line.startswith("probe:")}
    assert verdicts["reasoning"] == "unsupported", text.stdout
    assert "[unsupported] reasoning: expected reasoning text or a summary, got neither" in text.stdout
    assert "FAIL" not in text.stdout

    as_json = _check(local_server, tmp_path, "--json")
    assert as_json.returncode == text.returncode == 0, as_json.stdout + as_json.stderr
    records = {r["file"].split(":")[1]: r for r in map(json.loads, as_json.stdout.splitlines())}
    assert records["reasoning"]["verdict"] == "unsupported" and records["reasoning"]["expectation"] is None
    assert records["reasoning"]["unsupported"].startswith("reasoning: ")
    assert {name: r["verdict"] for name, r in records.items()} == verdicts  # text and --json agree, probe by probe
    assert not list(tmp_path.iterdir())  # live: nothing recorded
