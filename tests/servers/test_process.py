"""The child process every managed server runs as: its log, its stop, its exit code, its end at interpreter exit.

Real processes throughout (small Python scripts standing in for a server).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.servers.process import ChildProcess, busy_message, first_exit

ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return True


def _gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_log_has_the_command_the_notes_and_the_output_and_first_exit_returns_the_code(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "child.log"
    child = ChildProcess([sys.executable, "-c", "print('hello from the child'); raise SystemExit(3)"], log,
                         notes=["upstream http://127.0.0.1:1/v1"]).start()
    assert first_exit([None, child], timeout=30, interval=0.05) == 3
    child.stop()
    lines = child.log_text().splitlines()
    assert lines[0] == f"# kit: {sys.executable} -c print('hello from the child'); raise SystemExit(3)"
    assert lines[1] == "# kit: upstream http://127.0.0.1:1/v1"
    assert lines[2] == "hello from the child"
    assert not child.running


def test_first_exit_returns_none_after_its_timeout_while_the_child_runs(tmp_path: Path) -> None:
    child = ChildProcess([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "c.log").start()
    try:
        assert first_exit([child], timeout=0.3, interval=0.05) is None
        assert child.running
    finally:
        child.stop()
    assert not child.running and child.poll() is not None


def test_stop_kills_a_child_that_ignores_sigterm_and_the_worker_it_left_in_its_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    script = ("import signal, subprocess, sys, time\n"
              "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
              "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(w.pid))\n"
              "time.sleep(300)\n")
    child = ChildProcess([sys.executable, "-c", script], tmp_path / "c.log", stop_timeout=0.5).start()
    deadline = time.monotonic() + 30
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the stand-in never started its worker"
        time.sleep(0.05)
    worker, parent = int(pid_file.read_text()), child.pid
    assert parent is not None
    child.stop()
    child.stop()  # twice is fine
    assert child.poll() == -9  # SIGTERM ignored: SIGKILL after stop_timeout
    assert _gone(parent) and _gone(worker)


def test_a_child_nobody_stopped_is_stopped_when_the_interpreter_exits(tmp_path: Path) -> None:
    """Started from a worker thread, where the parent-death signal is not armed: only the exit hook stops it."""
    code = ("import sys, threading\n"
            "from pathlib import Path\n"
            "from kit.servers.process import ChildProcess\n"
            f"child = ChildProcess([sys.executable, '-c', 'import time; time.sleep(300)'], Path({str(tmp_path / 'c.log')!r}))\n"
            "worker = threading.Thread(target=child.start)\n"
            "worker.start(); worker.join()\n"
            "print(child.pid, flush=True)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert _gone(int(result.stdout.strip()))


def test_a_program_that_does_not_exist_raises_oserror_and_leaves_its_log_closed(tmp_path: Path) -> None:
    child = ChildProcess([str(tmp_path / "no-such-server")], tmp_path / "c.log")
    with pytest.raises(OSError):
        child.start()
    assert not child.running and child.pid is None
    assert "# kit: " in child.log_text()


def test_the_busy_port_message_names_the_port_and_the_way_out() -> None:
    assert busy_message("127.0.0.1", 8321) == (
        "port 8321 on 127.0.0.1 is already in use: stop what listens there (`ss -ltnp 'sport = :8321'` shows it) "
        "or let the kit pick a free port (no --port)")
