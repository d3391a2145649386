"""`kit recordings ...`: list, show, verify, reindex and prune recorded traffic."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from kit.recording.errors import CorruptRecording, RecordingError
from kit.recording.scrub import outside_policy, under_policy
from kit.setups.modes import resolve_recording_dir
from kit.recording.store import Recording, RecordingStore, dump_recording, interruption_of, load_recording

app = typer.Typer(help="Inspect and maintain recorded traffic.", no_args_is_help=True)
DirOption = typer.Option(None, "--dir", help="Recording folder (default: $KIT_RECORDING_DIR, else ./recordings).")


def _store(folder: Optional[Path]) -> RecordingStore:
    return RecordingStore(resolve_recording_dir(flag=folder))


def _plain_errors(command: Callable[..., None]) -> Callable[..., None]:
    """A recording error (a read-only folder, an unsafe path) is its one-line message and exit 1, no traceback."""
    @functools.wraps(command)
    def run(*args: object, **kwargs: object) -> None:
        try:
            command(*args, **kwargs)
        except RecordingError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    return run


@app.command("ls")
@_plain_errors
def ls(
    setup: Optional[str] = typer.Option(None, help="Only this setup."),
    endpoint: Optional[str] = typer.Option(None, help="Only this endpoint, e.g. responses, chat-completions."),
    model: Optional[str] = typer.Option(None, help="Only requests for this model."),
    folder: Optional[Path] = DirOption,
) -> None:
    """List recordings; files that cannot be loaded are named after the list (exit status 1)."""
    store = _store(folder)
    index = store.index()
    problems = index.refresh()
    rows = index.query(setup=setup, endpoint=endpoint, model=model)
    table = Table("key", "setup", "endpoint", "model", "status", "recorded", "file", box=None)
    for row in rows:
        table.add_row(f"{row['key'][:16]}.{row['occurrence']}", row["setup"], row["endpoint"], row["model"] or "",
                      str(row["status"]), row["recorded_at"] or "", row["file"])
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} recording(s) in {store.root}")
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} file(s) could not be listed; `kit recordings verify` checks them all", err=True)
        raise typer.Exit(1)


@app.command("show")
@_plain_errors
def show(
    key: str = typer.Argument(..., help="A key or key prefix (as `ls` prints it), or a file path."),
    folder: Optional[Path] = DirOption,
) -> None:
    """Print one recording: its request and the answer's events."""
    store = _store(folder)
    if Path(key).is_file():
        paths = [Path(key)]
    else:
        prefix, _, occurrence = key.partition(".")
        paths = [store.root / r["file"] for r in store.index().query()
                 if r["key"].startswith(prefix) and (not occurrence or str(r["occurrence"]) == occurrence)]
    if not paths:
        typer.echo(f"no recording matches {key!r} in {store.root}; `kit recordings ls` lists them", err=True)
        raise typer.Exit(2)
    if len(paths) > 1:
        typer.echo(f"{key!r} matches {len(paths)} recordings; give more of the key:", err=True)
        for p in paths:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(2)
    try:
        recording = load_recording(paths[0])
    except CorruptRecording as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1)
    console = Console()
    req = recording.request
    console.print(f"[bold]{paths[0]}[/]", soft_wrap=True)
    console.print(f"{req['method']} {req['path']}  setup={recording.setup}  occurrence={recording.occurrence}  "
                  f"recorded_at={recording.meta.get('recorded_at')}")
    console.print_json(json.dumps(req.get("body")))
    response = recording.response
    console.print(f"[bold]HTTP {response['status']}[/] {response.get('headers', {}).get('content-type', '')}")
    if "sse" in response:
        chunks = response.get("chunks") or []
        for i, event in enumerate(response["sse"]["events"]):
            data = event.get("data")
            console.print(f"  {i:4d} {_event_label(data)}", soft_wrap=True, markup=False)
        console.print(f"  {len(chunks)} chunk(s) over {chunks[-1][0] if chunks else 0:.3f}s")
    elif "json" in response:
        console.print_json(json.dumps(response["json"]))
    if recording.error:
        console.print(f"[red]connection failed after {recording.error['after_bytes']} bytes: "
                      f"{recording.error['type']}: {recording.error['message']}[/]")


def _event_label(data: object) -> str:
    """One line per stored event: its type and a glimpse of any text it carries."""
    if not isinstance(data, dict):
        return str(data)
    label = str(data.get("type") or data.get("object") or "?")
    text = data.get("delta")
    if text is None and data.get("choices"):
        delta = (data["choices"][0] or {}).get("delta") or {}
        text = delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning")
    if isinstance(text, str) and text:
        label += f"  {text[:60]!r}"
    return label


@app.command("verify")
@_plain_errors
def verify(folder: Optional[Path] = DirOption) -> None:
    """Check every recording: it parses, its key matches its content, it holds no secret."""
    store = _store(folder)
    problems, count = [], 0
    for path in store.files():
        count += 1
        try:
            recording = load_recording(path)
            canonical = recording.canonical_request()
            if canonical.key != recording.key:
                problems.append(f"{path}: key {recording.key[:16]} does not match its request (recomputed "
                                f"{canonical.key[:16]}); the request was edited by hand? re-record it")
            elif store.path_for(canonical, recording.occurrence) != path:
                problems.append(f"{path}: file name does not match its key/occurrence; expected "
                                f"{store.path_for(canonical, recording.occurrence)}")
            recording.body_bytes()
            interrupted = interruption_of(recording)
            if interrupted:
                problems.append(f"{path}: interrupted while recording ({interrupted}): it holds only part of the "
                                f"answer; re-record it (record-if-missing replaces it) or delete it")
        except CorruptRecording as exc:
            problems.append(str(exc))
        except Exception as exc:  # any other failure to read it back is corruption too
            problems.append(f"{path}: cannot rebuild the recorded body: {exc}")
    for problem in problems:
        typer.echo(problem, err=True)
    typer.echo(f"{count} recording(s) checked in {store.root}: {len(problems)} problem(s)")
    if problems:
        raise typer.Exit(1)


@app.command("scrub")
@_plain_errors
def scrub(
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would change."),
    folder: Optional[Path] = DirOption,
) -> None:
    """Rewrite recordings made before the current secrets policy under it: only what the policy drops changes."""
    store = _store(folder)
    changed, problems = 0, []
    for path in store.files():
        try:
            recording = load_recording(path, policy=False)
        except CorruptRecording as exc:  # unreadable, or a secret: not a job for a rewrite, say so
            problems.append(str(exc))
            continue
        dropped = outside_policy(recording.to_json())
        if not dropped:
            continue
        clean = under_policy(recording.to_json())
        rewritten = Recording(key=recording.key, occurrence=recording.occurrence, setup=recording.setup,
                              request=clean["request"], response=clean["response"], meta=recording.meta)
        typer.echo(f"{path}: {'would drop' if dry_run else 'dropped'} {len(dropped)} field(s): "
                   f"{', '.join(d.rpartition('.')[2] for d in dropped)}")
        if not dry_run:
            try:
                store.rewrite(path, dump_recording(rewritten))
            except RecordingError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(1)
        changed += 1
    if changed and not dry_run:
        store.index().refresh()
    for problem in problems:
        typer.echo(problem, err=True)
    typer.echo(f"{changed} recording(s) {'outside' if dry_run else 'rewritten under'} the secrets policy in "
               f"{store.root}; {len(problems)} could not be read")
    if problems:
        raise typer.Exit(1)


@app.command("reindex")
@_plain_errors
def reindex(folder: Optional[Path] = DirOption) -> None:
    """Rebuild the SQLite index from the files."""
    store = _store(folder)
    problems = store.index().rebuild()
    for problem in problems:
        typer.echo(str(problem), err=True)
    typer.echo(f"indexed {sum(1 for _ in store.files()) - len(problems)} recording(s) in {store.root}")
    if problems:
        raise typer.Exit(1)


@app.command("prune")
@_plain_errors
def prune(
    yes: bool = typer.Option(False, "--yes", help="Delete them (otherwise only list)."),
    folder: Optional[Path] = DirOption,
) -> None:
    """List recordings that no run used (replayed or recorded) since this checkout's index began; delete with --yes."""
    store = _store(folder)
    unused = store.index().unused()
    for rel in unused:
        typer.echo(rel)
    if not unused:
        typer.echo("every recording was used by a run")
        return
    if not yes:
        typer.echo(f"{len(unused)} recording(s) no run used; `kit recordings prune --yes` deletes them "
                   f"(run the whole matrix first: usage is counted per checkout)")
        return
    for rel in unused:
        (store.root / rel).unlink()
    store.index().refresh()
    typer.echo(f"deleted {len(unused)} recording(s)")
