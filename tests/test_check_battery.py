"""`kit check --setup/--url`: the probe battery, replayed from the committed recordings of the local setup."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def kit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kit", *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())})


def test_battery_replays_from_recordings_and_judges_each_probe():
    result = kit("check", "--setup", "local", "--json", "--recording-dir", str(ROOT / "recordings"))
    assert result.returncode == 0, result.stdout + result.stderr
    probes = {r["file"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(probes) == {"probe:text", "probe:reasoning", "probe:function_tool", "probe:incomplete"}
    for name in ("probe:text", "probe:reasoning", "probe:function_tool", "probe:incomplete"):
        assert probes[name]["errors"] == 0 and probes[name]["expectation"] is None and probes[name]["events"] > 5
    # the local server sends no usage while streaming: the validator says so, as a warning
    assert [v["rule"] for v in probes["probe:text"]["violations"]] == ["final.usage"]


def test_battery_against_a_server_that_is_not_there_says_so_and_exits_2():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens here
    result = kit("check", "--url", f"http://127.0.0.1:{port}/v1", "--model", "m")
    assert result.returncode == 2
    assert "probe:text: request failed: APIConnectionError" in result.stdout


def test_battery_replay_miss_names_the_record_command(tmp_path):
    result = kit("check", "--setup", "local", "--recording-dir", str(tmp_path))
    assert result.returncode == 2
    assert "ReplayMiss" in result.stdout and "record-if-missing" in result.stdout
