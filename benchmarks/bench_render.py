"""Live views under load: events/s handled and redraws/s at 10,000 events/s input, Jupyter (HTML) and terminal.

Input: 10,000 real events (every fixture in tests/captures/responses in turn,
sequence numbers renumbered). Each view runs twice: paced at 10,000 events/s
(the source waits for each event's scheduled time), and unpaced (as fast as the
view goes). Baseline measured in the same run: `Accumulator.feed` alone on the
same events, which is the least any live view must do per event.

Run: python benchmarks/bench_render.py [--events N] [--rate R] [--max-fps F]
The Jupyter view is measured without a kernel: its sink renders the same HTML a
display handle would receive and discards it (the kernel round trip is not ours).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.events import Accumulator, make_event  # noqa: E402
from kit.render import HTMLSink, LiveSession, Sink, TerminalSink  # noqa: E402
from tests.render.conftest import concatenated_events  # noqa: E402  (the tests build their streams the same way)

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "captures" / "responses"


def real_events(count: int) -> list[dict[str, Any]]:
    if not any(FIXTURES.glob("*.jsonl")):
        raise SystemExit(f"no fixtures at {FIXTURES.resolve()}: the benchmark needs the project's tests/captures")
    return concatenated_events(FIXTURES, count)


def paced(events: list[dict[str, Any]], rate: float | None) -> Iterator[dict[str, Any]]:
    """Yield event i no earlier than i / rate seconds after the first (spinning: sleep is too coarse at 0.1 ms)."""
    start = time.perf_counter()
    for index, event in enumerate(events):
        if rate is not None:
            due = start + index / rate
            while time.perf_counter() < due:
                pass
        yield event


def baseline(events: list[dict[str, Any]]) -> float:
    start = time.perf_counter()
    accumulator = Accumulator()
    for event in events:
        accumulator.feed(make_event(event))
    return len(events) / (time.perf_counter() - start)


def run(events: list[dict[str, Any]], make_sink: Callable[[], Sink], rate: float | None, max_fps: float) -> dict[str, float]:
    session = LiveSession(paced(events, rate), make_sink(), max_fps=max_fps, profile="openai")
    start = time.perf_counter()
    last = start
    for _ in session:
        last = time.perf_counter()
    end = time.perf_counter()
    streaming = last - start
    return {
        "events_per_s": len(events) / streaming,
        "redraws": session.redraws,
        # the first state and the final state are drawn whatever the rate: the cap is on the ones in between
        "redraws_per_s": (session.redraws - 2) / streaming,
        "within_cap": session.redraws <= streaming * max_fps + 2,
        "streaming_s": streaming,
        "final_s": end - last,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=10_000.0, help="paced input rate, events/s")
    parser.add_argument("--max-fps", type=float, default=20.0)
    args = parser.parse_args()

    events = real_events(args.events)
    base = baseline(events)
    views: dict[str, Callable[[], Sink]] = {
        "jupyter (HTML)": lambda: HTMLSink(lambda html: None),
        "terminal (rich)": lambda: TerminalSink(Console(file=io.StringIO(), force_terminal=True, width=120, height=40),
                                                args.max_fps),
    }
    print(f"{len(events):,} real events; baseline Accumulator.feed alone: {base:,.0f} events/s; "
          f"cap {args.max_fps:g} redraws/s (plus the first and the final state)")
    print(f"{'view':16} {'input':>12} {'handled ev/s':>13} {'vs input':>9} {'vs baseline':>11} {'redraws':>8} "
          f"{'mid-stream/s':>12} {'stream s':>9} {'final s':>8}  cap")
    for name, make_sink in views.items():
        for label, rate in ((f"{args.rate:,.0f} ev/s", args.rate), ("unpaced", None)):
            result = run(events, make_sink, rate, args.max_fps)
            versus_input = f"{result['events_per_s'] / rate:9.3f}" if rate else f"{'-':>9}"
            print(f"{name:16} {label:>12} {result['events_per_s']:13,.0f} {versus_input} "
                  f"{result['events_per_s'] / base:11.3f} {result['redraws']:8d} {result['redraws_per_s']:12.1f} "
                  f"{result['streaming_s']:9.3f} {result['final_s']:8.3f}  {'ok' if result['within_cap'] else 'EXCEEDED'}")


if __name__ == "__main__":
    main()
