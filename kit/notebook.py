"""What a scenario notebook calls: one object per notebook run, and checks that fail readably.

A notebook holds no logic: it makes a `Scenario` from its parameters, sends
requests through it (record/replay client, native or bridged Responses),
shows the streams, and ends with checks from here. Checks raise
`StreamCheckFailed` (listing violated rule ids) or `CapabilityMissing`
(the setup cannot show this scenario), which the runner reports as such.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from kit.events import Stream, Violation, accumulate, validate_stream
from kit.recording import InferenceMode, client as kit_client, resolve_mode, resolve_recording_dir, session_of
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
    _stores: Any = None
    not_shown: list[str] = field(default_factory=list)
    notebook: str | None = None  # <suite>/<name> when a runner says so (KIT_NOTEBOOK); None in JupyterLab
    _allowed: dict[int, frozenset[str]] = field(default_factory=dict)  # id(stream) -> rules a check allowed
    _known: Any = None  # this setup × notebook's known findings, {rule: Finding}, loaded on first check

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
                         show: bool = True) -> Stream:
        """Send a Responses request (native or bridged, as the setup says), show it live, validate it."""
        from dataclasses import replace

        from kit.bridge import responses_stream

        request = {"model": self.text_model, **request}
        route = via or self.setup.responses
        options = {"stores": self.stores} if route == "bridge" else {}
        events = responses_stream(self.client, replace(self.setup, responses=route), request, **options)
        return self._consume(events, title or f"{self.setup.name} · {route} Responses", show)

    def chat_stream(self, request: dict[str, Any], *, title: str | None = None, show: bool = True) -> list[dict[str, Any]]:
        """Stream a Chat Completion and return its chunks as dicts (reasoning fields kept)."""
        request = {"model": self.text_model, **request}
        chunks = [chunk.to_dict() for chunk in self.client.chat.completions.create(stream=True, **request)]
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

    def _consume(self, events: Iterable[Any], title: str, show: bool) -> Stream:
        """Consume a stream once: show it live (or not), then keep it with its one validation.

        The events come from the kit's one decoder (native: `NativeEvents`, with
        wire facts) or from the bridge; offsets come from the replay clock in
        replay (the recorded arrival times, whatever the replay speed).
        """
        from kit.render import live
        from kit.render.live import LiveSession, Sink

        session_clock = session_of(self.client)
        clock = (lambda: session_clock.replay_clock) if self.mode is InferenceMode.REPLAY else time.perf_counter
        viewer = (live(events, source_name=title, profile=self.profile, offset_clock=clock) if show
                  else LiveSession(events, Sink(), profile=self.profile, source_name=title, offset_clock=clock))
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
        expect_status(stream, "failed")
        if not any(event.type == "error" for event in stream.events):
            _fail(stream, "expected an `error` event before `response.failed`")
        return stream

    # -- checks -----------------------------------------------------------------
    def known_findings(self) -> dict[str, Any]:
        """{rule: Finding} baselined for this setup × notebook (findings/<setup>.toml); in JupyterLab, where
        no runner names the notebook, the setup's findings for any notebook."""
        if self._known is None:
            from kit.findings import load_baseline

            baseline = load_baseline(self.setup.name)
            self._known = ({f.rule: f for f in baseline.for_notebook(self.notebook)}, baseline.file_hint)
        return dict(self._known[0])

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
            _display(f"known finding: {known[rule].line()}\n  seen: {stream.source}: {first}")
        new = [v for v in errors if v.rule not in known]
        if new:
            lines = [f"{stream.source}: {len(new)} conformance error(s): " + ", ".join(sorted({v.rule for v in new}))]
            lines += [f"  [{v.rule}] event {v.index}: {v.message}" for v in new[:10]]
            where = f"in {self.notebook} " if self.notebook else ""
            lines.append(f"  not known findings {where}on setup {self.setup.name} (baseline: {self._known[1]})"
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
                    error_events.setdefault(v.rule, f"{title}: {v}".strip())
                elif v.severity == "warning" and v.rule not in warning_rules:
                    warning_rules.append(v.rule)
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


def _display(obj: Any) -> None:
    """Show a value in a notebook (text as text, a matplotlib Figure as a PNG that survives export)."""
    if isinstance(obj, str):
        print(obj)
        return
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        print(obj)
        return
    if get_ipython() is None:
        print(obj)
        return
    if hasattr(obj, "savefig"):  # a Figure made without pyplot has no notebook representation of its own
        import io

        buffer = io.BytesIO()
        obj.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        obj = Image(data=buffer.getvalue(), format="png")
    display(obj)


def chat_table(chunks: list[dict[str, Any]]) -> Any:
    """One row per chat chunk: what each carried (content, reasoning fields, tool calls, finish)."""
    import pandas as pd

    rows = []
    for i, chunk in enumerate(chunks):
        choice = (chunk.get("choices") or [{}])[0] or {}
        delta = choice.get("delta") or {}
        rows.append({
            "chunk": i,
            "content": delta.get("content"),
            "reasoning_content": delta.get("reasoning_content"),
            "reasoning": delta.get("reasoning"),
            "refusal": delta.get("refusal"),
            "tool_calls": len(delta.get("tool_calls") or []),
            "finish_reason": choice.get("finish_reason"),
            "usage": bool(chunk.get("usage")),
        })
    return pd.DataFrame(rows)


def chat_text(chunks: list[dict[str, Any]]) -> tuple[str, str]:
    """(answer text, reasoning text) of a chat stream, from whichever reasoning field the server used."""
    answer, reasoning = [], []
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = (choice or {}).get("delta") or {}
            answer.append(delta.get("content") or "")
            reasoning.append(delta.get("reasoning_content") or delta.get("reasoning") or "")
    return "".join(answer), "".join(reasoning)


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


def expect_reasoning(stream: Stream, *, summary: bool = True) -> str:
    result = accumulate(stream)
    if not result.reasoning_text and not result.summary_text:
        _fail(stream, "expected reasoning text or a reasoning summary, got neither")
    if summary and not result.summary_text:
        _fail(stream, "the request asked for a reasoning summary; none was streamed")
    return result.summary_text or result.reasoning_text


def expect_refusal(stream: Stream) -> str:
    refusal = accumulate(stream).refusal
    if not refusal:
        _fail(stream, f"expected a refusal part, got the answer {accumulate(stream).text[:200]!r}")
    return refusal


def expect_chat(chunks: list[dict[str, Any]], *, reasoning: bool = False) -> None:
    answer, thought = chat_text(chunks)
    if not chunks:
        raise StreamCheckFailed("the chat stream had no chunks")
    if not answer.strip() and not any((c.get("choices") or [{}])[0].get("delta", {}).get("tool_calls") for c in chunks if c.get("choices")):
        raise StreamCheckFailed("the chat stream carried no answer text")
    if reasoning and not thought:
        raise StreamCheckFailed("this setup reasons, but no chunk carried reasoning_content or reasoning")
    finishes = [ch.get("finish_reason") for c in chunks for ch in c.get("choices") or [] if ch and ch.get("finish_reason")]
    if not finishes:
        raise StreamCheckFailed("no chunk carried a finish_reason: the stream ended early")


def expect_embeddings(vectors: list[list[float]], *, dimension: int | None, similar: tuple[int, int],
                      unrelated: int) -> dict[str, float]:
    import math

    if dimension is not None and any(len(v) != dimension for v in vectors):
        raise StreamCheckFailed(f"expected vectors of dimension {dimension}, got {[len(v) for v in vectors]}")

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b)) / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))

    near = cosine(vectors[similar[0]], vectors[similar[1]])
    far = cosine(vectors[similar[0]], vectors[unrelated])
    if not near > far:
        raise StreamCheckFailed(f"similar texts are not closer ({near:.3f}) than unrelated ones ({far:.3f})")
    return {"similar": near, "unrelated": far}


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> str:
    """A one-color PNG as a data URL, made here so a vision request fetches nothing."""
    import base64
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(row * height, 9)) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# -- the two free-form notebooks: inspect a capture, and a playground --------------------------


def inspect_capture(path: str | Path, *, profile: str = "openai", think_tags: bool = False) -> Stream:
    """Open a captured stream (Responses SSE/jsonl, a kit recording, or Chat Completions chunks, which are
    bridged), show and judge it exactly as `kit check` / `kit show` do."""
    from kit.bridge.chunks import is_chat_capture
    from kit.render import events_table, show, timeline
    from kit.sources import load, load_capture

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such capture (give a .jsonl or .sse file; the project's tests/captures has 113 real ones)")
    raw = load(path)
    if is_chat_capture(raw):
        _display(f"{path.name}: a Chat Completions stream; showing its Responses translation by the bridge")
    stream = load_capture(raw, think_tags=think_tags)
    violations = validate_stream(stream, profile=profile)
    show(stream, violations, profile=profile)
    _display(events_table(stream))
    _display(timeline(stream))
    return stream


def playground(recording_dir: str | None = None) -> Any:
    """An ipywidgets form: setup, mode, model, prompt, tools; stream live; compare native and bridged side by side."""
    import ipywidgets as w

    from kit.setups import load_setups

    setups = load_setups()
    setup_w = w.Dropdown(options=sorted(setups), value="local", description="setup")
    mode_w = w.Dropdown(options=["replay", "record-if-missing", "record", "live"], value="replay", description="mode")
    url_w = w.Text(placeholder="base URL (optional: the setup's default)", description="server")
    model_w = w.Text(placeholder="model (optional: the setup's default)", description="model")
    prompt_w = w.Textarea(value="Write one short sentence about the sea.", description="prompt",
                          layout=w.Layout(width="90%", height="70px"))
    tools_w = w.SelectMultiple(options=["get_weather function", "file_search"], description="tools")
    budget_w = w.IntSlider(value=64, min=8, max=1024, step=8, description="max tokens")
    compare_w = w.ToggleButtons(options=["one view", "native vs bridged"], value="one view", description="show")
    run_w = w.Button(description="Send", button_style="primary")
    left, right, status = w.Output(), w.Output(), w.Output()

    def request() -> dict[str, Any]:
        req: dict[str, Any] = {"input": prompt_w.value, "temperature": 0, "max_output_tokens": budget_w.value}
        tools: list[dict[str, Any]] = []
        if "get_weather function" in tools_w.value:
            tools.append({"type": "function", "name": "get_weather", "description": "Get the weather for a city.",
                          "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                         "required": ["city"]}})
        if "file_search" in tools_w.value:
            tools.append({"type": "file_search", "vector_store_ids": []})
        if tools:
            req["tools"] = tools
        return req

    def send(_: Any) -> None:
        left.clear_output()
        right.clear_output()
        status.clear_output()
        with status:
            try:
                scenario = start(setup_w.value, mode_w.value, model_w.value or None, stack_config=url_w.value or None,
                                 recording_dir=recording_dir)
                if "file_search" in tools_w.value:
                    store = scenario.vector_store("playground", {"notes.txt": prompt_w.value})
                    req = request()
                    req["tools"][-1]["vector_store_ids"] = [store]
                else:
                    req = request()
            except Exception as exc:  # shown to the person at the form, not raised into the void
                print(f"{type(exc).__name__}: {exc}")
                return
        views = [("native", left), ("bridge", right)] if compare_w.value != "one view" else [(None, left)]
        for via, out in views:
            with out:
                try:
                    scenario.responses_stream(req, via=via)
                except Exception as exc:
                    print(f"{type(exc).__name__}: {exc}")

    run_w.on_click(send)
    form = w.VBox([w.HBox([setup_w, mode_w]), w.HBox([url_w, model_w]), prompt_w,
                   w.HBox([tools_w, w.VBox([budget_w, compare_w])]), run_w, status, w.HBox([left, right])])
    form.fields = {"setup": setup_w, "mode": mode_w, "server": url_w, "model": model_w, "prompt": prompt_w,
                   "tools": tools_w, "max_tokens": budget_w, "show": compare_w, "send": run_w}
    return form
