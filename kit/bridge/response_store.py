"""Stored responses, their events and conversations for the served bridge, in one SQLite file.

OpenAI keeps responses (`store: true`) so they can be fetched, chained with `previous_response_id`, listed
(`input_items`), deleted, resumed (`starting_after`) and run in the background; and conversations, whose items
grow with each response. Chat Completions keeps nothing, so the bridge keeps them here, beside its vector
stores and under the same rules: one file under a folder the server was given, every value stored as JSON,
every id looked up by parameter (never formatted into SQL). What the records mean is `kit.bridge.conversation`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from kit.bridge.conversation import StoredTurn

DB_NAME = "responses.sqlite3"
MAX_RESPONSES = 10_000  # the oldest beyond this are dropped: a long-running server must not grow without bound

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY, created REAL NOT NULL, response TEXT NOT NULL, context TEXT NOT NULL,
    new_items TEXT NOT NULL, background INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    response_id TEXT NOT NULL REFERENCES responses(id) ON DELETE CASCADE, seq INTEGER NOT NULL,
    event TEXT NOT NULL, PRIMARY KEY (response_id, seq)
);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, metadata TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS conversation_items (
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE, pos INTEGER NOT NULL,
    item TEXT NOT NULL, PRIMARY KEY (conversation_id, pos)
);
"""


class ResponseStore:
    """The responses and conversations kept under `root` (a folder the caller chose)."""

    def __init__(self, root: str | Path, *, max_responses: int = MAX_RESPONSES) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / DB_NAME
        self.max_responses = max_responses
        self._lock = threading.Lock()  # one writer at a time; SQLite serialises the rest
        with self._db() as db:
            db.execute("PRAGMA journal_mode = WAL")  # a GET (a poll) reads while a background response writes
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db

    # ----------------------------------------------------------- responses

    def put(self, response: Mapping[str, Any], *, context: list[dict[str, Any]], new_items: list[dict[str, Any]],
            background: bool = False) -> None:
        """Keep a response (or replace its snapshot): its context and new items are what later turns use."""
        with self._lock, self._db() as db:
            db.execute("INSERT INTO responses VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                       "response = excluded.response",
                       (response["id"], time.time(), _dump(response), _dump(context), _dump(new_items),
                        int(background)))
            count = db.execute("SELECT count(*) FROM responses").fetchone()[0]
            if count > self.max_responses:
                db.execute("DELETE FROM responses WHERE id IN (SELECT id FROM responses ORDER BY created "
                           "LIMIT ?)", (count - self.max_responses,))

    def update(self, response: Mapping[str, Any]) -> None:
        """A new snapshot of a kept response (its status moved on). A cancelled response stays cancelled: a
        snapshot its run was already writing when the cancel came does not bring it back."""
        with self._lock, self._db() as db:
            row = db.execute("SELECT response FROM responses WHERE id = ?", (response["id"],)).fetchone()
            if row is not None and json.loads(row[0]).get("status") == "cancelled":
                return
            db.execute("UPDATE responses SET response = ? WHERE id = ?", (_dump(response), response["id"]))

    def get(self, response_id: str) -> dict[str, Any] | None:
        """The response as last kept, or None."""
        row = self._row("SELECT response FROM responses WHERE id = ?", response_id)
        return json.loads(row[0]) if row else None

    def is_background(self, response_id: str) -> bool:
        row = self._row("SELECT background FROM responses WHERE id = ?", response_id)
        return bool(row and row[0])

    def turn(self, response_id: str) -> StoredTurn | None:
        """What a later turn that names this response brings in."""
        row = self._row("SELECT context, response FROM responses WHERE id = ?", response_id)
        if row is None:
            return None
        return StoredTurn(context=tuple(json.loads(row[0])), output=tuple(json.loads(row[1]).get("output") or ()))

    def context(self, response_id: str) -> list[dict[str, Any]] | None:
        """Every input item the response's model saw, oldest first (what `input_items` lists)."""
        row = self._row("SELECT context FROM responses WHERE id = ?", response_id)
        return json.loads(row[0]) if row else None

    def delete(self, response_id: str) -> bool:
        with self._lock, self._db() as db:
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

    def add_event(self, response_id: str, event: Mapping[str, Any]) -> None:
        """Keep one event of a stored response, for `GET /v1/responses/{id}?stream=true&starting_after=N`."""
        with self._lock, self._db() as db:
            db.execute("INSERT OR REPLACE INTO events VALUES (?, ?, ?)",
                       (response_id, int(event.get("sequence_number", 0)), _dump(event)))

    def events_after(self, response_id: str, starting_after: int | None) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT event FROM events WHERE response_id = ? AND seq > ? ORDER BY seq",
                              (response_id, -1 if starting_after is None else starting_after)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # ----------------------------------------------------------- conversations

    def create_conversation(self, metadata: Mapping[str, Any] | None = None,
                            items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        conversation = {"id": f"conv_{uuid.uuid4().hex}", "object": "conversation", "created_at": int(time.time()),
                        "metadata": dict(metadata or {})}
        with self._lock, self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?)",
                       (conversation["id"], conversation["created_at"], _dump(conversation["metadata"])))
        if items:
            self.add_items(conversation["id"], items)
        return conversation

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        row = self._row("SELECT id, created_at, metadata FROM conversations WHERE id = ?", conversation_id)
        if row is None:
            return None
        return {"id": row[0], "object": "conversation", "created_at": row[1], "metadata": json.loads(row[2])}

    def update_conversation(self, conversation_id: str, metadata: Mapping[str, Any]) -> dict[str, Any] | None:
        with self._lock, self._db() as db:
            db.execute("UPDATE conversations SET metadata = ? WHERE id = ?", (_dump(dict(metadata)), conversation_id))
        return self.conversation(conversation_id)

    def delete_conversation(self, conversation_id: str) -> bool:
        with self._lock, self._db() as db:
            return db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount > 0

    def items(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute("SELECT item FROM conversation_items WHERE conversation_id = ? ORDER BY pos",
                              (conversation_id,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def add_items(self, conversation_id: str, items: list[dict[str, Any]]) -> None:
        with self._lock, self._db() as db:
            start = db.execute("SELECT coalesce(max(pos) + 1, 0) FROM conversation_items WHERE conversation_id = ?",
                               (conversation_id,)).fetchone()[0]
            db.executemany("INSERT INTO conversation_items VALUES (?, ?, ?)",
                           ((conversation_id, start + n, _dump(item)) for n, item in enumerate(items)))

    def delete_item(self, conversation_id: str, item_id: str) -> bool:
        with self._lock, self._db() as db:
            rows = db.execute("SELECT pos, item FROM conversation_items WHERE conversation_id = ?",
                              (conversation_id,)).fetchall()
            for pos, item in rows:
                if json.loads(item).get("id") == item_id:
                    db.execute("DELETE FROM conversation_items WHERE conversation_id = ? AND pos = ?",
                               (conversation_id, pos))
                    return True
        return False

    def _row(self, sql: str, key: str) -> tuple[Any, ...] | None:
        with self._db() as db:
            return db.execute(sql, (key,)).fetchone()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
