"""The bridge never raises on upstream data (issue 12, items 5 and 9): badly typed chunks become events.

Each case takes a real captured chat stream and changes one field's type the way the
fuzzing of issue 12 did; the bridge must end the Responses stream with events whose
shapes pass `event.schema`, and fail the response (`error` + `response.failed`) when the
chunk cannot be read.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from kit.bridge.translate import translate_chat_stream
from kit.events import parse, validate_stream

ROOT = Path(__file__).resolve().parents[2]
TOOL_CALL = ROOT / "tests" / "captures" / "chat" / "chatlas__deepseek-v4-flash-reasoning-tool-call.jsonl"


def chunks() -> list[dict[str, Any]]:
    return [json.loads(line) for line in TOOL_CALL.read_text(encoding="utf-8").splitlines() if line.strip()]


def _with_usage(chunk_list: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in chunk_list if c.get("usage"))


def _with_tool_call(chunk_list: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in chunk_list if c.get("choices") and (c["choices"][0].get("delta") or {}).get("tool_calls")
                and c["choices"][0]["delta"]["tool_calls"][0].get("id"))


def _with_finish(chunk_list: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in chunk_list if c.get("choices") and c["choices"][0].get("finish_reason"))


def _set_usage(name: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda cs: _with_usage(cs)["usage"].__setitem__(name, value)


def _set_call(path: tuple[str, ...], value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def mutate(cs: list[dict[str, Any]]) -> None:
        target = _with_tool_call(cs)["choices"][0]["delta"]["tool_calls"][0]
        for name in path[:-1]:
            target = target[name]
        target[path[-1]] = value
    return mutate


def _set_finish(value: Any) -> Callable[[list[dict[str, Any]]], None]:
    return lambda cs: _with_finish(cs)["choices"][0].__setitem__("finish_reason", value)


# (case, mutation, whether the chunk is unreadable: the response must fail)
CASES = [
    ("prompt_tokens_details is a string", _set_usage("prompt_tokens_details", "x"), False),
    ("prompt_tokens_details is a list", _set_usage("prompt_tokens_details", [1]), False),
    ("completion_tokens_details is a number", _set_usage("completion_tokens_details", 5), False),
    ("tool_calls[].index is a list", _set_call(("index",), [0]), True),
    ("tool_calls[].index is an object", _set_call(("index",), {"i": 0}), True),
    ("finish_reason is a list", _set_finish(["stop"]), True),
    ("finish_reason is an object", _set_finish({"reason": "stop"}), True),
    ("tool call id is an integer", _set_call(("id",), 5), True),
    ("tool call name is an integer", _set_call(("function", "name"), 3), True),
]


@pytest.mark.parametrize("case,mutate,unreadable", CASES, ids=[c[0] for c in CASES])
def test_a_badly_typed_chunk_becomes_events_that_pass_the_schema(case, mutate, unreadable):
    mutated = copy.deepcopy(chunks())
    mutate(mutated)
    events = list(translate_chat_stream(mutated))
    types = [e["type"] for e in events]
    violations = validate_stream(parse(events, source_name=case), "openai")
    assert [v for v in violations if v.rule == "event.schema"] == []
    if unreadable:
        assert types[-2:] == ["error", "response.failed"] and events[-2]["code"] == "bridge_bad_chunk"
    else:
        assert types[-1] == "response.completed"
        usage = events[-1]["response"]["usage"]
        assert usage["input_tokens"] == 290 and usage["output_tokens"] == 51  # the readable counts are kept
    # nothing of the wrong type reaches an item
    for event in events:
        item = event.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            assert isinstance(item["call_id"], str) and isinstance(item["name"], str)


@pytest.mark.parametrize("command", ["bridge", "show"])
def test_the_cli_prints_no_traceback_for_badly_typed_chunks(tmp_path, command):
    mutated = copy.deepcopy(chunks())
    _set_call(("index",), [0])(mutated)
    _set_usage("prompt_tokens_details", [1])(mutated)
    path = tmp_path / "mutated.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in mutated) + "\n")
    out = subprocess.run([sys.executable, "-m", "kit", command, str(path)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert "Traceback" not in out.stderr and out.returncode == 0
    assert ("response.failed" in out.stdout) if command == "bridge" else ("failed" in out.stdout)
