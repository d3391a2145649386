"""Property tests over the real captures (issue 12): re-split, truncate, mutate, type-swap.

Properties:
- nothing but the library's own named errors escapes the parser, the validator (all three
  profiles), the accumulator, the bridge, `kit show`'s renderer or the recording loader;
- the validator reports a mutation that breaks a rule;
- the bridge's output always passes `event.schema`.
Example counts are bounded so the whole module runs in well under a minute on CI.
"""

from __future__ import annotations

import copy
import json
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.bridge.translate import translate_chat_stream
from kit.events import EVENT_CLASSES, PROFILES, TERMINAL_TYPES, accumulate, parse_events, parse_sse, validate_stream
from kit.events.model import ANY, IDX, INT, LIST, OBJ, STR, STR_OR_OBJ
from kit.recording import CorruptRecording, RecordingError, load_recording
from tests.fuzz.strategies import (
    JUNK,
    RECORDINGS,
    capture_names,
    cut,
    events_of,
    mutated_events,
    paths,
    set_path,
    split_points,
    sse_bytes,
)

FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE_NAMES = tuple(PROFILES)


def _render(stream: Any) -> str:
    """What `kit show FILE` prints, built in-process (the same document, cap and view)."""
    from kit.cli.show import _capped
    from kit.render.live import document_of
    from kit.render.terminal import TerminalView

    return TerminalView(_capped(document_of(stream, profile="openai"))).to_text(width=100)


def _judge_everything(stream: Any) -> None:
    for profile in PROFILE_NAMES:
        validate_stream(stream, profile)
    accumulate(stream)
    _render(stream)


@lru_cache(maxsize=None)
def clean_captures() -> tuple[str, ...]:
    """Responses captures with no error under the openai profile: any error after a mutation is the mutation's."""
    clean = []
    for name in capture_names("responses"):
        stream = parse_events(events_of("responses", name))
        if not any(v.severity == "error" for v in validate_stream(stream, "openai")):
            clean.append(name)
    assert len(clean) >= 10, "expected real captures that conform to the openai profile"
    return tuple(clean)


# -- the parser ------------------------------------------------------------------------------


@FUZZ
@given(data=st.data(), name=st.sampled_from(capture_names("responses")))
def test_resplit_sse_parses_to_the_same_events(data, name):
    events = events_of("responses", name)
    body = sse_bytes(events)
    pieces = cut(body, data.draw(split_points(len(body))))
    whole = parse_sse(body)
    split = parse_sse(pieces)
    assert [e.raw for e in split.events] == [e.raw for e in whole.events] == events


@FUZZ
@given(data=st.data(), name=st.sampled_from(clean_captures()))
def test_truncated_sse_never_raises_and_a_lost_terminal_is_reported(data, name):
    events = events_of("responses", name)
    body = sse_bytes(events)
    at = data.draw(st.integers(min_value=0, max_value=len(body)))
    pieces = cut(body[:at], data.draw(split_points(at)))
    stream = parse_sse(pieces)
    _judge_everything(stream)
    last_block_start = len(sse_bytes(events[:-1]))
    if at <= last_block_start:  # the terminal event is gone
        assert any(v.severity == "error" for v in validate_stream(stream, "openai"))


# -- the validator and the accumulator -------------------------------------------------------


@FUZZ
@given(events=mutated_events("responses"))
def test_mutated_streams_never_raise(events):
    _judge_everything(parse_events(events))


@FUZZ
@given(events=mutated_events("responses"), data=st.data())
def test_mutated_sse_bodies_never_raise(events, data):
    body = sse_bytes(events)
    _judge_everything(parse_sse(cut(body, data.draw(split_points(len(body))))))


_WRONG = {IDX: "x", INT: "x", STR: 5, OBJ: "x", LIST: "x", STR_OR_OBJ: 5}


@FUZZ
@given(data=st.data(), name=st.sampled_from(clean_captures()),
       breach=st.sampled_from(["drop-terminal", "drop-created", "repeat-seq", "swap-required"]))
def test_a_mutation_that_breaks_a_rule_is_reported(data, name, breach):
    events = events_of("responses", name)
    if breach == "drop-terminal":
        events = [e for e in events if e.get("type") not in TERMINAL_TYPES]
        expected = None
    elif breach == "drop-created":
        events = events[1:]
        expected = None
    elif breach == "repeat-seq":
        at = data.draw(st.integers(min_value=1, max_value=len(events) - 1))
        events.insert(at, copy.deepcopy(events[at - 1]))
        expected = None
    else:
        candidates = [(i, field, kind) for i, event in enumerate(events)
                      for field, kind in EVENT_CLASSES[event["type"]].REQUIRED.items()
                      if event.get("type") in EVENT_CLASSES and kind in _WRONG and field in event]
        i, field, kind = data.draw(st.sampled_from(candidates))
        events[i][field] = _WRONG[kind]
        expected = "event.schema"
    violations = [v for v in validate_stream(parse_events(events), "openai") if v.severity == "error"]
    assert violations, f"{breach} on {name} reported nothing"
    if expected:
        assert expected in {v.rule for v in violations}


# -- the bridge ------------------------------------------------------------------------------


def _passes_event_schema(events: list[dict[str, Any]]) -> None:
    assert events and events[-1]["type"] in TERMINAL_TYPES
    schema = [v for v in validate_stream(parse_events(events), "openai") if v.rule == "event.schema"]
    assert schema == [], schema[:3]
    json.dumps(events)  # what the bridge serves is JSON


@FUZZ
@given(chunks=mutated_events("chat"))
def test_bridge_output_always_passes_event_schema(chunks):
    _passes_event_schema(list(translate_chat_stream(chunks)))


@FUZZ
@given(data=st.data(), name=st.sampled_from(capture_names("chat")))
def test_bridge_over_type_swapped_chunks_fails_cleanly_or_completes(data, name):
    chunks = events_of("chat", name)
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(chunks) - 1))
        found = paths(chunks[at], depth=6)
        if found:
            set_path(chunks[at], data.draw(st.sampled_from(found)), data.draw(JUNK))
    _passes_event_schema(list(translate_chat_stream(chunks)))


# -- the recording loader --------------------------------------------------------------------

RECORDING_FILES = tuple(sorted(RECORDINGS.rglob("*.json")))


@settings(FUZZ, max_examples=150)
@given(data=st.data(), path=st.sampled_from(RECORDING_FILES))
def test_type_swapped_recordings_load_or_are_refused_by_name(data, path):
    recording = json.loads(path.read_text(encoding="utf-8"))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        found = paths(recording, depth=5)
        set_path(recording, data.draw(st.sampled_from(found)), data.draw(JUNK))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / path.name
        target.write_text(json.dumps(recording), encoding="utf-8")
        try:
            loaded = load_recording(target)
        except CorruptRecording as exc:
            assert str(target) in str(exc)
            return
        loaded.response_chunks()
        loaded.canonical_request()
        from kit.sources import load

        try:
            stream = load(target)
        except RecordingError:
            return
        _judge_everything(stream)
