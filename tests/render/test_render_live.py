"""Live views: events pass through unchanged, redraws stay within the cap, the final state is always drawn."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest
from rich.console import Console

import kit.events
import kit.render
from kit.render import HTMLSink, LiveSession, TerminalSink, Throttle, document_html, document_of
from tests.render.conftest import KitHTML, concatenated_events, load, raw_lines

FILE_SEARCH = "openai-dotnet__gpt4o-mini-file-search.jsonl"
EVENTS_PER_SECOND = 10_000
MAX_FPS = 20


class SteppingClock:
    """A clock that advances a fixed step each time it is read: events arriving at a known rate, no sleeping."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class CountingTerminalSink(TerminalSink):
    """The real terminal sink, counting what reaches rich."""

    def __init__(self, console: Console) -> None:
        super().__init__(console, MAX_FPS)
        self.draws = 0

    def start(self, document) -> None:
        super().start(document)
        self.draws += 1

    def draw(self, document) -> None:
        super().draw(document)
        self.draws += 1


def test_throttle_allows_one_redraw_per_interval() -> None:
    throttle = Throttle(20)
    times = [0.0, 0.01, 0.049, 0.05, 0.051, 0.099, 0.1, 0.5, 0.52, 0.55]
    assert [t for t in times if throttle.ready(t)] == [0.0, 0.05, 0.1, 0.5, 0.55]
    with pytest.raises(ValueError, match="max_fps"):
        Throttle(0)


def test_throttle_keeps_slow_redraws_to_half_the_time() -> None:
    throttle = Throttle(4)  # 0.25 s interval; binary fractions keep the arithmetic exact
    assert throttle.ready(0.0)
    throttle.finished(1.0)  # a 1 s redraw: the next one waits 2 s from its start
    assert not throttle.ready(0.5) and not throttle.ready(1.75)
    assert throttle.ready(2.0)
    throttle.finished(2.0625)  # fast again: back to the interval
    assert not throttle.ready(2.125) and throttle.ready(2.25)


@pytest.mark.parametrize("view", ["jupyter-html", "terminal"])
def test_redraw_cap_holds_at_10000_events_per_second(view: str, responses_dir: Path) -> None:
    events = concatenated_events(responses_dir, 10_000)
    clock = SteppingClock(1 / EVENTS_PER_SECOND)  # the clock is read once per event: exactly 10,000 events/s
    published: list[str] = []
    if view == "terminal":
        sink = CountingTerminalSink(Console(file=io.StringIO(), force_terminal=True, width=120, height=40))
    else:
        sink = HTMLSink(published.append)
    session = LiveSession(events, sink, max_fps=MAX_FPS, clock=clock, profile="openai")
    passed = list(session)

    assert passed == events
    seconds = clock.now
    assert seconds == pytest.approx(1.0, rel=0.01)
    drawn = len(published) if view != "terminal" else sink.draws
    assert drawn == session.redraws
    # the first state, one per 1/20 s, and the final state; and it does redraw while events flow
    assert MAX_FPS <= session.redraws <= seconds * MAX_FPS + 2


def test_redraw_cap_holds_with_the_real_clock(responses_dir: Path) -> None:
    """As fast as the machine goes: the count is bounded by the time the session itself measured."""
    events = concatenated_events(responses_dir, 10_000)
    published: list[str] = []
    session = LiveSession(events, HTMLSink(published.append), max_fps=MAX_FPS, profile=None)
    for _ in session:
        pass
    elapsed = session.stream.offsets[-1]
    assert len(published) == session.redraws <= elapsed * MAX_FPS + 3


def test_final_live_state_equals_the_static_view(responses_dir: Path) -> None:
    stream = load(responses_dir, FILE_SEARCH)
    published: list[str] = []
    session = LiveSession(stream, HTMLSink(published.append, id_prefix="k"), clock=SteppingClock(1.0))
    assert list(session) == stream.events
    assert published[-1] == document_html(document_of(stream), id_prefix="k")
    assert session.redraws == len(published) == len(stream) + 2  # 1 s per event: every event redraws
    assert session.violations == kit.events.validate_stream(stream)
    assert session.stream.offsets == stream.offsets  # a Stream's own offsets (here unknown) are kept


def test_intermediate_states_grow_and_wait_for_validation(responses_dir: Path) -> None:
    stream = load(responses_dir, FILE_SEARCH)
    published: list[str] = []
    list(LiveSession(stream, HTMLSink(published.append), clock=SteppingClock(1.0)))
    first, middle = KitHTML(published[0]), KitHTML(published[12])
    assert first.sections == [] and "checked when the stream ends" in published[0]
    assert [s.item_type for s in middle.sections] == ["file_search_call", "message"]
    assert "streaming…" in published[12] and "checked when the stream ends" in published[12]
    texts = [b.text for s in KitHTML(published[-1]).sections for b in s.blocks]
    assert texts == ["Travis's favorite food is pizza."]


def test_sdk_event_objects_pass_through_unchanged(responses_dir: Path) -> None:
    from openai._models import construct_type  # what the SDK's own Stream uses to build each event
    from openai.types.responses import ResponseStreamEvent

    raw = raw_lines(responses_dir, FILE_SEARCH)
    sdk_events = [construct_type(type_=ResponseStreamEvent, value=event) for event in raw]
    assert type(sdk_events[-1]).__name__ == "ResponseCompletedEvent"
    published: list[str] = []
    session = LiveSession(sdk_events, HTMLSink(published.append), clock=SteppingClock(0.001))
    passed = list(session)
    assert all(a is b for a, b in zip(passed, sdk_events)) and len(passed) == len(sdk_events)
    assert [event.type for event in session.stream] == [event["type"] for event in raw]
    assert session.response.text == "Travis's favorite food is pizza."
    offsets = session.stream.offsets  # arrival times from the session's clock, one reading per event
    assert offsets[0] > 0 and all(later > earlier for earlier, later in zip(offsets, offsets[1:]))


def test_stopping_early_still_draws_the_final_state(responses_dir: Path) -> None:
    stream = load(responses_dir, FILE_SEARCH)
    published: list[str] = []
    session = LiveSession(stream.events, HTMLSink(published.append), clock=SteppingClock(0.001))
    for n, _ in enumerate(session):
        if n == 9:
            break
    assert len(session.stream) == 10
    assert session.violations == kit.events.validate_stream(session.stream)
    assert "lifecycle.one-terminal" in {rule for rule, _ in KitHTML(published[-1]).violations}


def test_fault_injection_source_raising_midway_still_draws_then_raises(responses_dir: Path) -> None:
    stream = load(responses_dir, FILE_SEARCH)

    def dropped_connection() -> Iterator[kit.events.Event]:
        yield from stream.events[:8]
        raise ConnectionError("peer closed connection")

    published: list[str] = []
    session = LiveSession(dropped_connection(), HTMLSink(published.append), clock=SteppingClock(0.001))
    with pytest.raises(ConnectionError):
        for _ in session:
            pass
    assert len(session.stream) == 8 and "kit-violation" in published[-1]


def test_a_session_shows_one_pass(responses_dir: Path) -> None:
    session = LiveSession(load(responses_dir, FILE_SEARCH), kit.render.Sink())
    list(session)
    with pytest.raises(RuntimeError, match="one pass"):
        iter(session)


def test_live_terminal_leaves_the_final_view_printed(responses_dir: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=160, height=30, color_system=None)
    stream = load(responses_dir, FILE_SEARCH)
    session = kit.render.live_terminal(stream.events, console=console)
    assert list(session) == stream.events
    output = buffer.getvalue()
    assert "Travis's favorite food is pizza[1]." in output
    assert output.rindex("no violations (profile openai)") > output.rindex("#1 message")


def test_live_terminal_fits_the_screen_while_streaming(responses_dir: Path) -> None:
    """Mid-stream frames keep the newest panels within the console height; the final one is complete."""
    stream = load(responses_dir, "openai-dotnet__gpt4o-mini-code-interpreter-files.jsonl")
    console = Console(file=io.StringIO(), width=100, height=25, color_system=None)
    partial = kit.render.build_document(kit.events.accumulate(stream.events[:300]), None, final=False)
    frame = console.render_lines(kit.render.TerminalView(partial, live=True), console.options.update(height=None))
    assert len(frame) <= 25
    text = "\n".join("".join(segment.text for segment in line) for line in frame)
    assert "earlier item(s) above" in text and "#3 message" in text
    full = kit.render.TerminalView(document_of(stream)).to_text(width=100)
    assert all(f"#{n} " in full for n in range(4))


def test_live_outside_a_kernel_falls_back(responses_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert not kit.render.in_kernel()
    stream = load(responses_dir, FILE_SEARCH)
    assert list(kit.render.live(stream.events, fallback="none")) == stream.events
    assert capsys.readouterr().out == ""
    assert list(kit.render.live(stream.events)) == stream.events  # the terminal view instead
    assert "pizza[1]" in capsys.readouterr().out
    with pytest.raises(ValueError, match="fallback"):
        kit.render.live(stream.events, fallback="widgets")  # type: ignore[arg-type]
