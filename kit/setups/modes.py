"""Inference modes and where recordings live: run options, resolved once for the client, notebooks, `kit run` and pytest.

Choice order: explicit argument > command-line flag > environment > default.
(ogx's flag default overwrote its env var, so setting only the variable did
nothing; here a flag that was not given is None and does not take part.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import Enum
from pathlib import Path


class InferenceMode(str, Enum):
    REPLAY = "replay"
    RECORD = "record"
    RECORD_IF_MISSING = "record-if-missing"
    LIVE = "live"

    @property
    def needs_server(self) -> bool:
        return self is not InferenceMode.REPLAY


class ReplayStyle(str, Enum):
    FAST = "fast"  # recorded chunk boundaries, no delays
    REALTIME = "realtime"  # recorded pacing, divided by a speed factor
    SPLIT = "split"  # re-chunked into tiny and mid-UTF-8 pieces, to fuzz consumers


MODE_ENV = "KIT_INFERENCE_MODE"
DIR_ENV = "KIT_RECORDING_DIR"
STYLE_ENV = "KIT_REPLAY_STYLE"


def _pick(kind: type[Enum], explicit: object, flag: object, env_name: str, default: Enum, *,
          environ: Mapping[str, str] | None = None, flag_name: str = "flag") -> Enum:
    """The first value given, in the choice order; a bad one names where it came from and the choices."""
    environ = os.environ if environ is None else environ
    for source, value in (("argument", explicit), (flag_name, flag), (env_name, environ.get(env_name))):
        if value is None or value == "":
            continue
        try:
            return kind(value.value if isinstance(value, Enum) else str(value).strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
            raise ValueError(f"{source} {value!r}: invalid {kind.__name__}; choose one of {choices}") from None
    return default


def resolve_mode(explicit: str | InferenceMode | None = None, flag: str | None = None, *,
                 environ: Mapping[str, str] | None = None) -> InferenceMode:
    """The one inference-mode resolution, for the client, the notebooks, `kit run` and pytest."""
    return _pick(InferenceMode, explicit, flag, MODE_ENV, InferenceMode.REPLAY,  # type: ignore[return-value]
                 environ=environ, flag_name="--inference-mode")


def resolve_style(explicit: str | ReplayStyle | None = None, flag: str | None = None, *,
                  environ: Mapping[str, str] | None = None) -> ReplayStyle:
    return _pick(ReplayStyle, explicit, flag, STYLE_ENV, ReplayStyle.FAST, environ=environ)  # type: ignore[return-value]


def resolve_recording_dir(explicit: str | Path | None = None, flag: str | Path | None = None, *,
                          environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The one recording-dir resolution: argument > flag > $KIT_RECORDING_DIR > the project's `recordings/`.

    A relative path is taken against `cwd` when one is given (the runner's), else left relative.
    """
    environ = os.environ if environ is None else environ
    for value in (explicit, flag, environ.get(DIR_ENV)):
        if value:
            path = Path(value)
            return cwd / path if cwd is not None and not path.is_absolute() else path
    return default_recording_dir(cwd, environ)


def default_recording_dir(start: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """`recordings/` of the project we are in (`kit.setups.project`), so a notebook in a subfolder finds it."""
    from kit.setups.project import find_project

    return find_project(start, environ).recordings


def recorded_setups(recording_dir: Path) -> list[str]:
    """Setup folders of a recording directory that hold at least one recording."""
    if not recording_dir.is_dir():
        return []
    return sorted(p.name for p in recording_dir.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and next(p.rglob("*.json"), None) is not None)
