"""Recorded interactions on disk: one JSON file each, plus a rebuildable SQLite index.

Layout: `<dir>/<setup>/<endpoint>/<key[:16]>.<occurrence>.json`. The file
name alone finds a recording, so replay needs no index; the index serves
listing, filtering, nearest-recording search for misses, and usage for prune.
Writes are atomic (temp file + rename) under an advisory lock, so processes
recording into one folder lose nothing. A file that does not parse, or whose
fields do not have their types (`schema.py`), is reported by name and field and
never overwritten. The index is a cache: whatever state it is in (deleted,
stale, garbage), it is rebuilt from the files.
"""

from __future__ import annotations

import base64
import difflib
import errno
import fcntl
import json
import os
import sqlite3
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from kit.recording.canonical import CanonicalRequest
from kit.recording.errors import (
    CorruptRecording,
    NotARegularFile,
    OutsidePolicy,
    ReadOnlyRecordings,
    SecretInRecording,
    UnsafeRecordingPath,
)
from urllib.parse import parse_qsl

from kit.recording.schema import FORMAT_VERSION, schema_problems
from kit.recording.scrub import REDACTED, find_secrets, has_credential, is_credential_name, outside_policy
from kit.recording.sse_codec import decode_sse

if TYPE_CHECKING:
    from kit.recording.index import RecordingIndex



@dataclass
class Recording:
    """One recorded request and its answer, as stored in one file."""

    key: str
    occurrence: int
    setup: str
    request: dict[str, Any]
    response: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    # -- what the transport and the event parser need -------------------
    @property
    def status(self) -> int:
        return int(self.response["status"])

    @property
    def response_headers(self) -> dict[str, str]:
        return dict(self.response.get("headers", {}))

    @property
    def error(self) -> dict[str, Any] | None:
        """A transport failure after `after_bytes` bytes (a dropped connection)."""
        return self.response.get("error")

    def body_bytes(self) -> bytes:
        response = self.response
        if "sse" in response:
            return decode_sse(response["sse"])
        if "json" in response:
            return json.dumps(response["json"], ensure_ascii=False).encode("utf-8")
        if "text" in response:
            return response["text"].encode("utf-8")
        if "base64" in response:
            return base64.b64decode(response["base64"])
        return b""

    def response_chunks(self) -> list[tuple[float, bytes]]:
        """The body as it arrived: exact bytes per chunk, with offsets in seconds."""
        body = self.body_bytes()
        chunks = self.response.get("chunks")
        if not chunks:
            return [(float(self.meta.get("duration", 0.0)), body)] if body else []
        out, pos = [], 0
        for offset, size in chunks:
            out.append((float(offset), body[pos : pos + size]))
            pos += size
        if pos < len(body):  # never lose bytes if the chunk table is short
            out.append((float(chunks[-1][0]), body[pos:]))
        return out

    def canonical_request(self) -> CanonicalRequest:
        return CanonicalRequest(
            setup=self.setup,
            method=self.request["method"],
            path=self.request["path"],
            body=self.request.get("body"),
            content_type=self.request.get("headers", {}).get("content-type"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kit_recording": FORMAT_VERSION,
            "key": self.key,
            "occurrence": self.occurrence,
            "setup": self.setup,
            "request": self.request,
            "response": self.response,
            "meta": self.meta,
        }


def read_recording_text(path: Path) -> str:
    """A recording file's text; a FIFO, socket or device there is a named error, never a read that hangs."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CorruptRecording(path, f"cannot read it ({exc})") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else \
                "folder" if stat.S_ISDIR(mode) else "device"
            raise NotARegularFile(path, kind)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptRecording(path, f"cannot read it ({exc})") from exc
    except OSError as exc:
        raise CorruptRecording(path, f"cannot read it ({exc})") from exc
    finally:
        os.close(fd)


def load_recording(path: Path | str, *, policy: bool = True) -> Recording:
    """Read and check one recording file; refuse corrupt files, secrets and (with `policy`) anything the
    current secrets policy drops, by name."""
    path = Path(path)
    text = read_recording_text(path)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CorruptRecording(path, f"not valid JSON ({exc})") from exc
    except RecursionError as exc:
        raise CorruptRecording(path, "not valid JSON (nested too deeply to read)") from exc
    if not isinstance(data, dict) or data.get("kit_recording") != FORMAT_VERSION:
        raise CorruptRecording(path, f"not a kit recording (expected \"kit_recording\": {FORMAT_VERSION})")
    problems = schema_problems(data)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise CorruptRecording(path, "; ".join(problems[:3]) + more)
    try:
        secret = next(_secret_fields(text, data), None)
    except RecursionError as exc:
        raise CorruptRecording(path, "nested too deeply to check") from exc
    if secret is not None:
        raise SecretInRecording(path, secret)
    kept = outside_policy(data) if policy else []
    if kept:
        raise OutsidePolicy(path, kept)
    return Recording(
        key=data["key"],
        occurrence=int(data.get("occurrence", 0)),
        setup=data["setup"],
        request=data["request"],
        response=data["response"],
        meta=data.get("meta", {}),
        path=path,
    )


def interruption_of(recording: Recording) -> str | None:
    """Why a recording stops short of its answer's end (Ctrl-C, a cancelled task, an exception in the
    consumer), or None: whole, cut by the server (`error`), or closed by its consumer on purpose."""
    closed = recording.response.get("closed_early")
    if not isinstance(closed, dict) or closed.get("by") == "consumer":
        return None
    return f"{closed.get('by')} after {closed.get('after_chunks')} chunk(s), {closed.get('after_bytes')} bytes"


def _secret_fields(text: str, data: dict[str, Any]) -> Iterator[str]:
    """Fields holding credentials: header and query names are checked directly; values are walked
    only when a credential-looking string occurs somewhere in the text (one regex pass over the file)."""
    request, response = data["request"], data["response"]
    named = {"request": {"headers": request.get("headers") or {}}, "response": {"headers": response.get("headers") or {}}}
    yield from find_secrets(named)
    for name, value in parse_qsl(str(request.get("path", "")).partition("?")[2], keep_blank_values=True):
        if value and value != REDACTED and is_credential_name(name):
            yield f"request.path?{name}"
    yield from find_secrets({"request": {"body": request.get("body")}})
    if has_credential(text) or "\\u" in text:  # escaped text could hide one from the plain scan
        yield from find_secrets({"request": request, "response": response})


_EVENTS, _CHUNKS = "\u0000kit-events\u0000", "\u0000kit-chunks\u0000"


def dump_recording(recording: Recording) -> str:
    """Deterministic text: our fields in fixed order, request body keys sorted, wire order kept in responses.

    The request and metadata are indented; each SSE event is one compact line, so a
    recording reads (and diffs) event by event and stays close to the size of the stream.
    """
    data = recording.to_json()
    response = dict(data["response"])
    events = chunks = None
    if "sse" in response:
        sse = dict(response["sse"])
        events, sse["events"] = sse["events"], _EVENTS
        response["sse"] = sse
    elif "frames" in response:  # a WebSocket session: one frame per line, as SSE events are
        events, response["frames"] = response["frames"], _EVENTS
    if "chunks" in response:
        chunks, response["chunks"] = response["chunks"], _CHUNKS
    text = json.dumps({**data, "response": response}, indent=1, ensure_ascii=False)
    if events is not None:
        lines = ",\n".join("    " + json.dumps(e, ensure_ascii=False) for e in events)
        text = text.replace(json.dumps(_EVENTS), "[\n" + lines + "\n   ]" if events else "[]", 1)
    if chunks is not None:
        text = text.replace(json.dumps(_CHUNKS), json.dumps(chunks, separators=(",", ":")), 1)
    return text + "\n"


class RecordingStore:
    """A folder of recordings."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    # -- files -------------------------------------------------------------
    def path_for(self, request: CanonicalRequest, occurrence: int) -> Path:
        return self.inside(self.root / request.setup / request.endpoint / f"{request.key[:16]}.{occurrence}.json")

    def inside(self, path: Path) -> Path:
        """`path`, checked to lie inside the folder (setup and endpoint names come from outside)."""
        root = os.path.abspath(self.root)
        if os.path.commonpath([root, os.path.abspath(path)]) != root or ".." in path.relative_to(self.root).parts:
            raise UnsafeRecordingPath(path, self.root)
        return path

    def occurrences(self, request: CanonicalRequest) -> list[Path]:
        folder = self.inside(self.root / request.setup / request.endpoint)
        prefix = request.key[:16] + "."
        if not folder.is_dir():
            return []
        found = []
        for entry in folder.iterdir():
            stem = entry.name.removesuffix(".json")
            if entry.name.startswith(prefix) and entry.name.endswith(".json") and stem[len(prefix):].isdigit():
                found.append((int(stem[len(prefix):]), entry))
        return [p for _, p in sorted(found)]

    def find(self, request: CanonicalRequest, occurrence: int) -> Recording | None:
        """The recording for the n-th identical request; past the last, the last one again."""
        paths = self.occurrences(request)
        if not paths:
            return None
        recording = load_recording(paths[min(occurrence, len(paths) - 1)])
        if recording.key != request.key:
            raise CorruptRecording(recording.path or paths[0], "its key does not match its file name")
        return recording

    def files(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith(".json") and not name.startswith("."):
                    yield Path(dirpath) / name

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, recording: Recording, request: CanonicalRequest, *, session_started: float) -> Path:
        """Store a recording at its occurrence, or the next free one.

        An existing file recorded before this session began is replaced (that is
        what re-recording means); one written since, by another process, is kept
        and this recording takes the next number. A corrupt file is never replaced.
        """
        try:
            return self._write(recording, request, session_started=session_started)
        except PermissionError as exc:
            raise ReadOnlyRecordings(self.root, exc.strerror or str(exc)) from exc
        except OSError as exc:
            if exc.errno == errno.EROFS:
                raise ReadOnlyRecordings(self.root, "a read-only file system") from exc
            raise

    def _write(self, recording: Recording, request: CanonicalRequest, *, session_started: float) -> Path:
        text_for = lambda occ: dump_recording(_with_occurrence(recording, occ))  # noqa: E731
        with self._locked():
            occurrence = recording.occurrence
            while True:
                target = self.path_for(request, occurrence)
                if not target.exists():
                    break
                existing = load_recording(target, policy=False)  # raises CorruptRecording: never overwrite what we cannot read
                if float(existing.meta.get("recorded_at_epoch", 0)) < session_started:
                    break
                occurrence += 1
            _atomic_write(target, text_for(occurrence))
        recording.occurrence, recording.path = occurrence, target
        try:
            self.index()._retrying(lambda: self.index().add(recording))
        except (sqlite3.Error, ReadOnlyRecordings):
            pass  # the index is a cache; `kit recordings reindex` rebuilds it
        return target

    def rewrite(self, path: Path, text: str) -> None:
        """Replace one recording file's text at once (under the lock): readers see the old file or the new."""
        try:
            with self._locked():
                _atomic_write(self.inside(path), text)
        except PermissionError as exc:
            raise ReadOnlyRecordings(self.root, exc.strerror or str(exc)) from exc

    # -- index -------------------------------------------------------------
    def index(self) -> "RecordingIndex":
        from kit.recording.index import RecordingIndex  # the index reads recordings: it sits on top of this module

        return RecordingIndex(self)

    def nearest(self, request: CanonicalRequest) -> tuple[Path, str] | None:
        """The recorded request for the same setup and endpoint whose body is closest, with a diff."""
        want = _pretty(request.body)
        best: tuple[float, Path, str] | None = None
        for row in self.index().query(setup=request.setup, method=request.method, endpoint=request.endpoint, limit=500):
            try:
                other = load_recording(self.root / row["file"])
            except CorruptRecording:
                continue
            have = _pretty(other.request.get("body"))
            score = difflib.SequenceMatcher(None, have, want, autojunk=False).ratio()
            if best is None or score > best[0]:
                best = (score, self.root / row["file"], have)
        if best is None:
            return None
        diff = "\n".join(
            difflib.unified_diff(best[2].splitlines(), want.splitlines(), "recorded", "requested", lineterm="", n=1)
        )
        return best[1], diff


def _atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _with_occurrence(recording: Recording, occurrence: int) -> Recording:
    copy = Recording(**{**recording.__dict__})
    copy.occurrence = occurrence
    return copy


def _pretty(body: Any) -> str:
    return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False)
