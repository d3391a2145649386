"""The managed server, for real: streams, forced function calls, queued requests, `kit serve`.

Temperature 0 and a fixed seed make SmolLM2-135M's answers repeatable; the
assertions are about shape (non-empty text, a finish reason, JSON arguments
naming the city asked for), never about the model's exact words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import httpx
import openai
import pytest

from kit.servers import LocalServer, PortBusy, free_port, port_is_free

from .conftest import SEED

pytestmark = pytest.mark.live

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}
PARIS = [{"role": "user", "content": "What is the weather in Paris?"}]


def streamed(sdk: openai.OpenAI, **request: Any) -> tuple[str, list[Any], list[Any]]:
    """Text, finish reasons and all chunks of one streamed chat completion."""
    chunks = list(sdk.chat.completions.create(stream=True, temperature=0, seed=SEED, **request))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    return text, finishes, chunks


def test_streamed_chat_completion_has_text_a_finish_reason_and_the_model_id(sdk, local_server) -> None:
    text, finishes, chunks = streamed(sdk, model=local_server.model_alias, max_tokens=40,
                                      messages=[{"role": "user", "content": "Name three colors."}])
    assert text.strip()
    assert finishes == [finishes[-1]] and finishes[-1] in ("stop", "length")
    assert {c.model for c in chunks} == {"smollm2-135m-instruct"}
    assert [m.id for m in sdk.models.list()] == ["smollm2-135m-instruct"]


def test_max_tokens_cuts_the_answer_with_finish_reason_length(sdk, local_server) -> None:
    text, finishes, chunks = streamed(sdk, model=local_server.model_alias, max_tokens=3,
                                      messages=[{"role": "user", "content": "Tell me a long story about a cat."}])
    assert finishes == ["length"]
    assert 1 <= sum(1 for c in chunks if c.choices and c.choices[0].delta.content) <= 3


def test_forced_named_function_call_has_json_arguments_for_the_city_asked(sdk, local_server) -> None:
    answer = sdk.chat.completions.create(model=local_server.model_alias, messages=PARIS, tools=[WEATHER_TOOL],
                                         tool_choice=FORCE_WEATHER, temperature=0, seed=SEED)
    [call] = answer.choices[0].message.tool_calls or []
    assert answer.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    assert isinstance(arguments, dict) and "paris" in str(arguments.get("city", "")).lower()


def test_streamed_forced_function_call_arguments_concatenate_to_json(sdk, local_server) -> None:
    _, finishes, chunks = streamed(sdk, model=local_server.model_alias, messages=PARIS, tools=[WEATHER_TOOL],
                                   tool_choice=FORCE_WEATHER)
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or ()]
    assert deltas and {d.index for d in deltas} == {0}
    assert deltas[0].function.name == "get_weather" and deltas[0].id
    arguments = json.loads("".join(d.function.arguments or "" for d in deltas))
    assert "paris" in str(arguments.get("city", "")).lower()
    assert finishes == ["tool_calls"]


def test_same_request_gives_the_same_text_whatever_came_before(sdk, local_server) -> None:
    # at temperature 0 llama.cpp's prompt-prefix cache alone changed answers (after another
    # prompt vs after itself); the managed server evaluates prompts token by token so it does not
    def ask(content: str) -> str:
        return streamed(sdk, model=local_server.model_alias, max_tokens=30,
                        messages=[{"role": "user", "content": content}])[0]

    story = "Tell me a long story about a cat."
    after_other = [ask("Write one sentence about rivers."), ask(story)][1]
    after_itself = ask(story)
    assert after_other and after_other == after_itself


def test_two_streams_at_once_both_run_to_their_end(sdk, local_server) -> None:
    # llama-cpp-python's default cuts the first stream short when a second request comes in;
    # the managed server queues them instead
    results: dict[int, tuple[str, list[Any]]] = {}

    def run(slot: int) -> None:
        text, finishes, _ = streamed(sdk, model=local_server.model_alias, max_tokens=25,
                                     messages=[{"role": "user", "content": "Tell me a long story about a cat."}])
        results[slot] = (text, finishes)

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert sorted(results) == [0, 1]
    assert all(text and finishes == ["length"] for text, finishes in results.values())
    assert results[0][0] == results[1][0]  # same request, same seed: neither was cut


class TestServerFacts:
    """What this server does differently from OpenAI, as the README and the bridge assume it.

    When one of these fails, llama-cpp-python changed: update the README's
    list and whatever in the kit works around the fact.
    """

    def test_no_usage_while_streaming_even_when_asked(self, sdk, local_server) -> None:
        _, _, chunks = streamed(sdk, model=local_server.model_alias, max_tokens=5,
                                messages=[{"role": "user", "content": "Hi"}], stream_options={"include_usage": True})
        assert all(c.usage is None for c in chunks)

    def test_max_completion_tokens_is_ignored(self, sdk, local_server) -> None:
        # a prompt whose answer ends by itself after about a dozen tokens (no max_tokens: it would run to n_ctx)
        _, finishes, chunks = streamed(sdk, model=local_server.model_alias, max_completion_tokens=3,
                                       messages=[{"role": "user", "content": "Name three colors."}])
        assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 3
        assert finishes == ["stop"]

    def test_tool_choice_required_is_ignored(self, sdk, local_server) -> None:
        _, finishes, chunks = streamed(sdk, model=local_server.model_alias, messages=PARIS, tools=[WEATHER_TOOL],
                                       tool_choice="required", max_tokens=10)
        assert not any(c.choices and c.choices[0].delta.tool_calls for c in chunks)

    def test_content_as_a_list_of_parts_is_refused(self, local_server) -> None:
        body = {"model": local_server.model_alias, "max_tokens": 3,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]}
        answer = httpx.post(local_server.base_url + "/chat/completions", json=body, timeout=60, trust_env=False)
        assert answer.status_code == 500 and "concatenate str" in answer.text

    def test_assistant_tool_call_turn_needs_string_content(self, local_server) -> None:
        call = {"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}

        def status(content: Any) -> int:
            assistant = {"role": "assistant", "tool_calls": [call], **({} if content is ... else {"content": content})}
            body = {"model": local_server.model_alias, "max_tokens": 3, "temperature": 0, "seed": SEED,
                    "messages": [*PARIS, assistant, {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"}]}
            return httpx.post(local_server.base_url + "/chat/completions", json=body, timeout=60,
                              trust_env=False).status_code

        assert (status(None), status(...), status("")) == (500, 500, 200)


def test_kit_serve_local_prints_the_url_serves_it_and_stops_on_sigterm(tmp_path) -> None:
    log = tmp_path / "serve.log"
    port = free_port()  # not the setup's own 8080: then the command prints the variable to export
    proc = subprocess.Popen([sys.executable, "-c", "from kit.cli import main; main()", "serve", "local",
                             "--port", str(port), "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("serving smollm2-135m-instruct at http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split(" at ")[1].split()[0]
        lines = [proc.stdout.readline() for _ in range(4)]
        assert f"  export KIT_LOCAL_URL={url}\n" in lines
        models = httpx.get(url + "/models", timeout=30, trust_env=False).json()
        assert [m["id"] for m in models["data"]] == ["smollm2-135m-instruct"]
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "stopped." in err
    assert url == f"http://127.0.0.1:{port}/v1"
    assert port_is_free("127.0.0.1", port)


def test_busy_port_on_a_second_server_is_refused_while_the_first_serves(local_server) -> None:
    with pytest.raises(PortBusy) as info:
        LocalServer(port=local_server.port).start()
    assert f"port {local_server.port}" in str(info.value)
