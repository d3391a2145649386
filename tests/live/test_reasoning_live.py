"""Live, per dialect: a reasoning request through the bridge over the reasoning server, whose reasoning item
must equal the reasoning the upstream streamed (issue 18).

The upstream's stream is what the bridge itself consumed: the kit's record mode writes it to a folder of the
test, and the test reads the dialect's own field out of it, independently of the bridge.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import kit
from kit.bridge import stream_response
from kit.servers.reasoning import DIALECTS
from kit.setups import get_setup

pytestmark = pytest.mark.live

MODEL = get_setup("local").text_model
REQUEST = {"model": MODEL, "input": "A shop sells pens at 2 dollars each. How much do three pens cost?",
           "reasoning": {"effort": "low"}, "temperature": 0}


def _upstream_chunks(folder: Path) -> list[dict[str, Any]]:
    recordings = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))]
    assert len(recordings) == 1, f"expected one upstream call, got {len(recordings)}"
    assert recordings[0]["request"]["body"]["reasoning_effort"] == "low"
    return [e["data"] for e in recordings[0]["response"]["sse"]["events"] if isinstance(e.get("data"), dict)]


def _streamed_reasoning(dialect: str, chunks: list[dict[str, Any]]) -> str:
    """The reasoning as the upstream sent it, read from the dialect's own field."""
    deltas = [c["choices"][0].get("delta") or {} for c in chunks if c.get("choices")]
    if dialect == "reasoning_content":
        return "".join(d.get("reasoning_content") or "" for d in deltas)
    if dialect == "reasoning":
        text = "".join(d.get("reasoning") or "" for d in deltas)
        assert "".join(x.get("text") or "" for d in deltas for x in d.get("reasoning_details") or []) == text
        return text
    if dialect == "mistral":
        blocks = [b for d in deltas if isinstance(d.get("content"), list) for b in d["content"]]
        return "".join(t["text"] for b in blocks if b["type"] == "thinking" for t in b["thinking"])
    content = "".join(d.get("content") or "" for d in deltas)
    assert content.startswith("<think>") and "</think>" in content, content
    return content.removeprefix("<think>").partition("</think>")[0]


def _started(reasoning: str | None) -> Any:
    from kit.servers import LocalServer, LocalServerError

    server = LocalServer(reasoning=reasoning)
    try:
        return server.start()
    except LocalServerError as exc:
        pytest.skip(f"the local llama.cpp server cannot start here: {exc}")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_reasoning_through_the_bridge_equals_what_the_upstream_streamed(dialect: str, tmp_path: Path) -> None:
    server = _started(dialect)
    try:
        client = kit.client("local", "record", base_url=server.base_url, recording_dir=tmp_path / "rec")
        events = list(stream_response(client, REQUEST, think_tags=dialect == "think_tags"))
    finally:
        server.stop()
    streamed = _streamed_reasoning(dialect, _upstream_chunks(tmp_path / "rec"))
    assert streamed.strip(), f"the reasoning server streamed no reasoning in {dialect}"
    bridged = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_text.delta")
    assert bridged == streamed
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert [item["type"] for item in done] == ["reasoning", "message"]
    assert done[0]["content"][0]["text"] == streamed
    answer = done[1]["content"][0]["text"]
    assert answer.strip() and "<think>" not in answer and "</think>" not in answer
    assert events[-1]["type"] == "response.completed"


def test_plain_requests_pass_the_reasoning_server_unchanged(tmp_path: Path) -> None:
    """Without reasoning asked, the server behind the proxy answers exactly as without it (recordings stay valid)."""
    request = {"model": MODEL, "messages": [{"role": "user", "content": "Say hello in five words."}],
               "temperature": 0, "max_tokens": 24}
    answers = []
    for reasoning in (None, "mistral"):
        server = _started(reasoning)
        try:
            client = kit.client("local", "live", base_url=server.base_url)
            answers.append([c.choices[0].delta.content if c.choices else None
                            for c in client.chat.completions.create(stream=True, **request)])
        finally:
            server.stop()
    assert answers[0] == answers[1] and any(answers[0])
