"""Side by side: the same Responses requests sent to several setups, and what each streamed.

The comparison notebook (`notebooks/compare/bridges.ipynb`) only calls this.
Its requests are exactly those of `responses/basic_streaming` and
`responses/function_tools`, so the recordings each setup's own notebooks make
replay here with nothing more to record. For each setup × request it keeps
the stream (through the setup's own route, native or bridged, with its own
model) and shows: items and events, violations by rule, the final answer and
whether it agrees with the first setup's, and the time to the first event and
in total from the recorded arrival times.

Judging conformance stays with each setup's notebooks and its known findings
(`findings/<setup>.toml`); this notebook shows, and fails only when no setup
could be compared at all (in replay: nothing recorded, so "not recorded").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@dataclass(frozen=True)
class ComparedRequest:
    """One request sent to every setup; `needs` are the capabilities a setup must have to be asked."""

    name: str
    body: dict[str, Any]
    needs: tuple[str, ...] = ()


REQUESTS: tuple[ComparedRequest, ...] = (
    # the request of responses/basic_streaming
    ComparedRequest("text", {"input": "Write one short sentence about the sea.", "temperature": 0,
                             "max_output_tokens": 64}),
    # the request of responses/function_tools
    ComparedRequest("function tool", {"input": "What is the weather in Paris?", "tools": [WEATHER_TOOL],
                                      "tool_choice": {"type": "function", "name": "get_weather"}, "temperature": 0},
                    needs=("tools",)),
)


@dataclass
class Result:
    """What one setup streamed for one request (or why it was not compared)."""

    setup: str
    request: str
    status: str  # "compared", "not recorded", "unsupported", "error"
    note: str = ""
    model: str = ""
    route: str = ""
    events: int = 0
    event_types: dict[str, int] = field(default_factory=dict)
    items: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)
    answer: str = ""
    first_event_s: float | None = None
    total_s: float | None = None


def chosen_setups(setups: Sequence[str] | str | None, recording_dir: Path, known: Sequence[str],
                  first: str | None = None) -> list[str]:
    """The setups to compare: those given (a list, or a comma-separated string), else every known setup with
    recordings in `recording_dir`, `first` (the notebook's own setup) first."""
    from kit.setups.modes import recorded_setups

    if isinstance(setups, str):
        setups = [s.strip() for s in setups.split(",") if s.strip()]
    if setups is None:
        recorded = [s for s in recorded_setups(recording_dir) if s in known]
        if first in known and first not in recorded:  # the run's own setup, unrecorded: said as "not recorded"
            recorded.append(first)
        return sorted(recorded, key=lambda s: s != first)  # stable: the others keep their order
    unknown = [s for s in setups if s not in known]
    if unknown:
        raise ValueError(f"compare: unknown setup(s) {', '.join(unknown)}; known setups: {', '.join(sorted(known))}")
    return list(setups)


def answer_of(stream: Any) -> str:
    """The final answer: the message text, or the function calls as name(arguments)."""
    from kit.events import accumulate

    result = accumulate(stream)
    calls = [f"{item.get('name')}({item.get('arguments') or ''})" for item in result.output
             if item.get("type") == "function_call"]
    return "; ".join([t for t in [result.text] if t] + calls)


def _same(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", a).strip() == re.sub(r"\s+", " ", b).strip()


def measure(setup: str, request: ComparedRequest, stream: Any, violations: Sequence[Any]) -> Result:
    """A compared stream's facts (pure)."""
    from kit.events import accumulate, summarize

    offsets = [o for o in (stream.offsets or []) if o is not None]
    counts = summarize(violations)
    return Result(
        setup=setup, request=request.name, status="compared",
        events=len(stream.events), event_types=dict(Counter(e.type for e in stream.events)),
        items=[str(item.get("type")) for item in accumulate(stream).output],
        errors=counts["error_rules"], warnings=counts["warning_rules"],
        answer=answer_of(stream),
        first_event_s=offsets[0] if offsets else None, total_s=offsets[-1] if offsets else None,
    )


@dataclass
class Comparison:
    """Every setup × request result, with the views the notebook shows."""

    setups: list[str]
    results: list[Result]
    mode: str = "replay"
    misses: list[Exception] = field(default_factory=list, repr=False)  # the replay misses, as raised

    def compared(self) -> list[str]:
        return [s for s in self.setups if any(r.setup == s and r.status == "compared" for r in self.results)]

    def _by(self, request: str) -> dict[str, Result]:
        return {r.setup: r for r in self.results if r.request == request}

    def requests(self) -> list[str]:
        return list(dict.fromkeys(r.request for r in self.results))

    def overview(self) -> Any:
        """One row per request × setup: status, model, route, events, items, errors, warnings, timings."""
        import pandas as pd

        rows = [{"request": r.request, "setup": r.setup, "status": r.status, "model": r.model, "route": r.route,
                 "events": r.events if r.status == "compared" else None, "items": ", ".join(r.items),
                 "errors": sum(r.errors.values()), "warnings": sum(r.warnings.values()),
                 "first event (s)": r.first_event_s, "total (s)": r.total_s, "note": r.note}
                for r in self.results]
        return pd.DataFrame(rows).set_index(["request", "setup"]) if rows else pd.DataFrame()

    def events(self, request: str) -> Any:
        """Event types (rows) × setups (columns): how many of each each setup streamed."""
        import pandas as pd

        by = {s: r.event_types for s, r in self._by(request).items() if r.status == "compared"}
        order = list(dict.fromkeys(t for types in by.values() for t in types))  # first seen first: stream order
        return pd.DataFrame(by, index=order).fillna(0).astype(int)

    def violations(self) -> Any:
        """Rules (rows) × setups (columns), over every request: "E n" for errors, "W n" for warnings."""
        import pandas as pd

        table: dict[str, dict[str, str]] = {}
        for setup in self.compared():
            counts: dict[str, list[int]] = {}
            for r in self.results:
                if r.setup == setup:
                    for rule, n in r.errors.items():
                        counts.setdefault(rule, [0, 0])[0] += n
                    for rule, n in r.warnings.items():
                        counts.setdefault(rule, [0, 0])[1] += n
            table[setup] = {rule: " ".join(p for p in (f"E {e}" if e else "", f"W {w}" if w else "") if p)
                            for rule, (e, w) in counts.items()}
        return pd.DataFrame(table).fillna("").sort_index()

    def answers(self) -> Any:
        """The final answer of each setup per request, and whether it agrees with the first compared setup's."""
        import pandas as pd

        rows = []
        for request in self.requests():
            by = {s: r for s, r in self._by(request).items() if r.status == "compared"}
            reference = next(iter(by.values()), None)
            for setup, r in by.items():
                rows.append({"request": request, "setup": setup, "model": r.model, "answer": r.answer,
                             "agrees with": f"{reference.setup}: {'yes' if _same(r.answer, reference.answer) else 'no'}"
                             if reference is not None else ""})
        return pd.DataFrame(rows).set_index(["request", "setup"]) if rows else pd.DataFrame()

    def agreement(self, request: str) -> bool | None:
        """True when every compared setup gave the same answer to `request` (None when fewer than two)."""
        answers = [r.answer for r in self._by(request).values() if r.status == "compared"]
        return None if len(answers) < 2 else all(_same(a, answers[0]) for a in answers)

    def timings(self) -> Any:
        """Time to the first event and in total (s), request × setup, from the arrival times."""
        import pandas as pd

        rows = {(r.request, r.setup): {"first event (s)": r.first_event_s, "total (s)": r.total_s}
                for r in self.results if r.status == "compared"}
        return pd.DataFrame.from_dict(rows, orient="index")

    def summary(self) -> dict[str, Any]:
        """For the runner: which setups were compared; conformance is judged by each setup's own notebooks."""
        return {"compared": self.compared(), "mode": self.mode,
                "not_compared": {f"{r.setup} · {r.request}": r.status for r in self.results if r.status != "compared"}}

    def finish(self) -> dict[str, Any]:
        """Hand the summary to the runner (in the notebook's result); fail when nothing could be compared."""
        from kit.summary import RunResult, publish

        if not self.compared():
            missing = [r for r in self.results if r.status == "not recorded"]
            if missing and len(missing) == len(self.results) and self.misses:
                raise self.misses[0]  # "not recorded", with the command that records it
            raise AssertionError("no setup could be compared: " + "; ".join(
                f"{r.setup} · {r.request}: {r.status} {r.note}".strip() for r in self.results))
        summary = self.summary()
        publish(RunResult(data=summary))
        return summary


def compare(setups: Sequence[str] | str | None = None, *, run: Mapping[str, Any] | Any = None,
            requests: Sequence[ComparedRequest] = REQUESTS) -> Comparison:
    """Send `requests` to each setup (its own route and model) and keep what came back.

    `run` is the notebook's run context (`kit.setups.context.RunContext` or its
    parameters): its mode and recordings apply to every setup; its `setups`
    choose them when `setups` is None; its base URL and models apply to its own
    setup only (the reference), the others use their own servers and models.
    """
    from dataclasses import replace

    import kit.notebook as nb
    from kit.recording import ReplayMiss
    from kit.setups import load_setups
    from kit.setups.context import RunContext

    context = RunContext.from_parameters(run)
    known = load_setups(context.setups_config())
    folder = context.recordings()
    names = chosen_setups(setups if setups is not None else (list(context.setups) or None), folder, list(known),
                          first=context.setup)
    results: list[Result] = []
    misses: list[Exception] = []
    for name in names:
        own = context if name == context.setup else RunContext(setup=name, mode=context.mode,
                                                               replay_style=context.replay_style,
                                                               setups_file=context.setups_file)
        scenario = nb.start(replace(own, recording_dir=str(folder)))
        for request in requests:
            result = _compare_one(scenario, request, misses, ReplayMiss)
            results.append(result)
    return Comparison(setups=names, results=results, mode=context.mode.value, misses=misses)


def _compare_one(scenario: Any, request: ComparedRequest, misses: list[Exception], miss_type: type[Exception]) -> Result:
    """One setup × request: its measured stream, or why there is none."""
    name = scenario.setup.name
    base = {"setup": name, "request": request.name, "model": scenario.text_model, "route": scenario.setup.responses}
    missing = [c for c in request.needs if not scenario.setup.can(c)]
    if missing:
        return Result(**base, status="unsupported", note=f"lacks {', '.join(missing)}")
    try:
        stream = scenario.responses_stream(dict(request.body), title=f"{name} · {request.name}", show=False)
    except miss_type as exc:
        misses.append(exc)
        return Result(**base, status="not recorded", note=str(exc).splitlines()[0])
    except Exception as exc:  # a server's HTTP error is a fact to show beside the others
        return Result(**base, status="error", note=f"{type(exc).__name__}: {exc}"[:300])
    result = measure(name, request, stream, scenario.observation(stream).violations or [])
    result.model, result.route = base["model"], base["route"]
    return result


__all__ = ["REQUESTS", "ComparedRequest", "Comparison", "Result", "compare", "measure"]
