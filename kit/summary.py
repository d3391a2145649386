"""How a notebook hands a small summary (violations found) back to the runner.

The runner sets `KIT_NOTEBOOK_REPORT` to a per-execution file path in the
kernel's environment; a notebook calls `report_summary(...)` (through
`kit.notebook.Scenario.finish`) one or more times. Interactive use (no variable)
does nothing. Several calls merge: counts add up, rule ids are united.

Shape: `{"violations": {"errors": n, "warnings": m, "rules": [ids]}, ...}`;
`Scenario.summary()` adds `error_rules` and `warning_rules` (the ids by
severity; `error_rules` leaves out rules a check allowed, and is what the
known-findings judgement reads) and `error_events` (rule -> where it was first
seen).
The flat shape `{"errors": n, "warnings": m, "rules": {id: count} | [ids]}`
(what `Scenario.summary()` returns) is accepted and filed under "violations";
other keys are kept as they are (the last call wins).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPORT_ENV = "KIT_NOTEBOOK_REPORT"


def empty_violations() -> dict[str, Any]:
    return {"errors": 0, "warnings": 0, "rules": []}


def normalize_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary with its violation counts under "violations" and rules as a list of ids."""
    summary = dict(summary)
    if not isinstance(summary.get("violations") or {}, Mapping):
        return summary  # check_summary says what is wrong with it
    flat = {k: summary.pop(k) for k in ("errors", "warnings", "rules") if k in summary}
    violations = dict(summary.get("violations") or {})
    for key, value in flat.items():
        violations.setdefault(key, value)
    if isinstance(violations.get("rules"), Mapping):
        violations["rules"] = list(violations["rules"])
    if violations:
        summary["violations"] = {**empty_violations(), **violations}
    return summary


def merge_summaries(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """One summary from many: violation counts add, rules are united (order of first sight); other keys: last wins."""
    merged: dict[str, Any] = {}
    for summary in map(normalize_summary, summaries):
        for key, value in summary.items():
            if key == "violations":
                violations = merged.setdefault("violations", empty_violations())
                for name, part in value.items():
                    if isinstance(part, int):
                        violations[name] = violations.get(name, 0) + part
                    elif isinstance(part, list):
                        ids = violations.setdefault(name, [])
                        ids.extend(r for r in part if r not in ids)
                    elif isinstance(part, Mapping):  # counts per rule add (by_rule); else first sight wins
                        into = violations.setdefault(name, {})
                        for rule, x in part.items():
                            both_counts = isinstance(x, int) and isinstance(into.get(rule, 0), int)
                            into[rule] = into.get(rule, 0) + x if both_counts else into.get(rule, x)
            else:
                merged[key] = value
    return merged


def check_summary(summary: Mapping[str, Any]) -> None:
    """Refuse a summary the report could not show, naming the bad field."""
    if not isinstance(summary, Mapping):
        raise TypeError(f"report_summary expects a dict like {{'violations': {{'errors': 0, 'warnings': 0, 'rules': []}}}}, "
                        f"got {type(summary).__name__}")
    json.dumps(summary)  # raises TypeError naming the value that is not JSON
    summary = normalize_summary(summary)
    violations = summary.get("violations")
    if violations is None:
        return
    if not isinstance(violations, Mapping):
        raise TypeError(f"summary['violations'] must be a dict, got {type(violations).__name__}")
    for name in ("errors", "warnings"):
        if not isinstance(violations.get(name, 0), int) or violations.get(name, 0) < 0:
            raise ValueError(f"summary['violations'][{name!r}] must be a count >= 0, got {violations.get(name)!r}")
    for name in ("rules", "error_rules", "warning_rules"):
        rules = violations.get(name, [])
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ValueError(f"summary['violations'][{name!r}] must be a list of rule ids, got {rules!r}")


def report_summary(summary: Mapping[str, Any]) -> Path | None:
    """Add `summary` to this execution's report file; returns the file, or None outside `kit run`/pytest."""
    check_summary(summary)
    target = os.environ.get(REPORT_ENV)
    if not target:
        return None
    path = Path(target)
    previous = read_summary(path)
    merged = merge_summaries([previous or {}, summary])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(merged, sort_keys=True), encoding="utf-8")
    tmp.replace(path)
    return path


def read_summary(path: Path) -> dict[str, Any] | None:
    """The summary a notebook left, or None when it left none (or an unreadable one: the runner then says so)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
