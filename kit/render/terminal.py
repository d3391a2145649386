"""The terminal view (rich): panels per output item, footnoted citations, violations under the stream.

`render_terminal(stream)` gives a renderable (`rich.print(view)` works);
`live_terminal(events)` passes events through while a `rich.live.Live` view grows,
redrawn at most `max_fps` times a second. Stream text never reaches rich's markup
parser, and control characters are shown escaped: a stream must not be able to
drive the terminal.
"""

from __future__ import annotations

import io
from typing import Any, Iterable

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.highlighter import JSONHighlighter
from rich.live import Live
from rich.panel import Panel as RichPanel
from rich.table import Table
from rich.text import Text

from kit.events import Stream, Violation, group_violations, plural
from kit.render.layout import Block, Document, Footnote, Panel, shorten, verdict_title, where_group
from kit.render.live import DEFAULT_MAX_FPS, LiveSession, Sink, document_of

BORDER = {"message": "green", "reasoning": "magenta", "tool": "cyan", "hosted": "blue", "other": "white"}
BLOCK_STYLE = {
    "answer": "",
    "refusal": "bold red",
    "summary": "dim italic",
    "reasoning": "dim italic",
    "arguments": "",
    "code": "green",
    "output": "",
    "error": "red",
    "note": "dim",
}
MARKER_STYLE = "bold cyan"
CITED_STYLE = "underline"
LIVE_BLOCK_LINES = 12  # while streaming, a block shows its tail: the live region must fit the screen
LIVE_BLOCK_CHARS = 1500  # ... also when the tail is one long paragraph
MAX_VIOLATION_ROWS = 200

# C0/C1 control characters except newline and tab, shown as \xNN: ESC sequences in a stream must not reach the tty.
_CONTROL = {code: f"\\x{code:02x}" for code in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if code not in (0x09, 0x0A)}
_json_highlighter = JSONHighlighter()


def safe(text: str) -> str:
    return text.translate(_CONTROL)


class TerminalView:
    """A rich renderable of a `Document`; `live=True` fits it to the screen (newest panels, block tails)."""

    def __init__(self, document: Document, *, live: bool = False) -> None:
        self.document = document
        self.live = live

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        document = self.document
        header = _header(document)
        footer = _violations(document)
        yield header
        if self.live:
            budget = options.size.height - _height(console, options, header) - _height(console, options, footer)
            yield from _newest_that_fit(console, options, document.panels, budget)
        else:
            yield from (_panel(panel, live=False) for panel in document.panels)
        yield footer

    def to_text(self, width: int = 120, *, color: bool = False) -> str:
        """The view as plain (or ANSI-coloured) text, e.g. for logs and CLI output."""
        buffer = io.StringIO()
        console = Console(file=buffer, width=width, force_terminal=color, color_system="standard" if color else None,
                          highlight=False, soft_wrap=False)
        console.print(self)
        return buffer.getvalue()


def render_terminal(
    stream: Stream | Any, violations: Iterable[Violation] | None = None, *, profile: str | None = "openai"
) -> TerminalView:
    """A static view of a whole stream; violations from `validate_stream(stream, profile)` unless given.

    `stream` is a `Stream` or anything `kit.events.parse` accepts; `profile=None` skips validation.
    """
    return TerminalView(document_of(stream, violations, profile=profile))


def live_terminal(
    events: Iterable[Any],
    *,
    console: Console | None = None,
    max_fps: float = DEFAULT_MAX_FPS,
    profile: str | None = "openai",
    source_name: str = "<live>",
) -> LiveSession:
    """Pass `events` (SDK event objects, dicts or `Event`s) through unchanged while a live view grows.

    `for event in live_terminal(stream): ...`. The final state (with violations) stays printed;
    afterwards the session holds `.stream`, `.violations` and `.redraws`.
    """
    return LiveSession(events, TerminalSink(console, max_fps), max_fps=max_fps, profile=profile, source_name=source_name)


class TerminalSink(Sink):
    """Draws documents into a `rich.live.Live` that only refreshes when told (the session throttles)."""

    def __init__(self, console: Console | None = None, max_fps: float = DEFAULT_MAX_FPS) -> None:
        self.console = console or Console()
        self._live = Live(console=self.console, auto_refresh=False, refresh_per_second=max_fps,
                          vertical_overflow="crop")  # prints inside the loop appear above the live view

    def start(self, document: Document) -> None:
        self._live.start()
        self._live.update(TerminalView(document, live=True), refresh=True)

    def draw(self, document: Document) -> None:
        self._live.update(TerminalView(document, live=not document.final), refresh=True)

    def stop(self) -> None:
        self._live.stop()  # rich prints the last renderable in full (overflow visible) when it stops


# --- Pieces --------------------------------------------------------------------------------------


def _header(document: Document) -> Text:
    text = Text()
    text.append(safe(shorten(document.response_id or "response ?")), style="bold")
    for word in (document.model, f"{document.events:,} events", document.usage, document.source):
        if word:
            text.append("  ·  ", style="dim")
            text.append(safe(word))
    text.append("\nstatus: ", style="dim")
    status = document.status or ("streaming…" if not document.final else "unknown (no terminal event)")
    text.append(safe(status), style="bold " + {"completed": "green", "failed": "red", "incomplete": "yellow"}.get(status, "yellow"))
    if document.incomplete_reason:
        text.append(f"  reason: {safe(document.incomplete_reason)}", style="yellow")
    if document.error:
        text.append(f"\nerror: {safe(document.error)}", style="bold red")
    return text


def _panel(panel: Panel, *, live: bool) -> RichPanel:
    body: list[RenderableType] = []
    if panel.fields:
        line = Text(style="dim")
        for n, (key, value) in enumerate(panel.fields):
            line.append(("  " if n else "") + f"{key}: ", style="dim bold")
            line.append(safe(value))
        body.append(line)
    if panel.status_history:
        line = Text("status: ", style="dim")
        for n, step in enumerate(panel.status_history):
            if n:
                line.append(" → ", style="dim")
            last = n == len(panel.status_history) - 1
            line.append(safe(step), style="bold blue" if last else "blue")
        body.append(line)
    for block in panel.blocks:
        body.append(_block(block, live=live))
    if panel.footnotes:
        body.append(_footnotes(panel.footnotes))
    if not body:
        body.append(Text("(nothing streamed yet)" if not panel.done else "(empty)", style="dim"))
    title = Text(safe(panel.title), style="bold")
    if "refusal" in panel.flags:
        title.append("  REFUSAL", style="bold white on red")
    if "not announced" in panel.flags:
        title.append("  never announced by output_item.added", style="bold yellow")
    subtitle = Text("streaming…" if "streaming" in panel.flags else safe(panel.status or ("done" if panel.done else "?")),
                    style="italic")
    border = "red" if "refusal" in panel.flags else BORDER[panel.kind]
    return RichPanel(Group(*body), title=title, title_align="left", subtitle=subtitle, subtitle_align="right",
                     border_style=border, style="dim" if panel.kind == "reasoning" else "")


def _block(block: Block, *, live: bool) -> RenderableType:
    label = Text(("REFUSAL" if block.role == "refusal" else block.label) + (" …" if block.streaming else ""),
                 style="bold red" if block.role == "refusal" else "bold dim")
    style = BLOCK_STYLE[block.role]
    skip = _tail_start(block.text) if live else 0  # live frames build only the tail: cost stays flat as text grows
    content = Text(f"… {skip:,} earlier characters\n", style="dim") if skip else Text()
    if block.language == "json":
        tail = Text(safe(block.text[skip:]), style=style)
        _json_highlighter.highlight(tail)
        content.append_text(tail)
    else:
        position = 0
        for span in block.spans:
            end = position + len(span.text)
            if end > skip:
                content.append(safe(span.text[max(skip - position, 0):]), style=_join(style, CITED_STYLE if span.cited_by else ""))
            position = end
            if position >= skip:
                for number in span.markers:
                    content.append(f"[{number}]", style=MARKER_STYLE)
    return Group(label, content)


def _join(*styles: str) -> str:
    return " ".join(style for style in styles if style)


def _tail_start(text: str) -> int:
    """Where the last `LIVE_BLOCK_LINES` lines (at most `LIVE_BLOCK_CHARS` characters) of `text` begin."""
    start = len(text)
    for _ in range(LIVE_BLOCK_LINES):
        start = text.rfind("\n", 0, start)
        if start < 0:
            start = -1
            break
    return max(start + 1, len(text) - LIVE_BLOCK_CHARS, 0)


def _footnotes(footnotes: tuple[Footnote, ...]) -> Text:
    text = Text()
    for n, note in enumerate(footnotes):
        if n:
            text.append("\n")
        text.append(f"[{note.number}] ", style=MARKER_STYLE)
        text.append(safe(note.label), style=f"link {note.link}" if note.link else "")
        if note.target and note.target != note.label:
            text.append(f"  {safe(note.target)}", style="dim" + (f" link {note.link}" if note.link else ""))
        if not note.positioned:
            text.append("  (no position in the text)", style="dim italic")
    return text


def violations_view(violations: Iterable[Violation], profile: str | None) -> RenderableType:
    """The grouped violations table alone (e.g. after a live view of a chat capture, judged as chunks)."""
    return _violations(Document(source="", response_id=None, model=None, status=None, events=0, usage=None, error=None,
                                incomplete_reason=None, panels=(), violations=tuple(violations), final=True, profile=profile))


def _violations(document: Document) -> RenderableType:
    if document.violations is None:
        return Text("violations: checked when the stream ends" if not document.final else "not validated",
                    style="dim italic")
    profile = f" (profile {document.profile})" if document.profile else ""
    if not document.violations:
        return Text(f"no violations{profile}", style="green")
    groups = group_violations(document.violations)
    table = Table(title=Text(verdict_title(document.violations, document.profile), style="bold"), title_justify="left",
                  show_lines=False, expand=False)
    for column in ("severity", "rule", "count", "where", "message"):
        table.add_column(column, overflow="fold", justify="right" if column == "count" else "left")
    for group in groups[:MAX_VIOLATION_ROWS]:
        table.add_row(
            Text(group.severity, style="bold red" if group.severity == "error" else "yellow"),
            Text(group.rule),
            Text(f"×{group.count}" if group.count > 1 else "", style="bold"),
            Text(where_group(group), style="dim"),
            Text(safe(group.message) + (" (the first of them)" if group.count > 1 else "")),
        )
    hidden = len(groups) - MAX_VIOLATION_ROWS
    if hidden > 0:
        return Group(table, Text(f"… and {plural(hidden, 'more group')}", style="dim"))
    return table


def _height(console: Console, options: ConsoleOptions, renderable: RenderableType) -> int:
    return len(console.render_lines(renderable, options.update(height=None), pad=False))


def _newest_that_fit(console: Console, options: ConsoleOptions, panels: tuple[Panel, ...], budget: int) -> list[RenderableType]:
    """The newest panels that fit in `budget` lines, with a note for the older ones left out (built newest first)."""
    kept: list[RenderableType] = []
    used = 1  # the note line
    for panel in reversed(panels):
        rendered = _panel(panel, live=True)
        height = _height(console, options, rendered)
        if kept and used + height > budget:
            break
        kept.append(rendered)
        used += height
    hidden = len(panels) - len(kept)
    if hidden:
        kept.append(Text(f"… {hidden} earlier item(s) above (shown in full when the stream ends)", style="dim italic"))
    return list(reversed(kept))
