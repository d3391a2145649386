"""One object per notebook run: a thin facade over its run context, its client and the observations it made.

Every stream is observed once (`kit.events.observe`: events, wire facts,
violations, the accumulated response) while a view draws it: a Responses
stream under the scenario's profile, a Chat Completions stream (`chat_stream`,
and each upstream body the in-process bridge reads) under `chat`, from the
body's bytes. `check` and the expectations only record what they saw;
`finish` publishes the typed result (`kit.summary.RunResult`) that the runner reads from the executed notebook and
judges against the known findings. The scenario judges nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.events import Stream, Violation, is_chat_stream
from kit.events.observe import Observation, consume
from kit.events.rules import CHAT_PROFILE
from kit.notebook.chat import ChatChunks, ChatView
from kit.notebook.checks import CapabilityMissing, expect_file_citations
from kit.notebook.display import _display
from kit.notebook.expectations import Expectations
from kit.notebook.stops import install_stop_handler, install_usage_saver
from kit.notebook.stores import ScenarioStores
from kit.recording import InferenceMode, client as kit_client, session_of
from kit.setups import Setup, get_setup
from kit.setups.context import RunContext
from kit.summary import Expectation, RunResult, publish, stream_seen


@dataclass
class Observed:
    """One observation of this run, its title, and the error rules a check allowed in it.

    `beneath` is the Responses stream an upstream chat stream was read for (the in-process bridge's), so that
    checking that stream shows what its upstream broke too."""

    title: str
    observation: Observation
    allowed: set[str] = field(default_factory=set)
    profile: str = "openai"
    beneath: Stream | None = None


@dataclass
class Scenario(Expectations):
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
    # judged answers that are no stream: error objects (`surface.reject`), checks across requests (`check_across`)
    checked: list[tuple[str, tuple[Violation, ...]]] = field(default_factory=list)
    sockets: list[Any] = field(default_factory=list)  # kit.notebook.socket_loop.SocketRun: WebSocket mode, judged
    _client: Any = None
    _stores: ScenarioStores | None = None
    _mcp_server: Any = None
    _mcp_url: str | None = None

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

    def _search_stores(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """The in-process bridge's stores, for a request that searches (no folder is made for one that does not)."""
        from kit.bridge.request import search_tools

        return {"stores": self.stores} if search_tools(request) else {}

    def _store_helper(self) -> ScenarioStores:
        if self._stores is None:
            self._stores = ScenarioStores(self.setup, lambda: self.client)
        return self._stores

    def vector_store(self, name: str, files: dict[str, str]) -> str:
        """A vector store holding `files` (filename -> text); returns its id (see `ScenarioStores.create`)."""
        return self._store_helper().create(name, files)

    def upload_file(self, filename: str, content: str | bytes, *, purpose: str = "user_data") -> str:
        """Upload a file through the server's `/v1/files`; its id (see `kit.notebook.files.upload_file`)."""
        from kit.notebook.files import upload_file

        return upload_file(self.client, filename, content, purpose=purpose)

    def delete_file(self, file_id: str) -> bool:
        """Delete an uploaded file, as a client cleans up after itself; whether the server says it did."""
        return bool(self.client.files.delete(file_id).deleted)

    def mcp_server(self) -> str:
        """The URL of the kit's MCP server for this run (started in record/live mode, once; `kit.notebook.mcp`)."""
        if self._mcp_url is None:
            from kit.notebook.mcp import start_server

            self._mcp_server, self._mcp_url = start_server(self.mode)
        return self._mcp_url

    def _mcp_connector(self) -> Any:
        from kit.notebook.mcp import recorded_connector

        return recorded_connector(self.client)

    # -- streams -----------------------------------------------------------------
    def responses_stream(self, request: dict[str, Any], *, title: str | None = None, via: str | None = None,
                         show: bool = True, sink: Any = None) -> Stream:
        """Send a Responses request (native or bridged, as the setup says), show it live, observe it.

        `sink` (a `kit.render.Sink`) draws the live view somewhere else than the cell's display, such as a
        widget (the playground's, since display handles do not redraw inside an Output widget).
        """
        from kit.sources import responses_events

        route = via or self.setup.responses
        title = title or f"{self.setup.name} · {route} Responses"
        before = len(self.observed)
        options: dict[str, Any] = {}
        if route == "bridge":  # the in-process bridge: its upstream chat bodies are streams this notebook collects
            options = {"mcp": self._mcp_connector(), "upstream": self._upstream_observer(title, show),
                       **self._search_stores(request)}
        events = responses_events(self.client, self.setup, {"model": self.text_model, **request}, route=route,
                                  **options)
        stream = self._consume(events, title, show, sink)
        for upstream in self.observed[before:-1]:
            upstream.beneath = stream
        return stream

    def socket_tool_loop(self, request: dict[str, Any], tools_answer: Any, **options: Any) -> Any:
        """A tool loop over one Responses WebSocket, each turn shown live (`kit.notebook.socket_loop.tool_loop`)."""
        from kit.notebook.socket_loop import tool_loop

        return tool_loop(self, request, tools_answer, **options)

    def continue_from(self, stream: Stream, input_: str | list[dict[str, Any]], request: dict[str, Any] | None = None,
                      *, title: str | None = None, show: bool = True) -> Stream:
        """The next turn through `previous_response_id`: only the new input, the response `stream` carried
        named (`kit.notebook.turns.continued`); sent, shown and observed like any other."""
        from kit.notebook.turns import continued

        return self.responses_stream(continued(stream, input_, request or {}), title=title, show=show)

    def responses_create(self, request: dict[str, Any], *, title: str | None = None, via: str | None = None,
                         show: bool = True) -> dict[str, Any]:
        """Send a Responses request with `stream: false` (native or bridged, as the setup says); the Response
        object as a dict, shown as JSON."""
        from kit.sources import responses_object

        route = via or self.setup.responses
        options = self._search_stores(request) if route == "bridge" else {}
        response = responses_object(self.client, self.setup, {"model": self.text_model, **request}, route=route,
                                    **options)
        if show:
            import json

            _display(f"{title or f'{self.setup.name} · {route} Responses, not streamed'}:\n"
                     f"{json.dumps(response, indent=1, ensure_ascii=False)[:4000]}")
        return response

    def chat_stream(self, request: dict[str, Any], *, title: str | None = None, show: bool = True) -> ChatChunks:
        """Stream a Chat Completion, observe it under the `chat` profile from the body's bytes (the wire facts the
        SDK's parsed chunks lose, `data: [DONE]` among them), show its chunks with their violations, and return
        them as dicts (reasoning fields kept; `.stream` is what was judged)."""
        from kit.sources import ChatEvents

        title = title or f"{self.setup.name} · Chat Completions stream"
        seen = self._observe_chat(ChatEvents(self.client, {"model": self.text_model, **request}), title)
        chunks = ChatChunks(seen.observation.stream)
        if show:
            _display(ChatView(chunks, seen.observation.violations or (), title))
        return chunks

    def _observe_chat(self, events: Iterable[Any], title: str) -> Observed:
        seen = Observed(title, consume(events, source_name=title, profile=CHAT_PROFILE, clock=self._clock()),
                        profile=CHAT_PROFILE)
        self.observed.append(seen)
        return seen

    def _upstream_observer(self, title: str, show: bool) -> Any:
        """What the in-process bridge hands each upstream chat body it read: observed under `chat`, shown when it
        broke a rule (the chunks are the bridge's input; the Responses view shows its output)."""
        count = 0

        def observe(stream: Stream) -> None:
            nonlocal count
            count += 1
            seen = self._observe_chat(stream, f"{title} · upstream chat stream {count}")
            if show and seen.observation.violations:
                _display(ChatView(ChatChunks(stream), seen.observation.violations, seen.title))

        return observe

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

        clock = self._clock()
        if show and sink is None:
            viewer = live(events, source_name=title, profile=self.profile, offset_clock=clock)
        else:
            viewer = LiveSession(events, sink if show else Sink(), profile=self.profile, source_name=title,
                                 offset_clock=clock)
        for _ in viewer:
            pass
        assert viewer.observation is not None
        self.observed.append(Observed(title, viewer.observation, profile=self.profile))
        return viewer.observation.stream

    def _clock(self) -> Any:
        """Offsets from the replay clock in replay (the recorded arrival times, whatever the replay speed), else
        from this process's clock."""
        if self.mode is InferenceMode.REPLAY:
            session = session_of(self.client)
            return lambda: session.replay_clock
        return time.perf_counter

    def observation(self, stream: Stream | ChatChunks) -> Observation:
        """The observation behind a stream (or chat chunks) this scenario returned (one from elsewhere is observed now)."""
        return self._observed(stream).observation

    def _observed(self, stream: Stream | ChatChunks) -> Observed:
        if isinstance(stream, ChatChunks):
            stream = stream.stream
        found = next((o for o in self.observed if o.observation.stream is stream), None)
        if found is None:
            profile = CHAT_PROFILE if is_chat_stream(stream) else self.profile
            found = Observed(stream.source or "stream", consume(stream, profile=profile), profile=profile)
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
    def check(self, stream: Stream | ChatChunks, *, allow: Iterable[str] = ()) -> list[Violation]:
        """Record the stream's error rules for the runner's judgement, except the `allow`ed ones (each with its
        reason in the notebook); show them, and which are this setup's known findings here. A Responses stream
        the in-process bridge made is shown with what its upstream chat streams broke; `stream` may be the
        chunks `chat_stream` returned."""
        seen = self._observed(stream)
        seen.allowed |= set(allow)
        known = {f.rule: f for f in self.context.findings}
        recorded = 0
        for observed in (seen, *(o for o in self.observed if o.beneath is not None and o.beneath is seen.observation.stream)):
            told = [v for v in observed.observation.violations or ()
                    if v.rule not in observed.allowed and (v.severity == "error" or v.rule in known)]
            recorded += len(told)
            for rule in dict.fromkeys(v.rule for v in told):
                first = next(v for v in told if v.rule == rule)
                label = self._label(rule, f"conformance error {rule}")
                _display(f"{label}\n  seen: {_where(observed, first)}")
        if recorded:
            _display(f"{recorded} violation(s) recorded; the runner judges them against the known findings "
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

    # -- the result ---------------------------------------------------------------------
    def result(self) -> RunResult:
        """What this run observed, typed: per stream its rules (allowed ones marked), the expectations."""
        return RunResult(
            streams=tuple(stream_seen(o.title, len(o.observation.events), o.observation.violations or (), o.allowed,
                                      profile=o.profile) for o in self.observed)
            + tuple(stream_seen(title, 0, violations) for title, violations in self.checked)
            + tuple(stream_seen(f"{s.title} · the socket", len(s.frames), s.violations) for s in self.sockets),
            expectations=tuple(self.expectations), not_shown=tuple(sorted(set(self.not_shown))), observed=True,
            data={"setup": self.setup.name, "mode": self.mode.value})

    def finish(self) -> None:
        """Publish the result into the notebook: the runner reads it from the executed .ipynb."""
        if self._mcp_server is not None:
            self._mcp_server.stop()
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
    install_usage_saver()
    return Scenario(context=context, setup=spec, **models, recording_dir=context.recordings())


def _where(observed: Observed, violation: Violation) -> str:
    """Where a violation was seen, in one line: the stream, the event (a chat stream's chunk), the message."""
    title = observed.title
    noun = "chunk" if observed.profile == CHAT_PROFILE else "event"
    at = f", {noun} {violation.index}" if violation.index is not None else ""
    return f"{title}{at}: {violation.message}"
