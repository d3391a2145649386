"""Errors of the record/replay layer.

All subclass `openai.OpenAIError`: the SDK propagates those as they are, never
retrying them or hiding them inside `APIConnectionError("Connection error.")`.
"""

from __future__ import annotations

from pathlib import Path

import openai


class RecordingError(openai.OpenAIError):
    """Something is wrong with recorded traffic; the message says what to do."""


class CorruptRecording(RecordingError):
    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(
            f"{path}: corrupt recording: {problem}. The file was left untouched; "
            f"inspect it, then delete it and re-record (KIT_INFERENCE_MODE=record-if-missing) "
            f"or restore it from git (git checkout -- {path})."
        )


class SecretInRecording(CorruptRecording):
    def __init__(self, path: Path | str, field: str) -> None:
        self.field = field
        RecordingError.__init__(
            self,
            f"{path}: refusing to load a recording that holds a credential-looking value in {field}. "
            f"Remove the value from the file (and rotate the credential if it is real), "
            f"then run `kit recordings verify`.",
        )
        self.path = Path(path)
        self.problem = f"credential in {field}"


class OutsidePolicy(CorruptRecording):
    """A recording made before the current secrets policy: it keeps what the policy now drops."""

    def __init__(self, path: Path | str, fields: list[str]) -> None:
        shown = ", ".join(fields[:4]) + (f" (and {len(fields) - 4} more)" if len(fields) > 4 else "")
        RecordingError.__init__(
            self,
            f"{path}: recorded before the current secrets policy: it keeps {shown}, which the policy drops. "
            f"Rewrite it under the policy with `kit recordings scrub` (only those fields change), then commit it.",
        )
        self.path = Path(path)
        self.fields = fields
        self.problem = f"outside the secrets policy: {shown}"


class NotARegularFile(CorruptRecording):
    def __init__(self, path: Path | str, kind: str) -> None:
        RecordingError.__init__(
            self,
            f"{path}: a {kind} sits where a recording file should be; the kit reads regular files only (it would "
            f"hang on a FIFO or a device). Remove it, then re-record or restore it from git.",
        )
        self.path = Path(path)
        self.problem = f"not a regular file but a {kind}"


class UnsafeRecordingPath(RecordingError):
    """A path built from a setup or endpoint name that would lie outside the recording folder."""

    def __init__(self, path: Path | str, root: Path | str) -> None:
        self.path = Path(path)
        super().__init__(
            f"refusing to use {path}: it lies outside the recording folder {root}. A setup name is a plain "
            f"name (no '/', no '..', not absolute): check --setup, the notebook's setup and kit-setups.toml."
        )


class ReadOnlyRecordings(RecordingError):
    """The recording folder cannot be written: say so once, plainly."""

    def __init__(self, root: Path | str, reason: str) -> None:
        self.path = Path(root)
        super().__init__(
            f"cannot write recordings into {root}: {reason}. Make the folder writable, choose another one "
            f"(--recording-dir or KIT_RECORDING_DIR), or replay only (--inference-mode replay)."
        )


class RefusedToRecord(RecordingError):
    """A credential-looking value survived the scrub policy: nothing is written."""

    def __init__(self, path: Path | str, method: str, request_path: str, field: str) -> None:
        self.path, self.field = Path(path), field
        super().__init__(
            f"refusing to record {method} {request_path}: a credential-looking value in {field}; nothing was "
            f"written to {path}. Keep keys out of prompts and answers (pass them as the setup's key, which "
            f"is never stored), or record with a fake key."
        )


class ReplayMiss(RecordingError):
    """No recording answers this request in replay mode."""

    def __init__(
        self,
        *,
        mode: str,
        setup: str,
        method: str,
        path: str,
        model: str | None,
        key: str,
        recording_dir: Path,
        nearest: Path | None = None,
        diff: str = "",
        carried: dict[str, Path | None] | None = None,
    ) -> None:
        self.mode, self.setup, self.method, self.path = mode, setup, method, path
        self.model, self.key, self.nearest, self.diff = model, key, nearest, diff
        self.carried = dict(carried or {})
        lines = [
            f"no recording for this request (mode={mode}, setup={setup}): {method} {path}"
            + (f" model={model}" if model else ""),
            f"  key: {key}",
            f"  looked in: {recording_dir}",
        ]
        if nearest is not None:
            lines.append(f"  nearest recording for the same endpoint: {nearest}")
            if diff:
                lines.append("  request body diff (recorded -> this request):")
                lines.extend("    " + line for line in diff.splitlines())
        else:
            lines.append("  no recording exists for this endpoint of this setup")
        if self.carried:
            lines.extend(_chain_lines(self.carried))
            lines.append(f"  to record it: record the whole notebook (or script) again, e.g. `kit run --setup {setup} "
                         f"--pattern NOTEBOOK --inference-mode record{_server_flag(setup)}`")
        else:
            lines.append(
                "  to record it: KIT_INFERENCE_MODE=record-if-missing (with the setup's server reachable "
                "and its key in the environment), e.g. "
                f"`kit run --setup {setup} --inference-mode record-if-missing{_server_flag(setup)}`"
            )
        super().__init__("\n".join(lines))


class ChainNotRecorded(RecordingError):
    """record-if-missing would send a live server an id that only a recording knows: nothing is sent."""

    def __init__(self, *, setup: str, method: str, path: str, carried: dict[str, Path | None]) -> None:
        self.setup, self.method, self.path, self.carried = setup, method, path, dict(carried)
        lines = [f"refusing to record {method} {path} (mode=record-if-missing, setup={setup}): it continues a chain "
                 f"of requests whose start was replayed, not sent", *_chain_lines(self.carried),
                 "  the live server never made that id: it would answer 404 (or start afresh), and that answer "
                 "would be recorded as the chain's. Nothing was sent or written.",
                 f"  record the whole notebook (or script) again instead, e.g. `kit run --setup {setup} --pattern "
                 f"NOTEBOOK --inference-mode record{_server_flag(setup)}`"]
        super().__init__("\n".join(lines))


def _chain_lines(carried: dict[str, Path | None]) -> list[str]:
    """Which ids a request carries that recorded answers made (a response id in previous_response_id, ...)."""
    return [f"  it carries {id_!r}, an id a server made in the run that recorded {path or 'an earlier answer'}"
            for id_, path in list(carried.items())[:3]]


def _server_flag(setup: str) -> str:
    """` --stack-config server:NAME` for a setup whose server the kit starts itself."""
    try:
        from kit.setups import get_setup

        return f" --stack-config server:{setup}" if get_setup(setup).managed else ""
    except Exception:  # an ad-hoc setup name, or an unreadable setups file: no flag to suggest
        return ""
