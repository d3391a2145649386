"""The project's own notebooks: committed without outputs, and keeping the runner's parameter contract."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from kit.runner.execute import declared_parameters
from kit.setups.options import NOTEBOOK_PARAMETERS
from kit.suites import discover

NOTEBOOKS = Path(__file__).resolve().parents[2] / "kit" / "suites"  # the packaged suites
ALL = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts) if NOTEBOOKS.is_dir() else []
MATRIX = discover(NOTEBOOKS) if NOTEBOOKS.is_dir() else []


def _rel(path: Path) -> str:
    return str(path.relative_to(NOTEBOOKS))


@pytest.mark.skipif(not ALL, reason=f"no notebooks in {NOTEBOOKS}")
@pytest.mark.parametrize("path", ALL, ids=_rel)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"{_rel(path)}: cells {dirty} hold outputs or execution counts; clear them before committing "
                       f"(jupyter nbconvert --clear-output --inplace {path})")
    assert "widgets" not in nb.metadata, f"{_rel(path)}: saved widget state in metadata; clear it before committing"


@pytest.mark.skipif(not MATRIX, reason=f"no suite notebooks in {NOTEBOOKS}/<suite>/")
@pytest.mark.parametrize("ref", MATRIX, ids=lambda r: r.id)
def test_suite_notebook_defines_exactly_the_runner_parameters(ref) -> None:  # type: ignore[no-untyped-def]
    declared = declared_parameters(nbformat.read(ref.path, as_version=4), ref.path)
    assert declared == set(NOTEBOOK_PARAMETERS), (
        f"{ref.id}: the parameters cell defines {sorted(declared)}; the runner passes {list(NOTEBOOK_PARAMETERS)}")
