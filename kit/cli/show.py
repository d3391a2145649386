"""`kit show FILE`: a stream in the terminal, panel per item, violations underneath.

With `--live` the events arrive at their recorded pace (when the file knows
it: SSE captures do not, kit recordings do), so the view grows as it did.
Chat Completions captures are shown through the bridge. A block of text longer
than `PREVIEW_CHARS` is shown as a capped preview that says so (the terminal
renderer's wrapping is not linear in a block's length); violations are always
those of the whole stream.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import typer

PREVIEW_CHARS = 20_000  # per text block: a few screens; `kit check` judges the rest


def show(
    file: str = typer.Argument(..., help="A stream: .jsonl, SSE text, or a kit recording (.json); '-' reads stdin."),
    live: bool = typer.Option(False, "--live", help="Replay the events at their recorded pace while the view grows."),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="With --live: how many times faster than recorded."),
    profile: str = typer.Option("openai", "--profile", "-p", help="Rules for the violations listed: openai, openresponses, lenient."),
    think_tags: bool = typer.Option(False, "--think-tags", help="Chat captures: the model writes reasoning in <think> tags."),
) -> None:
    """Show a Responses (or, bridged, a Chat Completions) stream in the terminal."""
    from kit.render.live import document_of
    from kit.render.terminal import TerminalView
    from kit.sources import load_capture
    from rich import print as rich_print

    try:
        stream = load_capture(file, think_tags=think_tags, source_name="<stdin>" if file == "-" else file)
        document = None if live else _capped(document_of(stream, profile=profile))
    except Exception as exc:  # unreadable input (or JSON nested too deeply to follow): say which and why
        typer.echo(f"kit show: cannot read {file}: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(2)
    if document is not None:
        rich_print(TerminalView(document))
        return

    def paced() -> Iterator[Any]:
        start = time.perf_counter()
        for event, offset in zip(stream.events, stream.offsets):
            if offset is not None:
                delay = offset / speed - (time.perf_counter() - start)
                if delay > 0:
                    time.sleep(delay)
            yield event

    from kit.render.live import LiveSession
    from kit.render.terminal import TerminalSink

    class CappedSink(TerminalSink):
        """The live view with the same capped preview as the static one (redraws stay linear in the text)."""

        def start(self, document: Any) -> None:
            super().start(_capped(document))

        def draw(self, document: Any) -> None:
            super().draw(_capped(document))

    for _ in LiveSession(paced(), CappedSink(), profile=profile, source_name=stream.source):
        pass


def _capped(document: Any, limit: int = PREVIEW_CHARS) -> Any:
    """The document with each text block cut to `limit` characters, ending in a line that says so."""
    from dataclasses import replace

    from kit.render.layout import Span

    def block(b: Any) -> Any:
        total = sum(len(span.text) for span in b.spans)
        if total <= limit:
            return b
        spans, room = [], limit
        for span in b.spans:
            if room <= 0:
                break
            spans.append(span if len(span.text) <= room else replace(span, text=span.text[:room]))
            room -= len(span.text)
        note = (f"\n… preview: {limit:,} of {total:,} characters shown "
                f"(the violations below are of the whole stream; `kit check` judges it all)")
        return replace(b, spans=(*spans, Span(text=note)))

    panels = tuple(replace(p, blocks=tuple(block(b) for b in p.blocks)) for p in document.panels)
    return replace(document, panels=panels)


def register(app: typer.Typer) -> None:
    """Add `kit show` to the main app."""
    app.command("show")(show)
