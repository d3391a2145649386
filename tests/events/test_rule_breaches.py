"""Every rule fires on a real stream broken the way a real server broke it, and not on the untouched stream.

Each breach takes a real fixture, changes exactly what the named server got
wrong (conformance-rules.md, "Real breaches"), and asserts the rule id fires with
its severity. Where the catalog names no server, the breach is the plainest
one the rule describes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from kit.events.across import ACROSS_RULES
from kit.events.error_object import RULE as ERROR_OBJECT_RULE
from kit.events.socket import SOCKET_RULES

from kit.events import RULES, Stream, parse_events, parse_sse, validate_stream
from kit.events.rules import enabled_rules
from tests.events._streams import (
    Raw,
    first,
    indices,
    load,
    renumber,
    rewrite_arguments,
    rewrite_text,
    terminal,
    to_sse,
)

TEXT = "otel-python-contrib__gpt4o-mini-text"  # one message
CALL = "openai-dotnet__gpt4o-mini-function-call"  # one function call
RAW_REASONING = "pydantic-ai__deepseek-v4-flash-reasoning-function-call"  # reasoning_text part, then a function call
SUMMARY = "fantasy__azure-gpt5-mini-reasoning-summary-function-call"  # reasoning summary, then a function call
FILES = "pydantic-ai__gpt4o-file-search"  # file search, then a message with a file_citation
WEB = "chatlas__gpt41-web-search"  # web search, then a message with url_citations
ERROR = "prism__gpt4o-error-rate-limited"  # error -> response.failed


@dataclass(frozen=True)
class Breach:
    fixture: str
    origin: str
    break_events: Callable[[list[Raw]], Any] | None = None  # edits the event list in place (its result is ignored)
    wire: Callable[[list[Raw]], tuple[bytes, dict[str, Any]]] | None = None  # builds a broken SSE body
    profile: str = "openai"

    def streams(self) -> tuple[Stream, Stream]:
        """(untouched, broken)."""
        events = load(self.fixture)
        if self.wire is not None:
            clean = parse_sse(to_sse(events), content_type="text/event-stream; charset=utf-8", status=200)
            body, facts = self.wire(copy.deepcopy(events))
            return clean, parse_sse(body, **{"content_type": "text/event-stream", "status": 200, **facts})
        assert self.break_events is not None
        broken = copy.deepcopy(events)
        self.break_events(broken)
        return parse_events(events), parse_events(broken)


def _each(events: list[Raw], type_: str, change: Callable[[Raw], None], **match: Any) -> None:
    for index in indices(events, type_, **match):
        change(events[index])


def _move(events: list[Raw], from_index: int, to_index: int) -> list[Raw]:
    event = events.pop(from_index)
    events.insert(to_index if to_index < from_index else to_index - 1, event)
    return renumber(events)


def _drop(events: list[Raw], type_: str) -> list[Raw]:
    events[:] = [event for event in events if event["type"] != type_]
    return renumber(events)


def _walk_annotations(value: Any, change: Callable[[dict[str, Any]], None]) -> None:
    """Apply `change` to every url_citation anywhere (streamed, part, item, terminal) so all levels agree."""
    if isinstance(value, dict):
        if value.get("type") == "url_citation":
            change(value)
        for child in value.values():
            _walk_annotations(child, change)
    elif isinstance(value, list):
        for child in value:
            _walk_annotations(child, change)


def _set_everywhere(events: list[Raw], path: Callable[[list[Raw]], list[dict[str, Any]]], key: str, value: Any) -> None:
    for target in path(events):
        target[key] = value


def _message_item_dicts(events: list[Raw]) -> list[dict[str, Any]]:
    items = [e["item"] for e in events if e["type"].startswith("response.output_item")]
    return items + [terminal(events)["output"][0]]


def _sse_with(events: list[Raw], extra: bytes = b"", **kwargs: Any) -> bytes:
    return to_sse(events, **kwargs) + extra


BREACHES: dict[str, Breach] = {
    # --- wire ---
    "sse.content-type": Breach(TEXT, "a 200 answer labelled application/json (a proxy relabelling the stream)",
                               wire=lambda evs: (to_sse(evs), {"content_type": "application/json"})),
    "sse.json": Breach(TEXT, "a payload cut mid-JSON between two events",
                       wire=lambda evs: (to_sse(evs[:5] + ['{"type": "response.output_text.delta", "delta": "He'] + evs[5:]), {})),
    "sse.event-name": Breach(TEXT, "an event: line naming another type than the JSON",
                             wire=lambda evs: (to_sse(evs).replace(b"event: response.output_text.done", b"event: response.output_text.delta"), {})),
    "sse.done-sentinel": Breach(TEXT, "a stream that ends without data: [DONE] (OpenAI itself does this)", profile="openresponses",
                                wire=lambda evs: (to_sse(evs, done=False), {})),
    "sse.after-done": Breach(TEXT, "a second terminal event after data: [DONE]",
                             wire=lambda evs: (_sse_with(evs, to_sse(evs[-1:], done=False)), {})),
    "sse.unterminated": Breach(TEXT, "a body whose last event lost its blank line (a proxy that drops the final \\n\\n)",
                               wire=lambda evs: (to_sse(evs, done=False)[:-2], {})),
    "sse.utf8": Breach(TEXT, "a delta whose bytes are Latin-1, not UTF-8 (a server that encodes its own way)",
                       wire=lambda evs: (to_sse(evs).replace(b'"delta": "', b'"delta": "\xe9', 1), {})),
    # --- events ---
    "event.schema": Breach(TEXT, "vLLM: content_index -1 (PR #30192)",
                           lambda evs: _each(evs, "response.output_text.delta", lambda e: e.update(content_index=-1))),
    "event.unknown-type": Breach(RAW_REASONING, "vLLM: invented response.reasoning_part.* events (PR #24938)",
                                 lambda evs: [e.update(type=e["type"].replace("content_part", "reasoning_part"))
                                              for e in evs if e["type"].startswith("response.content_part") and e["output_index"] == 0]),
    "event.error-shape": Breach(ERROR, "an error event whose error is a bare string",
                                lambda evs: evs[first(evs, "error")].update(error="rate_limit_exceeded")),
    "event.logprobs": Breach(TEXT, "logprobs: null on output_text.delta",
                             lambda evs: _each(evs, "response.output_text.delta", lambda e: e.update(logprobs=None))),
    # --- sequence numbers ---
    "seq.increasing": Breach(TEXT, "LiteLLM: non-increasing sequence numbers (PR #28899); llama.cpp server (PR #24957)",
                             lambda evs: [e.update(sequence_number=0) for e in evs]),
    "seq.contiguous": Breach(TEXT, "sequence numbers with gaps",
                             lambda evs: [e.update(sequence_number=2 * e["sequence_number"]) for e in evs]),
    # --- lifecycle ---
    "lifecycle.created-first": Breach(TEXT, "LiteLLM: no response.created (#32561)", lambda evs: _drop(evs, "response.created")),
    "lifecycle.in-progress-order": Breach(TEXT, "response.in_progress after the first item event",
                                          lambda evs: _move(evs, first(evs, "response.in_progress"), first(evs, "response.content_part.added"))),
    "lifecycle.one-terminal": Breach(TEXT, "openai-agents: several response.completed in one stream (#2427)",
                                     lambda evs: renumber(evs.append(copy.deepcopy(evs[-1])) or evs)),
    "lifecycle.terminal-status": Breach(TEXT, "response.completed whose response.status says in_progress",
                                        lambda evs: terminal(evs).update(status="in_progress")),
    "lifecycle.stable-response": Breach(TEXT, "vLLM: ids differing from the completed event (PR #38227)",
                                        lambda evs: terminal(evs).update(id="resp_another")),
    "lifecycle.error-then-failed": Breach(ERROR, "an error event followed by response.completed",
                                          lambda evs: evs[-1].update(type="response.completed")),
    "lifecycle.incomplete-item-last": Breach(SUMMARY, "an incomplete item that is not the last one, in a completed response",
                                             lambda evs: [item.update(status="incomplete") for item in
                                                          (evs[first(evs, "response.output_item.done", output_index=0)]["item"], terminal(evs)["output"][0])]),
    # --- items ---
    "item.opened": Breach(TEXT, "LiteLLM: a delta before its item (#22102)",
                          lambda evs: _move(evs, first(evs, "response.output_text.delta"), first(evs, "response.output_item.added"))),
    "item.index-order": Breach(TEXT, "sglang: output_index starting at 1 (#12644)",
                               lambda evs: [e.update(output_index=e["output_index"] + 1) for e in evs if "output_index" in e]),
    "item.closed-once": Breach(CALL, "LiteLLM: an item closed but never opened (#37852)", lambda evs: _drop(evs, "response.output_item.added")),
    "item.same-identity": Breach(TEXT, "vLLM: a done item whose id differs from the added one (PR #38227)",
                                 lambda evs: [d.update(id="msg_other") for d in (evs[first(evs, "response.output_item.done")]["item"], terminal(evs)["output"][0])]),
    "item.id-matches": Breach(TEXT, "LiteLLM: a new item_id per event (#30071)",
                              lambda evs: [e.update(item_id=f"msg_{n}") for n, e in enumerate(evs) if "item_id" in e]),
    "item.fields": Breach(TEXT, "message items without status", lambda evs: [item.pop("status") for item in _message_item_dicts(evs)]),
    "item.done-terminal": Breach(TEXT, "output_item.done with status in_progress",
                                 lambda evs: _set_everywhere(evs, lambda es: [es[first(es, "response.output_item.done")]["item"], terminal(es)["output"][0]],
                                                             "status", "in_progress")),
    "item.no-update-after-done": Breach(TEXT, "LiteLLM: done events out of order (PR #36356): output_item.done before the text's done",
                                        lambda evs: _move(evs, first(evs, "response.output_item.done"), first(evs, "response.output_text.done"))),
    "item.sequential": Breach(SUMMARY, "item 1 added before item 0 is done",
                              lambda evs: _move(evs, first(evs, "response.output_item.done", output_index=0), first(evs, "response.function_call_arguments.delta"))),
    "item.final-output": Breach(TEXT, "vLLM: empty output on response.completed (PR #30223)", lambda evs: terminal(evs).update(output=[])),
    # --- content parts ---
    "part.opened": Breach(TEXT, "LiteLLM: missing content_part.added (PR #24445)", lambda evs: _drop(evs, "response.content_part.added")),
    "part.index-order": Breach(TEXT, "the first part numbered 1",
                               lambda evs: [e.update(content_index=1) for e in evs if "content_index" in e]),
    "part.closed-once": Breach(TEXT, "no content_part.done", lambda evs: _drop(evs, "response.content_part.done")),
    "part.one-done": Breach(TEXT, "ogx/llama-stack: no output_text.done (#5309)", lambda evs: _drop(evs, "response.output_text.done")),
    "part.kind-matches": Breach(RAW_REASONING, "sglang: reasoning part typed output_text (PR #9368)",
                                lambda evs: [e["part"].update(type="output_text") for e in evs
                                             if e["type"].startswith("response.content_part") and e["output_index"] == 0]),
    "part.text-consistent": Breach(TEXT, "output_text.done text that is not the concatenated deltas",
                                   lambda evs: evs[first(evs, "response.output_text.done")].update(text="Something else entirely.")),
    # --- annotations ---
    "annotation.in-open-part": Breach(WEB, "annotation.added after its part's content_part.done",
                                      lambda evs: _move(evs, first(evs, "response.output_text.annotation.added"), first(evs, "response.output_item.done", output_index=1))),
    "annotation.index-order": Breach(FILES, "annotation_index starting at 1",
                                     lambda evs: evs[first(evs, "response.output_text.annotation.added")].update(annotation_index=1)),
    "annotation.type": Breach(WEB, "xAI: url_citation without title, start_index and end_index (vercel-ai xAI fixtures)",
                              lambda evs: _walk_annotations(evs, lambda a: [a.pop(k) for k in ("title", "start_index", "end_index")])),
    "annotation.bounds": Breach(WEB, "citation end_index past the end of the text",
                                lambda evs: _walk_annotations(evs, lambda a: a.update(end_index=10**6))),
    "annotation.consistent": Breach(FILES, "ogx/llama-stack: file citations only in the final response, never annotation.added",
                                    lambda evs: _drop(evs, "response.output_text.annotation.added")),
    # --- reasoning ---
    "reasoning.summary-lifecycle": Breach(SUMMARY, "no reasoning_summary_text.done", lambda evs: _drop(evs, "response.reasoning_summary_text.done")),
    "reasoning.summary-consistent": Breach(SUMMARY, "an item summary that is not what was streamed",
                                           lambda evs: [item["summary"][0].update(text="Another summary.") for item in
                                                        (evs[first(evs, "response.output_item.done", output_index=0)]["item"], terminal(evs)["output"][0])]),
    "reasoning.text-on-reasoning-item": Breach(RAW_REASONING, "ogx/llama-stack: reasoning_text deltas on the message item",
                                               lambda evs: [item.update(type="message") for item in
                                                            [e["item"] for e in evs if e["type"].startswith("response.output_item") and e["output_index"] == 0]
                                                            + [terminal(evs)["output"][0]]]),
    # --- tools ---
    "args.lifecycle": Breach(CALL, "function_call_arguments.done that is not the concatenated deltas",
                             lambda evs: evs[first(evs, "response.function_call_arguments.done")].update(arguments='{"location":"Paris"}')),
    "args.json": Breach(CALL, "function-call arguments cut mid-JSON", lambda evs: rewrite_arguments(evs, 0, '{"location": "Par')),
    "tool.not-as-text": Breach(TEXT, "vLLM: tool calls as text (PR #36445)",
                               lambda evs: rewrite_text(evs, 0, '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>')),
    "hosted.status-order": Breach(WEB, "web_search_call.searching before in_progress",
                                  lambda evs: _move(evs, first(evs, "response.web_search_call.searching"), first(evs, "response.web_search_call.in_progress"))),
    # --- final response ---
    "final.usage": Breach(TEXT, "usage.total_tokens != input + output",
                          lambda evs: terminal(evs)["usage"].update(total_tokens=terminal(evs)["usage"]["total_tokens"] + 1)),
}


def test_every_rule_has_a_breach() -> None:
    """Every Responses rule here; the chat rules' breaches are in test_validate_chat.py (its every-rule test), and the
    rules across requests have theirs on the served bridge's real answers (tests/servers/test_bridge_state.py), and
    error.object (over HTTP error answers, not streams) on mutations of OpenAI's own (tests/events/test_error_object.py);
    the WebSocket rules theirs on a recorded socket's frames (tests/events/test_socket_rules.py)."""
    assert set(BREACHES) == ({rule_id for rule_id, rule in RULES.items() if rule.openai or rule.openresponses}
                             - ACROSS_RULES - {ERROR_OBJECT_RULE} - set(SOCKET_RULES))


@pytest.mark.parametrize("rule", sorted(BREACHES))
def test_the_rule_fires_on_the_broken_stream_and_not_on_the_untouched_one(rule: str) -> None:
    breach = BREACHES[rule]
    clean, broken = breach.streams()
    severity = enabled_rules(breach.profile)[rule]
    fired = [v for v in validate_stream(broken, breach.profile) if v.rule == rule]
    assert fired, f"{rule} did not fire on: {breach.origin}"
    assert {v.severity for v in fired} == {severity} or rule == "event.unknown-type"
    assert [str(v) for v in validate_stream(clean, breach.profile) if v.rule == rule] == []


def test_unknown_types_are_warnings_under_openai_and_errors_under_openresponses_unless_prefixed() -> None:
    _, broken = BREACHES["event.unknown-type"].streams()
    assert {v.severity for v in validate_stream(broken, "openai") if v.rule == "event.unknown-type"} == {"warning"}
    assert {v.severity for v in validate_stream(broken, "openresponses") if v.rule == "event.unknown-type"} == {"error"}
    prefixed = [dict(e.raw, type="acme:" + e.raw["type"]) if e.raw["type"].startswith("response.reasoning_part") else e.raw for e in broken.events]
    assert {v.severity for v in validate_stream(parse_events(prefixed), "openresponses") if v.rule == "event.unknown-type"} == {"warning"}
    assert not [v for v in validate_stream(broken, "lenient") if v.rule == "event.unknown-type"]


def test_the_done_sentinel_is_not_required_under_openai() -> None:
    _, broken = BREACHES["sse.done-sentinel"].streams()
    assert not [v for v in validate_stream(broken, "openai") if v.rule == "sse.done-sentinel"]


def test_wire_rules_are_skipped_without_wire_facts() -> None:
    body = to_sse(load(TEXT), done=False).replace(b"event: response.output_text.done", b"event: nope")
    with_wire = {v.rule for v in validate_stream(parse_sse(body, content_type="application/json"), "openresponses")}
    assert {"sse.event-name", "sse.done-sentinel", "sse.content-type"} <= with_wire
    without_wire = {v.rule for v in validate_stream(parse_events(load(TEXT)), "openresponses")}
    assert not any(rule.startswith("sse.") for rule in without_wire)


def test_violations_say_where() -> None:
    _, broken = BREACHES["item.id-matches"].streams()
    fired = [v for v in validate_stream(broken) if v.rule == "item.id-matches"]
    deltas = [i for i, e in enumerate(broken.events) if e.type == "response.output_text.delta"]
    assert [v.index for v in fired][: len(deltas)] == [i for i in range(len(broken.events)) if "item_id" in broken.events[i].raw][: len(deltas)]
    first_fired = fired[0]
    event = broken.events[first_fired.index]  # type: ignore[index]
    assert (first_fired.sequence_number, first_fired.output_index, first_fired.item_id) == (
        event.sequence_number, event.output_index, event.item_id)


@pytest.mark.parametrize("garbage", [
    [],
    [{"no": "type"}],
    [{"type": 5, "sequence_number": "x"}],
    [{"type": "response.output_item.added", "output_index": "0", "item": "msg"}],
    [{"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": None}] * 3,
    [{"type": "response.completed", "response": None}, {"type": "response.created", "response": []}],
    [{"type": "response.output_item.done", "output_index": 0, "item": {"id": 1}}],
    [{"type": "response.output_text.annotation.added", "output_index": 0, "content_index": 0, "annotation": [1]}],
    [{"type": "response.web_search_call.completed", "output_index": 0}, {"type": "error"}],
])
def test_garbage_becomes_violations_never_exceptions(garbage: list[Raw]) -> None:
    for profile in ("openai", "openresponses", "lenient"):
        violations = validate_stream(parse_events(copy.deepcopy(garbage)), profile)
        assert any(v.severity == "error" for v in violations)


def test_not_json_payloads_are_reported_under_sse_json_even_from_jsonl() -> None:
    from kit.events import parse_jsonl

    stream = parse_jsonl('{"type": "response.created", "sequence_number": 0, "response": {}}\nnot json\n')
    fired = [v for v in validate_stream(stream, "lenient") if v.rule == "sse.json"]
    assert [v.index for v in fired] == [1]


def test_the_openai_sdk_really_drops_an_unterminated_last_event() -> None:
    """The basis of sse.unterminated, checked against the real SDK decoder rather than assumed."""
    from openai._streaming import SSEDecoder as SDKDecoder

    events = load(TEXT)
    whole, cut = to_sse(events, done=False), to_sse(events, done=False)[:-2]
    sdk = lambda body: [s.data for s in SDKDecoder().iter_bytes(iter([body]))]  # noqa: E731
    assert len(sdk(whole)) == len(events) and len(sdk(cut)) == len(events) - 1
    ours = parse_sse(cut)
    assert len(ours.events) == len(events) and ours.wire is not None and ours.wire.unterminated


def test_invalid_utf8_is_judged_alike_from_sse_and_from_jsonl() -> None:
    from kit.events import parse_jsonl

    latin = lambda body: body.replace(b'"delta": "', b'"delta": "\xff', 1)  # noqa: E731
    jsonl = latin(b"\n".join(json.dumps(e, ensure_ascii=False).encode() for e in load(TEXT)))
    from_jsonl = {v.rule for v in validate_stream(parse_jsonl(jsonl))}
    from_sse = {v.rule for v in validate_stream(parse_sse(latin(to_sse(load(TEXT)))))}
    assert "sse.utf8" in from_jsonl and "sse.utf8" in from_sse
    assert {r for r in from_jsonl if r.startswith("sse.")} == {"sse.utf8"}  # no SSE framing rule for a jsonl file


def test_an_incomplete_reason_outside_the_sdks_values_breaks_terminal_status() -> None:
    """The values come from the openai SDK's own type, read here rather than copied."""
    import typing

    from openai.types.responses.response import IncompleteDetails

    allowed = set(typing.get_args(typing.get_args(IncompleteDetails.model_fields["reason"].annotation)[0]))
    events = load(TEXT)
    events[-1]["type"] = "response.incomplete"
    end = terminal(events)
    end.update(status="incomplete", incomplete_details={"reason": "length"})
    rules = [v for v in validate_stream(parse_events(events)) if v.rule == "lifecycle.terminal-status"]
    assert len(rules) == 1 and "'length'" in rules[0].message
    for reason in allowed:
        end["incomplete_details"] = {"reason": reason}
        assert not [v for v in validate_stream(parse_events(events)) if v.rule == "lifecycle.terminal-status"]
