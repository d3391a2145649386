"""Bad input becomes violations, never exceptions: real streams with fields replaced by junk, dropped or shuffled."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from kit.events import Accumulator, accumulate, parse_events, parse_sse, validate_stream
from tests.events._streams import Raw, load, to_sse

JUNK: list[Any] = [None, -1, 0, 10**9, 1.5, True, "", "x", [], [None], {}, {"type": "x"}]
STREAMS = [
    "fantasy__azure-gpt5-mini-reasoning-summary-function-call",
    "pydantic-ai__gpt4o-file-search",
    "chatlas__gpt41-web-search",
    "vercel-ai__openai-shell-skills",
    "pydantic-ai__deepseek-v4-flash-reasoning-function-call",
    "openai-dotnet__gpt5-mcp-call-failed",
    "vercel-ai__azure-image-generation-tool",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (key/index path) inside an event, shallow enough to stay fast."""
    out: list[tuple[Any, ...]] = []
    if len(prefix) > 4:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            out.append(prefix + (key,))
            out.extend(_paths(child, prefix + (key,)))
    elif isinstance(value, list):
        for index, child in enumerate(value[:3]):
            out.append(prefix + (index,))
            out.extend(_paths(child, prefix + (index,)))
    return out


def _mutate(events: list[Raw], rng: random.Random) -> list[Any]:
    events = copy.deepcopy(events)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.15 and events:
            events.pop(rng.randrange(len(events)))
        elif choice < 0.25 and events:
            events.insert(rng.randrange(len(events) + 1), copy.deepcopy(rng.choice(events)))
        elif choice < 0.3:
            rng.shuffle(events)
        elif choice < 0.35 and events:
            events[rng.randrange(len(events))] = copy.deepcopy(rng.choice(JUNK))  # not even an object
        elif events:
            event = rng.choice(events)
            paths = _paths(event)
            if not paths:
                continue
            path = rng.choice(paths)
            parent: Any = event
            for step in path[:-1]:
                parent = parent[step]
            if rng.random() < 0.2 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
    return events


@pytest.mark.parametrize("name", STREAMS)
def test_junk_in_real_streams_never_raises(name: str) -> None:
    rng = random.Random(name)  # deterministic per stream
    original = load(name)
    for _ in range(60):
        events = _mutate(original, rng)
        stream = parse_events(events)
        for profile in ("openai", "openresponses", "lenient"):
            violations = validate_stream(stream, profile)
            assert isinstance(violations, list)
        response = accumulate(stream)
        assert isinstance(response.output, list) and isinstance(response.text, str)


@pytest.mark.parametrize("name", STREAMS[:3])
def test_cut_sse_bodies_never_raise_and_are_reported(name: str) -> None:
    body = to_sse(load(name))
    rng = random.Random(name)
    for _ in range(40):
        cut = rng.randrange(1, len(body))
        stream = parse_sse(body[:cut])
        violations = validate_stream(stream)
        rules = {v.rule for v in violations}
        assert rules & {"lifecycle.one-terminal", "sse.json", "item.closed-once", "sse.done-sentinel"} or stream.wire.done_seen  # type: ignore[union-attr]
        accumulator = Accumulator()
        for event in stream.events:
            accumulator.feed(event)
        assert accumulator.snapshot().events == len(stream.events)
