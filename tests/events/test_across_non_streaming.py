"""final.stream-equals-non-streaming (kit.events.across.compare_non_streaming): on the committed recordings of
responses/streaming_equals_non_streaming on every setup (replayed: real answers of the real servers), and on
mutations of a real answer."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.events.across import ACROSS_RULES, NON_STREAMING, compare_non_streaming
from kit.events.observe import consume
from kit.events.rules import RULES
from kit.notebook.echo import final_response
from kit.setups import get_setup
from kit.sources import responses_events, responses_object

ROOT = Path(__file__).resolve().parents[2]
# The request of kit/suites/responses/streaming_equals_non_streaming.ipynb, as sent (a replay miss says they differ).
REQUEST: dict[str, Any] = {
    "instructions": "Answer briefly.",
    "input": [{"type": "message", "role": "user", "content": "Say hello in exactly 3 words."}],
    "max_output_tokens": 24,
    "temperature": 0,
    "metadata": {"suite": "responses-kit"},
}


def _both(setup_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stream's final response and the stream: false response, replayed from the setup's recordings."""
    setup = get_setup(setup_name)
    client = kit.client(setup_name, "replay", recording_dir=ROOT / "recordings")
    request = {"model": setup.text_model, **REQUEST}
    stream = consume(responses_events(client, setup, request)).stream
    return final_response(stream), responses_object(client, setup, request)


@pytest.mark.parametrize("setup", ["local", "bridge", "ogx"])
def test_the_kits_bridge_and_ogx_answer_the_same_response_streamed_or_not(setup: str) -> None:
    streamed, plain = _both(setup)
    assert streamed["status"] == plain["status"] and streamed["output"]
    assert compare_non_streaming(streamed, plain) == []


def test_litellm_answers_a_different_model_id_and_usage_without_streaming() -> None:
    # findings/litellm.toml: the streamed response names 'llamafile/...' and carries output token details
    streamed, plain = _both("litellm")
    messages = [v.message for v in compare_non_streaming(streamed, plain)]
    assert {v.rule for v in compare_non_streaming(streamed, plain)} == {NON_STREAMING}
    assert any(m.startswith("response.model: streamed 'llamafile/smollm2-135m-instruct'") for m in messages)
    assert any(m.startswith("response.usage.output_tokens_details:") for m in messages)


@pytest.fixture(scope="module")
def real() -> dict[str, Any]:
    return _both("litellm")[1]  # a real answer with usage (llama.cpp under the others sends none while streaming)


def test_ids_and_timings_may_differ(real: dict[str, Any]) -> None:
    other = copy.deepcopy(real)
    other["id"], other["created_at"] = "resp_other", (other.get("created_at") or 0) + 5
    other["completed_at"] = 123
    for item in other["output"]:
        item["id"] = "msg_other"
    other["usage"] = {k: (v + 1 if isinstance(v, int) else v) for k, v in (other.get("usage") or {}).items()}
    assert compare_non_streaming(real, other) == []


def test_null_and_absent_read_alike(real: dict[str, Any]) -> None:
    other = {**copy.deepcopy(real), "prompt_cache_key": None}
    other.pop("user", None)
    assert compare_non_streaming({**real, "user": None}, other) == []


def test_a_different_text_a_lost_echo_a_missing_item_and_missing_usage_are_each_caught(real: dict[str, Any]) -> None:
    text = copy.deepcopy(real)
    text["output"][0]["content"][0]["text"] += " more"
    assert [v.message.split(":")[0] for v in compare_non_streaming(real, text)] == ["response.output[0].content[0].text"]
    echo = {**copy.deepcopy(real), "metadata": {}}  # a server that forgets the metadata when not streaming
    assert [v.rule for v in compare_non_streaming(real, echo)] == [NON_STREAMING]
    empty = {**copy.deepcopy(real), "output": []}  # vLLM PR #30223's empty output, without streaming
    assert [v.message for v in compare_non_streaming(real, empty)] == ["response.output: 1 entries streamed, 0 without streaming"]
    assert real.get("usage"), "LiteLLM's real answer has usage"
    unused = {**copy.deepcopy(real), "usage": None}
    assert [v.message.split(":")[0] for v in compare_non_streaming(real, unused)] == ["response.usage"]


def test_many_differences_are_capped_with_a_count(real: dict[str, Any]) -> None:
    other = {**copy.deepcopy(real), **{f"x{n}": n for n in range(30)}}
    found = compare_non_streaming(real, other)
    assert len(found) == 21 and found[-1].message == "and 10 more difference(s)"


def test_the_rule_is_in_the_catalog_as_an_error_judged_across_requests() -> None:
    assert NON_STREAMING in RULES and NON_STREAMING in ACROSS_RULES
    assert RULES[NON_STREAMING].severity("openai") == "error"
    assert compare_non_streaming({"a": 1}, {"a": 2}, profile="lenient") == []  # not a core rule
