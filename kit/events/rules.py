"""The rule catalog of docs/conformance-rules.md, as data.

Ids, severities and profiles are public names: reports list them, users filter
on them, tests refer to them. Change them only together with the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]
RESPONSES_PROFILES: tuple[str, ...] = ("openai", "openresponses", "lenient")
CHAT_PROFILE = "chat"  # Chat Completions streams: the chat.* rules and the wire rules
PROFILES: tuple[str, ...] = (*RESPONSES_PROFILES, CHAT_PROFILE)
DEFAULT_PROFILE = "openai"


@dataclass(frozen=True)
class Rule:
    """One catalog rule: its severity under `openai`, `openresponses` and `chat` (None: off), and whether it is `core`.

    `lenient` turns on only core Responses rules, as errors.
    """

    id: str
    openai: Severity | None
    openresponses: Severity | None
    core: bool
    basis: str
    description: str
    chat: Severity | None = None

    def severity(self, profile: str) -> Severity | None:
        """The rule's severity under `profile`, or None when the profile leaves it off."""
        if profile == "lenient":
            return "error" if self.core else None
        if profile == "openai":
            return self.openai
        if profile == "openresponses":
            return self.openresponses
        if profile == CHAT_PROFILE:
            return self.chat
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")


E: Severity = "error"
W: Severity = "warning"


def _rule(id: str, openai: Severity | None, description: str, basis: str, *, core: bool = False,
          openresponses: Severity | None | str = "same", chat: Severity | None = None) -> Rule:
    return Rule(id, openai, openai if openresponses == "same" else openresponses, core, basis, description, chat)  # type: ignore[arg-type]


def _chat(id: str, chat: Severity, description: str, basis: str) -> Rule:
    """A rule of Chat Completions streams only (the `chat` profile)."""
    return Rule(id, None, None, False, basis, description, chat)


_CATALOG: tuple[Rule, ...] = (
    # Wire (only when the raw SSE is available)
    _rule("sse.content-type", E, "HTTP 200 answer has Content-Type: text/event-stream", "OR", chat=E),
    _rule("sse.json", E, "every data: payload except [DONE] is one JSON object; multi-line data joined by \\n", "OR", core=True, chat=E),
    _rule("sse.event-name", W, "an event: line, when present, equals the JSON type", "OR", openresponses=E),
    _rule("sse.done-sentinel", None, "stream ends with data: [DONE] (openresponses; a warning under chat)", "OR; Chat Completions reference", openresponses=E, chat=W),
    _rule("sse.after-done", E, "nothing follows [DONE]", "Conv", chat=E),
    _rule("sse.unterminated", E, "the last event ends with a blank line (the body does not end inside an event)",
          "SDK (openai-python's decoder drops an unterminated last event)", core=True, chat=E),
    _rule("sse.utf8", E, "the body is UTF-8", "WHATWG SSE (UTF-8 only)", core=True, chat=E),
    # Events
    _rule("event.schema", E, "string type, integer sequence_number, required fields of the type, integer indices >= 0, enum values, tool-call item fields", "SDK, OR", core=True),
    _rule("event.unknown-type", W, "type outside the known catalog (openresponses: must be slug-prefixed vendor:name, else an error); unknown fields", "OR"),
    _rule("event.error-shape", E, "error events are flat {code,message,param} or nested {error:{...}}", "real OpenAI traffic"),
    _rule("error.object", E, "a rejected request's HTTP answer is a 4xx/5xx whose body is {error: {message, type, param, code}}: "
          "message and type non-empty strings, param and code a string or null", "API reference (error codes), SDK"),
    _rule("event.logprobs", W, "output_text.delta/.done carry logprobs as a list (empty allowed, null not; openai: absent accepted)", "SDK"),
    # Sequence numbers
    _rule("seq.increasing", E, "sequence_number strictly increases, no duplicates", "OR, SDK", core=True),
    _rule("seq.contiguous", W, "first sequence_number is 0, each next is previous + 1", "Conv"),
    # Response lifecycle
    _rule("lifecycle.created-first", E, "first event is response.created", "SDK", core=True),
    _rule("lifecycle.in-progress-order", W, "queued/in_progress come after created and before any item event", "OR, Conv"),
    _rule("lifecycle.one-terminal", E, "exactly one completed/failed/incomplete, and it is the last event", "Conv, SDK", core=True),
    _rule("lifecycle.terminal-status", E, "terminal type and response.status agree; failed has error; incomplete has incomplete_details.reason", "Conv"),
    _rule("lifecycle.stable-response", E, "response.id, created_at and model are the same in every event carrying a response", "Conv"),
    _rule("lifecycle.error-then-failed", W, "an error event is followed by response.failed with no item events between", "OR"),
    _rule("lifecycle.incomplete-item-last", E, "an item ending incomplete is the last item and the response is incomplete", "OR"),
    # Output items
    _rule("item.opened", E, "events with an output_index refer to an item announced by output_item.added", "OR, SDK", core=True),
    _rule("item.index-order", E, "the k-th output_item.added has output_index k", "SDK", core=True),
    _rule("item.closed-once", E, "every added item gets exactly one output_item.done, later; no done without added", "OR", core=True),
    _rule("item.same-identity", E, "added and done of one index carry the same item.id and item.type", "Conv"),
    _rule("item.id-matches", E, "item_id on sub-events equals the id of the item at that output_index", "Conv", core=True),
    _rule("item.fields", W, "items carry id, type and status (openai: not for types whose SDK status is optional); ids are unique in the response", "OR", openresponses=E),
    _rule("item.done-terminal", E, "output_item.done item.status is not in_progress", "OR"),
    _rule("item.no-update-after-done", E, "nothing refers to an item after its output_item.done", "OR"),
    _rule("item.sequential", W, "items are streamed one after another: done(o) before added(o+1)", "Conv"),
    _rule("item.final-output", E, "terminal response.output equals the done items in order (ids, types, status, text, arguments, annotations)", "Conv"),
    # Content parts
    _rule("part.opened", E, "content_part.added(o,c) precedes any text, refusal, reasoning_text or annotation event for (o,c)", "OR, SDK", core=True),
    _rule("part.index-order", E, "the k-th part of an item has content_index k", "SDK", core=True),
    _rule("part.closed-once", E, "each added part gets one content_part.done, after its <kind>.done and before the item's done", "OR"),
    _rule("part.one-done", E, "per part: deltas, then exactly one <kind>.done, then nothing of that kind", "OR"),
    _rule("part.kind-matches", E, "output_text.* on output_text parts, refusal.* on refusal parts, reasoning_text.* on reasoning_text parts", "SDK", core=True),
    _rule("part.text-consistent", E, "concat(deltas) == <kind>.done text == content_part.done text == output_item.done content", "Conv"),
    # Annotations
    _rule("annotation.in-open-part", E, "annotation.added targets an open output_text part of a message", "SDK"),
    _rule("annotation.index-order", E, "annotation_index counts 0,1,2,... per part", "Conv"),
    _rule("annotation.type", E, "url_citation, file_citation, container_file_citation or file_path with that type's fields", "SDK"),
    _rule("annotation.bounds", W, "citation indices within the part text", "Conv"),
    _rule("annotation.consistent", E, "streamed annotations equal those in content_part.done and output_item.done", "Conv"),
    # Reasoning
    _rule("reasoning.summary-lifecycle", E, "summary part added -> text deltas -> one text done -> part done; summary_index 0,1,...; on a reasoning item", "Conv"),
    _rule("reasoning.summary-consistent", E, "concat(summary deltas) == done text == part text == item summary", "Conv"),
    _rule("reasoning.text-on-reasoning-item", E, "reasoning_text.* lives on a reasoning item, not on a message", "SDK types"),
    # Tool calls
    _rule("args.lifecycle", E, "argument streams: deltas then one done; concat == done == item value; done.name == item.name", "Conv"),
    _rule("args.json", W, "function-call arguments parse as a JSON object", "SDK"),
    _rule("tool.not-as-text", W, "tool calls are tool items, not tool-call markup inside output_text", "Conv"),
    _rule("hosted.status-order", E, "hosted tool status events move forward only, once each, between the item's added and done", "Conv"),
    # Final response
    _rule("final.usage", W, "on completed: usage present and total == input + output", "Conv"),
    # Chat Completions streams (profile chat); basis: the API reference of the chunk object and openai-python
    _chat("chat.schema", E, "each chunk has string id, integer created, string model, a choices list; each choice an "
          "integer index >= 0, a delta object, finish_reason null or a known value; delta fields and tool calls typed",
          "SDK (ChatCompletionChunk)"),
    _chat("chat.object", W, "object is \"chat.completion.chunk\"", "API reference, SDK type"),
    _chat("chat.stable-identity", W, "id, created and model are the same in every chunk", "API reference (\"each chunk has the same ID/timestamp\")"),
    _chat("chat.prompt-filter-chunk", W, "no chunk with an empty id, model and object before the answer (Azure's prompt-filter chunk)",
          "SDK (its stream helper takes id and model from the first chunk)"),
    _chat("chat.finish-reason", E, "every choice ends with a finish_reason, unless the stream fails with an error chunk",
          "API reference, SDK (a cut stream is told apart by it)"),
    _chat("chat.finish-once", W, "finish_reason is sent once per choice, and nothing of that choice follows it",
          "API reference"),
    _chat("chat.usage-last", W, "usage (when not null) is sent once, on the last chunk", "API reference (stream_options.include_usage)"),
    _chat("chat.tool-index", E, "a choice's tool calls are numbered 0, 1, 2, ... in order of appearance", "SDK (accumulate_delta inserts by index)"),
    _chat("chat.tool-call-delta", E, "a tool call's first delta carries its id and function.name; later deltas of that index "
          "carry no other id or name", "SDK (accumulate_delta concatenates strings)"),
    _chat("chat.tool-arguments", W, "the concatenated arguments of each tool call parse as a JSON object", "SDK"),
    _chat("chat.error-chunk", W, "an error chunk carries error.message as a string and is the last chunk",
          "SDK (raises APIError with that message and stops reading)"),
    # Across requests of the stateful API (kit.events.across: judged over several requests, not one stream)
    _rule("state.stored-equals-stream", E, "GET /v1/responses/{id} returns the response its stream ended with "
          "(id, status, model, output items, usage)", "API reference (Retrieve a model response)"),
    _rule("state.resume-continues", E, "a stream resumed with starting_after=N continues at N+1 with no gap and no "
          "repeat", "API reference (starting_after)"),
    _rule("state.input-items-complete", E, "GET /v1/responses/{id}/input_items lists every tool output and message "
          "the client sent", "API reference (List input items)"),
    _rule("final.stream-equals-non-streaming", E, "the same request with stream: false answers the response the stream "
          "ended with, ids and timings aside", "API reference (Create a model response: stream)"),
    # WebSocket mode (kit.events.socket: judged over one socket's frames; each response's events meet the rules above)
    _rule("ws.one-event-per-frame", E, "every server frame is one text frame holding one JSON event object with a "
          "string type", "SDK (responses.connect() parses each message as one ResponsesServerEvent)"),
    _rule("ws.stream-id-echo", E, "every event of a request made with a stream_id echoes it; no event is on a lane "
          "where no request waits", "SDK (response.create stream_id: \"events for the response echo the same "
          "stream_id\")"),
    _rule("ws.error-shape", E, "an error frame nests {type, message, code, param} under error; status, "
          "sequence_number and stream_id typed", "SDK (ResponseWsError)"),
    _rule("ws.one-in-flight", E, "a lane streams one response at a time: no response.created on a lane before its "
          "previous response ended", "SDK (\"requests with the same stream_id are processed FIFO\")"),
    _rule("ws.sequence-per-response", E, "each response's sequence_number counts from 0, per response, not per "
          "socket", "Conv (each response.create is one stream, as each POST is)"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOG}


def enabled_rules(profile: str) -> dict[str, Severity]:
    """Rule id -> severity for every rule `profile` turns on."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return {rule.id: severity for rule in _CATALOG if (severity := rule.severity(profile)) is not None}
