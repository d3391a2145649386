"""What one notebook × setup execution came to, from its error and its typed result.

A notebook that stopped on a replay miss is "not recorded" (with the command
that records it) and one that stopped on a missing capability "unsupported":
neither is a pass, neither a failure. The notebook says which in its result
(`kit.summary.Stop`); no exception name is matched.
A peer's streams that break exactly the rules its baseline lists
(`findings/<setup>.toml`, judged by `kit.findings.judge`) are "known
findings": facts about the peer, not a failure of the kit. The streams are
the notebook's Responses streams and the Chat Completions streams it
collected, each judged under its own profile; a warning rule is judged only
where the baseline names it.
Everything else that raised is a failure told in a few lines: the cell's first
line and the error, never papermill's internals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.summary import NOT_RECORDED, UNSUPPORTED, RunResult, Stop

if TYPE_CHECKING:
    from kit.findings import Baseline

MAX_MESSAGE_LINES = 8
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RECORDED = "not recorded"
    UNSUPPORTED = "unsupported"
    KNOWN_FINDINGS = "known findings"

    @property
    def is_failure(self) -> bool:
        return self is Status.FAILED


@dataclass(frozen=True)
class CellError:
    """The error a cell raised, as the kernel reported it."""

    ename: str
    evalue: str
    cell_source: str = ""
    execution_count: int | None = None  # the cell's In [n] in the executed notebook


@dataclass(frozen=True)
class Outcome:
    suite: str
    name: str
    setup: str
    status: Status
    duration: float = 0.0
    message: str = ""
    cell: str = ""  # first line of the cell that raised
    violations: dict[str, Any] | None = None
    executed: Path | None = None  # the executed .ipynb
    page: Path | None = None  # its HTML page
    record_command: str | None = None
    findings: tuple[dict[str, str], ...] = ()  # known findings seen: rule, event, seen, reason, upstream

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}[{self.setup}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite, "name": self.name, "setup": self.setup, "status": self.status.value,
            "duration": round(self.duration, 3), "message": self.message, "cell": self.cell,
            "violations": self.violations, "executed": str(self.executed) if self.executed else None,
            "page": str(self.page) if self.page else None, "record_command": self.record_command,
            "findings": [dict(f) for f in self.findings],
        }


def record_command(setup: str, suite: str, name: str) -> str:
    """The command that records a notebook × setup; a managed setup's server is started by the kit."""
    from kit.setups import UnknownSetup, get_setup

    try:
        managed = get_setup(setup).managed
    except (UnknownSetup, ValueError):
        managed = False
    server = f" --stack-config server:{setup}" if managed else ""
    return f"kit run --setup {setup} --suite {suite} --pattern {name} --inference-mode record-if-missing{server}"


def first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()
    return ""


def short(text: str, max_lines: int = MAX_MESSAGE_LINES) -> str:
    """The first lines of a message, without terminal colours."""
    lines = ANSI.sub("", text).strip().splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... ({len(lines) - max_lines} more lines in the executed notebook)"]
    return "\n".join(lines)


def classify(error: CellError | None, stop: Stop | None = None, *, replaying: bool, setup: str, suite: str,
             name: str) -> tuple[Status, str, str, str | None]:
    """(status, message, cell first line, record command) for a finished execution and the early stop its
    result names (None: the error, if any, is a failure)."""
    if error is None:
        return Status.PASSED, "", "", None
    cell = first_line(error.cell_source)
    if stop is not None and stop.kind == NOT_RECORDED and replaying:
        command = record_command(setup, suite, name)
        return Status.NOT_RECORDED, f"not recorded for setup {setup}; record it with:\n  {command}", cell, command
    if stop is not None and stop.kind == UNSUPPORTED:
        return Status.UNSUPPORTED, short(stop.message) or f"setup {setup} lacks a capability", cell, None
    body = f"{error.ename}: {short(error.evalue)}" if error.evalue.strip() else error.ename
    if error.execution_count is None and not cell:  # the notebook never ran (contract, kernel start)
        return Status.FAILED, body, "", None
    where = f"In [{error.execution_count}]" if error.execution_count is not None else "cell"
    return Status.FAILED, f"{where}: {cell}\n{body}" if cell else f"{where}\n{body}", cell, None


def judge_findings(status: Status, message: str, result: RunResult, baseline: Baseline,
                   notebook: str) -> tuple[Status, str, tuple[dict[str, str], ...]]:
    """A finished execution against its setup's known findings: the one judgement, here (only an execution
    that ran to the end is judged). The error rules come from the notebook's typed result."""
    from kit.findings import FAILED, KNOWN, judge

    if status is not Status.PASSED:
        return status, message, ()
    seen = {**result.warning_rules(), **result.error_rules()}
    verdict = judge(result.error_rules(), baseline, notebook, warnings=result.warning_rules())
    findings = tuple({"rule": f.rule, "event": f.event, "seen": str(seen.get(f.rule, "")), "reason": f.reason,
                      "upstream": f.upstream} for f in verdict.known)
    if verdict.status == FAILED:
        return Status.FAILED, verdict.message, findings
    if verdict.status == KNOWN:
        return Status.KNOWN_FINDINGS, f"{len(findings)} known finding(s): " + ", ".join(f["rule"] for f in findings), findings
    return status, message, findings
