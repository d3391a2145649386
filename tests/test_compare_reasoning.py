"""The dialect × peer matrix: its cells from streams (pure), and the committed recordings replayed."""

from __future__ import annotations

import pytest

from kit.bridge.chunks import bridge_chunks
from kit.compare_reasoning import DIALECTS, QUESTIONS, classify, matrix
from kit.events import validate_stream


def _chunks(content: str) -> list[dict]:
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return [{**head, "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]},
            {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


def _cell(content: str, think_tags: bool):
    stream = bridge_chunks(_chunks(content), think_tags=think_tags)
    return classify("s", "think_tags", stream, validate_stream(stream))


def test_a_reasoning_item_counts_its_characters() -> None:
    cell = _cell("<think>ab c</think>Yes.", think_tags=True)
    assert (cell.status, cell.reasoning_chars, cell.label) == ("reasoning item", 4, "yes (4 chars)")


def test_think_tags_left_in_the_answer_are_named() -> None:
    cell = _cell("<think>ab c</think>Yes.", think_tags=False)
    assert cell.status == "no reasoning item" and "left in the answer" in cell.label


def test_no_reasoning_at_all_is_dropped_reasoning() -> None:
    assert _cell("Yes.", think_tags=False).note == "the reasoning is dropped"


def test_an_empty_message_says_both_were_dropped() -> None:
    assert "an empty message" in _cell("", think_tags=False).note


def test_every_dialect_has_its_own_question() -> None:
    assert set(QUESTIONS) == set(DIALECTS) and len(set(QUESTIONS.values())) == len(DIALECTS)


@pytest.mark.parametrize("setup", ["local", "bridge"])
def test_the_kits_own_bridges_read_every_dialect_in_the_committed_recordings(setup: str) -> None:
    result = matrix([setup], inference_mode="replay")
    assert [(c.dialect, c.status, c.errors) for c in result.cells] == [(d, "reasoning item", []) for d in DIALECTS]
    assert result.table().shape == (len(DIALECTS), 1)
