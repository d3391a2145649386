"""kit.notebook.echo (the request surface's checks) on the real recorded answers of
responses/sampling_and_limits, replayed, and on copies of them with one thing changed."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.events import Stream, make_event
from kit.events.observe import consume
from kit.notebook import StreamCheckFailed
from kit.notebook.echo import echo_differences, expect_cut_at_limit, expect_echo, expect_output_text, final_response
from kit.setups import get_setup
from kit.sources import responses_events

ROOT = Path(__file__).resolve().parents[1]
# The request of kit/suites/responses/sampling_and_limits.ipynb, as sent (a replay miss says they differ).
SENT: dict[str, Any] = {
    "input": "Count from 1 to 50, separated by commas.",
    "max_output_tokens": 16,
    "temperature": 0,
    "top_p": 0.5,
    "metadata": {"suite": "responses-kit", "notebook": "sampling_and_limits"},
    "user": "kit-user-1",
    "safety_identifier": "kit-safety-1",
    "truncation": "disabled",
}


def _replayed(setup_name: str) -> Stream:
    setup = get_setup(setup_name)
    client = kit.client(setup_name, "replay", recording_dir=ROOT / "recordings")
    return consume(responses_events(client, setup, {"model": setup.text_model, **SENT})).stream


@pytest.mark.parametrize("setup", ["local", "bridge"])
def test_the_kits_bridge_echoes_every_field_as_sent_and_cuts_at_the_limit(setup: str) -> None:
    stream = _replayed(setup)
    echoed = expect_echo(stream, SENT)
    assert echoed == {k: v for k, v in SENT.items() if k != "input"}
    assert expect_cut_at_limit(stream, 16)


def test_the_peers_misses_are_named_field_by_field() -> None:
    # findings/ogx.toml (user) and findings/litellm.toml (safety_identifier): what each leaves out
    assert echo_differences(final_response(_replayed("ogx")), SENT) == ["user: sent 'kit-user-1', absent from the response"]
    assert echo_differences(final_response(_replayed("litellm")), SENT) == [
        "safety_identifier: sent 'kit-safety-1', absent from the response"]
    with pytest.raises(StreamCheckFailed, match="does not echo the request as sent: user"):
        expect_echo(_replayed("ogx"), SENT)


def test_a_rewritten_value_is_caught_and_numbers_compare_as_numbers() -> None:
    response = final_response(_replayed("bridge"))
    assert echo_differences({**response, "temperature": 0.0}, SENT) == []
    assert echo_differences({**response, "top_p": 1.0, "metadata": {}}, SENT) == [
        "top_p: sent 0.5, echoed 1.0", "metadata: sent {'suite': 'responses-kit', 'notebook': 'sampling_and_limits'}, "
                                       "echoed {}"]
    assert echo_differences({**response, "temperature": False}, SENT) == ["temperature: sent 0, echoed False"]
    assert echo_differences({}, {"instructions": None}) == []  # a null field may be left out


def test_a_reason_outside_the_api_is_left_to_the_validator_but_a_completed_answer_is_not_cut() -> None:
    ogx = _replayed("ogx")  # incomplete, reason 'length': lifecycle.terminal-status judges it, once
    assert (final_response(ogx).get("incomplete_details") or {}).get("reason") == "length"
    expect_cut_at_limit(ogx, 16)
    events = [copy.deepcopy(e.raw) for e in _replayed("bridge").events]
    events[-1]["type"] = "response.completed"
    events[-1]["response"]["status"] = "completed"
    events[-1]["response"]["incomplete_details"] = None
    completed = Stream([make_event(e) for e in events], [None] * len(events), source="changed: completed")
    with pytest.raises(StreamCheckFailed, match="expected the response to end 'incomplete'"):
        expect_cut_at_limit(completed, 16)


def test_over_the_limit_usage_is_caught() -> None:
    events = [copy.deepcopy(e.raw) for e in _replayed("bridge").events]
    events[-1]["response"]["usage"] = {"input_tokens": 5, "output_tokens": 17, "total_tokens": 22}
    with pytest.raises(StreamCheckFailed, match="17 output tokens, over max_output_tokens=16"):
        expect_cut_at_limit(Stream([make_event(e) for e in events], [None] * len(events), source="changed: 17 tokens"), 16)


def test_a_non_streamed_response_needs_output_text() -> None:
    response = final_response(_replayed("bridge"))
    assert expect_output_text(response).strip()
    with pytest.raises(StreamCheckFailed, match="carries no output_text"):
        expect_output_text({**response, "output": []})
