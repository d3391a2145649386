"""Show Responses streams: terminal (rich), HTML, Jupyter live view, pandas tables, timeline plot.

All views consume the same `Stream`/events and draw the same `Document`
(`kit.render.layout`): content from the accumulator, verdict from the validator.
None needs a network. pandas and matplotlib load only when their view is used.
"""

from __future__ import annotations

from typing import Any

from kit.render.html import HTMLView, document_html, render_html
from kit.render.jupyter import DisplayHandleSink, HTMLSink, in_kernel, live, show
from kit.render.layout import Block, Document, Footnote, Panel, Span, build_document
from kit.render.live import DEFAULT_MAX_FPS, LiveSession, Sink, Throttle, document_of
from kit.render.terminal import TerminalSink, TerminalView, live_terminal, render_terminal

_LAZY = {
    "events_table": "kit.render.tables",
    "items_table": "kit.render.tables",
    "timeline": "kit.render.plot",
}


def __getattr__(name: str) -> Any:
    """`events_table`, `items_table`, `timeline` import pandas/matplotlib on first use, not with `kit.render`."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kit.render' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_MAX_FPS",
    "Block",
    "DisplayHandleSink",
    "Document",
    "Footnote",
    "HTMLSink",
    "HTMLView",
    "LiveSession",
    "Panel",
    "Sink",
    "Span",
    "TerminalSink",
    "TerminalView",
    "Throttle",
    "build_document",
    "document_html",
    "document_of",
    "events_table",
    "in_kernel",
    "items_table",
    "live",
    "live_terminal",
    "render_html",
    "render_terminal",
    "show",
    "timeline",
]
