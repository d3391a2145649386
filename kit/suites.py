"""Suites: a suite is the set of notebooks in `notebooks/<suite>/`.

The folder is the definition, so adding a scenario is adding a notebook.
`discover` reads the disk; `select` and `matrix` are pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

KNOWN_SUITES = ("base", "responses", "vision", "compare")  # the seed's suites; discovery may find more
# Suites whose notebooks look at several setups at once: one run per matrix, on the run's first setup
# (the one its `setup` parameter names), not one per setup column.
CROSS_SETUP_SUITES = ("compare",)


@dataclass(frozen=True, order=True)
class NotebookRef:
    """One matrix notebook: `notebooks/<suite>/<name>.ipynb`."""

    suite: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


@dataclass(frozen=True, order=True)
class MatrixEntry:
    notebook: NotebookRef
    setup: str

    @property
    def id(self) -> str:
        return f"{self.notebook.id}[{self.setup}]"


class SuiteError(ValueError):
    """A suite or pattern selects nothing usable; the message says what exists."""


def default_notebooks_dir(start: Path | None = None) -> Path:
    """`notebooks/` of the project we are in (walking up from `start`), else the one beside the kit package."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "notebooks"
    return Path(__file__).resolve().parents[1] / "notebooks"


def is_matrix_notebook(path: Path, notebooks_dir: Path | None = None) -> bool:
    """True for `<notebooks>/<suite>/<name>.ipynb` (not explore/inspect at the top, not checkpoints)."""
    if path.suffix != ".ipynb" or path.parent.name.startswith("."):
        return False
    root = path.parent.parent
    return root.resolve() == notebooks_dir.resolve() if notebooks_dir is not None else root.name == "notebooks"


def discover(notebooks_dir: Path) -> list[NotebookRef]:
    """Every matrix notebook under `notebooks_dir`, sorted by suite then name."""
    if not notebooks_dir.is_dir():
        raise SuiteError(f"{notebooks_dir}: no notebooks folder here; run from the project or pass --notebooks DIR")
    return sorted(
        NotebookRef(suite=path.parent.name, name=path.stem, path=path)
        for path in notebooks_dir.glob("*/*.ipynb") if is_matrix_notebook(path, notebooks_dir)
    )


def matches(ref: NotebookRef, pattern: str | None) -> bool:
    """A glob against `name` or `suite/name`; without wildcards, a substring of `suite/name`."""
    if not pattern:
        return True
    if any(ch in pattern for ch in "*?["):
        return fnmatchcase(ref.name, pattern) or fnmatchcase(ref.id, pattern)
    return pattern in ref.id


def exact(ref: NotebookRef, pattern: str | None) -> bool:
    return pattern is not None and pattern in (ref.name, ref.id)


def select(notebooks: Sequence[NotebookRef], suites: Iterable[str] = (), pattern: str | None = None) -> list[NotebookRef]:
    """The notebooks of the chosen suites (all when none) matching `pattern`; a pattern that names a notebook
    exactly selects only it."""
    suites = tuple(suites)
    present = sorted({n.suite for n in notebooks})
    unknown = [s for s in suites if s not in present]
    if unknown:
        raise SuiteError(f"unknown suite(s) {', '.join(unknown)}; suites with notebooks: {', '.join(present) or 'none'}")
    in_suites = [n for n in notebooks if not suites or n.suite in suites]
    named = [n for n in in_suites if exact(n, pattern)]  # `--pattern chat_stream` is that notebook, not chat_stream_2
    chosen = named or [n for n in in_suites if matches(n, pattern)]
    if notebooks and not chosen:
        raise SuiteError(f"no notebook matches --pattern {pattern!r} in suite(s) {', '.join(suites or present)}")
    return chosen


def setups_for(notebook: NotebookRef, setups: Sequence[str]) -> tuple[str, ...]:
    """The setups a notebook runs on: all of them, or only the first for a cross-setup suite (`compare`)."""
    setups = tuple(setups)
    return setups[:1] if notebook.suite in CROSS_SETUP_SUITES else setups


def matrix(notebooks: Iterable[NotebookRef], setups: Iterable[str]) -> list[MatrixEntry]:
    """Every notebook on every setup (a cross-setup one on the first), in a stable order (suite, name, setup)
    so shards are reproducible."""
    setups = tuple(setups)
    return sorted(MatrixEntry(notebook=n, setup=s) for n in notebooks for s in setups_for(n, setups))
