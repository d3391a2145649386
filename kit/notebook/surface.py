"""Checks of the request surface (issue 20): structured outputs, tool choice, logprobs, request errors.

Each `expect_*` raises `StreamCheckFailed` saying what was expected and what came; a notebook runs it through
`Scenario.expect(name, ...)` so a peer's miss is recorded for the runner (a known finding when its baseline
names it). `reject` sends a request the server must refuse and judges its answer under the rule
`error.object` (`kit.events.error_object`).
"""

from __future__ import annotations

import json
from typing import Any

from kit.events import Stream, accumulate
from kit.events.error_object import error_object_violations
from kit.notebook.checks import StreamCheckFailed, _fail
from kit.notebook.display import _display


# -- structured outputs -----------------------------------------------------------------------------------


def expect_json(stream: Stream, schema: dict[str, Any] | None = None) -> Any:
    """The answer parses as JSON (an object), and validates against `schema` when one is given."""
    from jsonschema import Draft202012Validator

    text = accumulate(stream).text
    try:
        value = json.loads(text)
    except ValueError as exc:
        _fail(stream, f"the answer is not JSON ({exc}): {text[:200]!r}")
    if not isinstance(value, dict):
        _fail(stream, f"the answer is JSON but not an object: {text[:200]!r}")
    if schema is not None:
        errors = sorted(Draft202012Validator(schema).iter_errors(value), key=lambda e: list(e.path))
        if errors:
            _fail(stream, "the answer does not validate against the schema: "
                          + "; ".join(f"{'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in errors[:3]))
    return value


# -- tool choice --------------------------------------------------------------------------------------------


def function_calls(stream: Stream) -> list[dict[str, Any]]:
    """The function_call items of the final response."""
    return [item for item in accumulate(stream).output if item.get("type") == "function_call"]


def expect_no_function_call(stream: Stream) -> str:
    """`tool_choice: none`: an answer, and no function call."""
    calls = function_calls(stream)
    if calls:
        _fail(stream, f"tool_choice 'none', yet the response calls {[c.get('name') for c in calls]}")
    return accumulate(stream).text


def expect_calls_at_most(stream: Stream, count: int) -> list[dict[str, Any]]:
    """`parallel_tool_calls: false`: at most one call in the turn."""
    calls = function_calls(stream)
    if len(calls) > count:
        _fail(stream, f"expected at most {count} function call(s), got {len(calls)}: {[c.get('name') for c in calls]}")
    return calls


def expect_separate_calls(stream: Stream) -> list[dict[str, Any]]:
    """Two or more calls in one turn: each its own item id and call_id, its own argument deltas and done event
    (on its own item id), and the arguments streamed equal the item's."""
    calls = function_calls(stream)
    if len(calls) < 2:
        _fail(stream, f"expected two or more function calls in one turn, got {len(calls)}")
    for field in ("id", "call_id"):
        values = [c.get(field) for c in calls]
        if len(set(values)) != len(values) or None in values:
            _fail(stream, f"the calls' {field}s are not distinct: {values}")
    for call in calls:
        deltas = [e.raw.get("delta") or "" for e in stream.events
                  if e.type == "response.function_call_arguments.delta" and e.raw.get("item_id") == call["id"]]
        done = [e.raw.get("arguments") for e in stream.events
                if e.type == "response.function_call_arguments.done" and e.raw.get("item_id") == call["id"]]
        if len(done) != 1 or "".join(deltas) != done[0] or done[0] != call.get("arguments"):
            _fail(stream, f"call {call.get('name')} ({call['id']}): {len(deltas)} argument delta(s) making "
                          f"{''.join(deltas)!r}, {len(done)} done event(s) {done!r}, item arguments "
                          f"{call.get('arguments')!r}: expected the deltas to make the one done and the item")
    return calls


# -- logprobs -----------------------------------------------------------------------------------------------


def _tokens(logprobs: Any) -> list[tuple[str, float, tuple[str, ...]]]:
    return [(str(e.get("token")), round(float(e.get("logprob")), 6),
             tuple(str(t.get("token")) for t in e.get("top_logprobs") or ()))
            for e in logprobs or () if isinstance(e, dict)]


def expect_logprobs(stream: Stream, *, top: int) -> list[tuple[str, float, tuple[str, ...]]]:
    """`include: ["message.output_text.logprobs"]`: every text delta carries the logprobs of its tokens; their
    concatenation equals the `output_text.done` logprobs and the finished part's, the tokens spell the text,
    and each token has `top` alternatives (fewer only when the vocabulary ran out)."""
    deltas = [e for e in stream.events if e.type == "response.output_text.delta"]
    if not deltas:
        _fail(stream, "no output_text.delta: nothing to compare")
    streamed = [t for e in deltas for t in _tokens(e.raw.get("logprobs"))]
    if not streamed:
        _fail(stream, f"logprobs were asked for (include message.output_text.logprobs), but none of the "
                      f"{len(deltas)} output_text.delta events carries any")
    done = [e for e in stream.events if e.type == "response.output_text.done"]
    if done and _tokens(done[-1].raw.get("logprobs")) != streamed:
        _fail(stream, f"the deltas carry {len(streamed)} token logprobs, output_text.done "
                      f"{len(_tokens(done[-1].raw.get('logprobs')))}, and they differ")
    parts = [p for item in accumulate(stream).output if item.get("type") == "message"
             for p in item.get("content") or () if p.get("type") == "output_text"]
    if not parts or _tokens(parts[-1].get("logprobs")) != streamed:
        got = len(_tokens(parts[-1].get("logprobs"))) if parts else "no part"
        _fail(stream, f"the deltas carry {len(streamed)} token logprobs, the final output_text part {got}: "
                      f"they differ")
    text = "".join(e.raw.get("delta") or "" for e in deltas)
    spelled = "".join(t[0] for t in streamed)
    if spelled.strip() != text.strip():
        _fail(stream, f"the tokens spell {spelled[:80]!r}, the text is {text[:80]!r}")
    short = [t for t in streamed if len(t[2]) != top]
    if short:
        _fail(stream, f"top_logprobs {top} asked, {len(short)} token(s) carry another count "
                      f"(first: {short[0][0]!r} with {len(short[0][2])})")
    return streamed


# -- request errors -----------------------------------------------------------------------------------------


def reject(scenario: Any, request: dict[str, Any], *, title: str, stream: bool = True,
           upstream_decides: bool = False, client_error: bool = True) -> dict[str, Any]:
    """Send a request the server must refuse; judge the answer. Returns what came: `status`, `error`, `how`.

    An HTTP error answer is judged under `error.object` and must be a 4xx (`expect.client-error`: the client
    was wrong); a stream must end `error` + `response.failed` (`expect.failure`, the stream rules judge its
    events). The in-process bridge (setups that bridge) refuses before any request with `UnsupportedParameter`,
    whose error object (the served bridge's 400 body) is judged the same way. `upstream_decides`: on an
    in-process bridge the upstream alone decides (the model name); its acceptance is shown, not judged.
    `client_error=False`: any refusal will do (4xx or 5xx): only the model server knows its context window, and a
    gateway over one that fails without saying why (llama-cpp-python: HTTP 200, an empty stream) can only say
    that it failed.
    """
    import openai

    from kit.bridge.request import UnsupportedParameter
    from kit.summary import Expectation

    route = scenario.setup.responses
    try:
        if stream:
            events = scenario.responses_stream(request, title=title)
        else:
            if route == "bridge":
                _display(f"{title}: not sent: the in-process bridge has one path for both (the stream above)")
                return {"how": "not sent"}
            answer = scenario.client.responses.create(**{"model": scenario.text_model, **request})
            events = None
    except openai.APIStatusError as exc:
        body = _json_body(exc.response)
        return _judge_answer(scenario, title, exc.status_code, body, "HTTP", client_error)
    except UnsupportedParameter as exc:
        return _judge_answer(scenario, title, 400, exc.error_object(), "the in-process bridge's refusal", client_error)
    if events is None:  # not streamed, and answered 2xx
        data = answer.to_dict()
        _display(f"{title}: HTTP 200, a response with status {data.get('status')!r}")
        if data.get("status") == "failed":
            scenario.expectations.append(Expectation("expect.failure", True))
            scenario.checked.append((title, tuple(error_object_violations({"error": data.get("error")}, 200))))
        else:
            scenario.expectations.append(Expectation("expect.failure", False,
                                                     f"{title}: HTTP 200, status {data.get('status')!r}"))
        return {"how": "response", "status": 200, "error": data.get("error")}
    result = accumulate(events)
    if upstream_decides and route == "bridge" and result.status != "failed":
        scenario.not_shown.append(f"{title}: the in-process bridge leaves it to the upstream, which accepted it")
        _display(f"{title}: not judged: the in-process bridge has no model list of its own; the upstream "
                 f"answered (status {result.status!r})")
        return {"how": "stream", "status": None, "error": None}
    scenario.check(events)
    failed = result.status == "failed" and any(e.type == "error" for e in events.events)
    where = f"{events.source}: the stream ended {result.status!r}" + ("" if failed else " (expected error + response.failed)")
    scenario.expectations.append(Expectation("expect.failure", failed, None if failed else where))
    if not failed:
        _display(f"{_label(scenario, 'expect.failure')}\n  seen: {where}")
    return {"how": "stream", "status": None, "error": result.error if hasattr(result, "error") else None}


def _judge_answer(scenario: Any, title: str, status: int, body: Any, how: str, judge_status: bool) -> dict[str, Any]:
    from kit.summary import Expectation

    violations = error_object_violations(body, status)
    scenario.checked.append((title, tuple(violations)))
    scenario.expectations.append(Expectation("expect.failure", True))
    client_error = 400 <= status < 500 or not judge_status
    if judge_status:
        scenario.expectations.append(Expectation("expect.client-error", client_error,
                                                 None if client_error else f"{title}: HTTP {status}"))
    error = body.get("error") if isinstance(body, dict) else None
    _display(f"{title}: {how} {status}: {json.dumps(body)[:400] if not isinstance(body, str) else body[:400]}")
    for v in violations:
        _display(f"{_label(scenario, v.rule, 'conformance error')}\n  seen: {title}: {v.message}")
    if not client_error:
        _display(f"{_label(scenario, 'expect.client-error')}\n  seen: {title}: HTTP {status}, expected a 4xx "
                 f"(the request is at fault)")
    return {"how": how, "status": status, "error": error}


def _label(scenario: Any, rule: str, otherwise: str = "expectation missed") -> str:
    """How a miss is shown: as the setup's known finding when its baseline names the rule here."""
    known = {f.rule: f for f in scenario.context.findings}
    return f"known finding: {known[rule].line}" if rule in known else f"{otherwise} {rule}"


def _json_body(response: Any) -> Any:
    try:
        return json.loads(response.text)
    except (ValueError, AttributeError):
        return getattr(response, "text", None)


__all__ = ["StreamCheckFailed", "show_calls", "expect_calls_at_most", "expect_json", "expect_logprobs", "expect_no_function_call",
           "expect_separate_calls", "function_calls", "reject"]


def show_calls(scenario: Any, stream: Stream, why_none: str) -> list[dict[str, Any]]:
    """Where the server may or may not call (`auto`, or `required` over an upstream that ignores it): a call made
    must have JSON-object arguments, two or more must be separate items (`expect_separate_calls`); no call is
    shown as not shown, with `why_none`, never passed."""
    from kit.notebook.checks import expect_function_call

    calls = function_calls(stream)
    if not calls:
        scenario.not_shown.append(why_none)
        _display(f"not shown: {why_none}")
    elif len(calls) == 1:
        expect_function_call(stream, calls[0].get("name"))
        scenario.not_shown.append("parallel tool calls (two calls in one turn): one call was made")
    else:
        scenario.expect("expect.tool-choice", lambda: expect_separate_calls(stream), stream)
    return calls
