"""What a scenario notebook calls: one object per notebook run, and checks that fail readably.

A notebook holds no logic: it makes a `Scenario` from its parameters, sends
requests through it (record/replay client, native or bridged Responses),
shows the streams, and ends with checks from here. Checks raise
`StreamCheckFailed` (listing violated rule ids) or `CapabilityMissing`
(the setup cannot show this scenario), which the runner reports as such.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from kit.events import Stream, Violation, accumulate, parse, validate_stream
from kit.recording import InferenceMode, client as kit_client, resolve_mode, resolve_recording_dir
from kit.setups import Setup, get_setup


class CapabilityMissing(Exception):
    """This setup cannot show this scenario (its capability flags say so); not a failure, not a pass."""


class StreamCheckFailed(AssertionError):
    """A stream or its content is wrong; the message lists the rule ids or the expectation."""


@dataclass
class Scenario:
    """One notebook × setup run: its resolved settings and the streams it saw."""

    setup: Setup
    mode: InferenceMode
    text_model: str
    vision_model: str | None
    embedding_model: str | None
    embedding_dimension: int | None
    judge_model: str | None
    base_url: str | None
    recording_dir: Path
    profile: str = "openai"
    streams: list[tuple[str, Stream, list[Violation]]] = field(default_factory=list)
    _client: Any = None

    # -- set-up ------------------------------------------------------------------
    def require(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if not self.setup.can(c)]
        if missing:
            raise CapabilityMissing(
                f"setup {self.setup.name!r} ({self.setup.text_model}) cannot show this scenario: it lacks "
                f"{', '.join(missing)} (capabilities: {', '.join(sorted(self.setup.capabilities)) or 'none'}). "
                f"Coverage comes from setups that have it and from the real captures in ../shared/fixtures."
            )

    @property
    def client(self) -> Any:
        """The record/replay openai client for this setup (Chat Completions and native Responses)."""
        if self._client is None:
            self._client = kit_client(
                self.setup.name, self.mode, base_url=self.base_url, recording_dir=self.recording_dir,
                replay_style=os.environ.get("KIT_REPLAY_STYLE", "realtime"),
            )
        return self._client

    # -- streams -----------------------------------------------------------------
    def responses_stream(self, request: dict[str, Any], *, title: str | None = None, via: str | None = None,
                         show: bool = True) -> Stream:
        """Send a Responses request (native or bridged, as the setup says), show it live, validate it."""
        request = {"model": self.text_model, **request}
        route = via or self.setup.responses
        if route == "native":
            events: Iterable[Any] = self.client.responses.create(stream=True, **request)
        else:
            from kit.bridge import bridged_responses_stream

            events = bridged_responses_stream(self.client, request, think_tags=self.setup.think_tags)
        return self._consume(events, title or f"{self.setup.name} · {route} Responses", show)

    def chat_stream(self, request: dict[str, Any], *, title: str | None = None, show: bool = True) -> list[dict[str, Any]]:
        """Stream a Chat Completion and return its chunks as dicts (reasoning fields kept)."""
        request = {"model": self.text_model, **request}
        chunks = []
        for chunk in self.client.chat.completions.create(stream=True, **request):
            chunks.append(chunk.to_dict())
        if show:
            from kit.render import show_chat

            show_chat(chunks, title=title or f"{self.setup.name} · chat completions")
        return chunks

    def _consume(self, events: Iterable[Any], title: str, show: bool) -> Stream:
        raw: list[dict[str, Any]] = []
        offsets: list[float] = []
        start = time.perf_counter()

        def timed() -> Iterator[Any]:
            for event in events:
                offsets.append(time.perf_counter() - start)
                raw.append(event if isinstance(event, dict) else event.to_dict())
                yield event

        if show:
            from kit.render import live

            for _ in live(timed(), title=title):
                pass
        else:
            for _ in timed():
                pass
        stream = parse(raw, source_name=title)
        stream = Stream(events=stream.events, offsets=offsets, wire=stream.wire, source=title)
        violations = validate_stream(stream, profile=self.profile)
        self.streams.append((title, stream, violations))
        return stream

    # -- checks -----------------------------------------------------------------
    def check(self, stream: Stream, *, allow: Iterable[str] = ()) -> list[Violation]:
        """Raise when the stream breaks an error rule (except the `allow`ed ones, each with its reason)."""
        violations = next((v for _, s, v in self.streams if s is stream), None)
        if violations is None:
            violations = validate_stream(stream, profile=self.profile)
        allowed = set(allow)
        errors = [v for v in violations if v.severity == "error" and v.rule not in allowed]
        if errors:
            lines = [f"{stream.source}: {len(errors)} conformance error(s): "
                     + ", ".join(sorted({v.rule for v in errors}))]
            lines += [f"  [{v.rule}] event {v.index}: {v.message}" for v in errors[:10]]
            raise StreamCheckFailed("\n".join(lines))
        return violations

    def summary(self) -> dict[str, Any]:
        """Counts for the report: streams, errors, warnings and the rule ids seen."""
        rules: dict[str, int] = {}
        errors = warnings = 0
        for _, _, violations in self.streams:
            for v in violations:
                rules[v.rule] = rules.get(v.rule, 0) + 1
                errors += v.severity == "error"
                warnings += v.severity == "warning"
        return {"setup": self.setup.name, "mode": self.mode.value, "streams": len(self.streams),
                "errors": errors, "warnings": warnings, "rules": rules}

    def finish(self) -> dict[str, Any]:
        """Hand the summary to the runner (when run by it) and return it for display."""
        summary = self.summary()
        try:
            from kit.runner import report_summary
        except ImportError:
            return summary
        report_summary(summary)
        return summary


def start(setup: str = "local", inference_mode: str | None = None, text_model: str | None = None,
          vision_model: str | None = None, embedding_model: str | None = None,
          embedding_dimension: int | None = None, judge_model: str | None = None, stack_config: str | None = None,
          recording_dir: str | None = None, env: dict[str, str] | None = None) -> Scenario:
    """A scenario from a notebook's parameters; setup defaults fill only what was not given."""
    for key, value in (env or {}).items():
        os.environ[str(key)] = str(value)
    spec = get_setup(setup)
    base_url = None
    if stack_config:
        if stack_config.startswith("server:"):
            raise ValueError("stack_config server:<setup> is resolved by `kit run`/pytest, which start the server and "
                             "pass its base URL; in a notebook run `kit serve local` and give its URL")
        base_url = stack_config
    return Scenario(
        setup=spec,
        mode=resolve_mode(inference_mode),
        text_model=text_model or spec.text_model,
        vision_model=vision_model or spec.vision_model,
        embedding_model=embedding_model or spec.embedding_model,
        embedding_dimension=embedding_dimension or spec.embedding_dimension,
        judge_model=judge_model,
        base_url=base_url,
        recording_dir=resolve_recording_dir(recording_dir),
    )


# -- content expectations: each raises StreamCheckFailed saying what was expected and what came --


def _fail(stream: Stream, message: str) -> None:
    raise StreamCheckFailed(f"{stream.source}: {message}")


def expect_text(stream: Stream, *, min_chars: int = 1, contains: str | None = None) -> str:
    text = accumulate(stream).text
    if len(text.strip()) < min_chars:
        _fail(stream, f"expected an answer of at least {min_chars} character(s), got {text!r}")
    if contains is not None and contains.lower() not in text.lower():
        _fail(stream, f"expected the answer to contain {contains!r}, got {text[:200]!r}")
    return text


def expect_status(stream: Stream, status: str, *, reason: str | None = None) -> None:
    result = accumulate(stream)
    if result.status != status:
        _fail(stream, f"expected the response to end {status!r}, it ended {result.status!r}")
    if reason is not None:
        got = ((result.incomplete_details or {}).get("reason") if hasattr(result, "incomplete_details") else None)
        if got is None:
            terminal = stream.events[-1].raw.get("response", {}) if stream.events else {}
            got = (terminal.get("incomplete_details") or {}).get("reason")
        if got != reason:
            _fail(stream, f"expected incomplete_details.reason {reason!r}, got {got!r}")


def expect_function_call(stream: Stream, name: str) -> dict[str, Any]:
    import json

    calls = [item for item in accumulate(stream).output if item.get("type") == "function_call"]
    match = [c for c in calls if c.get("name") == name]
    if not match:
        _fail(stream, f"expected a function_call item named {name!r}, got {[c.get('name') for c in calls]}")
    try:
        args = json.loads(match[0].get("arguments") or "")
    except ValueError:
        _fail(stream, f"function {name!r} arguments are not JSON: {match[0].get('arguments')!r}")
    if not isinstance(args, dict):
        _fail(stream, f"function {name!r} arguments are not a JSON object: {args!r}")
    return args


def expect_file_citations(stream: Stream, *, at_least: int = 1) -> list[dict[str, Any]]:
    result = accumulate(stream)
    searched = [i for i in result.output if i.get("type") == "file_search_call"]
    if not searched:
        _fail(stream, "expected a file_search_call item")
    citations = [a for item in result.output if item.get("type") == "message" for part in item.get("content", [])
                 for a in part.get("annotations", []) or [] if a.get("type") == "file_citation"]
    if len(citations) < at_least:
        _fail(stream, f"expected at least {at_least} file citation(s) in the answer, got {len(citations)}")
    return citations


def expect_items(stream: Stream, *types: str) -> None:
    got = [item.get("type") for item in accumulate(stream).output]
    for kind in types:
        if kind not in got:
            _fail(stream, f"expected an output item of type {kind!r}, got {got}")
