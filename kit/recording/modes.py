"""Inference modes and where recordings live.

Choice order: explicit argument > command-line flag > environment > default.
(ogx's flag default overwrote its env var, so setting only the variable did
nothing; here a flag that was not given is None and does not take part.)
"""

from __future__ import annotations

import os
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


def _pick(kind: type[Enum], explicit: object, flag: object, env_name: str, default: Enum) -> Enum:
    for source, value in (("argument", explicit), ("flag", flag), (env_name, os.environ.get(env_name))):
        if value is None or value == "":
            continue
        try:
            return kind(value.value if isinstance(value, Enum) else str(value).strip().lower())
        except ValueError:
            choices = ", ".join(m.value for m in kind)  # type: ignore[attr-defined]
            raise ValueError(f"invalid {kind.__name__} {value!r} from {source}; choose one of: {choices}") from None
    return default


def resolve_mode(explicit: str | InferenceMode | None = None, flag: str | None = None) -> InferenceMode:
    return _pick(InferenceMode, explicit, flag, MODE_ENV, InferenceMode.REPLAY)  # type: ignore[return-value]


def resolve_style(explicit: str | ReplayStyle | None = None, flag: str | None = None) -> ReplayStyle:
    return _pick(ReplayStyle, explicit, flag, STYLE_ENV, ReplayStyle.FAST)  # type: ignore[return-value]


def resolve_recording_dir(explicit: str | Path | None = None, flag: str | Path | None = None) -> Path:
    for value in (explicit, flag, os.environ.get(DIR_ENV)):
        if value:
            return Path(value)
    return default_recording_dir()


def default_recording_dir(start: Path | None = None) -> Path:
    """`recordings/` of the project we are in, so a notebook in a subfolder finds it."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "recordings").is_dir() and (folder / "pyproject.toml").is_file():
            return folder / "recordings"
    return here / "recordings"
