"""The rules over MCP items and events (`mcp_list_tools`, `mcp_call`, `mcp_approval_request`), on OpenAI's real
MCP streams (tests/captures/responses/*mcp*) broken the ways a server could break them, and on the bridge's own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kit.bridge.translate import ChatToResponses
from kit.events import accumulate, validate_stream
from tests.events._streams import load, renumber

CALL = "pydantic-ai__o4-mini-mcp-server-tool"  # list tools, reasoning, mcp_call, message (o4-mini, real)
ASKING = "vercel-ai__openai-mcp-tool-approval-request"  # list tools, reasoning, mcp_approval_request (real)


def errors(events: list[dict[str, Any]]) -> set[str]:
    return {v.rule for v in validate_stream(events) if v.severity == "error"}


def index_of(events: list[dict[str, Any]], kind: str) -> int:
    return next(k for k, e in enumerate(events) if e["type"] == kind)


def drop_arguments_done(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return renumber([e for e in events if e["type"] != "response.mcp_call_arguments.done"])


def completed_before_in_progress(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    i, j = index_of(events, "response.mcp_call.in_progress"), index_of(events, "response.mcp_call.completed")
    events[i], events[j] = events[j], events[i]
    return renumber(events)


def arguments_done_differs(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events[index_of(events, "response.mcp_call_arguments.done")]["arguments"] = '{"repoName": "other"}'
    return events


def list_tools_completed_after_done(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    i = index_of(events, "response.mcp_list_tools.completed")
    events.insert(i + 1, events.pop(i))  # after the item's output_item.done
    return renumber(events)


def status_event_names_another_item(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events[index_of(events, "response.mcp_call.completed")]["item_id"] = "mcp_not_this_one"
    return events


def completed_and_failed(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    i = index_of(events, "response.mcp_call.completed")
    events.insert(i + 1, {**events[i], "type": "response.mcp_call.failed"})
    return renumber(events)


def approval_arguments_not_text(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for event in events:
        if event["type"].startswith("response.output_item.") and event["item"]["type"] == "mcp_approval_request":
            event["item"]["arguments"] = {"url": "https://ai-sdk.dev/"}  # an object where the SDK has a JSON string
    return events


@pytest.mark.parametrize("capture, mutate, rule", [
    (CALL, drop_arguments_done, "args.lifecycle"),
    (CALL, completed_before_in_progress, "hosted.status-order"),
    (CALL, arguments_done_differs, "args.lifecycle"),
    (CALL, list_tools_completed_after_done, "item.no-update-after-done"),
    (CALL, status_event_names_another_item, "item.id-matches"),
    (CALL, completed_and_failed, "hosted.status-order"),
    (ASKING, approval_arguments_not_text, "event.schema"),
])
def test_a_broken_real_mcp_stream_breaks_the_rule_that_names_it(
        capture: str, mutate: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], rule: str) -> None:
    assert errors(load(capture)) == set(), "the real stream is clean before it is broken"
    assert rule in errors(mutate(load(capture)))


def bridged_mcp_stream(*, approval: bool) -> list[dict[str, Any]]:
    """The translator's events for a listing, then a call (or an approval request), then an answer."""
    translator = ChatToResponses(request={"model": "m"}, response_id="resp_test")
    events = list(translator.begin())
    tools = [{"name": "add", "input_schema": {"type": "object"}, "description": "Add.", "annotations": None}]
    events += translator.mcp_list_tools("kit_tools", tools)
    if approval:
        events += translator.mcp_approval_request("kit_tools", "add", '{"a": 12, "b": 30}')
        events += translator.feed({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    else:
        events += translator.begin_mcp_call("kit_tools", "add", '{"a": 12, "b": 30}')
        events += translator.complete_mcp_call("42")
        events += translator.feed({"id": "c", "choices": [{"index": 0, "delta": {"content": "42"}}]})
        events += translator.feed({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events += translator.end_round()
    events += translator.finish()
    return events


@pytest.mark.parametrize("approval", [False, True])
def test_the_bridges_mcp_items_stream_in_openais_order_and_pass_the_catalog(approval: bool) -> None:
    events = bridged_mcp_stream(approval=approval)
    assert errors(events) == set()
    kinds = [item["type"] for item in accumulate(events).output]
    assert kinds == (["mcp_list_tools", "mcp_approval_request"] if approval else ["mcp_list_tools", "mcp_call", "message"])
    # the event order of OpenAI's capture (list tools, then the call's status and argument events)
    order = [e["type"] for e in events if e["type"].startswith(("response.mcp_", "response.output_item."))]
    real = [e["type"] for e in load(ASKING if approval else CALL)
            if e["type"].startswith(("response.mcp_", "response.output_item."))
            and not (e["type"].startswith("response.output_item.") and e["item"]["type"] in ("reasoning", "message"))]
    assert order[:len(real)] == real


def test_a_failed_listing_and_a_failed_call_are_failed_items_not_a_failed_response() -> None:
    translator = ChatToResponses(request={"model": "m"}, response_id="resp_test")
    events = [*translator.begin(), *translator.mcp_list_tools("down", [], "MCP server 'down': ConnectError"),
              *translator.begin_mcp_call("kit_tools", "add", '{"a": 1}'),
              *translator.complete_mcp_call(None, {"type": "mcp_tool_execution_error", "content": []})]
    events += translator.feed({"id": "c", "choices": [{"index": 0, "delta": {"content": "sorry"}, "finish_reason": "stop"}]})
    events += [*translator.end_round(), *translator.finish()]
    assert errors(events) == set()
    assert "response.mcp_list_tools.failed" in [e["type"] for e in events]
    assert "response.mcp_call.failed" in [e["type"] for e in events]
    output = accumulate(events).output
    assert output[0]["error"].startswith("MCP server 'down'") and output[1]["status"] == "failed"
    assert events[-1]["type"] == "response.completed"
