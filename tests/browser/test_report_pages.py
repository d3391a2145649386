"""The HTML report in Chromium: offline pages, links that resolve, disclosures, stream panels, the timeline, 1280 px.

The report comes from a real `kit run --setup local` in replay (once per
session); the reasoning and citation panels from real captures rendered by the
same page writer (see report_run.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.browser.report_run import (
    CITATION_CAPTURE,
    REASONING_CAPTURE,
    Report,
    build_report,
    capture_events,
    recorded_chat_answer,
)

pytestmark = pytest.mark.browser

WIDTH = 1280
OFFLINE_SCHEMES = ("file:", "data:", "blob:", "about:")


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Report:
    # `chromium` first: without a browser there is nothing to look at, so skip before the 40 s run
    return build_report(tmp_path_factory.mktemp("report") / "reports")


def _offline_context(browser: Any) -> Any:
    """A 1280 px wide context that refuses the network: any http(s) request is aborted (and reported)."""
    ctx = browser.new_context(viewport={"width": WIDTH, "height": 900})
    ctx.route(re.compile(r"^(https?|wss?|ftp)://"), lambda route: route.abort())
    return ctx


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = _offline_context(browser)
    yield ctx
    ctx.close()


class OpenPage:
    """A page opened from file:// with everything that went wrong on the way: network requests, console errors."""

    def __init__(self, ctx: Any, path: Path, root: Path) -> None:
        self.name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path.relative_to(root.parent))
        self.page = ctx.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: None if r.url.startswith(OFFLINE_SCHEMES) else self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        response = self.page.goto(path.as_uri(), wait_until="load")
        if response is not None and not response.ok:
            self.errors.append(f"loading gave {response.status}")


def open_page(ctx: Any, path: Path, report: Report) -> OpenPage:
    return OpenPage(ctx, path, report.root)


@dataclass
class PageVisit:
    """What one visit to a report page found, per concern; each every-page test asserts its own concern.

    Every page is opened once for all of them: a report has ~35 pages, and visiting each once per concern took
    44 s of the test suite's 15 minutes on 2 cores (issue 20); one visit each takes about 8 s."""

    name: str
    loading: list[str] = field(default_factory=list)  # network while offline, console errors, no <title>
    broken_links: list[str] = field(default_factory=list)
    links_checked: int = 0
    unreadable: list[str] = field(default_factory=list)  # sideways scrolling, tall rows, cut-off tables
    layout: list[str] = field(default_factory=list)  # _layout_problems


@pytest.fixture(scope="module")
def visits(browser: Any, report: Report) -> Iterator[list[PageVisit]]:
    """Every page of the report, the index first, visited once at 1280 px with the network refused."""
    ctx = _offline_context(browser)
    try:
        yield [_visit(ctx, path, report) for path in report.pages()]
    finally:
        ctx.close()


def _visit(ctx: Any, path: Path, report: Report) -> PageVisit:
    """The checks run on the loaded page; its network requests and console errors are read last, so a request
    or an error the page's scripts make after `load` while the checks run is seen too. (Not `networkidle`: it
    idles 500 ms on every page, a static report page makes no requests to wait for, and any it made would be
    refused and counted.)"""
    opened = open_page(ctx, path, report)
    page = opened.page
    visit = PageVisit(name=opened.name)
    for link in _links(page):
        visit.links_checked += 1
        if problem := _check_link(page, link, opened.name):
            visit.broken_links.append(problem)
    visit.unreadable = _readability_problems(page, opened.name)
    visit.layout = _layout_problems(page, opened.name)
    if not page.title():
        visit.loading.append(f"{opened.name}: no <title>")
    if opened.requests:
        visit.loading.append(f"{opened.name}: network request(s) while offline: {opened.requests[:5]}")
    if opened.errors:
        visit.loading.append(f"{opened.name}: {opened.errors[:5]}")
    page.close()
    return visit


def _readability_problems(page: Any, name: str) -> list[str]:
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        problems.append(f"{name}: the page is {width} px wide; it scrolls sideways at {WIDTH} px")
    tall = page.evaluate("""() => [...document.querySelectorAll('table.dataframe tbody tr')].map(tr => {
        const size = parseFloat(getComputedStyle(tr.querySelector('td') || tr).fontSize);
        return [tr.getBoundingClientRect().height / size, tr.textContent.trim().slice(0, 60)];
      }).filter(([ratio]) => ratio > 3.6)""")  # two lines at most: a long rules list may wrap once, nothing scrolls
    if tall:
        problems.append(f"{name}: {len(tall)} table row(s) wrap onto more than two lines, e.g. {tall[0][1]!r}")
    hidden = page.evaluate("""() => [...document.querySelectorAll('.jp-OutputArea-output table')]
        .filter(t => t.getBoundingClientRect().right > window.innerWidth)
        .filter(t => { for (let e = t.parentElement; e; e = e.parentElement) {
              const o = getComputedStyle(e).overflowX; if (o === 'auto' || o === 'scroll') return false; }
            return true; }).length""")
    if hidden:
        problems.append(f"{name}: {hidden} table(s) cut off at the right with no way to scroll to the rest")
    return problems


def test_every_page_loads_offline_without_console_errors(visits: list[PageVisit], report: Report) -> None:
    assert len(visits) >= 1 + len(report.results["outcomes"]), f"report pages missing: {[v.name for v in visits]}"
    problems = [problem for visit in visits for problem in visit.loading]
    assert not problems, "\n".join(problems)


def _links(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "a[href]", "els => els.map(a => ({text: a.textContent.trim(), href: a.getAttribute('href'), url: a.href,"
                   " finding: a.closest('.kit-findings, .kit-finding-list') !== null,"
                   " row: (a.closest('tr') && a.closest('tr').querySelector('td')) ? a.closest('tr').querySelector('td').textContent.trim() : ''}))")


def _check_link(page: Any, link: dict[str, str], where: str) -> str | None:
    """None when `link` resolves: a file that exists (and its #anchor in it), an anchor on this page, or http(s)."""
    url = urlsplit(link["url"])
    label = f"{where}: link {link['text']!r} (href {link['href']!r}{', row ' + link['row'] if link['row'] else ''})"
    if url.scheme in ("http", "https"):
        return None  # a cited source on the web: not followed offline, but a real link
    if url.scheme != "file":
        return f"{label}: scheme {url.scheme!r} is neither a file nor http(s)"
    target = Path(unquote(url.path))
    if not target.is_file():
        return f"{label}: {target} does not exist"
    if url.fragment:
        here = Path(unquote(urlsplit(page.url).path))
        if target == here and not page.evaluate("id => document.getElementById(id) !== null", unquote(url.fragment)):
            return f"{label}: no element with id {url.fragment!r} on the page"
    return None


def test_every_matrix_link_resolves_and_opens_its_notebook(context: Any, report: Report) -> None:
    index = open_page(context, report.index, report)
    links = _links(index.page)
    matrix = [link for link in links if link["row"] and link["text"] in ("page", "ipynb") and not link["finding"]]
    outcomes = report.results["outcomes"]
    # every outcome in results.json links its page and its executed notebook from its row
    assert len(matrix) == 2 * len(outcomes), f"index.html: {len(matrix)} matrix links for {len(outcomes)} outcomes: {matrix}"
    problems = [problem for link in links if (problem := _check_link(index.page, link, "index.html"))]
    assert not problems, "\n".join(problems)
    for link in matrix:
        if link["text"] != "page":
            continue
        opened = context.new_page()
        opened.goto(link["url"])
        nav = opened.locator(".kit-nav").inner_text()
        assert link["row"] in nav, f"index.html: the page link of row {link['row']} opens {link['href']}, whose title is {nav!r}"
        back = opened.locator(".kit-nav a").get_attribute("href")
        opened.locator(".kit-nav a").click()
        try:
            opened.wait_for_url(index.page.url, timeout=10_000)
        except Exception:
            raise AssertionError(f"{link['href']}: its back link {back!r} leads to {opened.url}, not the index") from None
        opened.close()


def test_links_on_every_notebook_page_resolve(visits: list[PageVisit]) -> None:
    pages = visits[1:]  # the index's own links: test_every_matrix_link_resolves_and_opens_its_notebook
    assert sum(visit.links_checked for visit in pages) >= len(pages), "every page links back to the index at least"
    problems = [problem for visit in pages for problem in visit.broken_links]
    assert not problems, "\n".join(problems)


def test_why_disclosures_open(context: Any, report: Report) -> None:
    index = open_page(context, report.index, report).page
    why = index.locator("details", has=index.locator("summary", has_text=re.compile(r"^why$")))
    unsupported = [o for o in report.results["outcomes"] if o["status"] == "unsupported"]
    assert why.count() == len(unsupported) > 0, f"index.html: {why.count()} 'why' disclosures for {len(unsupported)} unsupported outcomes"
    for i in range(why.count()):
        details = why.nth(i)
        row = details.locator("xpath=ancestor::tr/td[1]").inner_text()
        explanation = details.locator("pre")
        assert not explanation.is_visible(), f"index.html row {row}: the 'why' text shows before it is opened"
        details.locator("summary").click()
        assert details.evaluate("d => d.open"), f"index.html row {row}: 'why' did not open on click"
        text = explanation.inner_text()  # a missing capability ("lacks"), or the server's recorded refusal
        assert explanation.is_visible() and ("lacks" in text or "does not support" in text), \
            f"index.html row {row}: the opened 'why' shows {explanation.inner_text()!r}"


def test_stream_panel_shows_reasoning_apart_from_the_answer(context: Any, report: Report) -> None:
    events = capture_events(REASONING_CAPTURE)
    summary = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_summary_text.delta")
    answer = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    opened = open_page(context, report.reasoning_page, report)
    page, name = opened.page, opened.name
    stream = page.locator(".kit-stream").first
    reasoning = stream.locator("section.kit-item[data-kind=reasoning]")
    message = stream.locator("section.kit-item[data-kind=message]")
    assert reasoning.count() == 1 and message.count() == 1, f"{name}: {reasoning.count()} reasoning / {message.count()} message panels"
    assert reasoning.is_visible() and message.is_visible(), f"{name}: a panel is hidden"
    shown_summary = reasoning.locator(".kit-role-summary .kit-text").inner_text()
    shown_answer = message.locator(".kit-role-answer .kit-text").inner_text()
    assert _words(shown_summary) == _words(summary), f"{name}: reasoning panel shows {shown_summary!r}"
    assert _words(shown_answer) == _words(answer), f"{name}: answer panel shows {shown_answer!r}"
    assert message.locator(".kit-role-summary, .kit-role-reasoning").count() == 0, f"{name}: reasoning inside the answer panel"
    assert reasoning.locator(".kit-role-answer").count() == 0, f"{name}: the answer inside the reasoning panel"
    top_reasoning, top_message = reasoning.bounding_box(), message.bounding_box()
    assert top_reasoning["y"] + top_reasoning["height"] <= top_message["y"], f"{name}: the panels overlap"
    reasoning.locator("summary").click()  # the reasoning is collapsible: closing it hides it, not the answer
    assert not reasoning.locator(".kit-role-summary").is_visible() and message.locator(".kit-role-answer").is_visible(), \
        f"{name}: collapsing the reasoning did not hide only the reasoning"


def test_stream_panel_shows_citations_as_footnotes(context: Any, report: Report) -> None:
    events = capture_events(CITATION_CAPTURE)
    cited = [e["annotation"]["filename"] for e in events if e["type"] == "response.output_text.annotation.added"]
    assert cited, f"{CITATION_CAPTURE.name} has no citation"
    opened = open_page(context, report.citation_page, report)
    page, name = opened.page, opened.name
    message = page.locator(".kit-stream section.kit-item[data-kind=message]").first
    markers = message.locator("sup.kit-marker a")
    notes = message.locator("li.kit-footnote")
    assert markers.count() == notes.count() == len(cited), f"{name}: {markers.count()} markers, {notes.count()} footnotes, {len(cited)} citations"
    for i, filename in enumerate(cited):
        note = notes.nth(i)
        assert filename in note.inner_text(), f"{name}: footnote {i + 1} reads {note.inner_text()!r}, not {filename}"
        href = markers.nth(i).get_attribute("href")
        assert href == f"#{note.get_attribute('id')}", f"{name}: marker [{i + 1}] points to {href}, not its footnote"
        markers.nth(i).click()
        assert page.evaluate("() => location.hash") == href, f"{name}: following marker [{i + 1}] went nowhere"
        assert note.is_visible(), f"{name}: footnote {i + 1} is not shown"
    body = message.locator(".kit-role-answer .kit-text").inner_text()
    assert "[1]" in body and "Paris" in body, f"{name}: the marker is not in the answer text: {body!r}"


def test_timeline_image_is_present(context: Any, report: Report) -> None:
    """Every passed notebook that draws a timeline shows it as a loaded image (embedded: no file beside the page)."""
    drawn = [o for o in report.results["outcomes"] if o["status"] == "passed"
             and "timeline(" in Path(o["executed"]).read_text(encoding="utf-8")]
    assert drawn, "no passed notebook draws a timeline"
    for outcome in drawn + [{"page": str(report.reasoning_page)}]:
        path = Path(outcome["page"])
        page = open_page(context, path, report).page
        images = page.locator(".jp-OutputArea-output img")
        sizes = images.evaluate_all("imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.src.slice(0, 22)])")
        assert any(ok and w >= 300 and h >= 100 and src.startswith("data:image/png") for ok, w, h, src in sizes), \
            f"{path.relative_to(report.root)}: no loaded timeline image ({sizes})"
        page.close()


def test_pages_are_readable_at_1280px(visits: list[PageVisit]) -> None:
    problems = [problem for visit in visits for problem in visit.unreadable]
    assert not problems, "\n".join(problems)


def test_screenshots_of_the_index_and_a_notebook_page(context: Any, report: Report, output_dir: Path) -> None:
    for path, shot in ((report.index, "index.png"), (report.page_of("responses", "basic_streaming"), "basic_streaming.png"),
                       (report.reasoning_page, "reasoning_capture.png"), (report.citation_page, "citation_capture.png")):
        page = open_page(context, path, report).page
        page.screenshot(path=str(output_dir / shot), full_page=True)
        size = (output_dir / shot).stat().st_size
        assert size > 10_000, f"{shot}: a {size}-byte screenshot of {path.name} is blank"
    text, _ = recorded_chat_answer("Write one short sentence about the sea.")
    page = open_page(context, report.page_of("responses", "basic_streaming"), report).page
    assert _words(page.locator(".kit-stream .kit-role-answer .kit-text").first.inner_text()) == _words(text)


def _words(text: str) -> list[str]:
    return text.split()


# -- the page layout: verdict, request, answer, items, timeline ------------------------------------------------------

NO_SIDEWAYS_SCROLL = """() => [...document.querySelectorAll('.jp-OutputArea-output, .jp-OutputArea-output *, .kit-verdict')]
    .filter(e => e.scrollWidth > e.clientWidth + 1 && ['auto', 'scroll'].includes(getComputedStyle(e).overflowX))
    .map(e => e.className || e.tagName)"""
HEADINGS = """() => [...document.querySelectorAll('strong, b, h1, h2, h3, th')]
    .map(e => e.textContent.trim()).filter(t => t.length > 120 || t.split(/\\s+/).some(w => w.length > 60))"""


def _layout_problems(page: Any, name: str) -> list[str]:
    problems = []
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > WIDTH:
        problems.append(f"{name}: the page is {width} px wide at {WIDTH} px")
    scrolling = page.evaluate(NO_SIDEWAYS_SCROLL)
    if scrolling:
        problems.append(f"{name}: {len(scrolling)} element(s) scroll sideways, e.g. {scrolling[0]!r}")
    long_headings = page.evaluate(HEADINGS)
    if long_headings:
        problems.append(f"{name}: a heading holds a {len(long_headings[0])}-character run: {long_headings[0][:80]!r}")
    text = page.locator("body").inner_text()
    for phrase in ("None (None)", "no upstream issue known", "{'setup':", "rows × ", "Checks: no conformance error"):
        if phrase in text:
            problems.append(f"{name}: the page says {phrase!r}")
    return problems


def test_a_page_with_known_findings_reads_verdict_request_answer_items_timeline(context: Any, report: Report,
                                                                                 output_dir: Path) -> None:
    opened = open_page(context, report.findings_page, report)
    page = opened.page
    page.screenshot(path=str(output_dir / "known_findings_page.png"), full_page=True)
    assert (output_dir / "known_findings_page.png").stat().st_size > 10_000
    verdict = page.locator(".kit-verdict")
    assert verdict.is_visible() and verdict.get_attribute("data-status") == "known findings"
    assert "known findings" in verdict.locator(".kit-status-badge").inner_text()
    rules = verdict.locator('.kit-verdict-rule[data-severity="error"]').evaluate_all("ls => ls.map(l => l.dataset.rule)")
    summary = next(o for o in json.loads((report.findings_page.parents[2] / "results.json").read_text())["outcomes"])
    assert summary["status"] == "known findings" and rules == summary["violations"]["error_rules"], rules
    assert "known finding:" in verdict.inner_text()
    request = page.locator("details.kit-request[open]").first
    assert request.is_visible() and "responses_stream" in request.inner_text()
    assert page.locator("details.kit-code:not(.kit-request)[open]").count() == 0  # other code out of the way
    answer = page.locator(".kit-stream").first
    items = page.locator('.kit-table-view[data-caption="Output items"]').first
    timeline = page.locator(".jp-OutputArea-output img").first
    tops = [locator.bounding_box()["y"] for locator in (verdict, request, answer, items, timeline)]
    assert tops == sorted(tops), f"verdict, request, answer, items, timeline are not in that order: {tops}"
    expected = page.locator(".jp-MarkdownOutput", has_text="Expected:").first.inner_text()
    assert "known findings" in expected, expected  # what the notebook expects, next to what happened
    problems = _layout_problems(page, opened.name)
    assert not problems and not opened.errors, "\n".join(problems + opened.errors)


def test_every_report_page_keeps_to_the_layout_rules_at_1280px(context: Any, report: Report, visits: list[PageVisit],
                                                                output_dir: Path) -> None:
    problems = [problem for visit in visits for problem in visit.layout]
    opened = open_page(context, report.page_of("responses", "basic_streaming"), report)
    opened.page.screenshot(path=str(output_dir / "passed_page.png"), full_page=True)
    verdict = opened.page.locator(".kit-verdict")
    assert verdict.get_attribute("data-status") == "passed" and "0 errors" in verdict.inner_text()
    assert report.page_of("responses", "basic_streaming").name in {Path(v.name).name for v in visits}
    assert not problems, "\n".join(problems)
