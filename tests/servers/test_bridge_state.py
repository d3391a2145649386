"""The stateful half of the Responses API on the served bridge: stored responses, `previous_response_id`,
input items, deletion, conversations and background mode (poll, resume with `starting_after`, cancel).

Expected values come from OpenAI's API reference (Create a model response, Retrieve, Delete, List input
items, Cancel, Conversations) and the openai SDK's own types: the SDK parses every answer here, so a shape
it does not accept fails the test. The upstream is the loopback server of the project's real captured chat
streams (tests/loopback.py), and the upstream's own record of what it was sent shows what the bridge put in
the context of each turn. Pure rules of `kit.bridge.conversation` are tested first, without a server.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from kit.bridge.conversation import StateError, StoredTurn, item_list, resolve_turn, with_state
from kit.events import parse, validate_stream
from kit.events.across import check_input_items, check_resumed, compare_stored
from kit.servers.bridge import BridgeServer
from tests.loopback import LoopbackServer

TEXT = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"
TOOL_CALL = "chat/llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


# -- the rules, pure ---------------------------------------------------------------------------------------------


def test_a_previous_response_brings_its_context_and_output_but_not_its_instructions() -> None:
    previous = StoredTurn(context=({"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                                    "text": "hi"}]},),
                          output=({"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}",
                                   "id": "fc_1"},))
    turn = resolve_turn({"model": "m", "instructions": "be brief", "previous_response_id": "resp_1",
                         "input": [{"type": "function_call_output", "call_id": "c1", "output": "42"}]},
                        previous=previous, item_prefix="msg_x")
    assert [i["type"] for i in turn.request["input"]] == ["message", "function_call", "function_call_output"]
    assert turn.request["instructions"] == "be brief"  # this turn's own instructions only
    assert "previous_response_id" not in turn.request and "store" not in turn.request
    assert turn.echo == {"previous_response_id": "resp_1", "store": True, "background": False,
                         "conversation": None}
    assert [i["type"] for i in turn.new_items] == ["function_call_output"]


@pytest.mark.parametrize("request_, param", [
    ({"previous_response_id": "resp_1", "conversation": "conv_1"}, "conversation"),
    ({"background": True, "store": False}, "background"),
    ({"store": "yes"}, "store"),
    ({"conversation": {"name": "no id"}}, "conversation"),
    ({"previous_response_id": ""}, "previous_response_id"),
])
def test_contradictory_state_is_refused_naming_the_parameter(request_: dict[str, Any], param: str) -> None:
    with pytest.raises(StateError) as info:
        resolve_turn({"model": "m", "input": "hi", **request_})
    assert info.value.param == param and info.value.status == 400


def test_a_string_input_is_one_user_message_item_with_an_id() -> None:
    turn = resolve_turn({"model": "m", "input": "hello", "store": False}, item_prefix="msg_a")
    assert turn.new_items == [{"type": "message", "role": "user", "status": "completed", "id": "msg_a_0",
                               "content": [{"type": "input_text", "text": "hello"}]}]
    assert turn.echo["store"] is False


def test_background_snapshots_say_queued_and_a_queued_event_follows_created_gaplessly() -> None:
    events = [{"type": "response.created", "sequence_number": 0, "response": {"id": "r", "status": "in_progress"}},
              {"type": "response.in_progress", "sequence_number": 1, "response": {"id": "r", "status": "in_progress"}},
              {"type": "response.completed", "sequence_number": 2, "response": {"id": "r", "status": "completed"}}]
    echo = {"previous_response_id": None, "store": True, "background": True, "conversation": None}
    out = list(with_state(events, echo, queued=True))
    assert [e["type"] for e in out] == ["response.created", "response.queued", "response.in_progress",
                                        "response.completed"]
    assert [e["sequence_number"] for e in out] == [0, 1, 2, 3]
    assert [e["response"]["status"] for e in out] == ["queued", "queued", "in_progress", "completed"]
    assert all(e["response"]["background"] is True for e in out)


def test_item_lists_are_newest_first_by_default_and_page_after_an_id() -> None:
    items = [{"id": f"i{n}"} for n in range(5)]
    page = item_list(items, limit=2)
    assert [i["id"] for i in page["data"]] == ["i4", "i3"] and page["has_more"] is True
    assert (page["first_id"], page["last_id"]) == ("i4", "i3")
    rest = item_list(items, order="asc", after="i2")
    assert [i["id"] for i in rest["data"]] == ["i3", "i4"] and rest["has_more"] is False
    with pytest.raises(StateError):
        item_list(items, limit=0)


# -- served, over the loopback upstream of real captures ---------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        yield server


@pytest.fixture(scope="module")
def served(upstream: LoopbackServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeServer]:
    folder = tmp_path_factory.mktemp("state")
    with BridgeServer(upstream=upstream.base_url, stores_dir=folder / "stores", log_path=folder / "bridge.log") as s:
        yield s


@pytest.fixture
def client(served: BridgeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.base_url, api_key="none", max_retries=0, timeout=60)


def upstream_messages(upstream: LoopbackServer) -> list[dict[str, Any]]:
    return json.loads(upstream.requests[-1]["body"])["messages"]


def test_a_tool_round_trip_through_previous_response_id_sends_the_whole_context_upstream(
        client: openai.OpenAI, upstream: LoopbackServer) -> None:
    first = client.responses.create(model="m", input="weather in Tokyo?", tools=[WEATHER], user=f"fixture:{TOOL_CALL}")
    assert first.store is True and first.status == "completed"
    call = next(i for i in first.output if i.type == "function_call")
    second = client.responses.create(model="m", previous_response_id=first.id, tools=[WEATHER],
                                     input=[{"type": "function_call_output", "call_id": call.call_id,
                                             "output": "sunny, 21 C"}], user=f"fixture:{TEXT}")
    assert second.previous_response_id == first.id and second.id != first.id
    messages = upstream_messages(upstream)
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["tool_calls"][0]["id"] == call.call_id
    assert messages[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny, 21 C"}
    third = client.responses.create(model="m", previous_response_id=second.id, input="and tomorrow?",
                                    user=f"fixture:{TEXT}")
    assert [m["role"] for m in upstream_messages(upstream)] == ["user", "assistant", "tool", "assistant", "user"]
    # input_items: every item the third turn's model saw, newest first, the tool output among them
    items = client.responses.input_items.list(third.id)
    kinds = [i.type for i in items.data]
    assert kinds == ["message", "message", "function_call_output", "function_call", "message"]
    assert items.data[2].output == "sunny, 21 C"


def test_a_stored_response_is_retrieved_as_streamed_then_deleted(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="m", input="hi", stream=True, user=f"fixture:{TEXT}"))
    final = events[-1].response  # the terminal snapshot, as streamed
    assert events[-1].type == "response.completed"
    assert client.responses.retrieve(final.id).model_dump() == final.model_dump()  # ids, items, usage
    client.responses.delete(final.id)
    with pytest.raises(openai.NotFoundError, match=final.id):
        client.responses.retrieve(final.id)
    with pytest.raises(openai.NotFoundError, match="previous_response_not_found|not found"):
        client.responses.create(model="m", previous_response_id=final.id, input="again", user=f"fixture:{TEXT}")
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(final.id)


def test_store_false_is_not_retrievable(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="hi", store=False, user=f"fixture:{TEXT}")
    assert response.store is False and response.status == "completed"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)


def test_a_conversation_grows_with_each_response_and_can_be_deleted(client: openai.OpenAI,
                                                                    upstream: LoopbackServer) -> None:
    conversation = client.conversations.create(metadata={"topic": "demo"},
                                               items=[{"type": "message", "role": "user", "content": "I am Ada."}])
    assert client.conversations.retrieve(conversation.id).metadata == {"topic": "demo"}
    response = client.responses.create(model="m", conversation=conversation.id, input="Who am I?",
                                       user=f"fixture:{TEXT}")
    assert response.conversation is not None and response.conversation.id == conversation.id
    assert [m["role"] for m in upstream_messages(upstream)] == ["user", "user"]
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [(i.type, i.role) for i in items.data] == [("message", "user"), ("message", "user"),
                                                      ("message", "assistant")]
    client.responses.create(model="m", conversation=conversation.id, input="Again?", user=f"fixture:{TEXT}")
    assert [m["role"] for m in upstream_messages(upstream)] == ["user", "user", "assistant", "user"]
    added = client.conversations.items.create(conversation.id, items=[
        {"type": "message", "role": "user", "content": "Remember: blue."}])
    item_id = added.data[0].id
    assert client.conversations.items.retrieve(item_id, conversation_id=conversation.id).id == item_id
    client.conversations.items.delete(item_id, conversation_id=conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(item_id, conversation_id=conversation.id)
    deleted = client.conversations.delete(conversation.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="m", conversation=conversation.id, input="hi", user=f"fixture:{TEXT}")


def test_every_item_of_a_conversation_and_of_a_response_has_its_own_id(client: openai.OpenAI) -> None:
    """Item ids are unique (an item is fetched and deleted by its id): a turn's input items and its output
    items are not numbered from the same base (they were: input 0 and output 0 were both msg_<response>_0)."""
    conversation = client.conversations.create(items=[{"type": "message", "role": "user", "content": "I am Ada."}])
    response = client.responses.create(model="m", conversation=conversation.id, input="Who am I?",
                                       user=f"fixture:{TEXT}")
    items = client.conversations.items.list(conversation.id, order="asc").data
    ids = [i.id for i in items]
    assert [(i.type, i.role) for i in items] == [("message", "user"), ("message", "user"), ("message", "assistant")]
    assert len(set(ids)) == 3 and ids[2] == response.output[0].id
    question = client.conversations.items.retrieve(ids[1], conversation_id=conversation.id)
    assert question.role == "user"
    listed = client.responses.input_items.list(response.id).data
    assert response.output[0].id not in {i.id for i in listed}


def wait_for(client: openai.OpenAI, response_id: str, statuses: set[str], seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    seen = []
    while time.monotonic() < deadline:
        response = client.responses.retrieve(response_id)
        seen.append(response.status)
        if response.status in statuses:
            return response, seen
        time.sleep(0.05)
    raise AssertionError(f"{response_id} never reached {statuses}: {seen[-5:]}")


def test_a_background_response_is_queued_then_completes_by_polling(client: openai.OpenAI) -> None:
    response = client.responses.create(model="m", input="hi", background=True, user=f"fixture:{TEXT}")
    assert response.status == "queued" and response.background is True
    final, seen = wait_for(client, response.id, {"completed"})
    assert final.output_text.strip()
    assert set(seen) <= {"queued", "in_progress", "completed"}


def test_a_background_stream_resumed_with_starting_after_continues_with_no_gap_or_repeat(
        client: openai.OpenAI) -> None:
    stream = client.responses.create(model="m", input="hi", background=True, stream=True, user=f"fixture:{TEXT}")
    head = []
    for event in stream:
        head.append(event)
        if len(head) == 5:
            break
    stream.close()  # the client went away; the background response goes on
    response_id = head[0].response.id
    tail = list(client.responses.retrieve(response_id, stream=True, starting_after=head[-1].sequence_number))
    numbers = [e.sequence_number for e in head + tail]
    assert numbers == list(range(len(numbers)))
    assert [e.type for e in head[:3]] == ["response.created", "response.queued", "response.in_progress"]
    assert tail[-1].type == "response.completed"
    whole = [e.model_dump(exclude_none=True) for e in head + tail]
    assert [v for v in validate_stream(parse(whole), "openai") if v.severity == "error"] == [], [(e["sequence_number"], e["type"]) for e in whole]


@pytest.mark.fault_injection  # the loopback upstream sleeps between chunks on request (metadata.fault slow:S)
def test_cancel_stops_a_running_background_response_and_only_those(client: openai.OpenAI) -> None:
    slow = client.responses.create(model="m", input="hi", background=True, user=f"fixture:{TEXT}",
                                   metadata={"fault": "slow:0.2"})
    cancelled = client.responses.cancel(slow.id)
    assert cancelled.status == "cancelled"
    time.sleep(0.5)
    assert client.responses.retrieve(slow.id).status == "cancelled"  # it stays cancelled; nothing finishes it
    foreground = client.responses.create(model="m", input="hi", user=f"fixture:{TEXT}")
    with pytest.raises(openai.BadRequestError, match="background"):
        client.responses.cancel(foreground.id)
    done = client.responses.create(model="m", input="hi", background=True, user=f"fixture:{TEXT}")
    wait_for(client, done.id, {"completed"})
    with pytest.raises(openai.BadRequestError, match="Cannot cancel a completed response"):
        client.responses.cancel(done.id)


def test_the_state_lives_in_the_bridges_folder(served: BridgeServer, client: openai.OpenAI) -> None:
    client.responses.create(model="m", input="hi", user="fixture:" + TEXT)
    folder = Path(served.stores_dir) if getattr(served, "stores_dir", None) else None
    assert folder is not None and (folder / "responses.sqlite3").is_file()


# -- the cross-request rules (kit.events.across) on the served bridge's real answers, and on mutations of them ----


def test_the_stored_response_rule_passes_the_bridge_and_catches_a_changed_copy(client: openai.OpenAI) -> None:
    events = list(client.responses.create(model="m", input="hi", stream=True, tools=[WEATHER],
                                          user=f"fixture:{TOOL_CALL}"))
    streamed = events[-1].response.model_dump(exclude_none=True)
    stored = client.responses.retrieve(streamed["id"]).model_dump(exclude_none=True)
    assert compare_stored(streamed, stored) == []
    changed = json.loads(json.dumps(stored))
    changed["output"][0]["call_id"] = "call_other"  # vLLM PR #38227: ids differing from the completed event
    assert [(v.rule, v.output_index) for v in compare_stored(streamed, changed)] == [
        ("state.stored-equals-stream", 0)]
    emptied = {**stored, "output": []}  # vLLM PR #30223: empty output on completed
    assert {v.rule for v in compare_stored(streamed, emptied)} == {"state.stored-equals-stream"}


def test_the_resume_rule_passes_the_bridge_and_catches_a_repeat_and_a_gap(client: openai.OpenAI) -> None:
    stream = client.responses.create(model="m", input="hi", background=True, stream=True, user=f"fixture:{TEXT}")
    first = next(iter(stream))
    stream.close()
    resumed = [e.model_dump(exclude_none=True) for e in
               client.responses.retrieve(first.response.id, stream=True, starting_after=2)]
    assert len(resumed) > 3 and check_resumed(2, resumed) == []
    repeated = [resumed[0], *resumed]
    assert [v.rule for v in check_resumed(2, repeated)] == ["state.resume-continues"]
    skipped = resumed[1:]
    assert [v.rule for v in check_resumed(2, skipped)] == ["state.resume-continues"]


def test_the_input_items_rule_passes_the_bridge_and_catches_a_lost_tool_output(client: openai.OpenAI) -> None:
    first = client.responses.create(model="m", input="weather in Tokyo?", tools=[WEATHER], user=f"fixture:{TOOL_CALL}")
    call = next(i for i in first.output if i.type == "function_call")
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}
    second = client.responses.create(model="m", previous_response_id=first.id, input=[output], tools=[WEATHER],
                                     user=f"fixture:{TEXT}")
    listed = [i.model_dump(exclude_none=True) for i in client.responses.input_items.list(second.id, order="asc").data]
    sent = [{"type": "message", "role": "user", "content": "weather in Tokyo?"}, output]
    assert check_input_items(sent, listed) == []
    lost = [i for i in listed if i["type"] != "function_call_output"]
    assert [v.rule for v in check_input_items(sent, lost)] == ["state.input-items-complete"]


def test_an_uploaded_pdf_is_read_by_its_file_id(client: openai.OpenAI, upstream: LoopbackServer) -> None:
    """The Open Responses compliance suite's PDF, uploaded through the SDK (no media type: the bytes say PDF)
    and given by file_id: the model is sent the PDF's text in place of the file."""
    import base64

    from tests.bridge.test_file_input import COMPLIANCE_PDF, COMPLIANCE_TITLE

    made = client.files.create(file=("openresponses-fixture.pdf", base64.b64decode(COMPLIANCE_PDF)),
                               purpose="user_data")
    answer = client.responses.create(model="m", user=f"fixture:{TEXT}", input=[{"role": "user", "content": [
        {"type": "input_text", "text": "Answer with the file's title only."},
        {"type": "input_file", "file_id": made.id}]}])
    assert answer.status == "completed"
    assert upstream_messages(upstream)[-1] == {"role": "user", "content": (
        "Answer with the file's title only.\n\n[file openresponses-fixture.pdf]\n" + COMPLIANCE_TITLE
        + "\n[end of file openresponses-fixture.pdf]")}
