"""One object per notebook run: a thin facade over its run context, its client and the observations it made.

Every stream is observed once (`kit.events.observe`: events, wire facts,
violations, the accumulated response) while a view draws it; `check` and the
expectations only record what they saw; `finish` publishes the typed result
(`kit.summary.RunResult`) that the runner reads from the executed notebook and
judges against the known findings. The scenario judges nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.events import Stream, Violation
from kit.events.observe import Observation, consume
from kit.notebook.checks import CapabilityMissing, StreamCheckFailed, chat_table, _fail, expect_status, expect_file_citations
from kit.notebook.display import _display
from kit.notebook.stops import install_stop_handler
from kit.notebook.stores import ScenarioStores
from kit.recording import InferenceMode, client as kit_client, session_of
from kit.setups import Setup, get_setup
from kit.setups.context import RunContext
from kit.summary import Expectation, RunResult, publish, stream_seen


@dataclass
class Observed:
    """One observation of this run, its title, and the error rules a check allowed in it."""

    title: str
    observation: Observation
    allowed: set[str] = field(default_factory=set)


@dataclass
class Scenario:
    """One notebook × setup run: its context, resolved setup and models, and what it observed."""

    context: RunContext
    setup: Setup
    text_model: str
    vision_model: str | None
    embedding_model: str | None
    embedding_dimension: int | None
    recording_dir: Path
    profile: str = "openai"
    observed: list[Observed] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    not_shown: list[str] = field(default_factory=list)
    sockets: list[Any] = field(default_factory=list)  # kit.notebook.socket_loop.SocketRun: WebSocket mode, judged
    _client: Any = None
    _stores: ScenarioStores | None = None

    @property
    def mode(self) -> InferenceMode:
        return self.context.mode

    @property
    def base_url(self) -> str | None:
        return self.context.base_url

    @property
    def judge_model(self) -> str | None:
        return self.context.judge_model

    @property
    def notebook(self) -> str | None:
        return self.context.notebook

    def __repr__(self) -> str:
        caps = ", ".join(sorted(self.setup.capabilities)) or "none"
        return (f"scenario on setup {self.setup.name!r} ({self.setup.description})\n"
                f"  mode: {self.mode.value} · recordings: {self.recording_dir}\n"
                f"  server: {'none (replay)' if self.mode is InferenceMode.REPLAY else self.base_url or self.setup.base_url}"
                f" · Responses: {self.setup.responses}\n"
                f"  text model: {self.text_model or 'none'} · vision: {self.vision_model or 'none'} · embeddings: "
                f"{self.embedding_model or 'none'}{f' ({self.embedding_dimension} dimensions)' if self.embedding_dimension else ''}"
                f"\n  capabilities: {caps}")

    # -- set-up ------------------------------------------------------------------
    def require(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if not self.setup.can(c)]
        if missing:
            raise CapabilityMissing(
                f"setup {self.setup.name!r} ({self.setup.text_model}) cannot show this scenario: it lacks "
                f"{', '.join(missing)} (capabilities: {', '.join(sorted(self.setup.capabilities)) or 'none'}). "
                f"Coverage comes from setups that have it and from the real captures in the project's tests/captures."
            )

    def refused_as_unsupported(self, feature: str, **options: Any) -> Any:
        """A context manager: the server's refusal of `feature` (404/405/501, or what `refused=` accepts) inside
        it stops the notebook as unsupported, quoting the recorded answer (`kit.notebook.refusals`)."""
        from kit.notebook.refusals import refused_as_unsupported

        return refused_as_unsupported(feature, setup=f"setup {self.setup.name!r}", **options)

    @property
    def client(self) -> Any:
        """The record/replay openai client for this setup (Chat Completions and native Responses)."""
        if self._client is None:
            self._client = kit_client(self.setup.name, self.mode, base_url=self.base_url,
                                      recording_dir=self.recording_dir, replay_style=self.context.replay_style)
        return self._client

    @property
    def stores(self) -> Any:
        """Local vector stores for bridged file search, in a folder of this run (ids are deterministic)."""
        return self._store_helper().local

    def _store_helper(self) -> ScenarioStores:
        if self._stores is None:
            self._stores = ScenarioStores(self.setup, lambda: self.client)
        return self._stores

    def vector_store(self, name: str, files: dict[str, str]) -> str:
        """A vector store holding `files` (filename -> text); returns its id (see `ScenarioStores.create`)."""
        return self._store_helper().create(name, files)

    # -- streams -----------------------------------------------------------------
    def responses_stream(self, request: dict[str, Any], *, title: str | None = None, via: str | None = None,
                         show: bool = True, sink: Any = None) -> Stream:
        """Send a Responses request (native or bridged, as the setup says), show it live, observe it.

        `sink` (a `kit.render.Sink`) draws the live view somewhere else than the cell's display, such as a
        widget (the playground's, since display handles do not redraw inside an Output widget).
        """
        from kit.sources import responses_events

        route = via or self.setup.responses
        options = {"stores": self.stores} if route == "bridge" else {}
        events = responses_events(self.client, self.setup, {"model": self.text_model, **request}, route=route,
                                  **options)
        return self._consume(events, title or f"{self.setup.name} · {route} Responses", show, sink)

    def socket_tool_loop(self, request: dict[str, Any], tools_answer: Any, **options: Any) -> Any:
        """A tool loop over one Responses WebSocket, each turn shown live (`kit.notebook.socket_loop.tool_loop`)."""
        from kit.notebook.socket_loop import tool_loop

        return tool_loop(self, request, tools_answer, **options)

    def chat_stream(self, request: dict[str, Any], *, title: str | None = None, show: bool = True) -> list[dict[str, Any]]:
        """Stream a Chat Completion and return its chunks as dicts (reasoning fields kept)."""
        request = {"model": self.text_model, **request}
        chunks = [chunk.to_dict(warnings=False)  # list content (Mistral) is not the SDK's str type
                  for chunk in self.client.chat.completions.create(stream=True, **request)]
        if show:
            _display(chat_table(chunks))
        return chunks

    def bridged(self, chunks: list[dict[str, Any]], *, title: str | None = None, show: bool = True) -> Stream:
        """The Responses view of a captured chat stream (the bridge's translation), shown and observed."""
        from kit.bridge.chunks import bridge_chunks

        stream = bridge_chunks(chunks, think_tags=self.setup.think_tags,
                               source_name=title or f"{self.setup.name} · chat stream as Responses events")
        return self._consume(stream, stream.source, show)

    def _consume(self, events: Iterable[Any], title: str, show: bool, sink: Any = None) -> Stream:
        """Consume a stream once, shown live (or not), and keep its one observation.

        Offsets come from the replay clock in replay (the recorded arrival
        times, whatever the replay speed), else from this process's clock.
        """
        from kit.render import live
        from kit.render.live import LiveSession, Sink

        session_clock = session_of(self.client)
        clock = (lambda: session_clock.replay_clock) if self.mode is InferenceMode.REPLAY else time.perf_counter
        if show and sink is None:
            viewer = live(events, source_name=title, profile=self.profile, offset_clock=clock)
        else:
            viewer = LiveSession(events, sink if show else Sink(), profile=self.profile, source_name=title,
                                 offset_clock=clock)
        for _ in viewer:
            pass
        assert viewer.observation is not None
        self.observed.append(Observed(title, viewer.observation))
        return viewer.observation.stream

    def observation(self, stream: Stream) -> Observation:
        """The observation behind a stream this scenario returned (a stream from elsewhere is observed now)."""
        return self._observed(stream).observation

    def _observed(self, stream: Stream) -> Observed:
        found = next((o for o in self.observed if o.observation.stream is stream), None)
        if found is None:
            found = Observed(stream.source or "stream", consume(stream, profile=self.profile))
            self.observed.append(found)
        return found

    # -- views -----------------------------------------------------------------
    def tables(self, stream: Stream) -> None:
        """The events table and the per-item summary."""
        from kit.render import events_table, items_table

        _display(events_table(stream))
        _display(items_table(stream))

    def timeline(self, stream: Stream) -> None:
        """The timeline plot, displayed (a Figure made without pyplot does not show itself)."""
        from kit.render import timeline

        _display(timeline(stream))

    # -- checks: recorded for the runner, which judges them against the known findings ------------
    def check(self, stream: Stream, *, allow: Iterable[str] = ()) -> list[Violation]:
        """Record the stream's error rules for the runner's judgement, except the `allow`ed ones (each with its
        reason in the notebook); show them, and which are this setup's known findings here."""
        seen = self._observed(stream)
        seen.allowed |= set(allow)
        errors = seen.observation.errors(seen.allowed)
        known = {f.rule: f for f in self.context.findings}
        for rule in dict.fromkeys(v.rule for v in errors):
            first = next(v for v in errors if v.rule == rule)
            label = f"known finding: {known[rule].line}" if rule in known else f"conformance error {rule}"
            _display(f"{label}\n  seen: {_where(seen.title, first)}")
        if errors:
            _display(f"{len(errors)} error(s) recorded; the runner judges them against the known findings "
                     f"(findings/{self.setup.name}.toml)")
        return list(seen.observation.violations or [])

    def expect_file_citations(self, stream: Stream, *, at_least: int = 1) -> list[dict[str, Any]]:
        """File citations in the answer, when this setup's model can cite; otherwise say so in the report."""
        if not self.setup.can("citations"):
            self.not_shown.append("citations")
            _display(f"not checked: setup {self.setup.name!r} ({self.text_model}) does not copy citation markers "
                     f"reliably (no 'citations' capability); citations are covered by setups that do and by the "
                     f"real captures in the project's tests/captures")
            return []
        return expect_file_citations(stream, at_least=at_least)

    def expect_failure(self, request: dict[str, Any], *, title: str | None = None) -> Any:
        """Send a request the server must reject: bridged, a stream ending `error` + `response.failed`;
        native, the SDK's HTTP error (or the same events, if the server streams them). A stream that does
        not fail is recorded as the missed expectation `expect.failure`, for the runner to judge."""
        import openai

        try:
            stream = self.responses_stream(request, title=title)
        except openai.APIStatusError as exc:
            _display(f"the server rejected the request: HTTP {exc.status_code}: {exc.message}")
            if exc.status_code < 400:
                raise StreamCheckFailed(f"expected a 4xx/5xx answer, got HTTP {exc.status_code}") from exc
            self.expectations.append(Expectation("expect.failure", True))
            return exc
        self.check(stream)
        try:
            expect_status(stream, "failed")
            if not any(event.type == "error" for event in stream.events):
                _fail(stream, "expected an `error` event before `response.failed`")
        except StreamCheckFailed as failure:
            self._missed("expect.failure", stream, failure)
        else:
            self.expectations.append(Expectation("expect.failure", True))
        return stream

    def expect(self, expectation: str, check: Any, stream: Stream) -> Any:
        """Run a content check (a callable) that a peer's baseline may name as `expectation` (an `expect.*` name of
        kit.findings.EXPECTATIONS): met or missed, it is recorded for the runner to judge; a miss returns None."""
        try:
            value = check()
        except StreamCheckFailed as failure:
            self._missed(expectation, stream, failure)
            return None
        self.expectations.append(Expectation(expectation, True))
        return value

    def _missed(self, expectation: str, stream: Stream, failure: StreamCheckFailed) -> None:
        """Show a missed expectation (as a known finding when the run's findings know it) and record it."""
        where = f"{stream.source}: {str(failure).splitlines()[0]}"
        known = {f.rule: f for f in self.context.findings}
        label = f"known finding: {known[expectation].line}" if expectation in known else "expectation missed"
        _display(f"{label}\n  seen: {where}")
        self.expectations.append(Expectation(expectation, False, where))

    # -- the result ---------------------------------------------------------------------
    def result(self) -> RunResult:
        """What this run observed, typed: per stream its rules (allowed ones marked), the expectations."""
        return RunResult(
            streams=tuple(stream_seen(o.title, len(o.observation.events), o.observation.violations or (), o.allowed)
                          for o in self.observed)
            + tuple(stream_seen(f"{s.title} · the socket", len(s.frames), s.violations) for s in self.sockets),
            expectations=tuple(self.expectations), not_shown=tuple(sorted(set(self.not_shown))), observed=True,
            data={"setup": self.setup.name, "mode": self.mode.value})

    def finish(self) -> None:
        """Publish the result into the notebook: the runner reads it from the executed .ipynb."""
        publish(self.result())


def start(run: Mapping[str, Any] | RunContext | str | None = None, **overrides: Any) -> Scenario:
    """A scenario from a notebook's run context (its `parameters` cell's `run`), or a setup name; setup
    defaults fill the models that were not given. Reads no environment variable."""
    if isinstance(run, str):
        run, overrides = None, {"setup": run, **overrides}
    context = RunContext.from_parameters(run, **overrides)
    spec = get_setup(context.setup, context.setups_config())
    from kit.setups.options import setup_models

    models = setup_models(spec, text_model=context.text_model, vision_model=context.vision_model,
                          embedding_model=context.embedding_model,
                          embedding_dimension=context.embedding_dimension)  # the same rule as `kit run` and pytest
    install_stop_handler()
    return Scenario(context=context, setup=spec, **models, recording_dir=context.recordings())


def _where(title: str, violation: Violation) -> str:
    """Where a violation was seen, in one line: the stream, the event, the message."""
    at = f", event {violation.index}" if violation.index is not None else ""
    return f"{title}{at}: {violation.message}"
