"""The small battery of real requests behind `kit check --url/--setup`.

Each probe is one Responses request and what its stream must show beyond the
rule catalog (an answer, a function call, `incomplete`). The requests go
through the record/replay client, so a check can be recorded and replayed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterator

import openai

from kit.events import Stream, Violation, accumulate, parse, summarize, validate_stream
from kit.setups import Setup

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _expect_text(stream: Stream) -> str | None:
    result = accumulate(stream)
    if result.status != "completed":
        return f"expected status completed, got {result.status!r}"
    return None if result.text.strip() else "expected an answer text, got none"


def _expect_reasoning(stream: Stream) -> str | None:
    result = accumulate(stream)
    return None if (result.reasoning_text or result.summary_text) else "expected reasoning text or a summary, got neither"


def _expect_call(stream: Stream) -> str | None:
    calls = [i for i in accumulate(stream).output if i.get("type") == "function_call"]
    if not calls:
        return "expected a function_call item"
    try:
        json.loads(calls[0].get("arguments") or "")
    except ValueError:
        return f"function_call arguments are not JSON: {calls[0].get('arguments')!r}"
    return None


def _expect_incomplete(stream: Stream) -> str | None:
    result = accumulate(stream)
    return None if result.status == "incomplete" else f"expected status incomplete (max_output_tokens), got {result.status!r}"


@dataclass(frozen=True)
class Probe:
    name: str
    request: dict[str, Any]
    expect: Callable[[Stream], str | None]
    needs: str | None = None  # a capability; skipped when the setup says it lacks it


BATTERY: tuple[Probe, ...] = (
    Probe("text", {"input": "Say hello in five words.", "max_output_tokens": 64, "temperature": 0}, _expect_text),
    Probe("reasoning", {"input": "Is 221 a prime number? Answer yes or no.",
                        "reasoning": {"effort": "low", "summary": "auto"}}, _expect_reasoning, needs="reasoning"),
    Probe("function_tool", {"input": "What is the weather in Paris?", "tools": [WEATHER_TOOL],
                            "tool_choice": {"type": "function", "name": "get_weather"}, "temperature": 0},
          _expect_call, needs="tools"),
    Probe("incomplete", {"input": "Write a long story about a lighthouse keeper.", "max_output_tokens": 16,
                         "temperature": 0}, _expect_incomplete),
)


@dataclass
class ProbeResult:
    probe: str
    stream: Stream | None = None
    violations: list[Violation] = field(default_factory=list)
    problem: str | None = None  # the expectation that failed
    error: str | None = None  # the request could not be made or was refused
    skipped: str | None = None
    # A capability probe the server does not pass while the setup never claimed the capability (a `--url`
    # server, `kit setup add`): what it lacks, and the evidence. Not a failure: the server says what it is.
    unsupported: str | None = None

    @property
    def errors(self) -> int:
        return summarize(self.violations)["errors"] + (self.problem is not None)

    @property
    def warnings(self) -> int:
        return summarize(self.violations)["warnings"]

    def to_dict(self) -> dict[str, Any]:
        return {"file": f"probe:{self.probe}", "events": len(self.stream.events) if self.stream else None,
                "errors": self.errors if not self.error else None, "warnings": self.warnings,
                "violations": [v.to_dict() for v in self.violations], "expectation": self.problem,
                "request_error": self.error, "skipped": self.skipped, "unsupported": self.unsupported}

    def verdict(self, findings_status: str | None = None) -> str:
        """The one verdict `kit check` prints and puts in --json (so the two agree): skipped, request failed,
        FAIL, unsupported, known findings or ok. `findings_status` is `kit.findings.judge`'s for the stream."""
        if self.skipped:
            return "skipped"
        if self.error:
            return "request failed"
        if self.problem is not None or findings_status == "failed":
            return "FAIL"
        if self.unsupported:
            return "unsupported"
        return "known findings" if findings_status == "known findings" else "ok"


def run_battery(client: openai.OpenAI, setup: Setup, *, model: str | None = None, via: str | None = None,
                profile: str = "openai", reasoning: bool | None = None) -> Iterator[ProbeResult]:
    """Send each probe (native or bridged) and judge its stream; a refused request is reported, not raised."""
    from kit.sources import responses_events

    route = replace(setup, responses=via or setup.responses, text_model=model or setup.text_model)
    for probe in BATTERY:
        wanted = reasoning if probe.needs == "reasoning" and reasoning is not None else (
            probe.needs is None or setup.can(probe.needs) or not setup.capabilities)
        if not wanted:
            yield ProbeResult(probe.name, skipped=f"setup {setup.name!r} lacks {probe.needs}")
            continue
        claimed = probe.needs is None or setup.can(probe.needs)  # else: whether the server has it is the question
        try:
            source = responses_events(client, route, probe.request)
            events = list(source)
        except openai.APIStatusError as exc:
            if not claimed and exc.status_code in (400, 422):  # the server refuses the feature itself
                yield ProbeResult(probe.name, unsupported=f"{probe.needs}: the server refused the request "
                                                          f"(HTTP {exc.status_code}: {exc.message})")
                continue
            hint = (" (no /v1/responses on this server? try --bridge to check it through Chat Completions)"
                    if exc.status_code == 404 and route.responses == "native" else "")
            yield ProbeResult(probe.name, error=f"HTTP {exc.status_code}: {exc.message}{hint}")
            continue
        except openai.OpenAIError as exc:  # ReplayMiss, connection errors: say so, keep going
            yield ProbeResult(probe.name, error=f"{type(exc).__name__}: {exc}")
            continue
        # a native body keeps its wire facts (the one decoder's), so the sse.* rules judge it as `kit check FILE` does
        stream = parse(events, source_name=f"probe:{probe.name}")
        stream = Stream(stream.events, stream.offsets, getattr(source, "wire", None), stream.source)
        problem = probe.expect(stream)
        if problem is not None and not claimed:
            yield ProbeResult(probe.name, stream, validate_stream(stream, profile), unsupported=f"{probe.needs}: {problem}")
            continue
        yield ProbeResult(probe.name, stream, validate_stream(stream, profile), problem)


def capability_of(probe: str) -> str | None:
    """The capability a probe asks about (None: every Responses server must pass it)."""
    return next((p.needs for p in BATTERY if p.name == probe), None)


def evidence(result: ProbeResult) -> str:
    """One line of what a probe saw, for kit-setups.toml: the item or text that shows the capability, or why not."""
    if result.error:
        return f"probe {result.probe}: request failed: {result.error}"
    if result.stream is None:
        return f"probe {result.probe}: {result.unsupported or result.skipped or 'no stream'}"
    seen = f"probe {result.probe}: {len(result.stream.events)} events"
    if result.unsupported or result.problem:
        return f"{seen}; {result.unsupported or result.problem}"
    answer = accumulate(result.stream)
    calls = [i for i in answer.output if i.get("type") == "function_call"]
    if calls:
        return f"{seen}; function_call {calls[0].get('name')}({calls[0].get('arguments')})"
    if capability_of(result.probe) == "reasoning":
        shown = answer.reasoning_text or answer.summary_text
        return f"{seen}; reasoning {' '.join(shown.split())[:80]!r}"
    return f"{seen}; status {answer.status}; text {' '.join(answer.text.split())[:60]!r}"
