"""Runner cost: per notebook, `kit run` (replay) against bare papermill on the same notebooks; the default matrix.

    python benchmarks/bench_runner.py [--repeat 3] [--pattern "responses/[ilm]*"] [--setup local] [--skip-matrix]

Per notebook: the real suite notebooks `--pattern` selects, on the setup given (default `local`), replayed
from the committed recordings. Each is executed by bare `papermill.execute_notebook` (the default python3
kernel, the same `run` parameter and working folder) and by the kit's `run_job` (what `kit run` does per
notebook: the parameter check, its own kernel manager and environment, the typed result read back, the
findings judged, the HTML page), alternating, in this one run; medians, and the ratio of their sums
(the issue's target: <= 1). Matrix: the default selection of `kit run` (every suite on every setup with
recordings, replay), or the setups given, timed with 1 and 2 workers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import papermill

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kit.runner.execute import run_job  # noqa: E402
from kit.runner.matrix import plan, recorded_setups, resolve, run_jobs  # noqa: E402
from kit.setups.options import RunOptions, resolve_recording_dir, resolve_run  # noqa: E402
from kit.setups.registry import load_setups  # noqa: E402
from kit.suites import default_notebooks_dir, discover, select  # noqa: E402


def per_notebook(repeat: int, pattern: str, setup: str) -> float:
    """Median seconds per notebook, bare papermill and kit run_job, on the same real notebooks; the ratio."""
    run = resolve(RunOptions(setup=(setup,), pattern=pattern), environ=os.environ, cwd=ROOT)
    notebooks = select(discover(default_notebooks_dir(ROOT)), (), pattern)
    if not notebooks:
        raise SystemExit(f"no notebook matches {pattern!r}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        folder = Path(tmp)
        jobs = plan(run, notebooks, folder / "kit")
        timings: dict[str, dict[str, list[float]]] = {j.entry.id: {"bare papermill": [], "kit run": []} for j in jobs}

        def bare(job) -> None:  # type: ignore[no-untyped-def]
            ref = job.entry.notebook
            papermill.execute_notebook(str(ref.path), str(folder / f"bare-{ref.name}.ipynb"),
                                       parameters=dict(job.parameters), kernel_name="python3", cwd=str(ref.path.parent),
                                       progress_bar=False, log_output=False)

        def kit_run(job) -> None:  # type: ignore[no-untyped-def]
            outcome = run_job(job, base_env=env)
            assert outcome.status.value in ("passed", "known findings"), (job.entry.id, outcome.status, outcome.message)

        for job in jobs:  # warm-up: imports, templates, the disk cache
            bare(job)
            kit_run(job)
        for n in range(repeat):
            for job in jobs:
                pair = [("bare papermill", bare), ("kit run", kit_run)]
                for name, fn in (pair if n % 2 == 0 else pair[::-1]):  # alternate who goes first
                    started = time.perf_counter()
                    fn(job)
                    timings[job.entry.id][name].append(time.perf_counter() - started)
    print(f"per notebook on {setup}, replay (median of {repeat}, seconds):")
    print(f"  {'notebook':48s} {'bare papermill':>14s} {'kit run':>8s} {'ratio':>6s}")
    totals = {"bare papermill": 0.0, "kit run": 0.0}
    for entry, values in timings.items():
        medians = {name: statistics.median(v) for name, v in values.items()}
        for name in totals:
            totals[name] += medians[name]
        print(f"  {entry:48s} {medians['bare papermill']:14.2f} {medians['kit run']:8.2f} "
              f"{medians['kit run'] / medians['bare papermill']:5.2f}x")
    ratio = totals["kit run"] / totals["bare papermill"]
    print(f"  {'all (sum of medians)':48s} {totals['bare papermill']:14.2f} {totals['kit run']:8.2f} {ratio:5.2f}x")
    return ratio


def matrix(setups: list[str]) -> None:
    cwd = ROOT
    options = RunOptions(setup=tuple(setups))
    recording_dir = resolve_recording_dir(options, os.environ, cwd)
    run = resolve_run(options, known=load_setups(), recorded=recorded_setups(recording_dir), environ=os.environ, cwd=cwd)
    notebooks = select(discover(default_notebooks_dir(cwd)))
    if not run.setups or not notebooks:
        print(f"default matrix: empty ({len(notebooks)} notebook(s), setups with recordings in {recording_dir}: "
              f"{', '.join(s.name for s in run.setups) or 'none'}); pass --setup to time one anyway")
        return
    print(f"default matrix: {len(notebooks)} notebook(s) x {len(run.setups)} setup(s) "
          f"({', '.join(s.name for s in run.setups)}), {run.mode.value}")
    walls = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory(prefix="kit-bench-") as out:
            jobs = plan(run, notebooks, Path(out))
            started = time.perf_counter()
            outcomes = run_jobs(jobs, workers=workers)
            walls[workers] = time.perf_counter() - started
            counts = {s: sum(o.status.value == s for o in outcomes) for s in ("passed", "failed", "not recorded", "unsupported")}
        print(f"  workers={workers}: {walls[workers]:6.1f} s wall, {walls[workers] / len(jobs):5.2f} s per notebook  {counts}")
    print(f"  speed-up with 2 workers: {walls[1] / walls[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pattern", default="responses/[ilm]*",
                        help="Notebooks timed per notebook, all runnable on the setup (default: responses/[ilm]*: "
                             "instructions, logprobs, mcp_tools, multi_turn_input; responses/s* now holds stored_responses, "
                             "which stops as unsupported on local).")
    parser.add_argument("--setup", action="append", default=[], help="Setup(s); the first is timed per notebook.")
    parser.add_argument("--skip-matrix", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, papermill {papermill.__version__}, {os.cpu_count()} CPU(s)")
    per_notebook(args.repeat, args.pattern, (args.setup or ["local"])[0])
    if not args.skip_matrix:
        matrix(args.setup)


if __name__ == "__main__":
    main()
