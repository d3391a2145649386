"""The HTML report of a run: `index.html` (the matrix) and one page per executed notebook.

Pages render offline: nbconvert's lab template with its CDN scripts removed
(require.js, MathJax, Mermaid, widget manager). A page reads like a test
report (Playwright's, Allure): the verdict first, with its rules and the
peer's known findings; then the request (its code shown open), the answer,
the tables and the timeline. Other code is folded in a plain `<details>`
element, opened without JavaScript. The page never contradicts its verdict:
a notebook's "Checks: ..." sentence is shown as what it expects, next to the
verdict, and the raw summary dict a notebook ends with is not repeated.
`render_index` and `page_notebook` are pure; the `write_*` functions do the file I/O.
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from kit.runner.outcome import Outcome, Status

PAGE_TEMPLATE = "kit_page.html.j2"
_PAGE_TEMPLATE_SOURCE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{% block extra_css %}
<style type="text/css">
details.kit-code > summary { cursor: pointer; color: var(--jp-content-font-color2, #666);
  font: 12px var(--jp-code-font-family, monospace); padding: 2px 0 2px 4px; }
details.kit-code:not([open]) > summary::after { content: " (hidden)"; }
details.kit-request > summary { font-weight: 600; color: inherit; }
.kit-nav { font: 14px sans-serif; padding: 8px 16px; border-bottom: 1px solid #ddd; }
/* Nothing scrolls sideways at 1280 px: tables shrink to the page (ids are shortened by the kit's table
   views, long values wrap anywhere), preformatted output wraps. */
.jp-Notebook, .jp-Cell, .jp-OutputArea, .jp-OutputArea-output { max-width: 100%; min-width: 0; }
.jp-OutputArea-output { overflow-x: hidden; overflow-wrap: anywhere; }
.jp-OutputArea-output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.jp-RenderedHTMLCommon table.dataframe { font-size: 12px; max-width: 100%; table-layout: auto; }
.jp-RenderedHTMLCommon table.dataframe th, .jp-RenderedHTMLCommon table.dataframe td { padding: 2px 6px; }
.jp-RenderedHTMLCommon table.dataframe th { white-space: normal; overflow-wrap: break-word; }
.kit-verdict { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 12px 16px;
  padding: 10px 14px; border: 1px solid #d0d7de; border-left: 6px solid var(--kit-verdict, #6e7781);
  border-radius: 6px; overflow-wrap: anywhere; }
.kit-verdict h1 { font-size: 18px; margin: 0 0 6px; }
.kit-verdict .kit-status-badge { display: inline-block; font-weight: 600; padding: 1px 8px; border-radius: 10px;
  color: #fff; background: var(--kit-verdict, #6e7781); }
.kit-verdict ul { margin: 4px 0; padding-left: 20px; } .kit-verdict code { font-size: 12px; }
.kit-verdict .kit-meta { color: #57606a; font-size: 12px; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
<div class="kit-nav"><a href="{{ resources.kit_index }}">&larr; report</a> &middot; {{ resources.kit_title | e }}</div>
{{ resources.kit_verdict }}
{%- endblock body_header -%}
{% block input_group -%}
{%- if cell.metadata.get("kit_role") == "request" -%}
<details class="kit-code kit-request" open><summary>request</summary>
{%- else -%}
<details class="kit-code"><summary>code</summary>
{%- endif %}
{{ super() }}
</details>
{%- endblock input_group %}
"""
REQUEST_CALLS = ("responses_stream(", "chat_stream(", "expect_failure(", ".create(", "vector_store(")
CHECKS_PREFIX = "Checks:"

_exporters = threading.local()  # building an exporter loads the templates: once per thread


def _exporter() -> Any:
    exporter = getattr(_exporters, "html", None)
    if exporter is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(extra_loaders=[DictLoader({PAGE_TEMPLATE: _PAGE_TEMPLATE_SOURCE})],
                                template_file=PAGE_TEMPLATE, exclude_anchor_links=True, embed_images=True)
        _exporters.html = exporter
    return exporter


def write_notebook_page(executed: Path, page: Path, *, title: str, index: Path | None = None,
                        status: str | None = None, findings: Sequence[Mapping[str, str]] | None = None,
                        summary: Mapping[str, Any] | None = None) -> Path:
    """Render an executed notebook to `page`; the link back goes to `index` (default: the report root's index.html).

    `status` is the outcome's (default: read from the end of `title`, "... : known findings"); `findings` the
    known findings seen (default: the setup's baseline judged against the notebook's error rules); `summary`
    the runner's account of the notebook's typed result (setup, notebook, violations; default: read from the
    notebook).
    """
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    summary = dict(summary) if summary is not None else _summary_of(nb, executed)
    status = status or _status_from_title(title)
    if findings is None:
        findings = _known_findings(summary)
    index = index or _report_root(page) / "index.html"
    nb, verdict = page_notebook(nb, title=title, status=status, summary=summary, findings=findings)
    resources = {"metadata": {"name": title, "path": str(executed.parent)},
                 "kit_title": title, "kit_index": os.path.relpath(index, page.parent), "kit_verdict": verdict}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    return page


def _report_root(page: Path) -> Path:
    return page.parents[2]  # <out>/<setup>/<suite>/<name>.html


def _summary_of(nb: Any, executed: Path) -> dict[str, Any]:
    """What the notebook handed the runner: in the notebook's metadata (any entry with "violations"), else the
    `<name>.summary.json` beside it; {} when neither."""
    for value in dict(nb.metadata).values():
        if isinstance(value, Mapping):
            for candidate in (value, *(v for v in value.values() if isinstance(v, Mapping))):
                if "violations" in candidate and "setup" in candidate:
                    return dict(candidate)
    path = executed.with_suffix(".summary.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _status_from_title(title: str) -> str | None:
    tail = title.rsplit(": ", 1)[-1].strip()
    return tail if tail in {s.value for s in Status} else None


def _known_findings(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The setup's baseline findings among the notebook's error rules (kit.findings judges them as `kit run` does)."""
    setup, notebook = summary.get("setup"), summary.get("notebook")
    violations = summary.get("violations") or {}
    errors, warnings = violations.get("error_rules") or [], violations.get("warning_rules") or []
    if not (isinstance(setup, str) and isinstance(notebook, str) and (errors or warnings)):
        return []
    try:
        from kit.findings import judge, load_baseline

        judgement = judge(errors, load_baseline(setup), notebook, warnings=warnings)
    except Exception:  # a page must render even when the baseline cannot be read (the outcome says why)
        return []
    return [{"rule": f.rule, "reason": f.reason, "upstream": f.upstream, "event": f.event} for f in judgement.known]


VERDICT_COLOR = {
    Status.PASSED.value: "#1a7f37", Status.FAILED.value: "#cf222e", Status.NOT_RECORDED.value: "#6e7781",
    Status.UNSUPPORTED.value: "#9a6700", Status.KNOWN_FINDINGS.value: "#8250df",
}


def page_notebook(nb: Any, *, title: str, status: str | None, summary: Mapping[str, Any],
                  findings: Sequence[Mapping[str, str]]) -> tuple[Any, str]:
    """A copy of the executed notebook arranged as a report page, and the verdict block that heads it.

    Request cells are marked (their code is shown open); a "Checks: ..." sentence becomes "Expected: ...",
    with what happened when the verdict is not a pass; the closing `scenario.finish()` output (the raw
    summary dict) is dropped: the verdict block says the same in words.
    """
    import copy

    nb = copy.deepcopy(nb)
    passed = status in (None, Status.PASSED.value)
    for cell in nb.cells:
        source = cell.get("source", "")
        if cell.cell_type == "code":
            tags = set(cell.metadata.get("tags", []))
            if "parameters" not in tags and "injected-parameters" not in tags and any(call in source for call in REQUEST_CALLS):
                cell.metadata["kit_role"] = "request"
            if source.strip().endswith(".finish()"):
                cell.outputs = [o for o in cell.outputs if o.get("output_type") not in ("execute_result", "display_data")]
        elif cell.cell_type == "markdown" and source.lstrip().startswith(CHECKS_PREFIX):
            expected = source.lstrip()[len(CHECKS_PREFIX):].strip()
            outcome = "" if passed else f"\n\n*On this setup: **{status}** — see the verdict at the top of the page.*"
            cell.source = f"**Expected:** {expected}{outcome}"
    return nb, verdict_html(title, status, summary, findings)


def verdict_html(title: str, status: str | None, summary: Mapping[str, Any], findings: Sequence[Mapping[str, str]]) -> str:
    """The block at the top of a page: the status, the rules broken (with their first event), the known findings."""
    violations = summary.get("violations") or {}
    color = VERDICT_COLOR.get(status or "", "#6e7781")
    heading = html.escape(title.rsplit(": ", 1)[0] if status and title.endswith(status) else title)
    out = [f'<section class="kit-verdict" data-status="{html.escape(status or "")}" style="--kit-verdict:{color}">',
           f"<h1>{heading}</h1>"]
    line = [f'<span class="kit-status-badge">{html.escape(status)}</span>'] if status else []
    if violations:
        line.append(html.escape(violations_text({"errors": violations.get("errors", 0),
                                                 "warnings": violations.get("warnings", 0)})))
    streams = summary.get("streams")
    if isinstance(streams, int):
        chat = summary.get("chat_streams")
        of_chat = f" ({chat} Chat Completions, profile chat)" if isinstance(chat, int) and chat else ""
        line.append(f'<span class="kit-meta">{streams} stream{"" if streams == 1 else "s"} judged{of_chat}</span>')
    if line:
        out.append("<div>" + " &middot; ".join(line) + "</div>")
    by_rule = violations.get("by_rule") or {}
    events = violations.get("error_events") or {}
    known = {f.get("rule"): f for f in findings}
    rules = []
    for rule in violations.get("error_rules") or []:
        finding = known.get(rule)
        where = f' <span class="kit-meta">{html.escape(str(events[rule]))}</span>' if rule in events else ""
        note = _known_note(finding)
        count = by_rule.get(rule, 1)
        rules.append(f'<li class="kit-verdict-rule" data-rule="{html.escape(rule)}" data-severity="error"><b>error</b> '
                     f'<code>{html.escape(rule)}</code>{f" ×{count}" if count > 1 else ""}{where}{note}</li>')
    warning_events = violations.get("warning_events") or {}
    for rule in violations.get("warning_rules") or []:
        count = by_rule.get(rule, 1)
        finding = known.get(rule)  # a warning is judged only where the baseline names it: then say so
        where = (f' <span class="kit-meta">{html.escape(str(warning_events[rule]))}</span>'
                 if finding and rule in warning_events else "")
        note = _known_note(finding)
        rules.append(f'<li class="kit-verdict-rule" data-rule="{html.escape(rule)}" data-severity="warning">warning '
                     f'<code>{html.escape(rule)}</code>{f" ×{count}" if count > 1 else ""}{where}{note}</li>')
    if rules:
        out.append("<ul>" + "".join(rules) + "</ul>")
    elif violations:
        out.append('<div class="kit-meta">no rule broken</div>')
    out.append("</section>")
    return "\n".join(out)


def _known_note(finding: Mapping[str, str] | None) -> str:
    """The line under a rule that is one of the setup's known findings: its reason and upstream link."""
    if not finding:
        return ""
    return f'<div class="kit-meta">known finding: {html.escape(finding.get("reason", ""))} {_upstream(finding)}</div>'


def finding_line(finding: Mapping[str, str]) -> str:
    """`rule — reason — upstream` for terminals; without a link, "no upstream issue known" unless the reason says so."""
    url = finding.get("upstream") or ""
    reason = finding.get("reason") or ""
    tail = url or ("" if "upstream" in reason.lower() else "no upstream issue known")
    return " — ".join(part for part in (finding.get("rule") or "", reason, tail) if part)


def _upstream(finding: Mapping[str, str]) -> str:
    """The upstream link, or nothing when the reason already says none was found."""
    url = finding.get("upstream", "")
    if url:
        return _link(url)
    return "" if "upstream" in finding.get("reason", "").lower() else _link("")


# -- index.html ---------------------------------------------------------------

STATUS_STYLE = {
    Status.PASSED: ("#1a7f37", "#dafbe1"),
    Status.FAILED: ("#cf222e", "#ffebe9"),
    Status.NOT_RECORDED: ("#6e7781", "#f6f8fa"),
    Status.UNSUPPORTED: ("#9a6700", "#fff8c5"),
    Status.KNOWN_FINDINGS: ("#8250df", "#fbefff"),
}

_INDEX_CSS = """
body { font: 14px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 20px; } table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; vertical-align: top; text-align: left; }
th { background: #f6f8fa; } td.nb { font-family: monospace; white-space: nowrap; }
.status { font-weight: 600; } .meta { color: #57606a; font-size: 12px; }
code, pre { font: 12px monospace; } pre { white-space: pre-wrap; margin: 4px 0 0; max-width: 48em; }
details > summary { cursor: pointer; font-size: 12px; color: #57606a; }
.totals span { margin-right: 16px; }
"""


_FINDINGS_CSS = """
.kit-findings h2 { font-size: 16px; margin: 24px 0 8px; }
.kit-findings table { margin-bottom: 8px; } .kit-findings td.kit-finding-rule { font-family: monospace; white-space: nowrap; }
.kit-findings .kit-finding-seen { color: #57606a; font-size: 12px; }
.kit-finding-list { margin: 4px 0 0; padding-left: 18px; font-size: 12px; }
"""


def _link(url: str) -> str:
    if not url:
        return '<span class="meta">no upstream issue known</span>'
    return f'<a href="{html.escape(url)}">{html.escape(url)}</a>'


def _findings_section(outcomes: Sequence[Outcome]) -> str:
    """Each setup's known findings seen in this run: notebook, rule, event, reason, upstream link."""
    by_setup: dict[str, list[tuple[Outcome, Mapping[str, str]]]] = {}
    for outcome in outcomes:
        for finding in outcome.findings:
            by_setup.setdefault(outcome.setup, []).append((outcome, finding))
    if not by_setup:
        return ""
    out = ['<section class="kit-findings">']
    for setup in sorted(by_setup):
        out.append(f'<h2 id="findings-{html.escape(setup)}">Known findings on {html.escape(setup)}</h2>')
        out.append("<table><thead><tr><th>notebook</th><th>rule</th><th>event</th><th>reason</th><th>upstream</th>"
                   "</tr></thead><tbody>")
        for outcome, f in by_setup[setup]:
            seen = f'<div class="kit-finding-seen">seen: {html.escape(f.get("seen", ""))}</div>' if f.get("seen") else ""
            out.append(f'<tr><td class="nb">{html.escape(outcome.suite)}/{html.escape(outcome.name)}</td>'
                       f'<td class="kit-finding-rule">{html.escape(f.get("rule", ""))}</td>'
                       f'<td>{html.escape(f.get("event", ""))}{seen}</td><td>{html.escape(f.get("reason", ""))}</td>'
                       f'<td>{_upstream(f) or "none found (see the reason)"}</td></tr>')
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)


def _rel(path: Path | None, root: Path) -> str | None:
    return os.path.relpath(path, root) if path is not None else None


def violations_text(violations: Mapping[str, Any] | None) -> str:
    if not violations:
        return ""
    errors, warnings = int(violations.get("errors", 0)), int(violations.get("warnings", 0))
    rules = ", ".join(violations.get("rules", []))
    text = f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning{'' if warnings == 1 else 's'}"
    return f"{text}: {rules}" if rules else text


def _cell_html(outcome: Outcome, root: Path) -> str:
    fg, bg = STATUS_STYLE[outcome.status]
    parts = [f'<td style="background:{bg}"><span class="status" style="color:{fg}">{html.escape(outcome.status.value)}</span>',
             f' <span class="meta">{outcome.duration:.1f} s</span>']
    links = []
    if outcome.page is not None:
        links.append(f'<a href="{html.escape(_rel(outcome.page, root) or "")}">page</a>')
    if outcome.executed is not None:
        links.append(f'<a href="{html.escape(_rel(outcome.executed, root) or "")}">ipynb</a>')
    if links:
        parts.append(f' <span class="meta">{" &middot; ".join(links)}</span>')
    violations = violations_text(outcome.violations)
    if violations:
        parts.append(f'<div class="meta">violations: {html.escape(violations)}</div>')
    if outcome.status is Status.NOT_RECORDED and outcome.record_command:
        parts.append(f"<div class=\"meta\">record with:</div><pre>{html.escape(outcome.record_command)}</pre>")
    elif outcome.status is Status.FAILED and outcome.message:
        parts.append(f"<pre>{html.escape(outcome.message)}</pre>")
    elif outcome.status is Status.KNOWN_FINDINGS and outcome.findings:
        parts.append('<ul class="kit-finding-list">' + "".join(
            f'<li><code>{html.escape(f.get("rule", ""))}</code> — {html.escape(f.get("reason", ""))}'
            f'{(" — " + _upstream(f)) if _upstream(f) else ""}</li>' for f in outcome.findings) + "</ul>")
    elif outcome.status is Status.UNSUPPORTED and outcome.message:
        parts.append(f"<details><summary>why</summary><pre>{html.escape(outcome.message)}</pre></details>")
    parts.append("</td>")
    return "".join(parts)


def render_index(outcomes: Sequence[Outcome], *, root: Path, title: str = "kit run",
                 meta: Mapping[str, str] | None = None) -> str:
    """The matrix page: one row per notebook, one column per setup; links are relative to `root`."""
    setups = sorted({o.setup for o in outcomes})
    rows = sorted({(o.suite, o.name) for o in outcomes})
    by_key = {(o.suite, o.name, o.setup): o for o in outcomes}
    counts = {status: sum(o.status is status for o in outcomes) for status in Status}
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title><style>{_INDEX_CSS}{_FINDINGS_CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    if meta and meta.get("partial"):  # an interrupted run: say so first
        out.append(f'<p class="partial"><strong>Partial report</strong>: {html.escape(meta["partial"])}</p>')
    if meta:
        out.append('<p class="meta">' + " &middot; ".join(f"{html.escape(k)}: {html.escape(v)}" for k, v in meta.items())
                   + "</p>")
    out.append('<p><a href="coverage.html">coverage</a>: every feature the kit tests × setups</p>')
    out.append('<p class="totals">' + "".join(
        f'<span style="color:{STATUS_STYLE[s][0]}">{counts[s]} {html.escape(s.value)}</span>' for s in Status) + "</p>")
    if not outcomes:
        out.append("<p>Nothing was run.</p>")
    else:
        out.append("<table><thead><tr><th>notebook</th>"
                   + "".join(f"<th>{html.escape(s)}</th>" for s in setups) + "</tr></thead><tbody>")
        for suite, name in rows:
            out.append(f'<tr><td class="nb">{html.escape(suite)}/{html.escape(name)}</td>')
            for setup in setups:
                outcome = by_key.get((suite, name, setup))
                out.append(_cell_html(outcome, root) if outcome else '<td class="meta">not run</td>')
            out.append("</tr>")
        out.append("</tbody></table>")
        section = _findings_section(outcomes)
        if section:
            out.append(section)
    out.append("</body></html>")
    return "\n".join(out)


def write_report(out_dir: Path, outcomes: Iterable[Outcome], *, title: str = "kit run",
                 meta: Mapping[str, str] | None = None, built: Iterable[str] | None = None) -> Path:
    """Write `index.html`, the coverage page (features × setups; `built`: every notebook id that exists, so
    a feature whose notebook is missing says "not built") and `results.json` (the same facts, for scripts and
    for merging shards)."""
    from kit.runner.coverage_page import COVERAGE_PAGE, coverage_rows, render_coverage

    outcomes = list(outcomes)
    built = None if built is None else sorted(set(built))
    setups = sorted({o.setup for o in outcomes})
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(render_index(outcomes, root=out_dir, title=title, meta=meta), encoding="utf-8")
    (out_dir / COVERAGE_PAGE).write_text(render_coverage(outcomes, setups, root=out_dir, built=built,
                                                         title=f"{title}: coverage"), encoding="utf-8")
    results = {"meta": dict(meta or {}), "outcomes": [o.to_json() for o in outcomes],
               "coverage": coverage_rows(outcomes, setups, built=built)}
    (out_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return index
