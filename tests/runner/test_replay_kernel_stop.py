"""A replaying kernel is stopped at once when its notebook is done (no shutdown request waited for): what it
used of the recordings is saved after each cell, so `kit recordings prune` still knows, and its log holds no
KeyboardInterrupt from the way out. A real suite notebook over a copy of the committed recordings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from kit.recording.store import RecordingStore
from kit.runner.matrix import plan, run_jobs
from kit.runner.outcome import Status
from kit.setups.options import RunOptions, resolve_run
from kit.setups.registry import BUILTIN_SETUPS
from kit.suites import default_notebooks_dir, discover, select

ROOT = Path(__file__).resolve().parents[2]


def test_a_replayed_notebook_saves_its_recordings_usage_and_leaves_no_kernel_log(tmp_path: Path) -> None:
    recordings = tmp_path / "recordings"
    shutil.copytree(ROOT / "recordings" / "local", recordings / "local")
    store = RecordingStore(recordings)
    before = set(store.index().unused())
    assert before, "a fresh copy: nothing used yet"
    run = resolve_run(RunOptions(setup=("local",), recording_dir=recordings), known=BUILTIN_SETUPS,
                      recorded=["local"], environ={}, cwd=tmp_path)
    notebooks = select(discover(default_notebooks_dir(ROOT)), (), "responses/sampling_and_limits")
    jobs = plan(run, notebooks, tmp_path / "out")
    assert [j.replaying for j in jobs] == [True]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    [outcome] = run_jobs(jobs, workers=1, base_env=env)
    assert outcome.status is Status.PASSED, outcome.message
    used = before - set(store.index().unused())
    assert len(used) == 1 and all(u.startswith("local/chat-completions/") for u in used)
    assert not jobs[0].kernel_log_path.exists()
