"""Suites: a suite is a folder of notebooks, `<root>/<suite>/<name>.ipynb`.

The folder is the definition, so adding a scenario is adding a notebook. The
kit's suites ship in this package (`kit/suites/<suite>/`); a project adds its
own beside them (`notebooks/<suite>/` of the project, or the folders its
kit-setups.toml lists: `kit.setups.project`). `discover` reads the disk;
`select` and `matrix` are pure.
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
    """One matrix notebook: `<root>/<suite>/<name>.ipynb`."""

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
    """The packaged suites (`kit/suites`): what `kit lab` opens when no folder is given."""
    from kit.setups.project import packaged_suites_dir

    return packaged_suites_dir()


def notebook_roots(start: Path | None = None) -> tuple[Path, ...]:
    """The folders of suites a run from `start` sees: the packaged suites, then the project's own."""
    from kit.setups.project import find_project, notebook_roots as roots_of

    return roots_of(find_project(start))


def is_matrix_notebook(path: Path, notebooks_dir: Path | Iterable[Path] | None = None) -> bool:
    """True for `<root>/<suite>/<name>.ipynb` with `<root>` one of the given folders (default: the roots of the
    project around `path`); not explore/inspect at the top, not checkpoints."""
    if path.suffix != ".ipynb" or path.parent.name.startswith("."):
        return False
    if notebooks_dir is None:
        notebooks_dir = notebook_roots(path.parent)
    roots = [notebooks_dir] if isinstance(notebooks_dir, Path) else list(notebooks_dir)
    root = path.parent.parent.resolve()
    return any(root == r.resolve() for r in roots)


def discover(notebooks_dir: Path | Iterable[Path]) -> list[NotebookRef]:
    """Every matrix notebook under the folder(s), sorted by suite then name; a later folder's `suite/name`
    replaces an earlier one's (a project may override a packaged notebook)."""
    roots = [notebooks_dir] if isinstance(notebooks_dir, Path) else list(notebooks_dir)
    found: dict[str, NotebookRef] = {}
    for root in roots:
        if not root.is_dir():
            raise SuiteError(f"{root}: no notebooks folder here; create it or pass --notebooks DIR")
        for path in root.glob("*/*.ipynb"):
            if is_matrix_notebook(path, root):
                ref = NotebookRef(suite=path.parent.name, name=path.stem, path=path)
                found[ref.id] = ref
    return sorted(found.values())


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
