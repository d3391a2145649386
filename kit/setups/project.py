"""A project: the folder whose setups, recordings, findings and reports the kit uses.

A project is a folder holding `kit-setups.toml`, `recordings/` or `findings/`
(`kit init` writes all three). Every command and the pytest plugin find it the
same way: `$KIT_PROJECT` when set, else the nearest such folder from the
working directory upward, else the working directory itself (where `kit init`
or a first recording will make one). The kit's own repository is one such
project (it has `recordings/` and `findings/`).

The suites ship inside the package (`kit/suites/<suite>/*.ipynb`); a project
adds its own suites as `notebooks/<suite>/*.ipynb` beside its recordings, or
in the folders `[project] notebooks = [...]` of its `kit-setups.toml` names.

Data and rules only: the caller passes the environment and the start folder.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ENV = "KIT_PROJECT"
SETUPS_FILE = "kit-setups.toml"
SETUPS_FILE_ENV = "KIT_SETUPS_FILE"
MARKERS = (SETUPS_FILE, "recordings", "findings")  # any one makes a folder a project
DEFAULT_NOTEBOOKS = "notebooks"  # a project's own suites, when the folder exists


class ProjectError(ValueError):
    """A project's kit-setups.toml cannot say where its notebooks are; the message names the file."""


@dataclass(frozen=True)
class Project:
    """Where one project keeps what the kit reads and writes."""

    root: Path
    found: bool = True  # False: no marker anywhere up from the start; `root` is the start folder

    @property
    def setups_file(self) -> Path:
        return self.root / SETUPS_FILE

    @property
    def recordings(self) -> Path:
        return self.root / "recordings"

    @property
    def findings(self) -> Path:
        return self.root / "findings"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def notebook_folders(self) -> tuple[Path, ...]:
        """The project's own suite folders: `[project] notebooks` of kit-setups.toml, else `notebooks/` if present."""
        listed = self._listed_notebooks()
        if listed is not None:
            return tuple((self.root / p).resolve() for p in listed)
        default = self.root / DEFAULT_NOTEBOOKS
        return (default.resolve(),) if self.found and default.is_dir() else ()  # only a project's own

    def _listed_notebooks(self) -> list[str] | None:
        if not self.setups_file.is_file():
            return None
        try:
            data = tomllib.loads(self.setups_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ProjectError(f"{self.setups_file}: cannot read it: {exc}") from exc
        listed = data.get("project", {}).get("notebooks")
        if listed is None:
            return None
        if not isinstance(listed, list) or not all(isinstance(p, str) for p in listed):
            raise ProjectError(f"{self.setups_file}: [project] notebooks must be a list of folders, "
                               f'e.g. notebooks = ["notebooks"]; got {listed!r}')
        return listed


def is_project(folder: Path) -> bool:
    return (folder / SETUPS_FILE).is_file() or any((folder / m).is_dir() for m in MARKERS[1:])


def find_project(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Project:
    """$KIT_PROJECT, else the nearest project folder from `start` (default: the working directory) upward."""
    if environ and environ.get(PROJECT_ENV):
        return Project(Path(environ[PROJECT_ENV]).resolve())
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_project(folder):
            return Project(folder)
    return Project(here, found=False)


def packaged_suites_dir() -> Path:
    """The suites shipped in the package: `kit/suites/<suite>/*.ipynb`."""
    return Path(__file__).resolve().parents[1] / "suites"


def is_packaged(path: Path) -> bool:
    """True for a path inside the packaged suites (they belong to whichever project runs them)."""
    return path.resolve().is_relative_to(packaged_suites_dir())


def notebook_roots(project: Project) -> tuple[Path, ...]:
    """Every folder of suites a run of this project sees: the packaged ones first, then the project's own."""
    roots = [packaged_suites_dir()]
    roots += [p for p in project.notebook_folders() if p not in roots]
    return tuple(roots)


def setups_file(environ: Mapping[str, str] | None = None, start: Path | None = None) -> Path:
    """$KIT_SETUPS_FILE, else the project's kit-setups.toml."""
    if environ and environ.get(SETUPS_FILE_ENV):
        return Path(environ[SETUPS_FILE_ENV])
    return find_project(start, environ).setups_file
