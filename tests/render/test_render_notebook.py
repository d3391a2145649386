"""The Jupyter live view in a real headless kernel: its final state survives papermill and a static HTML export."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.render.conftest import KitHTML, raw_lines

FILE_SEARCH = "openai-dotnet__gpt4o-mini-file-search.jsonl"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def executed(responses_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[nbformat.NotebookNode, str]:
    papermill = pytest.importorskip("papermill")
    from nbconvert import HTMLExporter

    folder = tmp_path_factory.mktemp("notebook")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import json, kit.events, kit.render\n"
            f"events = [json.loads(line) for line in open({str(responses_dir / FILE_SEARCH)!r}) if line.strip()]\n"
            "session = kit.render.live(events, max_fps=20)\n"
            "passed = [event for event in session]\n"
            "assert passed == events and session.redraws >= 2\n"
            "print('redraws', session.redraws)"
        ),
        nbformat.v4.new_code_cell(f"kit.render.show(kit.load({str(responses_dir / FILE_SEARCH)!r}))"),
    ]
    source, output = folder / "live.ipynb", folder / "live.out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(str(source), str(output), kernel_name="python3", progress_bar=False, cwd=str(folder))
    result = nbformat.read(output, as_version=4)
    exported, _ = HTMLExporter().from_notebook_node(result)
    return result, exported


def test_live_cell_keeps_its_final_state_after_a_headless_run(executed, responses_dir: Path) -> None:
    notebook, _ = executed
    live_cell = notebook.cells[0]
    displays = [out for out in live_cell.outputs if out.output_type == "display_data"]
    assert len(displays) == 1, "one display, updated in place (not one output per redraw)"
    assert not any(WIDGET_MIME in out.get("data", {}) for cell in notebook.cells for out in cell.outputs)
    page = KitHTML(displays[0].data["text/html"])
    (done,) = [e for e in raw_lines(responses_dir, FILE_SEARCH) if e["type"] == "response.output_text.done"]
    answers = [block for section in page.sections for block in section.blocks if block.role == "answer"]
    assert [block.text for block in answers] == [done["text"]]  # the final state, not an intermediate one
    assert answers[0].markers == [(31, 1)]
    assert "no violations (profile openai)" in displays[0].data["text/html"]
    streams = "".join(out.get("text", "") for out in live_cell.outputs if out.output_type == "stream")
    assert "redraws" in streams


def test_show_cell_and_static_export_contain_the_view(executed, responses_dir: Path) -> None:
    notebook, exported = executed
    show_outputs = [out for out in notebook.cells[1].outputs if out.output_type == "display_data"]
    assert len(show_outputs) == 1 and 'class="kit-stream"' in show_outputs[0].data["text/html"]
    assert exported.count('class="kit-stream"') == 2
    page = KitHTML(exported)  # nbconvert re-serializes the HTML: read it back rather than grep it
    (done,) = [e for e in raw_lines(responses_dir, FILE_SEARCH) if e["type"] == "response.output_text.done"]
    answers = [block for section in page.sections for block in section.blocks if block.role == "answer"]
    assert [block.text for block in answers] == [done["text"]] * 2  # the live cell's final state, and show()
    assert all(block.markers == [(31, 1)] for block in answers)
    assert [section.footnotes[1] for section in page.sections if section.kind == "message"] == [
        "[1] test_favorite_foods.txt file-NCKrwcbrD1Z2ucn4Mhe1yX"] * 2
