"""The HTML report of a run: `index.html` (the matrix) and one page per executed notebook.

Pages render offline: nbconvert's lab template with its CDN scripts removed
(require.js, MathJax, Mermaid, widget manager) and every cell's code folded in
a plain `<details>` element, hidden by default and opened without JavaScript.
`render_index` is pure; the `write_*` functions do the file I/O.
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
.kit-nav { font: 14px sans-serif; padding: 8px 16px; border-bottom: 1px solid #ddd; }
/* Event and item tables: one line per row (long item ids used to wrap over five lines); a table wider
   than the page scrolls inside its output instead of being cut off. */
.jp-OutputArea-output { overflow-x: auto; }
.jp-RenderedHTMLCommon table.dataframe { font-size: 12px; }
.jp-RenderedHTMLCommon table.dataframe th, .jp-RenderedHTMLCommon table.dataframe td {
  white-space: nowrap; padding: 2px 8px; }
</style>
{% endblock extra_css %}
{%- block body_header -%}
{{ super() }}
<div class="kit-nav"><a href="{{ resources.kit_index }}">&larr; report</a> &middot; {{ resources.kit_title | e }}</div>
{%- endblock body_header -%}
{% block input_group -%}
<details class="kit-code"><summary>code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
"""

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


def write_notebook_page(executed: Path, page: Path, *, title: str, index: Path | None = None) -> Path:
    """Render an executed notebook to `page`; the link back goes to `index` (default: the report root's index.html)."""
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    index = index or _report_root(page) / "index.html"
    resources = {"metadata": {"name": title, "path": str(executed.parent)},
                 "kit_title": title, "kit_index": os.path.relpath(index, page.parent)}
    body, _ = _exporter().from_notebook_node(nb, resources=resources)
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(body, encoding="utf-8")
    return page


def _report_root(page: Path) -> Path:
    return page.parents[2]  # <out>/<setup>/<suite>/<name>.html


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
                       f'<td>{_link(f.get("upstream", ""))}</td></tr>')
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
            f'<li><code>{html.escape(f.get("rule", ""))}</code> — {html.escape(f.get("reason", ""))} — '
            f'{_link(f.get("upstream", ""))}</li>' for f in outcome.findings) + "</ul>")
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
                 meta: Mapping[str, str] | None = None) -> Path:
    """Write `index.html` and `results.json` (the same facts, for scripts and for merging shards)."""
    outcomes = list(outcomes)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(render_index(outcomes, root=out_dir, title=title, meta=meta), encoding="utf-8")
    results = {"meta": dict(meta or {}), "outcomes": [o.to_json() for o in outcomes]}
    (out_dir / "results.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return index
