"""The served bridge's store of responses under concurrent use: a poll reads while a response is written.

A background response keeps every event as it streams (one write per event, in its own thread) while its
client polls `GET /v1/responses/{id}`. In SQLite's default rollback journal a reader waits out every write
(the poll of a running response took 440 ms in a recorded run of kit/suites/responses/background_mode);
in WAL mode it reads the last committed snapshot at once.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from kit.bridge.response_store import ResponseStore


def test_a_read_is_not_blocked_by_a_write_in_progress(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path)
    store.put({"id": "resp_1", "status": "in_progress"}, context=[], new_items=[], background=True)
    writer = sqlite3.connect(store.path, timeout=0)
    writer.execute("BEGIN EXCLUSIVE")  # a write under way: the background thread keeping an event
    writer.execute("UPDATE responses SET response = ? WHERE id = ?", ('{"id": "resp_1", "status": "completed"}',
                                                                      "resp_1"))
    seen: list[object] = []
    reader = threading.Thread(target=lambda: seen.append(store.get("resp_1")), daemon=True)
    reader.start()
    reader.join(timeout=10)  # rollback journal: the read waits for the writer (up to the store's 30 s)
    try:
        assert not reader.is_alive(), "the read waited for the write to finish"
        assert seen == [{"id": "resp_1", "status": "in_progress"}]  # the last committed snapshot
    finally:
        writer.rollback()
        writer.close()
        reader.join(timeout=40)


def test_the_store_keeps_its_file_in_wal_mode(tmp_path: Path) -> None:
    store = ResponseStore(tmp_path)
    with sqlite3.connect(store.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.fault_injection  # the writer's last event and status land between the follower's two reads
def test_a_resumed_stream_that_sees_the_terminal_status_still_gets_the_terminal_event(tmp_path: Path) -> None:
    """A follower (`GET ?stream=true&starting_after=N`) that finds no new event and then a terminal status
    ended without the terminal event when the background thread kept both between its two reads."""
    from kit.servers.bridge_app.stateful import Turns

    store = ResponseStore(tmp_path)
    store.put({"id": "resp_1", "status": "in_progress"}, context=[], new_items=[], background=True)
    store.add_event("resp_1", {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_1"}})
    read = store.events_after
    injected: list[bool] = []

    def events_after(response_id: str, starting_after: int | None) -> list[dict[str, Any]]:
        got = read(response_id, starting_after)
        if not got and not injected:  # the background thread, just after this read
            injected.append(True)
            store.add_event("resp_1", {"type": "response.completed", "sequence_number": 1,
                                       "response": {"id": "resp_1", "status": "completed"}})
            store.update({"id": "resp_1", "status": "completed"})
        return got

    store.events_after = events_after  # type: ignore[method-assign]

    async def follow() -> list[bytes]:
        return [chunk async for chunk in Turns(store).follow("resp_1", None)]

    body = b"".join(asyncio.run(follow()))
    assert injected and body.count(b"event: ") == 2 and b"response.completed" in body


def test_a_cancelled_response_stays_cancelled_whatever_snapshot_its_run_still_writes(tmp_path: Path) -> None:
    """Seen in a recorded run over `kit serve bridge`: cancel answered `cancelled`, the next GET said
    `in_progress` (the run thread's snapshot, written just after the cancel), the one after `cancelled`."""
    store = ResponseStore(tmp_path)
    store.put({"id": "resp_1", "status": "queued"}, context=[], new_items=[], background=True)
    store.update({"id": "resp_1", "status": "cancelled"})
    store.update({"id": "resp_1", "status": "in_progress", "output": []})
    store.update({"id": "resp_1", "status": "completed", "output": [{"type": "message"}]})
    assert store.get("resp_1") == {"id": "resp_1", "status": "cancelled"}
    store.update({"id": "resp_2", "status": "in_progress"})  # no such response: nothing happens
    assert store.get("resp_2") is None
