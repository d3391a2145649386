"""An interrupted `kit run` stops its running notebooks, says so on its index page and leaves no kernel folder
behind; a rerun into an old report folder keeps no stale page."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.runner.matrix import clear_previous_report
from tests.runner.notebooks import PASSING, write_notebook

ROOT = Path(__file__).resolve().parents[2]
SLOW = ['import time\ntime.sleep(300)']  # far beyond the test's patience: the run must stop them, not wait


def _kernel_folders(tmp: Path) -> list[Path]:
    return sorted(tmp.glob("kit-kernel-*"))


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_run_is_marked_partial_and_removes_its_kernel_folders(tmp_path: Path, signum: int) -> None:
    for name in ("a", "b", "c", "d"):
        write_notebook(tmp_path / "notebooks" / "base" / f"slow_{name}.ipynb", SLOW)
    (tmp_path / "recordings").mkdir()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    out = tmp_path / "reports"
    env = {**os.environ, "TMPDIR": str(scratch), "PYTHONPATH": str(ROOT)}
    run = subprocess.Popen([sys.executable, "-m", "kit", "run", "--notebooks", str(tmp_path / "notebooks"),
                            "--recording-dir", str(tmp_path / "recordings"), "--out", str(out), "--setup", "gpt",
                            "--workers", "2"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    try:
        deadline = time.monotonic() + 60
        while len(_kernel_folders(scratch)) < 2 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.05)
        assert len(_kernel_folders(scratch)) == 2, "two kernels never started"
        run.send_signal(signum)  # to kit run alone, as a service manager does (not to its kernels)
        _, err = run.communicate(timeout=60)  # the running cells are interrupted, not waited for
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "Partial report" in index and "did not run" in index
    assert json.loads((out / "results.json").read_text())["meta"]["partial"].startswith("interrupted after")
    assert "partial report" in err
    assert _kernel_folders(scratch) == []


def test_a_rerun_clears_the_pages_of_the_previous_report_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    page = out / "gpt" / "base" / "gone.html"
    executed = out / "gpt" / "base" / "gone.ipynb"
    mine = out / "notes.txt"
    page.parent.mkdir(parents=True)
    for path in (page, executed, mine, out / "index.html"):
        path.write_text("old")
    (out / "results.json").write_text(json.dumps({"meta": {}, "outcomes": [
        {"executed": str(executed), "page": str(page)}, {"executed": "/etc/passwd", "page": None}]}))
    removed = clear_previous_report(out)
    assert sorted(removed) == sorted([out / "index.html", out / "results.json", executed, page])
    assert mine.is_file() and Path("/etc/passwd").is_file()
    write_notebook(tmp_path / "notebooks" / "base" / "passing.ipynb", PASSING)
    (tmp_path / "recordings").mkdir()
    (out / "index.html").write_text("stale")
    done = subprocess.run([sys.executable, "-m", "kit", "run", "--notebooks", str(tmp_path / "notebooks"),
                           "--recording-dir", str(tmp_path / "recordings"), "--out", str(out), "--setup", "gpt"],
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    index = (out / "index.html").read_text()
    assert "stale" not in index and 'href="gpt/base/passing.html"' in index and "gone" not in index
