"""One object per notebook run: its resolved settings, the streams it saw (each shown live and
validated once), its checks against the setup's known findings, and the summary it hands the runner."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from kit.events import Stream, Violation, validate_stream
from kit.notebook.checks import CapabilityMissing, StreamCheckFailed, chat_table, _fail, expect_status, expect_file_citations
from kit.notebook.display import _display
from kit.recording import InferenceMode, client as kit_client, resolve_mode, resolve_recording_dir, session_of
from kit.setups import Setup, get_setup


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
    _stores: Any = None
    not_shown: list[str] = field(default_factory=list)
    notebook: str | None = None  # <suite>/<name> when a runner says so (KIT_NOTEBOOK); None in JupyterLab
    _allowed: dict[int, frozenset[str]] = field(default_factory=dict)  # id(stream) -> rules a check allowed
    _missed_expectations: dict[str, str] = field(default_factory=dict)  # baselined expectation -> where it missed
    _baseline: Any = None  # this setup's kit.findings.Baseline (findings/<setup>.toml), loaded on first check

    def __repr__(self) -> str:
        caps = ", ".join(sorted(self.setup.capabilities)) or "none"
        return (f"scenario on setup {self.setup.name!r} ({self.setup.description})\n"
                f"  mode: {self.mode.value} · recordings: {self.recording_dir}\n"
                f"  server: {'none (replay)' if self.mode is InferenceMode.REPLAY else self.base_url or self.setup.resolved_base_url()}"
                f" · Responses: {self.setup.responses}\n"
                f"  text model: {self.text_model} · vision: {self.vision_model} · embeddings: {self.embedding_model}"
                f" ({self.embedding_dimension})\n  capabilities: {caps}")

    # -- set-up ------------------------------------------------------------------
    def require(self, *capabilities: str) -> None:
        missing = [c for c in capabilities if not self.setup.can(c)]
        if missing:
            raise CapabilityMissing(
                f"setup {self.setup.name!r} ({self.setup.text_model}) cannot show this scenario: it lacks "
                f"{', '.join(missing)} (capabilities: {', '.join(sorted(self.setup.capabilities)) or 'none'}). "
                f"Coverage comes from setups that have it and from the real captures in the project's tests/captures."
            )

    @property
    def client(self) -> Any:
        """The record/replay openai client for this setup (Chat Completions and native Responses)."""
        if self._client is None:
            self._client = kit_client(
                self.setup.name, self.mode, base_url=self.base_url, recording_dir=self.recording_dir,
                replay_style=os.environ.get("KIT_REPLAY_STYLE"),
            )
        return self._client

    # -- streams -----------------------------------------------------------------
    def responses_stream(self, request: dict[str, Any], *, title: str | None = None, via: str | None = None,
                         show: bool = True, sink: Any = None) -> Stream:
        """Send a Responses request (native or bridged, as the setup says), show it live, validate it.

        `sink` (a `kit.render.Sink`) draws the live view somewhere else than the cell's display, such as a
        widget (the playground's, since display handles do not redraw inside an Output widget).
        """
        from dataclasses import replace

        from kit.bridge import responses_stream

        request = {"model": self.text_model, **request}
        route = via or self.setup.responses
        options = {"stores": self.stores} if route == "bridge" else {}
        events = responses_stream(self.client, replace(self.setup, responses=route), request, **options)
        return self._consume(events, title or f"{self.setup.name} · {route} Responses", show, sink)

    def chat_stream(self, request: dict[str, Any], *, title: str | None = None, show: bool = True) -> list[dict[str, Any]]:
        """Stream a Chat Completion and return its chunks as dicts (reasoning fields kept)."""
        request = {"model": self.text_model, **request}
        chunks = [chunk.to_dict(warnings=False)  # list content (Mistral) is not the SDK's str type
                  for chunk in self.client.chat.completions.create(stream=True, **request)]
        if show:
            _display(chat_table(chunks))
        return chunks

    def bridged(self, chunks: list[dict[str, Any]], *, title: str | None = None, show: bool = True) -> Stream:
        """The Responses view of a captured chat stream (the bridge's translation), shown and validated."""
        from kit.bridge.chunks import bridge_chunks

        stream = bridge_chunks(chunks, think_tags=self.setup.think_tags,
                               source_name=title or f"{self.setup.name} · chat stream as Responses events")
        return self._consume(stream, stream.source, show)

    # -- file search --------------------------------------------------------------
    @property
    def stores(self) -> Any:
        """Local vector stores for bridged file search, in a folder of this run (ids are deterministic)."""
        if self._stores is None:
            import tempfile

            from kit.bridge import VectorStores

            self._stores = VectorStores(tempfile.mkdtemp(prefix="kit-stores-"))
        return self._stores

    def vector_store(self, name: str, files: dict[str, str]) -> str:
        """A vector store holding `files` (filename -> text); returns its id.

        Bridged setups get a local store with ids derived from the content, so
        the requests (and their recordings) are the same on every run. Native
        setups create the store on the server through the recorded client.
        """
        import hashlib

        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        if self.setup.responses == "bridge":
            store_id = f"vs_{name}_{digest}"
            if any(s["id"] == store_id for s in self.stores.list()):
                return store_id  # a cell run again
            self.stores.create(name, store_id=store_id)
            for filename, text in files.items():
                file_id = "file-" + hashlib.sha256(f"{filename}\0{text}".encode()).hexdigest()[:22]
                self.stores.add_file(store_id, text=text, filename=filename, file_id=file_id)
            return store_id
        store = self.client.vector_stores.create(name=name)
        for filename, text in files.items():
            self.client.vector_stores.files.upload_and_poll(vector_store_id=store.id,
                                                            file=(filename, text.encode("utf-8")))
        return store.id

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

    def _consume(self, events: Iterable[Any], title: str, show: bool, sink: Any = None) -> Stream:
        """Consume a stream once: show it live (or not), then keep it with its one validation.

        The events come from the kit's one decoder (native: `NativeEvents`, with
        wire facts) or from the bridge; offsets come from the replay clock in
        replay (the recorded arrival times, whatever the replay speed).
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
        assert viewer.stream is not None and viewer.violations is not None
        self.streams.append((title, viewer.stream, viewer.violations))
        return viewer.stream

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
        native, the SDK's HTTP error (or the same events, if the server streams them)."""
        import openai

        try:
            stream = self.responses_stream(request, title=title)
        except openai.APIStatusError as exc:
            _display(f"the server rejected the request: HTTP {exc.status_code}: {exc.message}")
            if exc.status_code < 400:
                raise StreamCheckFailed(f"expected a 4xx/5xx answer, got HTTP {exc.status_code}") from exc
            return exc
        self.check(stream)
        try:
            expect_status(stream, "failed")
            if not any(event.type == "error" for event in stream.events):
                _fail(stream, "expected an `error` event before `response.failed`")
        except StreamCheckFailed as exc:
            self._expectation_missed("expect.failure", stream, exc)
        return stream

    def expect(self, expectation: str, check: Any, stream: Stream) -> Any:
        """Run a content check (a callable); a miss this setup's baseline knows as `expectation` (an
        `expect.*` name of kit.findings.EXPECTATIONS) is shown as a known finding and judged like a rule."""
        try:
            return check()
        except StreamCheckFailed as exc:
            self._expectation_missed(expectation, stream, exc)
            return None

    def _expectation_missed(self, expectation: str, stream: Stream, failure: StreamCheckFailed) -> None:
        """Raise, unless this setup's baseline knows the miss for this notebook (a peer behaviour no rule
        judges): then show it as a known finding and hand it to the runner's judgement like a rule."""
        known = self.known_findings()
        if expectation not in known:
            raise failure
        _display(f"known finding: {known[expectation].line()}\n  seen: {stream.source}: {failure}")
        self._missed_expectations.setdefault(expectation, f"{stream.source}: {str(failure).splitlines()[0]}")

    # -- checks -----------------------------------------------------------------
    def known_findings(self) -> dict[str, Any]:
        """{rule: Finding} baselined for this setup × notebook (findings/<setup>.toml); in JupyterLab, where
        no runner names the notebook, the setup's findings for any notebook."""
        if self._baseline is None:
            from kit.findings import load_baseline

            self._baseline = load_baseline(self.setup.name)
        return {f.rule: f for f in self._baseline.for_notebook(self.notebook)}

    def check(self, stream: Stream, *, allow: Iterable[str] = ()) -> list[Violation]:
        """Raise when the stream breaks an error rule, except the `allow`ed ones (each with its reason) and this
        setup's known findings for this notebook, which are shown as such and judged by the runner."""
        violations = next((v for _, s, v in self.streams if s is stream), None)
        if violations is None:
            violations = validate_stream(stream, profile=self.profile)
            self.streams.append((stream.source or "stream", stream, violations))
        allowed = frozenset(allow) | self._allowed.get(id(stream), frozenset())
        self._allowed[id(stream)] = allowed
        errors = [v for v in violations if v.severity == "error" and v.rule not in allowed]
        known = self.known_findings()
        for rule in sorted({v.rule for v in errors if v.rule in known}):
            first = next(v for v in errors if v.rule == rule)
            _display(f"known finding: {known[rule].line()}\n  seen: {_where(stream.source or 'stream', first)}")
        new = [v for v in errors if v.rule not in known]
        if new:
            lines = [f"{stream.source}: {len(new)} conformance error(s): " + ", ".join(sorted({v.rule for v in new}))]
            lines += [f"  [{v.rule}] event {v.index}: {v.message}" for v in new[:10]]
            where = f"in {self.notebook} " if self.notebook else ""
            lines.append(f"  not known findings {where}on setup {self.setup.name} (baseline: {self._baseline.file_hint})"
                         + (f"; known, not raised: {', '.join(sorted(known))}" if known else ""))
            raise StreamCheckFailed("\n".join(lines))
        return violations

    def summary(self) -> dict[str, Any]:
        """What the runner judges: counts, the rule ids by severity (error rules a check allowed left out of
        `error_rules`), and where each error rule was first seen."""
        from kit.events import summarize

        every = [v for _, _, violations in self.streams for v in violations]
        counts = summarize(every)
        error_rules: list[str] = []
        warning_rules: list[str] = []
        error_events: dict[str, str] = {}
        for title, stream, violations in self.streams:
            allowed = self._allowed.get(id(stream), frozenset())
            for v in violations:
                if v.severity == "error" and v.rule not in allowed:
                    if v.rule not in error_rules:
                        error_rules.append(v.rule)
                    error_events.setdefault(v.rule, _where(title, v))
                elif v.severity == "warning" and v.rule not in warning_rules:
                    warning_rules.append(v.rule)
        for expectation, where in self._missed_expectations.items():  # judged like error rules (kit.findings)
            error_rules.append(expectation)
            error_events.setdefault(expectation, where)
        return {"setup": self.setup.name, "notebook": self.notebook, "mode": self.mode.value,
                "streams": len(self.streams),
                "violations": {"errors": counts["errors"], "warnings": counts["warnings"],
                               "rules": list(counts["by_rule"]), "by_rule": counts["by_rule"],
                               "error_rules": error_rules, "warning_rules": warning_rules,
                               "error_events": error_events},
                "not_shown": sorted(set(self.not_shown))}

    def finish(self) -> dict[str, Any]:
        """Hand the summary to the runner (when run by it) and return it for display."""
        summary = self.summary()
        try:
            from kit.summary import report_summary
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
    from kit.findings import NOTEBOOK_ENV
    from kit.setups.options import setup_models

    models = setup_models(spec, text_model=text_model, vision_model=vision_model, embedding_model=embedding_model,
                          embedding_dimension=embedding_dimension)  # the same rule as `kit run` and pytest
    return Scenario(
        notebook=os.environ.get(NOTEBOOK_ENV) or None,
        setup=spec,
        mode=resolve_mode(inference_mode),
        **models,
        judge_model=judge_model,
        base_url=base_url,
        recording_dir=resolve_recording_dir(recording_dir),
    )


def _where(title: str, violation: Violation) -> str:
    """Where a violation was seen, in one line: the stream, the event, the message."""
    at = f", event {violation.index}" if violation.index is not None else ""
    return f"{title}{at}: {violation.message}"
