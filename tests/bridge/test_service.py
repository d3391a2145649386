"""The bridge end to end: a real openai client against real HTTP servers on loopback serving real captures.

tests/loopback.py serves a capture named in the request (`user:
fixture:chat/NAME`) and injects faults on request (`metadata.fault`);
scripted_server.py answers turn by turn for the file search loop.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import openai
import pytest

import kit
from kit.bridge import VectorStores, create_response, stream_response, translate_chat_stream
from kit.setups import get_setup
from kit.sources import responses_events as responses_stream
from tests.bridge.helpers import (
    assert_valid,
    chat_files,
    clean_and_citations,
    load_chunks,
    of_type,
    upstream_content,
)
from tests.bridge.scripted_server import ScriptedChatServer


QWEN = "llama-stack__vllm-Qwen-Qwen3-0-6B-reasoning-d1edbcab.jsonl"
GROQ_ERROR = "pydantic-ai__groq-gpt-oss-120b-reasoning-error.jsonl"
PARALLEL = "llama-stack__azure-lls-test-gpt-4o-2024-11-20-parallel-tool-calls-1067b555.jsonl"
CITED = "llama-stack__openai-gpt-4o-2024-08-06-file-citation-markers-1dbd102b.jsonl"
NATIVE = "responses/pydantic-ai__openrouter-gpt-oss-20b-reasoning-text.jsonl"
DOCS = {  # the file ids the real cited answer refers to, given to files we make
    "file-862946202236": ("eu-campaign.txt", "European advertising campaign results for Q1 2023: strong growth in EU markets."),
    "file-862946202234": ("us-promotions.txt", "US promotional campaigns in Q1 2023 produced a 15% revenue increase."),
    "file-862946202237": ("apac-sales.txt", "Asia Pacific sales figures for Q3 2023: a record-breaking quarter in Asia."),
}


def openai_client(base_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="loopback", max_retries=0)


def chat_body(server: Any, n: int = -1) -> dict[str, Any]:
    return json.loads(server.requests[n]["body"])


@pytest.mark.parametrize("name", [QWEN, GROQ_ERROR, PARALLEL, CITED])
def test_over_http_the_bridge_gives_what_the_pure_translation_gives(loopback: Any, name: str) -> None:
    request = {"model": "m", "input": "hi", "user": f"fixture:chat/{name}"}
    events = list(stream_response(openai_client(loopback.base_url), request))
    assert events == list(translate_chat_stream(load_chunks(name), request=request))
    assert_valid(events)
    sent = chat_body(loopback)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.fault_injection
def test_fault_injection_http_500_becomes_error_then_failed(loopback: Any) -> None:
    request = {"model": "m", "input": "hi", "user": f"fixture:chat/{QWEN}", "metadata": {"fault": "status:500"}}
    events = list(stream_response(openai_client(loopback.base_url), request))
    assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error", "response.failed"]
    assert events[2]["message"] == "upstream error: HTTP 500: injected fault"
    assert events[3]["response"]["error"]["code"] == "server_error"
    assert_valid(events)


@pytest.mark.fault_injection
def test_fault_injection_dropped_connection_keeps_what_arrived_then_fails(loopback: Any) -> None:
    request = {"model": "m", "input": "hi", "user": f"fixture:chat/{QWEN}", "metadata": {"fault": "drop-after:40"}}
    events = list(stream_response(openai_client(loopback.base_url), request))
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    reasoning = "".join(e["delta"] for e in of_type(events, "response.reasoning_text.delta"))
    arrived = "".join(c["choices"][0]["delta"].get("reasoning") or "" for c in load_chunks(QWEN)[:40] if c["choices"])
    assert reasoning == arrived
    assert_valid(events)


@pytest.mark.parametrize("name", [QWEN, GROQ_ERROR])
def test_the_upstream_hook_gets_each_chat_body_as_read_with_its_wire(loopback: Any, name: str) -> None:
    """What `upstream=` receives is the chat body the bridge read: every chunk of the capture (up to the error
    chunk of a failing stream, where the bridge stops reading), with the wire facts the chat rules judge."""
    seen: list[Any] = []
    request = {"model": "m", "input": "hi", "user": f"fixture:chat/{name}"}
    events = list(stream_response(openai_client(loopback.base_url), request, upstream=seen.append))
    assert events == list(translate_chat_stream(load_chunks(name), request=request))  # the hook changes nothing
    assert len(seen) == 1 and seen[0].wire is not None and seen[0].wire.content_type.startswith("text/event-stream")
    chunks, got = load_chunks(name), [e.raw for e in seen[0].events]
    errors = [i for i, c in enumerate(chunks) if c.get("error")]
    if errors:  # what had arrived when the bridge met the error chunk: at least every chunk up to it
        assert got == chunks[:len(got)] and len(got) > errors[0]
    else:
        assert got == chunks and seen[0].wire.done_seen  # the loopback server ends with data: [DONE]


def test_create_response_returns_the_final_response(loopback: Any) -> None:
    response = create_response(openai_client(loopback.base_url),
                               {"model": "m", "input": "hi", "user": f"fixture:chat/{QWEN}"})
    assert response["status"] == "completed"
    assert [item["type"] for item in response["output"]] == ["reasoning", "message"]
    assert response["output"][1]["content"][0]["text"] == upstream_content(load_chunks(QWEN))


def test_native_and_bridged_views_of_one_server_side_by_side(loopback: Any) -> None:
    client = openai_client(loopback.base_url)
    native = list(responses_stream(client, get_setup("vllm"), {"input": "hi", "metadata": {"fixture": NATIVE}}))
    bridged = list(responses_stream(client, get_setup("ollama"), {"input": "hi", "user": f"fixture:chat/{QWEN}"}))
    assert json.loads(loopback.requests[0]["body"])["model"] == get_setup("vllm").text_model
    assert loopback.requests[0]["path"].endswith("/responses")
    assert loopback.requests[1]["path"].endswith("/chat/completions")
    assert native[-1].raw["type"] == bridged[-1].raw["type"] == "response.completed"  # both: Events
    assert_valid([event.raw for event in bridged])


def test_record_then_replay_through_the_kit_client(loopback: Any, tmp_path: Path) -> None:
    request = {"model": "m", "input": "hi", "user": f"fixture:chat/{QWEN}",
               "reasoning": {"summary": "concise"}}
    recorder = kit.client(mode="record", base_url=loopback.base_url, recording_dir=tmp_path)
    # The summary call is a second request; the loopback answers it with the same capture.
    recorded = list(stream_response(recorder, request))
    assert len(loopback.requests) == 2
    replayer = kit.client(mode="replay", recording_dir=tmp_path)
    replayed = list(stream_response(replayer, request))
    assert len(loopback.requests) == 2  # nothing reached the server
    assert replayed == recorded
    assert_valid(replayed)
    assert of_type(replayed, "response.reasoning_summary_text.done")


# ------------------------------------------------------------------ hosted file search


def search_turn() -> list[dict[str, Any]]:
    """The real Azure parallel tool-call stream, its two calls renamed to the bridge's search with our queries."""
    chunks = load_chunks(PARALLEL)
    queries = ['{"query": "US promotional campaign revenue"}', '{"query": "Asia Pacific sales record"}']
    per_call: dict[int, list[dict[str, Any]]] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or ():
            for call in choice["delta"].get("tool_calls") or ():
                per_call.setdefault(call["index"], []).append(call)
    for index, calls in per_call.items():
        calls[0]["function"]["name"] = "file_search"
        args = queries[index]
        step = -(-len(args) // len(calls))
        for n, call in enumerate(calls):
            call["function"]["arguments"] = args[n * step:(n + 1) * step]
    return chunks


@pytest.fixture
def stores(tmp_path: Path) -> VectorStores:
    stores = VectorStores(tmp_path / "stores")
    stores.create("docs", store_id="vs_docs")
    for file_id, (filename, text) in DOCS.items():
        stores.add_file("vs_docs", text=text, filename=filename, file_id=file_id)
    return stores


def search_request(**extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "input": "Summarize our marketing and sales documents.",
            "tools": [{"type": "file_search", "vector_store_ids": ["vs_docs"]}], **extra}


def test_file_search_loop_streams_search_items_then_the_cited_answer(stores: VectorStores) -> None:
    with ScriptedChatServer([search_turn(), load_chunks(CITED)]) as server:
        events = list(stream_response(openai_client(server.base_url),
                                      search_request(include=["file_search_call.results"]), stores=stores))
    assert_valid(events)
    added = of_type(events, "response.output_item.added")
    assert [e["item"]["type"] for e in added] == ["file_search_call", "file_search_call", "message"]
    assert [e["item"]["queries"] for e in added[:2]] == [["US promotional campaign revenue"],
                                                         ["Asia Pacific sales record"]]
    assert all(e["item"]["status"] == "in_progress" for e in added[:2])
    first = [e["type"] for e in events if e.get("item_id") == added[0]["item"]["id"] or
             e.get("item", {}).get("id") == added[0]["item"]["id"]]
    assert first == ["response.output_item.added", "response.file_search_call.in_progress",
                     "response.file_search_call.searching", "response.file_search_call.completed",
                     "response.output_item.done"]
    searches = of_type(events, "response.output_item.done")[:2]
    assert searches[0]["item"]["results"][0]["filename"] == "us-promotions.txt"
    assert searches[1]["item"]["results"][0]["filename"] == "apac-sales.txt"

    # The second call carried the searches and their results, each behind its citation marker.
    tools_sent = server.requests[0]["tools"]
    assert [t["function"]["name"] for t in tools_sent] == ["file_search"]
    messages = server.requests[1]["messages"]
    assert messages[1]["role"] == "assistant"
    assert [c["function"]["name"] for c in messages[1]["tool_calls"]] == ["file_search", "file_search"]
    assert [m["tool_call_id"] for m in messages[2:]] == [c["id"] for c in messages[1]["tool_calls"]]
    assert "<|file-862946202234|>" in messages[2]["content"]
    assert "<|file-862946202237|>" in messages[3]["content"]

    # The answer's markers became file citations with our filenames, at the cleaned text's offsets.
    text, cites = clean_and_citations(upstream_content(load_chunks(CITED)))
    message = events[-1]["response"]["output"][2]
    assert message["content"][0]["text"] == text
    annotations = message["content"][0]["annotations"]
    assert [(a["index"], a["file_id"]) for a in annotations] == cites
    assert [a["filename"] for a in annotations] == [DOCS[f][0] for _, f in cites]
    assert [e["annotation"] for e in of_type(events, "response.output_text.annotation.added")] == annotations


def test_file_search_results_are_left_out_unless_included(stores: VectorStores) -> None:
    with ScriptedChatServer([search_turn(), load_chunks(CITED)]) as server:
        events = list(stream_response(openai_client(server.base_url), search_request(), stores=stores))
    assert_valid(events)
    assert [e["item"]["results"] for e in of_type(events, "response.output_item.done")[:2]] == [None, None]


def test_the_last_search_round_offers_no_search_tool(stores: VectorStores) -> None:
    with ScriptedChatServer([search_turn(), search_turn()]) as server:
        events = list(stream_response(openai_client(server.base_url), search_request(), stores=stores,
                                      max_search_rounds=1))
    assert "tools" in server.requests[0] and "tools" not in server.requests[1]
    assert_valid(events)
    # A model that still calls it gets a visible function call, not a silent drop.
    kinds = [e["item"]["type"] for e in of_type(events, "response.output_item.added")]
    assert kinds == ["file_search_call", "file_search_call", "function_call", "function_call"]


def test_a_search_on_an_unknown_store_fails_the_response_with_the_reason(stores: VectorStores) -> None:
    request = search_request(tools=[{"type": "file_search", "vector_store_ids": ["vs_missing"]}])
    with ScriptedChatServer([search_turn()]) as server:
        events = list(stream_response(openai_client(server.base_url), request, stores=stores))
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    assert "vs_missing" in events[-2]["message"]
    assert of_type(events, "response.output_item.done")[0]["item"]["status"] == "failed"
    assert_valid(events)


def test_function_calls_of_the_client_end_the_response_after_the_search(stores: VectorStores) -> None:
    turn = search_turn()
    for chunk in turn:  # the second call becomes one of the client's own functions
        for choice in chunk.get("choices") or ():
            for call in choice["delta"].get("tool_calls") or ():
                if call["index"] == 1 and call["function"].get("name"):
                    call["function"]["name"] = "get_user_id"
    request = search_request(tools=[{"type": "file_search", "vector_store_ids": ["vs_docs"]},
                                    {"type": "function", "name": "get_user_id", "parameters": {"type": "object"}}])
    with ScriptedChatServer([copy.deepcopy(turn)]) as server:
        events = list(stream_response(openai_client(server.base_url), request, stores=stores))
    assert len(server.requests) == 1
    assert [e["item"]["type"] for e in of_type(events, "response.output_item.added")] == ["function_call",
                                                                                       "file_search_call"]
    assert events[-1]["type"] == "response.completed"
    assert_valid(events)


def test_native_view_yields_the_servers_own_payloads_with_wire_facts(loopback: Any) -> None:
    client = openai_client(loopback.base_url)
    native = responses_stream(client, get_setup("vllm"), {"input": "hi", "metadata": {"fixture": NATIVE}})
    events = list(native)
    captured = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "captures"
                                               / NATIVE).read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [event.raw for event in events] == captured
    assert native.wire is not None and native.wire.content_type.startswith("text/event-stream")
    assert native.wire.status == 200 and native.wire.event_names == [e["type"] for e in captured]
