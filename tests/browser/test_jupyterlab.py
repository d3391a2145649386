"""JupyterLab in Chromium: `kit lab` serves the notebooks, the UI runs them in replay, the widgets answer.

One `kit lab` for the module (no browser, a token, a free loopback port, a
copy of the notebooks); it is shut down through its REST API at the end and no
process it started may be left (see lab_server.py). Expected values come from
the recording file itself, not from the kit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab_server import LabServer
from tests.browser.report_run import recorded_chat_answer

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 240_000  # all cells of a notebook on a loaded 2-core machine
UI_TIMEOUT_MS = 60_000
SEA_PROMPT = "Write one short sentence about the sea."  # basic_streaming's request and the playground's default
# Bridged text answer (docs/bridge-mapping.md): created, in_progress, output_item.added, content_part.added,
# one output_text.delta per content chunk, output_text.done, content_part.done, output_item.done, completed.
BRIDGED_TEXT_LIFECYCLE_EVENTS = 8
ERROR_MIME = "application/vnd.jupyter.stderr"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[LabServer]:
    server = LabServer(tmp_path_factory.mktemp("lab")).start()
    try:
        yield server
    finally:
        left = server.stop()
        assert not left, "kit lab did not shut down cleanly:\n" + "\n".join(left) + f"\n{server.log_tail()}"


@pytest.fixture
def lab_page(browser: Any, lab: LabServer) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    ctx.close()


def open_notebook(page: Any, lab: LabServer, path: str) -> None:
    """Open `path` and wait for its kernel: Run All before the kernel is up does nothing at all."""
    page.goto(lab.url(f"lab/tree/{path}"))
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").first.wait_for()
    name = path.rsplit("/", 1)[-1]
    kernel = page.locator(f'.jp-StatusBar-TextItem[title="Change kernel for {name}"]')
    try:
        kernel.filter(has_text=re.compile(r"\|\s*Idle$")).wait_for(timeout=RUN_TIMEOUT_MS)
    except Exception:
        raise AssertionError(f"{path}: its kernel never became idle in JupyterLab (status bar: "
                             f"{kernel.inner_text() if kernel.count() else 'no kernel item'!r})") from None


def run_all_cells(page: Any) -> None:
    """Run > Run All Cells, then wait until every code cell has run or one shows an error."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """mime => {
            const cells = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell')];
            const ran = cells.every(c => /^\\[\\d+\\]:$/.test(c.querySelector('.jp-InputPrompt').textContent.trim()));
            const failed = document.querySelector(`.jp-NotebookPanel:not(.lm-mod-hidden) [data-mime-type="${mime}"]`);
            return cells.length > 0 && (ran || failed !== null);
        }""", arg=ERROR_MIME, timeout=RUN_TIMEOUT_MS)


def cell_errors(page: Any, notebook: str) -> list[str]:
    """Each cell that shows an error (a traceback or stderr), named by its position and first line."""
    return page.evaluate(
        """([mime, notebook]) => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')]
            .map((cell, i) => {
                const shown = [...cell.querySelectorAll(`[data-mime-type="${mime}"]`)].map(e => e.textContent.trim());
                if (!shown.length) return null;
                const first = (cell.querySelector('.jp-InputArea-editor .cm-line') || {textContent: ''}).textContent;
                return `${notebook} cell ${i + 1} (${first.trim().slice(0, 60)}): ${shown.join(' | ').slice(0, 800)}`;
            }).filter(x => x)""", [ERROR_MIME, notebook])


def cell_of(page: Any, locator: Any) -> str:
    """`cell N` of the notebook that holds `locator`'s first element, for messages."""
    index = locator.first.evaluate(
        "el => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell')].indexOf(el.closest('.jp-Cell'))")
    return f"cell {index + 1}"


def test_scenario_notebook_runs_in_lab_and_its_live_view_ends_complete(lab_page: Any, lab: LabServer,
                                                                         output_dir: Path) -> None:
    notebook = "responses/basic_streaming.ipynb"
    text, content_chunks = recorded_chat_answer(SEA_PROMPT)
    open_notebook(lab_page, lab, notebook)
    run_all_cells(lab_page)
    lab_page.screenshot(path=str(output_dir / "basic_streaming_lab.png"))
    errors = cell_errors(lab_page, notebook)
    assert not errors, "\n".join(errors)
    view = lab_page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output .kit-stream")
    assert view.count() == 1, f"{notebook}: {view.count()} live stream views"
    where = f"{notebook} {cell_of(lab_page, view)}"
    status = view.locator(".kit-header .kit-status")
    assert status.get_attribute("data-status") == "completed", f"{where}: the live view ends with status {status.inner_text()!r}"
    header = view.locator(".kit-header").inner_text()
    events = content_chunks + BRIDGED_TEXT_LIFECYCLE_EVENTS
    assert f"{events} events" in header, f"{where}: the live view's header {header!r} does not count {events} events"
    answer = view.locator(".kit-role-answer .kit-text").inner_text()
    assert answer.split() == text.split(), f"{where}: the live view shows {answer!r}, the recording answers {text!r}"
    assert view.locator(".kit-violations-pending").count() == 0, f"{where}: the live view never got its final redraw"


def test_explore_playground_widgets_update_the_view(lab_page: Any, lab: LabServer, output_dir: Path) -> None:
    from kit.setups import get_setup

    notebook = "explore.ipynb"
    open_notebook(lab_page, lab, notebook)
    run_all_cells(lab_page)
    errors = cell_errors(lab_page, notebook)
    assert not errors, "\n".join(errors)
    panel = lab_page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    form = panel.locator(".jp-OutputArea-output .widget-vbox").first
    form.wait_for()
    where = f"{notebook} {cell_of(lab_page, form)}"
    about = form.locator(".kit-playground-setup")
    setup_select = form.locator(".widget-dropdown", has=lab_page.locator("label", has_text=re.compile(r"^setup$"))).locator("select")
    assert setup_select.count() == 1, f"{where}: no setup selector in the playground"

    for name in ("gpt", "local"):  # another setup, then back
        setup_select.select_option(name)
        expected = get_setup(name)
        try:
            about.locator(f'[data-setup="{name}"]').wait_for(timeout=30_000)
        except Exception:
            errors = cell_errors(lab_page, notebook)
            raise AssertionError(f"{where}: choosing setup {name!r} did not update the setup view (it shows "
                                 f"{about.inner_text()!r})" + ("\n" + "\n".join(errors) if errors else "")) from None
        assert expected.description in about.inner_text(), f"{where}: the setup view shows {about.inner_text()!r} for {name}"
        hint = form.locator("input[placeholder^='model']").get_attribute("placeholder")
        assert expected.text_model in hint, f"{where}: the model field hints {hint!r} for setup {name}"

    text, content_chunks = recorded_chat_answer(SEA_PROMPT)
    form.get_by_role("button", name="Send").click()
    view = form.locator(".kit-stream")
    try:
        view.locator('.kit-status[data-status="completed"]').wait_for(timeout=RUN_TIMEOUT_MS)
    except Exception:
        raise AssertionError(f"{where}: Send did not end in a completed stream view; the form shows:\n"
                             f"{form.inner_text()[-1500:]}") from None
    lab_page.screenshot(path=str(output_dir / "explore_lab.png"), full_page=True)
    answer = view.locator(".kit-role-answer .kit-text").inner_text()
    assert answer.split() == text.split(), f"{where}: the playground shows {answer!r}, the recording answers {text!r}"
    header = view.locator(".kit-header").inner_text()
    events = content_chunks + BRIDGED_TEXT_LIFECYCLE_EVENTS
    assert f"{events} events" in header, f"{where}: the playground's view {header!r} does not count {events} events"
    errors = cell_errors(lab_page, notebook)
    assert not errors, "\n".join(errors)
