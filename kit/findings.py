"""Known findings: what a peer server is known to break, kept per setup and judged the same way everywhere.

A peer's findings are facts about that peer, not failures of the kit. They
live in one committed, reviewable TOML file per setup, `findings/<setup>.toml`
at the project's root (or in the folder a run names: `KIT_FINDINGS_DIR`, resolved by `kit.setups`):

    [peer]
    name = "LiteLLM"
    version = "1.108.7"
    how = "..."

    [[finding]]
    notebook = "responses/function_tools"   # <suite>/<name>, or battery/<probe>
    rule = "item.closed-once"
    event = "response.output_item.added (function_call, ...): no response.output_item.done follows"
    reason = "..."
    upstream = "https://github.com/..."      # "" when none is known

A finding's `rule` is a rule id of the catalog, or the id of a notebook
expectation (`EXPECTATIONS`) for a behaviour the catalog has no rule for:
LiteLLM reporting an upstream's failure as `completed` breaks no event rule,
but a notebook that expects a failure sees it, and the finding says so.
The rule may be one of the `chat` profile's (a Chat Completions stream the
notebook collected, `chat.*` and the wire rules), and it may be a warning
rule: a peer's missing `data: [DONE]` is a fact worth keeping even though a
warning fails nothing. A baselined warning rule is judged like an error rule
(known when seen, "no longer occurs" when not); a warning no baseline names
is shown, never judged.

`judge` is the one rule, used by `kit run`, its report, the pytest items and
the live tests: for a setup × notebook, E = the error rule ids its streams
broke and B = the baseline's rules there. E == B: "known findings" (or
"passed" when both are empty); a rule in E but not in B is a new finding
(a regression); a rule in B but not in E no longer occurs (the peer may have
fixed it: update the baseline). Only `load_baseline` reads the disk.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FINDING_FIELDS = ("notebook", "rule", "event", "reason", "upstream")
PEER_FIELDS = ("name", "version", "how")

# Notebook expectations a baseline may name instead of a catalog rule: what the server did that no rule judges.
EXPECTATIONS: dict[str, str] = {
    "expect.failure": "a request the server must reject (beyond the model's context, say) ends in an HTTP error, "
                      "or in error + response.failed",
    "expect.reasoning-item": "a request asking for reasoning, over an upstream that streams it, gets a reasoning "
                             "item before the message",
    "expect.chat-reasoning": "a chat request asking for reasoning (reasoning_effort), over an upstream that streams "
                             "it, gets the reasoning in its chunks",
    "expect.reasoning-summary": "a request asking for a reasoning summary (reasoning.summary) gets one streamed",
    # the request surface (issue 20: structured outputs, tool choice, logprobs, request errors)
    "expect.json-schema": "text.format json_schema (strict) or json_object: the answer parses as a JSON object and "
                          "validates against the schema",
    "expect.tool-choice": "tool_choice is honoured: a named function is called, none calls nothing, "
                          "parallel_tool_calls false makes at most one call",
    "expect.logprobs": "include message.output_text.logprobs with top_logprobs: every text delta carries its tokens' "
                       "logprobs, and they equal output_text.done's and the final part's",
    "expect.client-error": "a request the client got wrong (unknown model, bad value, invalid tool schema, too long "
                           "an input) is answered with a 4xx, not a 5xx",

    # surface-c (issue 20): file input and MCP
    "expect.file-read": "a text file sent as input_file (file_data or file_id) reaches the model: the answer names "
                        "what only the file says",
    "expect.mcp-call": "an `mcp` tool with require_approval never: the server's tools are listed (mcp_list_tools) and "
                       "the model's call runs through an mcp_call whose output is the MCP server's answer",
    "expect.mcp-approval": "an `mcp` tool with require_approval always: the response ends with an "
                           "mcp_approval_request and runs nothing; after the client's mcp_approval_response the "
                           "call runs (an mcp_call naming the approval)",

    # the request surface (issue 20: instructions, sampling_and_limits)
    "expect.echo": "the response object echoes the request's instructions, max_output_tokens, temperature, top_p, "
                   "metadata, user, safety_identifier and truncation as sent",
    "expect.limit": "a response cut by max_output_tokens ends incomplete (reason max_output_tokens) within the limit",

    # conversation turns (responses/tool_round_trip, multi_turn_input, previous_response_chain)
    "expect.tool-result-used": "the answer after a function_call_output uses the tool's result",
    "expect.history-used": "an answer to a history sent as input uses what the history said",
    "expect.previous-response-echoed": "a response made with previous_response_id echoes that id",
    "expect.input-accepted": "a valid request (typed message items, a tool call and its output as input) is "
                             "answered: not refused with an HTTP error, not ended failed or empty",
    "expect.same-context": "a turn continued with previous_response_id gets the answer the same turn gets with "
                           "the full history as input (same model, temperature 0)",

    # the stateful API (kit.notebook.state): what a later request shows, not one stream
    "expect.deleted-gone": "GET /v1/responses/{id} after DELETE /v1/responses/{id} is a 404",
    "expect.unstored-gone": "GET /v1/responses/{id} of a response made with store: false is a 404",
    "expect.conversation-items": "GET /v1/conversations/{id}/items lists the items the conversation was created "
                                 "with, the input of a response made in it and that response's output items, each id once",
    "expect.conversation-deleted": "GET /v1/conversations/{id} after DELETE /v1/conversations/{id} is a 404",
    "expect.background-lifecycle": "a background response, polled with GET, goes queued → in_progress → "
                                   "completed, never back, and ends completed",
    "expect.background-cancel": "POST /v1/responses/{id}/cancel of a running background response answers "
                                "cancelled, and every later GET says cancelled",

    # WebSocket mode (responses/websocket_mode)
    "expect.socket-continues": "on one WebSocket, a turn sending only tool outputs and previous_response_id "
                               "(store: false) continues the previous response of that connection",
}

PASSED = "passed"
KNOWN = "known findings"
FAILED = "failed"


class FindingsError(ValueError):
    """A baseline file is wrong; the message names the file, the entry and what to fix."""


@dataclass(frozen=True)
class Finding:
    """One known breach: a rule a peer breaks in one notebook (or battery probe), and why."""

    setup: str
    notebook: str
    rule: str
    event: str
    reason: str
    upstream: str = ""

    def line(self) -> str:
        """`rule — reason — link` as the notebook and the terminal show it."""
        tail = self.upstream or ("" if "upstream" in self.reason.lower() else "no upstream issue known")
        return f"{self.rule} — {self.reason}" + (f" — {tail}" if tail else "")

    def to_json(self) -> dict[str, str]:
        return {"setup": self.setup, "notebook": self.notebook, "rule": self.rule, "event": self.event,
                "reason": self.reason, "upstream": self.upstream}


@dataclass(frozen=True)
class Baseline:
    """The known findings of one setup (empty when it has no file)."""

    setup: str
    findings: tuple[Finding, ...] = ()
    peer: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # the file, for messages

    @property
    def file_hint(self) -> str:
        return self.source or f"findings/{self.setup}.toml"

    def for_notebook(self, notebook: str | None) -> tuple[Finding, ...]:
        """The findings of one notebook; all of the setup's when the notebook is not known (JupyterLab)."""
        if notebook is None:
            return self.findings
        return tuple(f for f in self.findings if f.notebook == notebook)

    def rules(self, notebook: str | None) -> frozenset[str]:
        return frozenset(f.rule for f in self.for_notebook(notebook))


@dataclass(frozen=True)
class Judgement:
    """How a setup × notebook's error rules compare with its baseline."""

    setup: str
    notebook: str
    status: str  # PASSED, KNOWN or FAILED
    known: tuple[Finding, ...] = ()  # baselined and seen
    new: tuple[str, ...] = ()  # seen, not baselined: a regression
    gone: tuple[Finding, ...] = ()  # baselined, not seen: the peer may have fixed it
    file_hint: str = ""

    @property
    def message(self) -> str:
        """One line per difference, naming the rule, the notebook, the setup and what to do."""
        lines = [f"new finding: error rule {rule} in {self.notebook} on {self.setup} is not in {self.file_hint}: "
                 f"a regression (or a finding to add there, with its event, reason and upstream link)"
                 for rule in self.new]
        lines += [f"baselined rule {f.rule} no longer occurs in {self.notebook} on {self.setup}: the peer may have "
                  f"fixed it; update {self.file_hint}" for f in self.gone]
        return "\n".join(lines)


def parse_baseline(data: Mapping[str, Any], setup: str, source: str = "") -> Baseline:
    """A baseline from parsed TOML; refuses missing fields and rule ids outside the catalog."""
    from kit.events import RULES

    where = source or f"findings/{setup}.toml"
    peer = data.get("peer", {})
    if not isinstance(peer, Mapping):
        raise FindingsError(f"{where}: [peer] must be a table with {', '.join(PEER_FIELDS)}")
    entries = data.get("finding", [])
    if not isinstance(entries, list):
        raise FindingsError(f"{where}: findings are [[finding]] tables (an array), got {type(entries).__name__}")
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for n, entry in enumerate(entries, 1):
        if not isinstance(entry, Mapping):
            raise FindingsError(f"{where}: finding {n} is not a table")
        missing = [k for k in FINDING_FIELDS if k != "upstream" and not str(entry.get(k) or "").strip()]
        if missing:
            raise FindingsError(f"{where}: finding {n} ({entry.get('rule', '?')}) lacks {', '.join(missing)}; "
                                f"each finding needs notebook, rule, event, reason (and upstream, \"\" when none)")
        unknown = sorted(set(entry) - set(FINDING_FIELDS))
        if unknown:
            raise FindingsError(f"{where}: finding {n} ({entry['rule']}) has unknown field(s) {', '.join(unknown)}; "
                                f"the fields are {', '.join(FINDING_FIELDS)}")
        rule = str(entry["rule"]).strip()
        if rule not in RULES and rule not in EXPECTATIONS:
            raise FindingsError(f"{where}: finding {n}: rule {rule!r} is not in the catalog (docs/conformance-rules.md) "
                                f"nor a notebook expectation ({', '.join(sorted(EXPECTATIONS))})")
        notebook = str(entry["notebook"]).strip()
        if "/" not in notebook:
            raise FindingsError(f"{where}: finding {n} ({rule}): notebook {notebook!r} must be <suite>/<name> "
                                f"(e.g. responses/function_tools) or battery/<probe>")
        if (notebook, rule) in seen:
            raise FindingsError(f"{where}: rule {rule} is listed twice for {notebook}; keep one finding per rule")
        seen.add((notebook, rule))
        findings.append(Finding(setup=setup, notebook=notebook, rule=rule, event=str(entry["event"]).strip(),
                                reason=str(entry["reason"]).strip(), upstream=str(entry.get("upstream") or "").strip()))
    return Baseline(setup=setup, findings=tuple(findings), peer={k: str(v) for k, v in peer.items()}, source=where)


def judge(errors: Iterable[str], baseline: Baseline, notebook: str, warnings: Iterable[str] = ()) -> Judgement:
    """E (the error rule ids seen, plus the warning rule ids seen that the baseline names) against B (the
    baseline's rules for this notebook)."""
    baselined = {f.rule: f for f in baseline.for_notebook(notebook)}
    seen = frozenset(errors) | (frozenset(warnings) & set(baselined))
    new = tuple(sorted(seen - set(baselined)))
    gone = tuple(f for rule, f in sorted(baselined.items()) if rule not in seen)
    known = tuple(f for rule, f in sorted(baselined.items()) if rule in seen)
    status = FAILED if new or gone else KNOWN if known else PASSED
    return Judgement(setup=baseline.setup, notebook=notebook, status=status, known=known, new=new, gone=gone,
                     file_hint=baseline.file_hint)


# -- the edge: where baselines live, and reading them ---------------------------------------


def findings_dir(given: str | Path | None = None, start: Path | None = None) -> Path:
    """The folder given (a run's `KIT_FINDINGS_DIR`, resolved at the face), else `findings/` of the project we
    are in (`kit.setups.project`, found from `start`; a packaged suite's folder belongs to no project: then the
    working directory's)."""
    from kit.setups.project import find_project, is_packaged

    if given:
        return Path(given).resolve()
    if start is not None and is_packaged(start):
        start = None
    return find_project(start).findings


def load_baseline(setup: str, directory: Path | None = None) -> Baseline:
    """`<directory>/<setup>.toml` (directory: `findings_dir()`); an empty baseline when the file is absent."""
    path = (directory or findings_dir()) / f"{setup}.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Baseline(setup=setup, source=str(path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FindingsError(f"{path}: not valid TOML: {exc}") from None
    return parse_baseline(data, setup, str(path))


__all__ = ["EXPECTATIONS", "KNOWN", "Baseline", "Finding", "FindingsError", "Judgement",
           "findings_dir", "judge", "load_baseline", "parse_baseline"]
