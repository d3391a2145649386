"""Jupyter views: the HTML rendering in a display handle updated in place.

A display handle (`display(..., display_id=True)` then `handle.update(...)`) is
plain `display_data`/`update_display_data` output: papermill and nbclient apply
the updates to the stored notebook, so the final state survives a headless run
and a static HTML export. Widget-only state (ipywidgets, rich's Jupyter Live)
does not render without a CDN, so it is not used.

Outside a kernel, `live` falls back to the terminal live view (or to showing
nothing), and `show` prints the terminal view.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Literal

from kit.events import Stream, Violation
from kit.render.html import HTMLView, document_html
from kit.render.layout import Document
from kit.render.live import DEFAULT_MAX_FPS, LiveSession, Sink, document_of

Fallback = Literal["terminal", "none"]


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where display handles reach a notebook), False in a plain interpreter."""
    try:
        from IPython import get_ipython
    except ImportError:  # IPython is a dependency, but a view must not be what breaks a script
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class HTMLSink(Sink):
    """Hands each redraw's HTML to `publish` (a display handle's update, a websocket, a test's list)."""

    def __init__(self, publish: Callable[[str], None], *, id_prefix: str | None = None) -> None:
        self.publish = publish
        self.id_prefix = id_prefix

    def start(self, document: Document) -> None:
        self.publish(document_html(document, id_prefix=self.id_prefix))

    def draw(self, document: Document) -> None:
        self.publish(document_html(document, id_prefix=self.id_prefix))


class DisplayHandleSink(Sink):
    """Shows the HTML in the current cell and updates that same output in place."""

    def __init__(self, *, id_prefix: str | None = None) -> None:
        self.id_prefix = id_prefix
        self._handle: Any = None

    def start(self, document: Document) -> None:
        from IPython.display import HTML, display

        self._handle = display(HTML(document_html(document, id_prefix=self.id_prefix)), display_id=True)

    def draw(self, document: Document) -> None:
        from IPython.display import HTML

        self._handle.update(HTML(document_html(document, id_prefix=self.id_prefix)))


def live(
    events: Iterable[Any],
    *,
    max_fps: float = DEFAULT_MAX_FPS,
    profile: str | None = "openai",
    fallback: Fallback = "terminal",
    source_name: str = "<live>",
    offset_clock: Callable[[], float] | None = None,
) -> LiveSession:
    """Pass `events` through unchanged while a notebook view updates (at most `max_fps` redraws a second).

    `for event in kit.render.live(stream): ...`; the final state, with violations, stays
    in the cell output. Outside a kernel: the terminal live view (`fallback="terminal"`)
    or no view at all (`fallback="none"`).
    """
    sink: Sink
    if in_kernel():
        sink = DisplayHandleSink()
    elif fallback == "terminal":
        from kit.render.terminal import TerminalSink

        sink = TerminalSink(max_fps=max_fps)
    elif fallback == "none":
        sink = Sink()
    else:
        raise ValueError(f"fallback must be 'terminal' or 'none', not {fallback!r}")
    return LiveSession(events, sink, max_fps=max_fps, profile=profile, source_name=source_name, offset_clock=offset_clock)


def show(stream: Stream | Any, violations: Iterable[Violation] | None = None, *, profile: str | None = "openai") -> None:
    """Show a whole stream: as HTML in a notebook, as the terminal view elsewhere."""
    document = document_of(stream, violations, profile=profile)
    if in_kernel():
        from IPython.display import display

        display(HTMLView(document))
    else:
        from rich import print as rich_print

        from kit.render.terminal import TerminalView

        rich_print(TerminalView(document))
