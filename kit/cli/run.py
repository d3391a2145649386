"""`kit run`: the notebook matrix headless, with a report; `kit lab`: JupyterLab on the notebooks.

Exit status of `kit run`: 0 when nothing failed (passed, known findings,
not recorded and unsupported are not failures), 1 when a notebook failed
(a new finding, or a baselined one that no longer occurs, is a failure),
2 for bad options.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from kit.setups.registry import BUILTIN_SETUPS

if TYPE_CHECKING:
    from rich.console import Console

    from kit.runner.execute import Job
    from kit.runner.outcome import Outcome

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_HELP_SETUP = (f"Setup(s) to run on: {', '.join(BUILTIN_SETUPS)} or one of the project's kit-setups.toml (repeat "
               f"or comma-separate). Default: every setup with recordings.")


def run(
    suite: Optional[list[str]] = typer.Option(None, "--suite", help="Suite(s): base, responses, vision, compare, or a project's own (repeat or comma-separate). Default: all."),
    setup: Optional[list[str]] = typer.Option(None, "--setup", help=_HELP_SETUP),
    inference_mode: Optional[str] = typer.Option(None, "--inference-mode", help="replay (default, else $KIT_INFERENCE_MODE), record, record-if-missing or live."),
    text_model: Optional[str] = typer.Option(None, "--text-model", help="Overrides the setup's text model."),
    vision_model: Optional[str] = typer.Option(None, "--vision-model", help="Overrides the setup's vision model."),
    embedding_model: Optional[str] = typer.Option(None, "--embedding-model", help="Overrides the setup's embedding model."),
    embedding_dimension: Optional[int] = typer.Option(None, "--embedding-dimension", help="Overrides the setup's embedding dimension."),
    judge_model: Optional[str] = typer.Option(None, "--judge-model", help="Model that judges answers, where a notebook uses one."),
    env: Optional[list[str]] = typer.Option(None, "--env", help="KEY=VALUE for the notebooks' environment (repeatable; never secrets)."),
    stack_config: Optional[str] = typer.Option(None, "--stack-config", help="The server: a base URL, or server:<setup> to have the kit start it."),
    pattern: Optional[str] = typer.Option(None, "--pattern", help="Only notebooks whose suite/name matches (glob, or substring)."),
    recording_dir: Optional[Path] = typer.Option(None, "--recording-dir", help="Recordings (default: $KIT_RECORDING_DIR, else the project's recordings/)."),
    notebooks: Optional[Path] = typer.Option(None, "--notebooks", help="A folder of <suite>/<name>.ipynb to run instead of the packaged suites and the project's own."),
    workers: int = typer.Option(2, "--workers", "-n", min=1, help="Notebooks executed at once."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: run the I-th of N equal slices of the matrix (1-based)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Report folder: index.html, a page and the executed .ipynb per notebook (default: the project's reports/)."),
    cell_timeout: float = typer.Option(600.0, "--cell-timeout", help="Seconds a cell may run."),
    start_timeout: float = typer.Option(60.0, "--start-timeout", help="Seconds a kernel may take to start."),
) -> None:
    """Execute notebooks × setups with papermill and write an HTML report."""
    from rich.console import Console

    from kit.runner.matrix import (
        RunInterrupted,
        StackError,
        clear_previous_report,
        managed_stack,
        parse_shard,
        plan,
        resolve,
    )
    from kit.runner.matrix import shard as take_shard
    from kit.runner.report import write_report
    from kit.setups.options import OptionError, RunOptions, stack_environment
    from kit.setups.project import ProjectError, find_project
    from kit.suites import SuiteError, default_notebooks_dir, discover, notebook_roots, select

    console = Console(stderr=False)
    options = RunOptions(
        suite=tuple(suite or ()), setup=tuple(setup or ()), inference_mode=inference_mode, text_model=text_model,
        vision_model=vision_model, embedding_model=embedding_model, embedding_dimension=embedding_dimension,
        judge_model=judge_model, env=tuple(env or ()), stack_config=stack_config, pattern=pattern,
        recording_dir=recording_dir,
    )
    cwd = Path.cwd()
    try:
        resolved = resolve(options, environ=os.environ, cwd=cwd)
        roots = [notebooks.resolve()] if notebooks else [r for r in notebook_roots(cwd) if r.is_dir()]
        chosen = select(discover(roots), resolved.suites, resolved.pattern)
        which = parse_shard(shard)
        out = (out or find_project(cwd, os.environ).reports).resolve()
    except (OptionError, SuiteError, ProjectError, ValueError) as exc:
        typer.echo(f"kit run: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    if not resolved.setups:
        typer.echo(f"kit run: nothing to run: no setup has recordings in {resolved.recording_dir}. Choose setups with "
                   f"--setup, or record: kit run --setup SETUP --inference-mode record-if-missing", err=True)
        raise typer.Exit(EXIT_OK)
    if not chosen:
        typer.echo("kit run: no notebooks found (<folder>/<suite>/<name>.ipynb)", err=True)
        raise typer.Exit(EXIT_OK)

    out = out.resolve()
    meta = {"mode": resolved.mode.value, "setups": ", ".join(s.name for s in resolved.setups),
            "recordings": str(resolved.recording_dir), "workers": str(workers)}
    if which:
        meta["shard"] = f"{which.index}/{which.count}"
    clear_previous_report(out)
    try:
        with _sigterm_as_interrupt(), managed_stack(resolved.stack) as stack_url:
            jobs = take_shard(plan(resolved, chosen, out, stack_url=stack_url, cell_timeout=cell_timeout,
                                   start_timeout=start_timeout), which)
            outcomes = _run_with_progress(console, jobs, workers, {**os.environ, **stack_environment(stack_url)})
    except (OptionError, StackError) as exc:
        typer.echo(f"kit run: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except RunInterrupted as stop:
        meta["partial"] = f"{stop}; the others did not run (interrupted by SIGINT or SIGTERM)"
        index = write_report(out, stop.outcomes, title="kit run (partial)", meta=meta)
        typer.echo(f"kit run: {stop}; partial report: {index}", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    index = write_report(out, outcomes, title="kit run", meta=meta, built=[ref.id for ref in discover(roots)])
    _print_summary(console, outcomes)
    console.print(f"report: {index}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_FAILED if any(o.status.is_failure for o in outcomes) else EXIT_OK)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as Ctrl-C does: context managers (the kernels' temporary folders,
    the managed server) clean up and the report is written, marked partial."""
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_with_progress(console: Console, jobs: list[Job], workers: int, base_env: dict[str, str]) -> list[Outcome]:
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from kit.runner.matrix import run_jobs

    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{len(jobs)} notebook run(s)", total=len(jobs))

        def done(job: Job, outcome: Outcome) -> None:
            progress.update(task, advance=1, description=escape(f"{outcome.id}: {outcome.status.value}"))

        return run_jobs(jobs, workers=workers, on_done=done, base_env=base_env)  # the kernels' environment


def _print_summary(console: Console, outcomes: list[Outcome]) -> None:
    from rich.markup import escape
    from rich.table import Table

    from kit.runner.outcome import Status
    from kit.runner.report import STATUS_STYLE, violations_text

    table = Table(box=None)
    table.add_column("notebook", no_wrap=True)
    table.add_column("setup", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    table.add_column("violations")
    for o in outcomes:
        colour = STATUS_STYLE[o.status][0]
        table.add_row(escape(f"{o.suite}/{o.name}"), escape(o.setup), f"[{colour}]{o.status.value}[/]",
                      f"{o.duration:.1f} s", escape(violations_text(o.violations)))
    console.print(table)
    for o in outcomes:
        if o.status is Status.FAILED:
            console.print(f"\n[bold red]FAILED[/] {escape(o.id)}" + (f"  ({escape(str(o.executed))})" if o.executed else ""),
                          highlight=False, soft_wrap=True)
            console.print(o.message, markup=False, highlight=False, soft_wrap=True)
    missing = [o for o in outcomes if o.status is Status.NOT_RECORDED]
    if missing:
        console.print(f"\n{len(missing)} not recorded; record with:", highlight=False)
        for o in missing:
            console.print(f"  {o.record_command}", markup=False, highlight=False, soft_wrap=True)
    known = [o for o in outcomes if o.status is Status.KNOWN_FINDINGS]
    if known:
        console.print(f"\n{len(known)} with known findings (facts about the peer, from findings/<setup>.toml):",
                      highlight=False)
        from kit.runner.report import finding_line

        for o in known:
            for f in o.findings:
                console.print(f"  {o.id}: {finding_line(f)}",
                              markup=False, highlight=False, soft_wrap=True)
    counts = {s: sum(o.status is s for o in outcomes) for s in Status}
    shown = [s for s in Status if s is not Status.KNOWN_FINDINGS or counts[s]]  # the line scripts read stays as it was
    console.print("\n" + ", ".join(f"{counts[s]} {s.value}" for s in shown), highlight=False)


def lab(
    ctx: typer.Context,
    notebooks: Optional[Path] = typer.Option(None, "--notebooks", help="The folder to open (default: the packaged suites, kit/suites)."),
) -> None:
    """Open JupyterLab on the suites with the kit's interpreter as the python3 kernel (extra args go to jupyter lab)."""
    from kit.suites import default_notebooks_dir

    folder = (notebooks or default_notebooks_dir()).resolve()
    if not folder.is_dir():
        typer.echo(f"kit lab: {folder} is not a folder; run from the project or pass --notebooks DIR", err=True)
        raise typer.Exit(EXIT_USAGE)
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(_kit_kernelspec_root()), env.get("JUPYTER_PATH", "")) if p)
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={folder}", *ctx.args]
    os.execve(sys.executable, argv, env)


def _kit_kernelspec_root() -> Path:
    """A Jupyter data dir whose `python3` kernel is this interpreter: first on JUPYTER_PATH, it wins over
    any other `python3` kernelspec, so notebooks in Lab import the same kit as `kit run`."""
    import json
    import tempfile

    root = Path(tempfile.gettempdir()) / f"kit-lab-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    spec_dir = root / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (responses-kit)", "language": "python", "metadata": {"debugger": True}}
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return root


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("lab", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(lab)
