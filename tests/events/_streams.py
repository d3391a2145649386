"""Real captured streams for the event tests, and small tools to break them the way real servers did."""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "captures"
RESPONSES = FIXTURES / "responses"
MISSING = f"real captured streams not found at {FIXTURES}: the clone is incomplete (git checkout tests/captures)"

Raw = dict[str, Any]


def fixture_names() -> list[str]:
    """Every Responses capture (file stem). They are part of the repository: missing ones fail collection."""
    names = sorted(path.stem for path in RESPONSES.glob("*.jsonl"))
    if not names:
        raise FileNotFoundError(MISSING)
    return names


def path_of(name: str) -> Path:
    path = RESPONSES / f"{name}.jsonl"
    if not path.is_file():
        pytest.fail(f"{path}: {MISSING}")
    return path


@functools.lru_cache(maxsize=None)
def _text(name: str) -> str:
    return path_of(name).read_text(encoding="utf-8")


def load(name: str) -> list[Raw]:
    """The fixture's events as fresh dicts (safe to mutate)."""
    return [json.loads(line) for line in _text(name).splitlines() if line.strip()]


def split_lifecycles(events: list[Raw]) -> list[list[Raw]]:
    """Files that hold several turns' streams back to back, split at each response.created."""
    streams: list[list[Raw]] = []
    for event in events:
        if event.get("type") == "response.created" or not streams:
            streams.append([])
        streams[-1].append(event)
    return streams


def renumber(events: list[Raw], start: int = 0) -> list[Raw]:
    """Contiguous sequence numbers again after events were moved, added or removed."""
    for number, event in enumerate(events, start):
        event["sequence_number"] = number
    return events


def first(events: list[Raw], type_: str, **match: Any) -> int:
    """Index of the first event of `type_` whose fields equal `match`."""
    for index, event in enumerate(events):
        if event.get("type") == type_ and all(event.get(key) == value for key, value in match.items()):
            return index
    raise LookupError(f"no {type_} with {match}")


def indices(events: list[Raw], type_: str, **match: Any) -> list[int]:
    return [i for i, e in enumerate(events) if e.get("type") == type_ and all(e.get(k) == v for k, v in match.items())]


def terminal(events: list[Raw]) -> Raw:
    return events[-1]["response"]


def to_sse(events: Iterable[Raw | str], *, names: bool = True, done: bool = True, eol: str = "\n") -> bytes:
    """An SSE body as OpenAI sends it: `event:` + `data:` per event, then `data: [DONE]`."""
    out: list[str] = []
    for event in events:
        if isinstance(event, str):  # a raw payload (garbage) as is
            out.append(f"data: {event}{eol}{eol}")
            continue
        if names:
            out.append(f"event: {event.get('type')}{eol}")
        out.append(f"data: {json.dumps(event, ensure_ascii=False)}{eol}{eol}")
    if done:
        out.append(f"data: [DONE]{eol}{eol}")
    return "".join(out).encode("utf-8")


def rewrite_text(events: list[Raw], output_index: int, new_text: str) -> list[Raw]:
    """Make item `output_index`'s first output_text say `new_text` consistently at every level."""
    deltas = indices(events, "response.output_text.delta", output_index=output_index)
    for position, index in enumerate(deltas):
        events[index]["delta"] = new_text if position == 0 else ""
    for event in events:
        if event.get("output_index") != output_index:
            continue
        if event["type"] == "response.output_text.done":
            event["text"] = new_text
        elif event["type"] == "response.content_part.done":
            event["part"]["text"] = new_text
        elif event["type"] == "response.output_item.done":
            event["item"]["content"][0]["text"] = new_text
    terminal(events)["output"][output_index]["content"][0]["text"] = new_text
    return events


def rewrite_arguments(events: list[Raw], output_index: int, new_arguments: str) -> list[Raw]:
    """Make function call `output_index` carry `new_arguments` consistently at every level."""
    deltas = indices(events, "response.function_call_arguments.delta", output_index=output_index)
    for position, index in enumerate(deltas):
        events[index]["delta"] = new_arguments if position == 0 else ""
    for event in events:
        if event.get("output_index") != output_index:
            continue
        if event["type"] == "response.function_call_arguments.done":
            event["arguments"] = new_arguments
        elif event["type"] == "response.output_item.done":
            event["item"]["arguments"] = new_arguments
    terminal(events)["output"][output_index]["arguments"] = new_arguments
    return events


def mutated(name: str, change: Callable[[list[Raw]], Any]) -> list[Raw]:
    """A deep copy of fixture `name` after `change` (which edits in place or returns a new list)."""
    events = copy.deepcopy(load(name))
    result = change(events)
    return events if result is None else result
