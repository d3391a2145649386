"""The SQLite index of a recording folder: a cache of what the files say, for listing, nearest-recording
search on a replay miss, and usage (for prune).

Whatever state it is in (deleted, stale, garbage, another schema), it is rebuilt from the
files: nothing is lost with it but usage marks, which are advisory.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from kit.recording.canonical import endpoint_of
from kit.recording.errors import CorruptRecording, ReadOnlyRecordings
from kit.recording.store import Recording, RecordingStore, load_recording

INDEX_NAME = ".index.sqlite"
T = TypeVar("T")


class RecordingIndex:
    """SQLite index of a store; a cache that `rebuild()` recreates from the files alone."""

    COLUMNS = ("file", "key", "occurrence", "setup", "method", "path", "endpoint", "model", "status", "recorded_at", "mtime_ns", "size")

    def __init__(self, store: RecordingStore) -> None:
        self.store = store
        self.path = store.root / INDEX_NAME

    def _connect(self) -> sqlite3.Connection:
        """A connection to the index; an index SQLite cannot read is thrown away and started afresh."""
        try:
            return self._open()
        except PermissionError as exc:
            raise ReadOnlyRecordings(self.store.root, exc.strerror or str(exc)) from exc
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc) or "read-only" in str(exc):
                raise ReadOnlyRecordings(self.store.root, f"its index cannot be written ({exc})") from exc
            self._discard()
            return self._open()
        except sqlite3.DatabaseError:
            self._discard()
            return self._open()

    def _discard(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run `action`; if the index turns out to be damaged midway, discard it and run it once more."""
        try:
            return action()
        except sqlite3.DatabaseError:
            self._discard()
            return action()

    def _open(self) -> sqlite3.Connection:
        self.store.root.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS recordings (file TEXT PRIMARY KEY, key TEXT, occurrence INTEGER, setup TEXT,"
            " method TEXT, path TEXT, endpoint TEXT, model TEXT, status INTEGER, recorded_at TEXT,"
            " mtime_ns INTEGER, size INTEGER)"
        )
        db.execute("CREATE TABLE IF NOT EXISTS usage (file TEXT PRIMARY KEY, last_used REAL)")
        db.execute("SELECT file, key, occurrence, setup, method, path, endpoint, model, status, recorded_at, mtime_ns,"
                   " size FROM recordings LIMIT 1").fetchall()  # a table of another shape is a damaged index
        return db

    def _row(self, recording: Recording) -> tuple[Any, ...]:
        assert recording.path is not None
        stat = recording.path.stat()
        req = recording.canonical_request()
        return (
            recording.path.relative_to(self.store.root).as_posix(), recording.key, recording.occurrence,
            recording.setup, req.method, req.path, endpoint_of(req.path), req.model, recording.status,
            recording.meta.get("recorded_at"), stat.st_mtime_ns, stat.st_size,
        )

    def add(self, recording: Recording) -> None:
        with self._connect() as db:
            db.execute(f"INSERT OR REPLACE INTO recordings VALUES ({','.join('?' * len(self.COLUMNS))})", self._row(recording))

    def refresh(self) -> list[CorruptRecording]:
        """Bring the index in line with the files (new, changed, deleted); return the files that failed to load."""
        return self._retrying(self._refresh)

    def _refresh(self) -> list[CorruptRecording]:
        problems: list[CorruptRecording] = []
        with self._connect() as db:
            known = {r["file"]: (r["mtime_ns"], r["size"]) for r in db.execute("SELECT file, mtime_ns, size FROM recordings")}
            seen = set()
            for path in self.store.files():
                rel = path.relative_to(self.store.root).as_posix()
                seen.add(rel)
                stat = path.stat()
                if known.get(rel) == (stat.st_mtime_ns, stat.st_size):
                    continue
                try:
                    recording = load_recording(path)
                except CorruptRecording as exc:
                    problems.append(exc)
                    db.execute("DELETE FROM recordings WHERE file = ?", (rel,))
                    continue
                db.execute(f"INSERT OR REPLACE INTO recordings VALUES ({','.join('?' * len(self.COLUMNS))})", self._row(recording))
            for rel in set(known) - seen:
                db.execute("DELETE FROM recordings WHERE file = ?", (rel,))
        return problems

    def rebuild(self) -> list[CorruptRecording]:
        """Recreate the index from the files alone, whatever state it is in; usage survives if it can be read."""
        try:
            with self._open() as db:
                usage = list(db.execute("SELECT file, last_used FROM usage"))
        except sqlite3.DatabaseError:
            usage = []
        self._discard()
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?)", [tuple(row) for row in usage])
        return self.refresh()

    def query(self, *, setup: str | None = None, method: str | None = None, endpoint: str | None = None,
              model: str | None = None, limit: int | None = None) -> list[sqlite3.Row]:
        return self._retrying(lambda: self._query(setup, method, endpoint, model, limit))

    def _query(self, setup: str | None, method: str | None, endpoint: str | None, model: str | None,
               limit: int | None) -> list[sqlite3.Row]:
        self._refresh()
        where, args = [], []
        for column, value in (("setup", setup), ("method", method), ("endpoint", endpoint), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM recordings" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY file"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as db:
            return list(db.execute(sql, args))

    def mark_used(self, paths: Iterable[Path]) -> None:
        rows = []
        for path in paths:
            try:
                rows.append((path.relative_to(self.store.root).as_posix(), time.time()))
            except ValueError:
                continue
        try:
            with self._connect() as db:
                db.executemany("INSERT OR REPLACE INTO usage VALUES (?, ?)", rows)
        except (sqlite3.Error, ReadOnlyRecordings):
            pass  # usage is advisory (for prune); never fail a replay over it

    def unused(self) -> list[str]:
        """Files no run used: not replayed or recorded since the first run this index saw."""
        self.refresh()
        with self._connect() as db:  # damaged since the refresh above: this raises, and prune stops
            rows = db.execute(
                "SELECT r.file FROM recordings r LEFT JOIN usage u ON u.file = r.file "
                "WHERE u.file IS NULL ORDER BY r.file"
            )
            return [r["file"] for r in rows]
