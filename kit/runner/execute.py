"""Execute one notebook × setup with papermill and say how it went.

The notebook gets one thing, its run context, as the parameter `run`
(`kit.setups.context.RunContext`), and hands back one thing, its typed result,
as an output of the executed notebook (`kit.summary.read_result`). The kernel's
environment is the caller's (the face passes it) plus the user's `--env` and,
in a source checkout, PYTHONPATH: no kit setting travels through it. Each
execution has its own working directory and, on POSIX, IPC sockets instead of
TCP ports: parallel executions in threads or in pytest-xdist workers cannot
clash on ports. The kernel always runs this interpreter, so `import kit` in a
notebook imports this kit.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager

from kit.findings import Baseline, findings_dir, load_baseline
from kit.runner.outcome import CellError, Outcome, Status, classify, judge_findings, short
from kit.setups.context import RUN_PARAMETER, KnownFinding, RunContext
from kit.summary import RunResult, read_result
from kit.suites import MatrixEntry

KERNEL_NAME = "python3"
DEFAULT_CELL_TIMEOUT = 600.0
DEFAULT_START_TIMEOUT = 60.0
_TIMEOUT_PREVIEW = re.compile(r"preview of the cell contents:\s*\n-+\n(?P<source>.*?)\n-+", re.DOTALL)


class NotebookContractError(ValueError):
    """The notebook's `parameters` cell does not define what the runner passes."""


@dataclass(frozen=True)
class Job:
    """One execution: a matrix entry, its parameters, and where its files go."""

    entry: MatrixEntry
    parameters: Mapping[str, Any]  # {"run": the run context} (`RunContext.to_parameters`)
    replaying: bool
    out_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # the user's --env, added to the kernel's environment
    cell_timeout: float | None = DEFAULT_CELL_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    render_html: bool = True

    @property
    def stem(self) -> Path:
        n = self.entry.notebook
        return self.out_dir / self.entry.setup / n.suite / n.name

    @property
    def executed_path(self) -> Path:
        return self.stem.with_suffix(".ipynb")

    @property
    def page_path(self) -> Path:
        return self.stem.with_suffix(".html")

    @property
    def context(self) -> RunContext:
        return RunContext.from_parameters(self.parameters.get(RUN_PARAMETER))

    @property
    def kernel_log_path(self) -> Path:
        return self.stem.with_suffix(".kernel.log")


def declared_parameters(nb: nbformat.NotebookNode, source: Path | str = "notebook") -> set[str]:
    """Names assigned in the cell tagged `parameters` (papermill's own parser)."""
    from papermill.translators import papermill_translators

    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if not cells:
        raise NotebookContractError(f"{source}: no cell is tagged `parameters`; tag the cell that defines the "
                                    f"parameters (View > Cell toolbar > Tags in Jupyter)")
    if len(cells) > 1:
        raise NotebookContractError(f"{source}: {len(cells)} cells are tagged `parameters`; keep one")
    kernelspec = nb.metadata.get("kernelspec", {})
    translator = papermill_translators.find_translator(kernelspec.get("name", KERNEL_NAME),
                                                       kernelspec.get("language", "python"))
    return {p.name for p in translator.inspect(cells[0])}


def check_parameters(declared: set[str], given: Mapping[str, Any], source: Path | str = "notebook") -> None:
    """Refuse parameters the notebook does not define (papermill would only warn and inject them anyway)."""
    unknown = sorted(set(given) - declared)
    if unknown:
        raise NotebookContractError(
            f"{source}: unknown parameter(s) {', '.join(unknown)}: the `parameters` cell defines "
            f"{', '.join(sorted(declared)) or 'nothing'}; add them to that cell with a default"
        )


class KitKernelManager(AsyncKernelManager):
    """A kernel manager that runs this interpreter with a given environment and working directory.

    nbclient builds and owns it (so it also shuts the kernel down); `for_job`
    makes the subclass that carries one execution's settings.
    """

    kit_env: dict[str, str] = {}
    kit_cwd: str | None = None
    kit_runtime: str | None = None  # folder for the IPC sockets and the connection file
    kit_log: str | None = None  # the kernel process's own stdout/stderr (its log lines, crashes)
    kit_stop_at_once: bool = False  # stopped without a shutdown request once the notebook is done (replay)

    @classmethod
    def for_job(cls, env: Mapping[str, str], cwd: Path, runtime: Path, log: Path | None = None, *,
                stop_at_once: bool = False) -> type[KitKernelManager]:
        return type("KitJobKernelManager", (cls,), {"kit_env": dict(env), "kit_cwd": str(cwd), "kit_runtime": str(runtime),
                                                    "kit_log": str(log) if log else None,
                                                    "kit_stop_at_once": stop_at_once})

    def __init__(self, **kwargs: Any) -> None:
        if os.name == "posix" and self.kit_runtime:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(Path(self.kit_runtime) / "k"))
            kwargs.setdefault("connection_file", str(Path(self.kit_runtime) / "kernel.json"))
        super().__init__(**kwargs)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        cmd = super().format_kernel_cmd(extra_arguments)
        if "ipykernel_launcher" in cmd:  # the python kernel: run it with the interpreter that runs the kit
            cmd[0] = sys.executable
        return cmd

    async def _async_start_kernel(self, **kw: Any) -> None:
        if _STOPPING.is_set():
            raise RunStopped("the run was stopped (SIGINT/SIGTERM) before this notebook's kernel started")
        if self.kit_env:
            kw["env"] = dict(self.kit_env)
        if self.kit_cwd:
            kw["cwd"] = self.kit_cwd
        if not self.kit_log:
            await super()._async_start_kernel(**kw)
            return
        with open(self.kit_log, "ab") as log:  # the child keeps its own copy of the descriptor
            kw["stdout"] = kw["stderr"] = log
            await super()._async_start_kernel(**kw)

        with _RUNNING_LOCK:  # a stop from here on signals it; one before runs no cell in it (_stop_before_cell)
            _RUNNING.add(self)

    start_kernel = _async_start_kernel  # type: ignore[assignment]

    async def _async_interrupt_kernel(self) -> None:
        if getattr(self, "shutting_down", False) and self.kit_stop_at_once:
            return  # the notebook is done: no KeyboardInterrupt in the kernel's log on the way out
        await super()._async_interrupt_kernel()


_RUNNING: weakref.WeakSet[KitKernelManager] = weakref.WeakSet()  # started by this process, in any job thread
_RUNNING_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by interrupt_running_kernels: no kernel starts and no cell runs after it


def interrupt_running_kernels() -> int:
    """Send SIGINT to every kernel this process started that still runs; how many were signalled.

    A stopped run (Ctrl-C, SIGTERM) does not start new notebooks, but the ones running would otherwise go on
    until their cells end (up to --cell-timeout): the process waits for its job threads before it exits. The
    interrupted cell fails with KeyboardInterrupt, as in Jupyter's own interrupt; a recording being written is
    left marked interrupted, as after Ctrl-C in the notebook."""
    with _RUNNING_LOCK:
        _STOPPING.set()
        managers = list(_RUNNING)
    return sum(_interrupt(manager) for manager in managers)


class RunStopped(Exception):
    """Raised before a cell would run in a stopped run: the notebook ends there."""


def _stop_before_cell(**_: Any) -> None:
    """nbclient's `on_cell_execute` hook: a stopped run runs no further cell (an interrupt that reached the
    kernel between two cells would otherwise be lost)."""
    if _STOPPING.is_set():
        raise RunStopped("the run was stopped (SIGINT/SIGTERM) before this cell")


def allow_kernels() -> None:
    """A new run may start kernels again (after an earlier run in this process was stopped)."""
    _STOPPING.clear()


def _interrupt(manager: KitKernelManager) -> bool:
    process = getattr(getattr(manager, "provisioner", None), "process", None)  # a Popen, while it runs
    if process is None or process.poll() is not None:
        return False  # shut down, or exited: Popen.poll also keeps a reused pid from being signalled
    try:
        process.send_signal(signal.SIGINT)
    except OSError:
        return False
    return True


def kernel_environment(job: Job, base: Mapping[str, str]) -> dict[str, str]:
    """The kernel's environment: the caller's, the user's `--env`, and PYTHONPATH in a source checkout."""
    env = dict(base)
    env.update(job.env)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():  # a source checkout: importable even when not installed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH", "")) if p)
    return env


def baseline_of(job: Job) -> Baseline:
    """The setup's known findings: the context's folder, else the project's `findings/` found from the notebook."""
    folder = job.context.findings_dir
    return load_baseline(job.entry.setup, findings_dir(folder, start=job.entry.notebook.path.parent))


def parameters_of(job: Job, baseline: Baseline | None) -> dict[str, Any]:
    """The job's context, told which notebook it runs and which known findings it may show."""
    from dataclasses import replace

    findings = tuple(KnownFinding(f.rule, f.line()) for f in baseline.for_notebook(job.entry.notebook.id)) if baseline else ()
    return replace(job.context, notebook=job.entry.notebook.id, findings=findings).to_parameters()


def _cell_error(exc: BaseException, timeout: float | None) -> CellError:
    """The few facts of an execution error, whatever layer raised it."""
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        return CellError(exc.ename, exc.evalue, exc.source or "", exc.exec_count)
    if isinstance(exc, CellTimeoutError):
        match = _TIMEOUT_PREVIEW.search(str(exc))
        return CellError("CellTimeoutError", f"the cell ran longer than {timeout} s (raise --cell-timeout)",
                         match.group("source") if match else "")
    if isinstance(exc, DeadKernelError):
        return CellError("DeadKernelError", f"the kernel died: {short(str(exc), 3)}")
    return CellError(type(exc).__name__, short(str(exc), 5) or repr(exc))


def _execute(job: Job, parameters: Mapping[str, Any], base_env: Mapping[str, str] | None) -> CellError | None:
    """Run the notebook with papermill; the error that stopped it, if any."""
    import papermill

    ref = job.entry.notebook
    try:
        nb = nbformat.read(ref.path, as_version=4)
        check_parameters(declared_parameters(nb, ref.path), parameters, ref.path)
        with tempfile.TemporaryDirectory(prefix="kit-kernel-") as runtime:
            env = kernel_environment(job, base_env) if base_env is not None else {}
            # Replaying, the kernel has nothing left to do once the notebook is done (it saved its recordings
            # usage after each cell, and starts no server): it is stopped at once instead of asked to exit and
            # waited for, which saves about half a second a notebook (benchmarks/bench_runner.py).
            manager = KitKernelManager.for_job(env, ref.path.parent, Path(runtime), job.kernel_log_path,
                                               stop_at_once=job.replaying)
            papermill.execute_notebook(
                str(ref.path), str(job.executed_path), parameters=dict(parameters), kernel_name=KERNEL_NAME,
                start_timeout=int(job.start_timeout), execution_timeout=job.cell_timeout, progress_bar=False,
                log_output=False, request_save_on_cell_execute=False, kernel_manager_class=manager,
                shutdown_kernel="immediate" if job.replaying else "graceful", on_cell_execute=_stop_before_cell,
            )
    except NotebookContractError as exc:
        return CellError("NotebookContractError", str(exc))
    except Exception as exc:  # the notebook's failure, reported as the outcome
        return _cell_error(exc, job.cell_timeout)
    return None


def _result_of(job: Job) -> RunResult:
    """The typed result the executed notebook holds (empty when it published none)."""
    if not job.executed_path.is_file():
        return RunResult()
    try:
        return read_result(nbformat.read(job.executed_path, as_version=4)) or RunResult()
    except ValueError:
        return RunResult()


def run_job(job: Job, *, base_env: Mapping[str, str] | None = None) -> Outcome:
    """Run one notebook × setup; never raises for a notebook problem (that is the outcome).

    `base_env` is the kernel's environment before the job's own additions (the
    face passes its process environment); None starts the kernel with the
    environment it would inherit anyway, adding nothing.
    """
    ref, setup = job.entry.notebook, job.entry.setup
    started = time.perf_counter()
    job.executed_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (job.executed_path, job.page_path, job.kernel_log_path):  # a previous run's
        stale.unlink(missing_ok=True)
    try:
        baseline: Baseline | None = baseline_of(job)
        baseline_error = None
    except ValueError as exc:  # a baseline that cannot be read fails this setup's runs, saying which file
        baseline, baseline_error = None, str(exc)
    error = _execute(job, parameters_of(job, baseline), base_env)
    duration = time.perf_counter() - started
    if job.kernel_log_path.is_file() and job.kernel_log_path.stat().st_size == 0:
        job.kernel_log_path.unlink()
    result = _result_of(job)
    stop = result.stops[0] if result.stops and error is not None else None
    status, message, cell, command = classify(error, stop, replaying=job.replaying, setup=setup, suite=ref.suite,
                                              name=ref.name)
    if error is not None and error.execution_count is None and job.kernel_log_path.is_file():
        message += f"\nkernel log: {job.kernel_log_path}"  # the kernel died or never started: its own words
    if baseline is None:
        status, message, findings = Status.FAILED, baseline_error or "", ()
    else:
        status, message, findings = judge_findings(status, message, result, baseline, ref.id)
    executed = job.executed_path if job.executed_path.is_file() else None
    page = None
    if job.render_html and executed is not None:
        try:
            from kit.runner.report import write_notebook_page

            page = write_notebook_page(executed, job.page_path, title=f"{ref.id} on {setup}: {status.value}",
                                       status=status.value, findings=findings,
                                       summary={"setup": setup, "notebook": ref.id,
                                                "violations": result.violations() or {},
                                                **({"streams": len(result.streams),
                                                    "chat_streams": sum(s.profile == "chat" for s in result.streams)}
                                                   if result.observed else {})})
        except Exception as exc:  # a page that fails to render must not hide the outcome
            message = (message + "\n" if message else "") + f"(the HTML page could not be rendered: {exc})"
    return Outcome(
        suite=ref.suite, name=ref.name, setup=setup, status=status, duration=duration, message=message, cell=cell,
        violations=result.violations(), executed=executed, page=page, record_command=command,
        findings=findings,
    )
