"""What the kit covers: every Responses feature it tests, listed once, with the notebook that covers it.

The coverage page of `kit run`'s report (`kit.runner.coverage_page`), the README's table (`kit coverage
--readme`, checked by tests/test_coverage.py) and `kit coverage` in the terminal are all drawn from
`FEATURES`; a feature is added here and nowhere else.

The Open Responses compliance suite's tests are all here, each under its own test id: the `testTemplates`
of src/lib/compliance-tests.ts in github.com/openresponses/openresponses at commit
18e565604fdf7a08ad3a06bbc30d1ddaee999ea4 (basic-response, streaming-response, system-prompt, tool-calling,
function-call-roundtrip, image-input, file-input, multi-turn, previous-response-id, file-search,
offline-web-search), and tool-calling-streaming of the same file at commit
0cb939ccf839234347b4f0c317569b49fad8fd0e.

Pure: a cell's state is computed from the outcomes a run produced (objects with `suite`, `name`, `setup`,
`status`, `message`, `page`, or the same keys in `results.json`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

OPEN_RESPONSES_SUITE = ("https://github.com/openresponses/openresponses/blob/"
                        "18e565604fdf7a08ad3a06bbc30d1ddaee999ea4/src/lib/compliance-tests.ts")


@dataclass(frozen=True)
class Feature:
    """One thing a Responses server must get right, the notebook (`suite/name`) that covers it and where the
    requirement comes from; `open_responses_test` names the Open Responses compliance test it answers."""

    id: str
    title: str
    notebook: str | None
    source: str
    open_responses_test: str | None = None


_API = "OpenAI API reference"
FEATURES: tuple[Feature, ...] = (
    # -- the Open Responses compliance suite, test by test ----------------------------------------------
    Feature("basic-response", "Basic text response (not streamed)", "responses/streaming_equals_non_streaming",
            f"{_API}: Create a model response", "basic-response"),
    Feature("streaming-response", "Streaming response", "responses/basic_streaming",
            f"{_API}: Streaming events", "streaming-response"),
    Feature("system-prompt", "System prompt (system and developer messages, instructions)", "responses/instructions",
            f"{_API}: Create a model response (instructions, input message roles)", "system-prompt"),
    Feature("tool-calling", "Tool calling (function tool)", "responses/function_tools",
            f"{_API}: Function calling", "tool-calling"),
    Feature("tool-calling-streaming", "Tool calling, streamed (function_call_arguments events)",
            "responses/function_tools", f"{_API}: Streaming events (function_call_arguments)",
            "tool-calling-streaming"),
    Feature("function-call-roundtrip", "Function call round trip (function_call_output)", "responses/tool_round_trip",
            f"{_API}: Function calling (function_call_output)", "function-call-roundtrip"),
    Feature("image-input", "Image input", "vision/image_input", f"{_API}: Images and vision (input_image)",
            "image-input"),
    Feature("file-input", "File input: a PDF as file_data (the compliance test's own request)",
            "responses/file_input_pdf", f"{_API}: File inputs (input_file)", "file-input"),
    Feature("file-input-text", "File input: a text file as file_data, its content used", "responses/file_input",
            f"{_API}: File inputs (input_file)"),
    Feature("file-input-by-id", "File input by file_id (uploaded through /v1/files)", "responses/file_input_by_id",
            f"{_API}: File inputs (input_file); Files: upload a file"),
    Feature("multi-turn", "Multi-turn conversation in input", "responses/multi_turn_input",
            f"{_API}: Conversation state (manual)", "multi-turn"),
    Feature("previous-response-id", "previous_response_id chains", "responses/previous_response_chain",
            f"{_API}: Conversation state (previous_response_id)", "previous-response-id"),
    Feature("file-search", "File search (hosted tool, citations)", "responses/file_search",
            f"{_API}: File search", "file-search"),
    Feature("offline-web-search", "Web search with live access off", None,
            f"{_API}: Web search (not covered: the kit runs no web search backend)", "offline-web-search"),
    # -- the rest of the request surface and the API's routes --------------------------------------------
    Feature("instructions-echo", "instructions echoed in the response object", "responses/instructions",
            f"{_API}: The response object (instructions)"),
    Feature("sampling-and-limits", "max_output_tokens, temperature, top_p, metadata, user, safety_identifier, "
            "truncation echoed; the output limit honoured", "responses/sampling_and_limits",
            f"{_API}: Create a model response; The response object"),
    Feature("stream-equals-non-streaming", "stream: false answers what the stream ended with",
            "responses/streaming_equals_non_streaming", f"{_API}: Create a model response (stream); rule "
            "final.stream-equals-non-streaming"),
    Feature("structured-outputs", "Structured outputs (json_schema strict, json_object)", "responses/structured_outputs",
            f"{_API}: Structured outputs (text.format)"),
    Feature("tool-choice", "tool_choice and parallel tool calls", "responses/tool_choice",
            f"{_API}: Function calling (tool_choice, parallel_tool_calls)"),
    Feature("logprobs", "Logprobs on deltas and final text", "responses/logprobs",
            f"{_API}: Create a model response (include message.output_text.logprobs, top_logprobs)"),
    Feature("request-errors", "Request errors: status and error object, streamed and not", "responses/request_errors",
            f"{_API}: Error codes; Streaming events (error, response.failed)"),
    Feature("incomplete-and-stream-errors", "incomplete responses and errors mid-stream", "responses/errors_incomplete",
            f"{_API}: Streaming events (response.incomplete, error)"),
    Feature("reasoning", "Reasoning text and summary", "responses/reasoning", f"{_API}: Reasoning"),
    Feature("refusal", "Refusals", "responses/refusal", f"{_API}: Streaming events (refusal)"),
    Feature("mcp", "Remote MCP tools (list, call, approval)", "responses/mcp_tools", f"{_API}: Remote MCP"),
    Feature("stored-responses", "Stored responses (retrieve, input items, delete)", "responses/stored_responses",
            f"{_API}: Retrieve a model response; List input items; rule state.stored-equals-stream"),
    Feature("conversations", "Conversations", "responses/conversations", f"{_API}: Conversations"),
    Feature("background-mode", "Background mode (poll, cancel)", "responses/background_mode",
            f"{_API}: Background mode"),
    Feature("background-resume", "Resuming a background stream (starting_after)", "responses/background_resume",
            f"{_API}: Background mode (resume streaming); rule state.resume-continues"),
    Feature("websocket-mode", "WebSocket mode", "responses/websocket_mode", f"{_API}: WebSocket mode"),
    Feature("chat-streaming", "Chat Completions streaming (beneath the bridge)", "base/chat_streaming",
            "OpenAI API reference: Chat Completions streaming"),
    Feature("embeddings", "Embeddings (file search's vectors)", "base/embeddings", f"{_API}: Embeddings"),
)

# A cell's state, from the outcome of the covering notebook on that setup (or its absence).
PASSED, KNOWN, UNSUPPORTED, FAILED = "passed", "known findings", "unsupported", "failed"
NOT_RECORDED, NOT_RUN, NOT_BUILT = "not recorded", "not run", "not built"
STATES = (PASSED, KNOWN, UNSUPPORTED, FAILED, NOT_RECORDED, NOT_RUN, NOT_BUILT)


@dataclass(frozen=True)
class Cell:
    """One feature on one setup: its state, why (an unsupported notebook's reason, a failure's first line), and
    the covering notebook's page in the report, if any."""

    state: str
    reason: str = ""
    page: str | None = None


def _field(outcome: Any, name: str) -> Any:
    value = outcome.get(name) if isinstance(outcome, Mapping) else getattr(outcome, name, None)
    return getattr(value, "value", value)  # an Outcome's Status is an Enum of the same strings


def outcome_index(outcomes: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """(notebook `suite/name`, setup) -> outcome."""
    return {(f"{_field(o, 'suite')}/{_field(o, 'name')}", str(_field(o, 'setup'))): o for o in outcomes}


def cell(feature: Feature, setup: str, outcomes: Mapping[tuple[str, str], Any],
         built: Iterable[str] | None = None) -> Cell:
    """The state of `feature` on `setup` in a run: the covering notebook's outcome, else not run / not built."""
    if feature.notebook is None:
        return Cell(NOT_BUILT, "no notebook covers it yet")
    outcome = outcomes.get((feature.notebook, setup))
    if outcome is None:
        if built is not None and feature.notebook not in set(built):
            return Cell(NOT_BUILT, f"{feature.notebook} does not exist in this checkout")
        return Cell(NOT_RUN, f"{feature.notebook} was not run on {setup}")
    state = str(_field(outcome, "status"))
    message = str(_field(outcome, "message") or "").strip()
    reason = message.splitlines()[0] if message and state in (UNSUPPORTED, FAILED, NOT_RECORDED) else ""
    page = _field(outcome, "page")
    return Cell(state if state in STATES else FAILED, reason, str(page) if page else None)


def matrix(outcomes: Iterable[Any], setups: Sequence[str], *, built: Iterable[str] | None = None,
           features: Sequence[Feature] = FEATURES) -> list[tuple[Feature, list[Cell]]]:
    """Features × setups: each feature with one cell per setup, in the order given."""
    index = outcome_index(outcomes)
    known = None if built is None else set(built)
    return [(f, [cell(f, s, index, known) for s in setups]) for f in features]


def open_responses_tests(features: Sequence[Feature] = FEATURES) -> dict[str, Feature]:
    """Open Responses compliance test id -> the feature that answers it."""
    return {f.open_responses_test: f for f in features if f.open_responses_test}


# -- the README's table ------------------------------------------------------------------------------------

README_START = "<!-- coverage:start (generated by `kit coverage --readme README.md`; edit kit/coverage.py) -->"
README_END = "<!-- coverage:end -->"


def markdown_table(features: Sequence[Feature] = FEATURES) -> str:
    """The README's table: feature, covering notebook, source, Open Responses test."""
    lines = ["| feature | notebook | source | Open Responses test |", "|---|---|---|---|"]
    for f in features:
        notebook = f"`{f.notebook}`" if f.notebook else "none"
        test = f"`{f.open_responses_test}`" if f.open_responses_test else ""
        lines.append(f"| {f.title} | {notebook} | {f.source} | {test} |")
    return "\n".join(lines)


class ReadmeError(ValueError):
    """The README lacks the coverage markers; the message says which and where to put them."""


def with_table(readme: str, features: Sequence[Feature] = FEATURES) -> str:
    """The README's text with the generated table between its coverage markers."""
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ReadmeError(f"the README has no coverage block: put the lines {README_START!r} and {README_END!r} "
                          f"where the table belongs, then run `kit coverage --readme README.md`")
    return readme[:start] + README_START + "\n\n" + markdown_table(features) + "\n\n" + readme[end:]
