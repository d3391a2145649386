"""The next turn of a conversation, built from what the last stream gave the client.

A tool loop or a chat goes on in one of two ways on the Responses API: the client sends the whole history
again as `input` (the stateless way, which every server must take), or it names the last response with
`previous_response_id` and sends only what is new (the server keeps the history). Both start from what the
client saw streamed: the response id, the function calls (with their `call_id`), the answer. These helpers
build those requests and check what came back; pure over `Stream`s, so they need no server. The
`Scenario` sends them (`Scenario.continue_from`).

The items sent back are the ones the openai SDK's own examples send (`call_id`, `name`, `arguments` of a
function call; an assistant message as its text), without the server's bookkeeping (`id`, `status`), so
that any server, native or bridged, reads them the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kit.events import Stream, accumulate
from kit.notebook.checks import _fail


def response_id(stream: Stream) -> str:
    """The id of the response a stream carried (what `previous_response_id` names next)."""
    found = accumulate(stream).id
    if not found:
        _fail(stream, "the stream carried no response id: there is nothing to continue from")
    return str(found)


def function_calls(stream: Stream) -> list[dict[str, Any]]:
    """The function calls as the client saw them streamed, as input items (call_id, name, arguments)."""
    return [{"type": "function_call", "call_id": item.get("call_id"), "name": item.get("name"),
             "arguments": item.get("arguments") or ""}
            for item in accumulate(stream).output if item.get("type") == "function_call"]


def output_as_input(stream: Stream) -> list[dict[str, Any]]:
    """What the model said and called, as the input items a client sends back in a full history: each
    message as an assistant message with its text, each function call as above (other items are left out:
    nothing in these suites makes them)."""
    items: list[dict[str, Any]] = []
    calls = iter(function_calls(stream))
    for item in accumulate(stream).output:
        if item.get("type") == "function_call":
            items.append(next(calls))
        elif item.get("type") == "message":
            text = "".join(str(p.get("text") or "") for p in item.get("content") or () if isinstance(p, Mapping))
            items.append({"role": "assistant", "content": text})
    return items


def tool_outputs(stream: Stream, results: Mapping[str, str]) -> list[dict[str, Any]]:
    """A `function_call_output` for every function call of the stream: `results` gives each function's
    output by name. A stream with no call, or a call `results` does not know, fails saying so."""
    calls = function_calls(stream)
    if not calls:
        _fail(stream, f"expected a function call to answer, the stream made none "
                      f"(output: {[i.get('type') for i in accumulate(stream).output]})")
    outputs = []
    for call in calls:
        if call["name"] not in results:
            _fail(stream, f"the model called {call['name']!r}; this turn has results for {sorted(results)}")
        if not call["call_id"]:
            _fail(stream, f"the function call {call['name']!r} has no call_id to answer")
        outputs.append({"type": "function_call_output", "call_id": call["call_id"], "output": results[call["name"]]})
    return outputs


def as_items(input_: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A request's `input` as a list of items (a string is one user message)."""
    return [{"role": "user", "content": input_}] if isinstance(input_, str) else [dict(i) for i in input_]


def full_history(*turns: str | Sequence[Mapping[str, Any]] | Stream) -> list[dict[str, Any]]:
    """The whole conversation as one `input` list: what was sent (a string or items) and, for each stream,
    what came back (`output_as_input`), in the order given."""
    items: list[dict[str, Any]] = []
    for turn in turns:
        items += output_as_input(turn) if isinstance(turn, Stream) else as_items(turn)
    return items


def continued(stream: Stream, input_: str | Sequence[Mapping[str, Any]], request: Mapping[str, Any]
              ) -> dict[str, Any]:
    """The next request through `previous_response_id`: only the new input, the last response named."""
    return {**request, "previous_response_id": response_id(stream),
            "input": input_ if isinstance(input_, str) else [dict(i) for i in input_]}


def expect_answered(stream: Stream) -> str:
    """The server answered: the response did not fail and holds some text (its text comes back)."""
    result = accumulate(stream)
    if result.status == "failed" or not result.text.strip():
        error = (result.error or {}).get("message")
        _fail(stream, f"expected an answer, the response ended {result.status!r} with "
                      f"{'the error ' + repr(str(error)[:300]) if error else 'no text'}")
    return result.text


def expect_mentions(stream: Stream, *words: str) -> str:
    """The answer names every one of `words` (as whole words, any case): it used what it was given."""
    text = accumulate(stream).text
    missing = [w for w in words if not re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, re.IGNORECASE)]
    if missing:
        _fail(stream, f"expected the answer to use {', '.join(map(repr, missing))} (given earlier in the "
                      f"conversation), got {text[:200]!r}")
    return text


def expect_previous_echoed(stream: Stream, previous_id: str) -> None:
    """The response says which response it continued (`previous_response_id`, as OpenAI's Response echoes it)."""
    response = accumulate(stream).response or {}
    if response.get("previous_response_id") != previous_id:
        _fail(stream, f"expected the response to echo previous_response_id {previous_id!r}, it says "
                      f"{response.get('previous_response_id')!r}")


def expect_same_answer(stream: Stream, reference: Stream) -> str:
    """The same answer as `reference` (whitespace aside): same model, temperature 0, the same conversation
    sent another way, so the model saw the same context."""
    text, expected = accumulate(stream).text, accumulate(reference).text
    if " ".join(text.split()) != " ".join(expected.split()):
        _fail(stream, f"expected the answer {reference.source or 'the reference'} gave, {expected[:120]!r}; "
                      f"got {text[:120]!r}")
    return text


__all__ = ["as_items", "continued", "expect_answered", "expect_mentions", "expect_previous_echoed", "expect_same_answer",
           "full_history", "function_calls", "output_as_input", "response_id", "tool_outputs"]
