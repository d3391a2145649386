"""`kit show FILE`: a stream in the terminal, panel per item, violations underneath.

With `--live` the events arrive at their recorded pace (when the file knows
it: SSE captures do not, kit recordings do), so the view grows as it did.
Chat Completions captures are shown through the bridge.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import typer


def show(
    file: str = typer.Argument(..., help="A stream: .jsonl, SSE text, or a kit recording (.json); '-' reads stdin."),
    live: bool = typer.Option(False, "--live", help="Replay the events at their recorded pace while the view grows."),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="With --live: how many times faster than recorded."),
    profile: str = typer.Option("openai", "--profile", "-p", help="Rules for the violations listed: openai, openresponses, lenient."),
    think_tags: bool = typer.Option(False, "--think-tags", help="Chat captures: the model writes reasoning in <think> tags."),
) -> None:
    """Show a Responses (or, bridged, a Chat Completions) stream in the terminal."""
    from kit.render import live_terminal, render_terminal
    from kit.sources import load_capture
    from rich import print as rich_print

    try:
        stream = load_capture(file, think_tags=think_tags, source_name="<stdin>" if file == "-" else file)
    except Exception as exc:  # unreadable input: say which and why
        typer.echo(f"kit show: cannot read {file}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2)
    if not live:
        rich_print(render_terminal(stream, profile=profile))
        return

    def paced() -> Iterator[Any]:
        start = time.perf_counter()
        for event, offset in zip(stream.events, stream.offsets):
            if offset is not None:
                delay = offset / speed - (time.perf_counter() - start)
                if delay > 0:
                    time.sleep(delay)
            yield event

    for _ in live_terminal(paced(), profile=profile, source_name=stream.source):
        pass


def register(app: typer.Typer) -> None:
    """Add `kit show` to the main app."""
    app.command("show")(show)
