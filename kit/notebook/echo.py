"""The request surface: what a server must echo of a request, and its answer with and without streaming.

OpenAI's API reference (The response object) gives the Response the request's own values back:
`instructions`, `max_output_tokens`, `temperature`, `top_p`, `metadata`, `user`, `safety_identifier`,
`truncation`, ... A server that drops or rewrites one still streams a flawless response, so the notebooks of
the request surface compare the echo with what was sent (`expect_echo`, the expectation `expect.echo` a
peer's baseline may name) and the same request without streaming with the stream's final response
(`kit.events.across.compare_non_streaming`, rule `final.stream-equals-non-streaming`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kit.events import Stream, accumulate
from kit.notebook.checks import StreamCheckFailed, expect_status

# Request fields the Response object echoes as sent (OpenAI API reference, The response object).
ECHOED_FIELDS = ("instructions", "max_output_tokens", "temperature", "top_p", "metadata", "user",
                 "safety_identifier", "truncation", "tool_choice", "parallel_tool_calls")


def final_response(stream: Stream) -> dict[str, Any]:
    """The response the stream ended with: the terminal event's snapshot (the validator ties its output to the
    streamed items), else the last snapshot any lifecycle event carried."""
    return dict(accumulate(stream).response or {})


def echo_differences(response: Mapping[str, Any], sent: Mapping[str, Any],
                     fields: Iterable[str] = ECHOED_FIELDS) -> list[str]:
    """Each echoed field of `sent` the response does not carry with the same value (numbers compare as numbers)."""
    out = []
    for field in fields:
        if field not in sent:
            continue
        if field not in response and sent[field] is None:
            continue  # a null field may be left out: a client reads None either way
        if field not in response:
            out.append(f"{field}: sent {sent[field]!r}, absent from the response")
        elif not _same(response[field], sent[field]):
            out.append(f"{field}: sent {sent[field]!r}, echoed {response[field]!r}")
    return out


def expect_echo(stream: Stream, sent: Mapping[str, Any], fields: Iterable[str] = ECHOED_FIELDS) -> dict[str, Any]:
    """The stream's final response echoes every field of `sent` among `fields`; raises naming each that does not."""
    response = final_response(stream)
    if not response:
        raise StreamCheckFailed(f"{stream.source}: the stream carried no response object to compare")
    wrong = echo_differences(response, sent, fields)
    if wrong:
        raise StreamCheckFailed(f"{stream.source}: the response does not echo the request as sent: " + "; ".join(wrong))
    return {field: response.get(field) for field in fields if field in sent}


def _same(got: Any, sent: Any) -> bool:
    if isinstance(got, bool) or isinstance(sent, bool):
        return got is sent
    if isinstance(got, (int, float)) and isinstance(sent, (int, float)):
        return float(got) == float(sent)
    return bool(got == sent)


def expect_cut_at_limit(stream: Stream, limit: int) -> str:
    """An answer longer than `limit` tokens ends `incomplete` (reason `max_output_tokens`), with no more than
    `limit` output tokens where the server reports usage. A reason outside the API's is the validator's to judge
    (lifecycle.terminal-status), once, as in `expect_status`."""
    expect_status(stream, "incomplete", reason="max_output_tokens")
    result = accumulate(stream)
    used = (result.usage or {}).get("output_tokens")
    if isinstance(used, int) and used > limit:
        raise StreamCheckFailed(f"{stream.source}: {used} output tokens, over max_output_tokens={limit}")
    return result.text


def expect_output_text(response: Mapping[str, Any]) -> str:
    """A non-streamed Response object with an answer: a message whose output_text is not empty."""
    text = "".join(str(part.get("text") or "") for item in response.get("output") or () if isinstance(item, Mapping)
                   and item.get("type") == "message" for part in item.get("content") or () if isinstance(part, Mapping)
                   and part.get("type") == "output_text")
    if not text.strip():
        raise StreamCheckFailed(f"the response {response.get('id')!r} (status {response.get('status')!r}) carries no "
                                f"output_text")
    return text
