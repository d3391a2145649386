"""Runner cost: the default matrix with 1 and 2 workers, and one notebook against bare papermill.

    python benchmarks/bench_runner.py [--repeat 5] [--setup gpt ...] [--skip-matrix]

Per-notebook cost: the same empty notebook (only the contract's `parameters`
cell) executed by bare `papermill.execute_notebook` and by the kit's
`run_job` (parameter check, own kernel environment, summary file, HTML page),
alternating, in this run; prints medians and the ratio (target <= 1.3x).
Matrix: the default selection of `kit run` (every suite on every setup with
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

import nbformat
import papermill
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kit.runner.execute import Job, run_job  # noqa: E402
from kit.runner.matrix import plan, recorded_setups, run_jobs  # noqa: E402
from kit.setups.options import NOTEBOOK_PARAMETERS, RunOptions, resolve_recording_dir, resolve_run  # noqa: E402
from kit.setups.registry import load_setups  # noqa: E402
from kit.suites import MatrixEntry, NotebookRef, default_notebooks_dir, discover, select  # noqa: E402

PARAMETERS_CELL = "\n".join(f"{name} = None" for name in NOTEBOOK_PARAMETERS)


def _empty_notebook(folder: Path) -> Path:
    nb = new_notebook(cells=[new_code_cell(PARAMETERS_CELL, metadata={"tags": ["parameters"]})])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "notebooks" / "bench" / "empty.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, path)
    return path


def per_notebook(repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="kit-bench-") as tmp:
        folder = Path(tmp)
        path = _empty_notebook(folder)
        params = {name: None for name in NOTEBOOK_PARAMETERS} | {"setup": "gpt", "inference_mode": "replay", "env": {}}
        job = Job(entry=MatrixEntry(NotebookRef("bench", "empty", path), "gpt"), parameters=params, replaying=True,
                  out_dir=folder / "out")
        job_no_html = Job(entry=job.entry, parameters=params, replaying=True, out_dir=folder / "out2", render_html=False)
        timings: dict[str, list[float]] = {"bare papermill": [], "kit run_job": [], "kit run_job, no HTML": []}

        def bare() -> None:
            papermill.execute_notebook(str(path), str(folder / "bare.ipynb"), parameters=params, kernel_name="python3",
                                       progress_bar=False, log_output=False)

        def kit_job() -> None:
            assert run_job(job).status.value == "passed"

        def kit_job_no_html() -> None:
            assert run_job(job_no_html).status.value == "passed"

        runs = {"bare papermill": bare, "kit run_job": kit_job, "kit run_job, no HTML": kit_job_no_html}
        for fn in runs.values():  # warm-up: imports, template loading
            fn()
        for _ in range(repeat):
            for name, fn in runs.items():
                started = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - started)
        base = statistics.median(timings["bare papermill"])
        print(f"per notebook (empty notebook, median of {repeat}):")
        for name, values in timings.items():
            median = statistics.median(values)
            print(f"  {name:22s} {median:6.2f} s   {median / base:4.2f}x bare papermill")


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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--setup", action="append", default=[])
    parser.add_argument("--skip-matrix", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, papermill {papermill.__version__}, {os.cpu_count()} CPU(s)")
    per_notebook(args.repeat)
    if not args.skip_matrix:
        matrix(args.setup)


if __name__ == "__main__":
    main()
