"""Execute one notebook × setup with papermill and say how it went.

Each execution gets its own kernel environment (its summary file, inference
mode, recording dir and the user's `--env`), its own working directory and,
on POSIX, IPC sockets instead of TCP ports: parallel executions in threads or
in pytest-xdist workers cannot clash on ports. The kernel always runs this
interpreter, so `import kit` in a notebook imports this kit.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager

from kit.findings import FINDINGS_ENV, NOTEBOOK_ENV, findings_dir, load_baseline
from kit.setups.project import PROJECT_ENV, find_project
from kit.runner.outcome import CellError, Outcome, Status, classify, judge_findings, short
from kit.summary import REPORT_ENV, read_summary
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
    parameters: Mapping[str, Any]
    replaying: bool
    out_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # added to this process's environment for the kernel
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
    def summary_path(self) -> Path:
        return self.stem.with_suffix(".summary.json")

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

    @classmethod
    def for_job(cls, env: Mapping[str, str], cwd: Path, runtime: Path, log: Path | None = None) -> type[KitKernelManager]:
        return type("KitJobKernelManager", (cls,), {"kit_env": dict(env), "kit_cwd": str(cwd), "kit_runtime": str(runtime),
                                                    "kit_log": str(log) if log else None})

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

    start_kernel = _async_start_kernel  # type: ignore[assignment]


def kernel_environment(job: Job, base: Mapping[str, str]) -> dict[str, str]:
    """The kernel's environment: ours, the user's `--env`, and what makes kit calls agree with the parameters."""
    env = dict(base)
    env.setdefault("KIT_REPLAY_STYLE", "fast")  # headless: no recorded pacing unless the user asks for it
    env.update(job.env)
    env[REPORT_ENV] = str(job.summary_path)
    env[NOTEBOOK_ENV] = job.entry.notebook.id  # which known findings apply: parameters are the notebook's own
    env[FINDINGS_ENV] = str(findings_dir_of(job, env))
    env.setdefault(PROJECT_ENV, str(find_project(environ=env).root))  # the run's project: its kit-setups.toml
    env["KIT_INFERENCE_MODE"] = str(job.parameters.get("inference_mode") or "replay")
    if job.parameters.get("recording_dir"):
        env["KIT_RECORDING_DIR"] = str(job.parameters["recording_dir"])
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file():  # a source checkout: importable even when not installed
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(checkout), env.get("PYTHONPATH", "")) if p)
    return env


def findings_dir_of(job: Job, environ: Mapping[str, str]) -> Path:
    """The baselines the kernel and the judgement both read: $KIT_FINDINGS_DIR (of the run's environment or
    its --env), else the project's `findings/`, found from the notebook's folder."""
    env = {**environ, **job.env}
    return findings_dir(env, start=job.entry.notebook.path.parent)


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


def run_job(job: Job, *, base_env: Mapping[str, str] | None = None) -> Outcome:
    """Run one notebook × setup; never raises for a notebook problem (that is the outcome)."""
    import papermill

    ref, setup = job.entry.notebook, job.entry.setup
    started = time.perf_counter()
    job.executed_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (job.executed_path, job.page_path, job.summary_path, job.kernel_log_path):  # a previous run's
        stale.unlink(missing_ok=True)
    error: CellError | None = None
    try:
        nb = nbformat.read(ref.path, as_version=4)
        check_parameters(declared_parameters(nb, ref.path), job.parameters, ref.path)
        with tempfile.TemporaryDirectory(prefix="kit-kernel-") as runtime:
            manager = KitKernelManager.for_job(kernel_environment(job, base_env or os.environ), ref.path.parent,
                                               Path(runtime), job.kernel_log_path)
            papermill.execute_notebook(
                str(ref.path), str(job.executed_path), parameters=dict(job.parameters), kernel_name=KERNEL_NAME,
                start_timeout=int(job.start_timeout), execution_timeout=job.cell_timeout, progress_bar=False,
                log_output=False, request_save_on_cell_execute=False, kernel_manager_class=manager,
            )
    except NotebookContractError as exc:
        error = CellError("NotebookContractError", str(exc))
    except Exception as exc:  # the notebook's failure, reported as the outcome
        error = _cell_error(exc, job.cell_timeout)
    duration = time.perf_counter() - started
    if job.kernel_log_path.is_file() and job.kernel_log_path.stat().st_size == 0:
        job.kernel_log_path.unlink()
    status, message, cell, command = classify(error, replaying=job.replaying, setup=setup, suite=ref.suite, name=ref.name)
    if error is not None and error.execution_count is None and job.kernel_log_path.is_file():
        message += f"\nkernel log: {job.kernel_log_path}"  # the kernel died or never started: its own words
    summary = read_summary(job.summary_path) or {}
    try:
        baseline = load_baseline(setup, findings_dir_of(job, base_env or os.environ))
        status, message, findings = judge_findings(status, message, summary, baseline, ref.id)
    except ValueError as exc:  # a baseline that cannot be read fails this setup's runs, saying which file
        status, message, findings = Status.FAILED, str(exc), ()
    executed = job.executed_path if job.executed_path.is_file() else None
    page = None
    if job.render_html and executed is not None:
        try:
            from kit.runner.report import write_notebook_page

            page = write_notebook_page(executed, job.page_path, title=f"{ref.id} on {setup}: {status.value}")
        except Exception as exc:  # a page that fails to render must not hide the outcome
            message = (message + "\n" if message else "") + f"(the HTML page could not be rendered: {exc})"
    return Outcome(
        suite=ref.suite, name=ref.name, setup=setup, status=status, duration=duration, message=message, cell=cell,
        violations=summary.get("violations"), executed=executed, page=page, record_command=command,
        findings=findings,
    )

