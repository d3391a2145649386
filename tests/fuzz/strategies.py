"""Hypothesis strategies over the project's real captures: re-split, truncate, mutate, type-swap.

Every example starts from a real stream in tests/captures (never a generated one) and
changes it the way a broken server, a flaky network or a hostile user would.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

CAPTURES = Path(__file__).resolve().parents[1] / "captures"
RECORDINGS = Path(__file__).resolve().parents[2] / "recordings"

# Values of every JSON type (and a few Python ones a parser may meet), to put where another type belongs.
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63), st.floats(allow_nan=False),
    st.text(max_size=8), st.just([]), st.lists(st.integers(), max_size=2), st.just({}),
    st.dictionaries(st.sampled_from(["type", "id", "index", "x"]), st.integers(), max_size=2),
)


@lru_cache(maxsize=None)
def capture_names(kind: str) -> tuple[str, ...]:
    names = tuple(sorted(p.name for p in (CAPTURES / kind).glob("*.jsonl")))
    if not names:
        raise RuntimeError(f"no captures in {CAPTURES / kind}: the fuzz tests need the project's tests/captures")
    return names


@lru_cache(maxsize=None)
def _events(kind: str, name: str) -> tuple[str, ...]:
    return tuple(line for line in (CAPTURES / kind / name).read_text(encoding="utf-8").splitlines() if line.strip())


def events_of(kind: str, name: str) -> list[Any]:
    """A fresh copy of a capture's payloads (each test may change it)."""
    return [json.loads(line) for line in _events(kind, name)]


def sse_bytes(events: list[Any], *, chat: bool = False) -> bytes:
    """The SSE body a server sends for these payloads (chat streams end with `[DONE]`)."""
    blocks = []
    for event in events:
        head = "" if chat or not isinstance(event, dict) or not isinstance(event.get("type"), str) else \
            f"event: {event['type']}\n"
        blocks.append(f"{head}data: {json.dumps(event, ensure_ascii=False)}\n\n")
    if chat:
        blocks.append("data: [DONE]\n\n")
    return "".join(blocks).encode("utf-8")


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 5) -> list[tuple[Any, ...]]:
    """Every key/index path inside a JSON value, to a bounded depth."""
    out: list[tuple[Any, ...]] = []
    if len(prefix) >= depth:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            out.append(prefix + (key,))
            out.extend(paths(child, prefix + (key,), depth))
    elif isinstance(value, list):
        for index, child in enumerate(value[:4]):
            out.append(prefix + (index,))
            out.extend(paths(child, prefix + (index,), depth))
    return out


def set_path(root: Any, path: tuple[Any, ...], value: Any) -> None:
    target = root
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@st.composite
def split_points(draw: st.DrawFn, length: int) -> list[int]:
    """Sorted cut positions inside a body of `length` bytes (cuts may fall inside lines and UTF-8 characters)."""
    if length < 2:
        return []
    return sorted(set(draw(st.lists(st.integers(min_value=1, max_value=length - 1), max_size=40))))


def cut(body: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *points, len(body)]
    return [body[a:b] for a, b in zip(edges, edges[1:]) if b > a]


@st.composite
def mutated_events(draw: st.DrawFn, kind: str = "responses", names: tuple[str, ...] | None = None) -> list[Any]:
    """A real capture, then 1-4 of: drop, duplicate, move, replace by junk, type-swap a field, truncate."""
    name = draw(st.sampled_from(names or capture_names(kind)))
    events = events_of(kind, name)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["drop", "duplicate", "move", "junk", "swap", "swap", "swap", "truncate"]))
        if not events:
            break
        at = draw(st.integers(min_value=0, max_value=len(events) - 1))
        if op == "drop":
            events.pop(at)
        elif op == "duplicate":
            events.insert(at, copy.deepcopy(events[at]))
        elif op == "move":
            events.insert(draw(st.integers(min_value=0, max_value=len(events) - 1)), events.pop(at))
        elif op == "junk":
            events[at] = draw(JUNK)
        elif op == "truncate":
            events = events[:at]
        else:
            found = paths(events[at])
            if found:
                set_path(events[at], draw(st.sampled_from(found)), draw(JUNK))
    return events
