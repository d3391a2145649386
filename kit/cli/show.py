"""`kit show FILE`: a stream in the terminal, panel per item, violations underneath.

With `--live` the events arrive at their recorded pace (when the file knows
it: SSE captures do not, kit recordings do), so the view grows as it did.
Chat Completions captures are shown through the bridge and judged as what they
are, under the `chat` profile (unless `--profile` says otherwise); identical
violations are one row with a count. A block of text longer
than `PREVIEW_CHARS` is shown as a capped preview that says so (the terminal
renderer's wrapping is not linear in a block's length); violations are always
those of the whole stream.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Optional

import typer

PREVIEW_CHARS = 20_000  # per text block: a few screens; `kit check` judges the rest


def show(
    file: str = typer.Argument(..., help="A stream: .jsonl, SSE text, or a kit recording (.json); '-' reads stdin."),
    live: bool = typer.Option(False, "--live", help="Replay the events at their recorded pace while the view grows."),
    speed: float = typer.Option(1.0, "--speed", min=0.01, help="With --live: how many times faster than recorded."),
    profile: Optional[str] = typer.Option(None, "--profile", "-p",
                                          help="Rules for the violations listed: openai, openresponses, lenient, chat "
                                               "(default: chat for a Chat Completions capture, else openai)."),
    think_tags: bool = typer.Option(False, "--think-tags", help="Chat captures: the model writes reasoning in <think> tags."),
) -> None:
    """Show a Responses (or, bridged, a Chat Completions) stream in the terminal."""
    from dataclasses import replace

    from kit.events import profile_for, validate_stream
    from kit.render.live import document_of
    from kit.render.terminal import TerminalView
    from kit.sources import load, load_capture
    from rich import print as rich_print

    from kit.cli.check import read_error_text

    try:
        raw = load(file, source_name="<stdin>" if file == "-" else file)
        judged_as = profile_for(raw, profile)
        verdict = validate_stream(raw, judged_as) if judged_as == "chat" else None  # the chunks, not their bridging
        stream = load_capture(raw, think_tags=think_tags)
        document = None
        if not live:
            document = _capped(document_of(stream, verdict, profile=judged_as))
            document = replace(document, profile=judged_as)
    except RecursionError:
        typer.echo(f"kit show: cannot read {file}: JSON nested too deeply to follow", err=True)
        raise typer.Exit(2)
    except Exception as exc:  # unreadable input: say which and why
        typer.echo(f"kit show: cannot read {file}: {read_error_text(exc)}", err=True)
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

    session = LiveSession(paced(), CappedSink(), profile=None if verdict is not None else judged_as, source_name=stream.source)
    for _ in session:
        pass
    if verdict is not None:  # a chat capture: its own verdict, once the view has grown
        from kit.render.terminal import violations_view

        rich_print(violations_view(verdict, judged_as))


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
