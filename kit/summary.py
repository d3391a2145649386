"""What a notebook observed, as a typed result the runner reads from the executed notebook.

The kernel publishes a `RunResult` as a display output of its own mime type
(`RESULT_MIME`, with a one-line text form for people): the streams it saw,
Responses and Chat Completions alike (each with the profile that judged it,
each violated rule with its severity, count and where it was first seen, and
the error rules a check allowed), the notebook expectations met or missed, and
why it stopped early when it did (a missing capability, a replay miss). The
output is saved in the executed .ipynb like any other, so the runner reads the
result from there (`read_result`): no side file, no environment variable, no
exception name matched as a string. Several publications merge. The runner
alone judges the result against the known findings (`kit.findings.judge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RESULT_MIME = "application/vnd.responses-kit.result+json"
UNSUPPORTED = "unsupported"
NOT_RECORDED = "not recorded"
StopKind = Literal["unsupported", "not recorded"]


@dataclass(frozen=True)
class RuleSeen:
    """One rule a stream broke: how often, and where first (stream, event, message)."""

    rule: str
    severity: str
    count: int
    where: str


@dataclass(frozen=True)
class StreamSeen:
    title: str
    events: int  # events, or chunks of a chat stream
    rules: tuple[RuleSeen, ...] = ()
    allowed: tuple[str, ...] = ()  # error rules a check allowed (with the notebook's reason): not judged
    profile: str = "openai"  # the profile it was judged under: "chat" for a Chat Completions stream


@dataclass(frozen=True)
class Expectation:
    """A notebook expectation a peer's baseline may name (`kit.findings.EXPECTATIONS`), met or missed."""

    rule: str
    met: bool
    where: str = ""


@dataclass(frozen=True)
class Stop:
    """Why the notebook stopped early without failing: the setup lacks a capability, or a replay missed."""

    kind: StopKind
    message: str


@dataclass(frozen=True)
class RunResult:
    streams: tuple[StreamSeen, ...] = ()
    expectations: tuple[Expectation, ...] = ()
    stops: tuple[Stop, ...] = ()
    not_shown: tuple[str, ...] = ()
    observed: bool = False  # a scenario finished and accounted for its streams (violations are then known)
    data: Mapping[str, Any] = field(default_factory=dict)  # what else a notebook reports (e.g. what it compared)

    def merge(self, other: RunResult) -> RunResult:
        return RunResult(self.streams + other.streams, self.expectations + other.expectations,
                         self.stops + other.stops, tuple(dict.fromkeys(self.not_shown + other.not_shown)),
                         self.observed or other.observed, {**self.data, **other.data})

    def error_rules(self) -> dict[str, str]:
        """{rule: where first seen} of the error rules to judge: not allowed by a check, and missed expectations."""
        seen = self._first_seen("error")
        for expectation in self.expectations:
            if not expectation.met:
                seen.setdefault(expectation.rule, expectation.where)
        return seen

    def warning_rules(self) -> dict[str, str]:
        """{rule: where first seen} of the warning rules broken (a baseline that names one makes it judged)."""
        return self._first_seen("warning")

    def _first_seen(self, severity: str) -> dict[str, str]:
        seen: dict[str, str] = {}
        for stream in self.streams:
            for r in stream.rules:
                if r.severity == severity and r.rule not in stream.allowed:
                    seen.setdefault(r.rule, r.where)
        return seen

    def violations(self) -> dict[str, Any] | None:
        """The counts the report shows (None when no scenario accounted for its streams)."""
        if not self.observed:
            return None
        by_rule: dict[str, int] = {}
        counts = {"error": 0, "warning": 0}
        warning_rules: list[str] = []
        for r in (r for s in self.streams for r in s.rules):
            by_rule[r.rule] = by_rule.get(r.rule, 0) + r.count
            counts[r.severity] = counts.get(r.severity, 0) + r.count
            if r.severity == "warning" and r.rule not in warning_rules:
                warning_rules.append(r.rule)
        errors = self.error_rules()
        return {"errors": counts["error"], "warnings": counts["warning"], "rules": list(by_rule), "by_rule": by_rule,
                "error_rules": list(errors), "warning_rules": warning_rules, "error_events": errors,
                "warning_events": self.warning_rules()}

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"data": dict(self.data)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        """A result as `to_json` wrote it; raises ValueError naming what is wrong."""
        try:
            return cls(
                streams=tuple(StreamSeen(s["title"], int(s["events"]), tuple(RuleSeen(**r) for r in s.get("rules", ())),
                                         tuple(s.get("allowed", ())), str(s.get("profile") or "openai"))
                              for s in data.get("streams", ())),
                expectations=tuple(Expectation(**e) for e in data.get("expectations", ())),
                stops=tuple(Stop(**s) for s in data.get("stops", ())),
                not_shown=tuple(data.get("not_shown", ())), observed=bool(data.get("observed")),
                data=dict(data.get("data") or {}))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"a run result that does not read: {exc!r}") from None


def stream_seen(title: str, events: int, violations: Iterable[Any], allowed: Iterable[str] = (), *,
                profile: str = "openai") -> StreamSeen:
    """A stream's entry from its violations (`kit.events.Violation`): per rule, in order of first sight."""
    rules: dict[str, RuleSeen] = {}
    for v in violations:
        if v.rule in rules:
            seen = rules[v.rule]
            rules[v.rule] = RuleSeen(seen.rule, seen.severity, seen.count + 1, seen.where)
        else:
            noun = "chunk" if profile == "chat" else "event"
            at = f", {noun} {v.index}" if v.index is not None else ""
            rules[v.rule] = RuleSeen(v.rule, v.severity, 1, f"{title}{at}: {v.message}")
    return StreamSeen(title, events, tuple(rules.values()), tuple(sorted(set(allowed))), profile)


def publish(result: RunResult) -> None:
    """Put the result in the cell's outputs (inside a kernel; elsewhere there is no notebook to hold it)."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return
    if get_ipython() is None:
        return
    errors = result.error_rules()
    text = (f"run result: {len(result.streams)} stream(s), error rules: {', '.join(errors) or 'none'}"
            + "".join(f"; {s.kind}" for s in result.stops))
    display({"text/plain": text, RESULT_MIME: result.to_json()}, raw=True)


def read_result(notebook: Mapping[str, Any]) -> RunResult | None:
    """The merged result an executed notebook (nbformat) holds; None when it published none."""
    merged: RunResult | None = None
    for cell in notebook.get("cells", ()):
        for output in cell.get("outputs", ()) if cell.get("cell_type") == "code" else ():
            data = (output.get("data") or {}).get(RESULT_MIME)
            if isinstance(data, Mapping):
                result = RunResult.from_json(data)
                merged = result if merged is None else merged.merge(result)
    return merged


__all__ = ["NOT_RECORDED", "RESULT_MIME", "UNSUPPORTED", "Expectation", "RuleSeen", "RunResult", "Stop",
           "StreamSeen", "publish", "read_result", "stream_seen"]
