"""The report's coverage page: features × setups, from `kit.coverage.FEATURES` and the run's outcomes.

Each row is a feature, the notebook that covers it, where the requirement comes from and the Open Responses
compliance test it answers; each setup column says what this run found: passed, known findings,
unsupported (with the reason the notebook recorded), failed, not recorded, not run, or not built (no
notebook yet). Pure: `render_coverage` returns the page; `write_report` writes it beside `index.html`.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from kit.coverage import (
    FAILED,
    FEATURES,
    KNOWN,
    NOT_BUILT,
    NOT_RECORDED,
    NOT_RUN,
    OPEN_RESPONSES_SUITE,
    PASSED,
    UNSUPPORTED,
    Cell,
    Feature,
    matrix,
)

COVERAGE_PAGE = "coverage.html"
STATE_STYLE = {
    PASSED: ("#1a7f37", "#dafbe1"),
    KNOWN: ("#8250df", "#fbefff"),
    UNSUPPORTED: ("#9a6700", "#fff8c5"),
    FAILED: ("#cf222e", "#ffebe9"),
    NOT_RECORDED: ("#6e7781", "#f6f8fa"),
    NOT_RUN: ("#6e7781", "#ffffff"),
    NOT_BUILT: ("#6e7781", "#eaeef2"),
}
_CSS = """
body { font: 14px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 20px; } table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; vertical-align: top; text-align: left; }
th { background: #f6f8fa; } code { font: 12px monospace; } .meta { color: #57606a; font-size: 12px; }
.state { font-weight: 600; } td.why { max-width: 22em; }
"""


def coverage_rows(outcomes: Iterable[Any], setups: Sequence[str], *, built: Iterable[str] | None = None,
                  features: Sequence[Feature] = FEATURES) -> list[dict[str, Any]]:
    """The coverage matrix as plain data (for results.json): per feature, its notebook and per setup its state."""
    return [{"feature": f.id, "title": f.title, "notebook": f.notebook, "source": f.source,
             "open_responses_test": f.open_responses_test,
             "setups": {s: {"state": c.state, "reason": c.reason} for s, c in zip(setups, cells)}}
            for f, cells in matrix(outcomes, setups, built=built, features=features)]


def _cell_html(cell: Cell, root: Path) -> str:
    fg, bg = STATE_STYLE.get(cell.state, STATE_STYLE[FAILED])
    parts = [f'<td class="why" style="background:{bg}"><span class="state" style="color:{fg}">'
             f"{html.escape(cell.state)}</span>"]
    if cell.page:
        parts.append(f' <a class="meta" href="{html.escape(os.path.relpath(cell.page, root))}">page</a>')
    if cell.reason and cell.state not in (PASSED, KNOWN):
        parts.append(f'<div class="meta">{html.escape(cell.reason)}</div>')
    return "".join(parts) + "</td>"


def render_coverage(outcomes: Iterable[Any], setups: Sequence[str], *, root: Path, built: Iterable[str] | None = None,
                    features: Sequence[Feature] = FEATURES, title: str = "kit run: coverage") -> str:
    """The coverage page: one row per feature, one column per setup; links relative to `root`."""
    rows = matrix(outcomes, setups, built=built, features=features)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
           f'<h1>{html.escape(title)}</h1><p><a href="index.html">&larr; the notebook matrix</a></p>',
           '<p class="meta">Every feature the kit tests, listed once in <code>kit/coverage.py</code>, with the '
           "notebook that covers it and what this run found on each setup. The Open Responses compliance suite's "
           f'tests are named in their column (<a href="{html.escape(OPEN_RESPONSES_SUITE)}">compliance-tests.ts</a>).'
           "</p>",
           "<table><thead><tr><th>feature</th><th>notebook</th><th>source</th><th>Open Responses test</th>"
           + "".join(f"<th>{html.escape(s)}</th>" for s in setups) + "</tr></thead><tbody>"]
    for feature, cells in rows:
        notebook = f"<code>{html.escape(feature.notebook)}</code>" if feature.notebook else '<span class="meta">none</span>'
        test = f"<code>{html.escape(feature.open_responses_test)}</code>" if feature.open_responses_test else ""
        out.append(f'<tr id="feature-{html.escape(feature.id)}"><td>{html.escape(feature.title)}</td><td>{notebook}</td>'
                   f'<td class="meta">{html.escape(feature.source)}</td><td>{test}</td>'
                   + "".join(_cell_html(c, root) for c in cells) + "</tr>")
    out.append("</tbody></table></body></html>")
    return "\n".join(out)
