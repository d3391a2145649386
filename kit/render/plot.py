"""A timeline plot: every event on one lane per output item (plus a lane for response-level events).

Built on `matplotlib.figure.Figure`, never pyplot: no global figure state, no
GUI backend, safe under Agg and in threads. The x axis is the arrival offset
when every event has one, else the event index (the axis label says which).
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kit.events import Event, NotJSONEvent, Stream, UnknownEvent, accumulate
from kit.sources import to_stream
from kit.events.model import (
    ErrorEvent,
    HostedToolStatus,
    OutputItemEvent,
    OutputTextAnnotationAdded,
    OutputTextDelta,
    ResponseLifecycleEvent,
)
from kit.render.tables import item_of_events

# family -> (marker, colour, size): what kind of thing happened, readable at a glance.
FAMILIES: dict[str, tuple[str, str, float]] = {
    "lifecycle": ("s", "#333333", 36),
    "item": ("^", "#2e9e5b", 44),
    "delta": ("|", "#3b6fd8", 30),
    "done": ("D", "#9b59b6", 22),
    "status": ("*", "#1f9bb4", 60),
    "annotation": ("P", "#c98a00", 40),
    "other": ("o", "#888888", 18),
    "problem": ("x", "#d64545", 50),
}
RESPONSE_LANE = "response"


def event_family(event: Event) -> str:
    if isinstance(event, (NotJSONEvent, UnknownEvent, ErrorEvent)):
        return "problem"
    if isinstance(event, ResponseLifecycleEvent):
        return "lifecycle"
    if isinstance(event, OutputItemEvent):
        return "item"
    if isinstance(event, HostedToolStatus):
        return "status"
    if isinstance(event, OutputTextAnnotationAdded):
        return "annotation"
    kind = event.type or ""
    if kind.endswith(".delta"):
        return "delta"
    if kind.endswith((".done", ".added")):
        return "done"
    return "other"


def timeline(stream: Stream | Any, ax: Axes | None = None, *, title: str | None = None) -> Figure:
    """Plot `stream` (a `Stream` or anything `kit.events.parse` takes); returns the figure drawn on."""
    stream = stream if isinstance(stream, Stream) else to_stream(stream)
    response = accumulate(stream)
    rows = item_of_events(stream, response)
    lanes = [RESPONSE_LANE] + [f"#{item.output_index} {item.type or '?'}" for item in response.items]
    timed = bool(stream.events) and all(offset is not None for offset in stream.offsets)
    xs = [float(offset) for offset in stream.offsets] if timed else [float(i) for i in range(len(stream.events))]  # type: ignore[arg-type]

    if ax is None:
        figure = Figure(figsize=(10, 1.2 + 0.45 * len(lanes)), layout="constrained")
        ax = figure.add_subplot()
    else:
        figure = ax.figure  # type: ignore[assignment]

    points: dict[str, tuple[list[float], list[int]]] = {}
    for x, event, row in zip(xs, stream.events, rows):
        lane = 0 if row is None else row + 1
        xs_family, ys_family = points.setdefault(event_family(event), ([], []))
        xs_family.append(x)
        ys_family.append(lane)
    for family, (fx, fy) in points.items():
        marker, colour, size = FAMILIES[family]
        ax.plot(fx, fy, linestyle="none", marker=marker, color=colour, markersize=size ** 0.5, label=family,
                markeredgewidth=1.2, zorder=3)

    unit = "s" if timed else ""
    if xs:
        ax.axvline(xs[0], color="#333333", linestyle=":", linewidth=1)
        ax.annotate(f" first event {xs[0]:.3g}{unit}", (xs[0], 0.98), xycoords=("data", "axes fraction"), fontsize=8,
                    va="top")
    first_text = next((x for x, event in zip(xs, stream.events) if isinstance(event, OutputTextDelta)), None)
    if first_text is not None:
        ax.axvline(first_text, color="#3b6fd8", linestyle="--", linewidth=1)
        ax.annotate(f" first text {first_text:.3g}{unit}", (first_text, 0.02), xycoords=("data", "axes fraction"),
                    fontsize=8, va="bottom", color="#3b6fd8")

    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_ylim(len(lanes) - 0.4, -0.6)  # response lane on top, items in output order below
    ax.set_xlabel("arrival time (s)" if timed else "event index (arrival times unknown)")
    ax.grid(axis="x", alpha=0.3)
    if points:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title or f"{PurePath(stream.source).name} · {len(stream.events)} events" + ("" if first_text is not None else " · no output text"), fontsize=9)
    return figure
