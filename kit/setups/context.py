"""The run context: the one value a notebook receives, through its papermill `parameters` cell.

`kit run` and the pytest plugin resolve every setting at their face (flags,
the documented `KIT_*` variables, setup defaults) into a `RunContext`, and pass
it as the single notebook parameter `run` (`to_parameters`). A notebook makes
its scenario from it (`kit.notebook.start(run)`) and reads no environment
variable. In JupyterLab the parameters cell's `run = {}` gives the defaults:
setup `local`, replay, the project's recordings found from the notebook's folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from kit.setups.modes import InferenceMode, ReplayStyle, default_recording_dir

RUN_PARAMETER = "run"  # the one name a matrix notebook's `parameters` cell defines


class ContextError(ValueError):
    """A run context that cannot be used; the message names the field and what to give."""


@dataclass(frozen=True)
class KnownFinding:
    """A baselined finding of this setup × notebook, for the notebook to show when it sees it (not to judge)."""

    rule: str
    line: str  # `rule — reason — upstream`, as `kit.findings.Finding.line` says it


@dataclass(frozen=True)
class RunContext:
    """Everything one notebook × setup execution is given; JSON-able, so it travels as a parameter.

    Models left None take the setup's defaults; `base_url` None uses the
    setup's own server (or none, in replay). `findings` are what the notebook
    may show as known; the runner alone judges them.
    """

    setup: str = "local"
    mode: InferenceMode = InferenceMode.REPLAY
    recording_dir: str | None = None  # None: the project's recordings/, found from the working directory
    text_model: str | None = None
    vision_model: str | None = None
    embedding_model: str | None = None
    embedding_dimension: int | None = None
    judge_model: str | None = None
    base_url: str | None = None  # the server (--stack-config's URL, or the managed server the runner started)
    replay_style: ReplayStyle = ReplayStyle.FAST
    notebook: str | None = None  # <suite>/<name>, set by the runner; None in JupyterLab
    findings_dir: str | None = None  # where the runner reads the baselines (the notebook does not)
    findings: tuple[KnownFinding, ...] = ()
    setups: tuple[str, ...] = ()  # the setups a cross-setup notebook compares (empty: every recorded one)
    setups_file: str | None = None  # the kit-setups.toml the run read (its project's, or $KIT_SETUPS_FILE)

    def __post_init__(self) -> None:
        for name, kind in (("mode", InferenceMode), ("replay_style", ReplayStyle)):
            value = getattr(self, name)
            if not isinstance(value, kind):
                try:
                    object.__setattr__(self, name, kind(str(value).strip().lower()))
                except ValueError:
                    choices = ", ".join(m.value for m in kind)
                    raise ContextError(f"run[{name!r}] = {value!r}: choose one of {choices}") from None
        if self.base_url and self.base_url.startswith("server:"):
            raise ContextError(f"run['base_url'] = {self.base_url!r}: server:<setup> is resolved by `kit run`/pytest, "
                               f"which start the server and pass its base URL; in a notebook run `kit serve "
                               f"{self.base_url[7:]}` and give its URL")
        object.__setattr__(self, "findings", tuple(f if isinstance(f, KnownFinding) else KnownFinding(**f)
                                                   for f in self.findings))
        object.__setattr__(self, "setups", tuple(self.setups))

    def setups_config(self) -> Path | None:
        """The setups file to read the setup from: the run's own, so a packaged notebook knows a project's setups."""
        return Path(self.setups_file) if self.setups_file else None

    def recordings(self, cwd: Path | None = None) -> Path:
        """The recording folder: the one given, else the project's `recordings/` found from `cwd`."""
        return Path(self.recording_dir) if self.recording_dir else default_recording_dir(cwd)

    def to_parameters(self) -> dict[str, Any]:
        """The papermill parameters: `{"run": {...}}`, plain JSON values."""
        data = asdict(self)
        data["mode"] = self.mode.value
        data["replay_style"] = self.replay_style.value
        data["setups"] = list(self.setups)
        data["findings"] = [asdict(f) for f in self.findings]
        return {RUN_PARAMETER: data}

    @classmethod
    def from_parameters(cls, run: Mapping[str, Any] | RunContext | None = None, **overrides: Any) -> RunContext:
        """The context a `parameters` cell holds (`run = {...}`); unknown keys are refused by name."""
        if isinstance(run, RunContext):
            return replace(run, **overrides) if overrides else run
        data = {**dict(run or {}), **overrides}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ContextError(f"run context: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(sorted(known))}")
        if "findings" in data:
            data["findings"] = tuple(data["findings"] or ())
        if "setups" in data:
            data["setups"] = tuple(data["setups"] or ())
        return cls(**data)


def context_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(RunContext))


__all__ = ["RUN_PARAMETER", "ContextError", "KnownFinding", "RunContext", "context_fields"]
