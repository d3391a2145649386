"""The same five-turn tool loop over Responses WebSocket mode and over SSE, through the served bridge.

One run, one served bridge (`kit.servers.bridge.BridgeServer`, a uvicorn subprocess) over the kit's own
llama.cpp server (SmolLM2-135M-Instruct, temperature 0). Each loop: turn 1 asks for the weather with the
tool forced; every next turn sends only the previous call's `function_call_output` and `previous_response_id`
(the tool still forced, so every turn is a call), `store: true` on both paths so that both bodies are the
same. Over WebSocket the five turns share one socket (`client.responses.connect()`); over SSE each turn is
its own `POST /v1/responses` with `stream: true` (the openai SDK's pooled HTTP connection). Both are read by
the same openai SDK client, which parses every event on both paths.

Rounds alternate the order (WS first, then SSE first, ...); per turn, the median over the rounds of:
- first event: from sending the turn to its first event;
- total: to its terminal event.
WS / SSE is the ratio of the two medians, measured in the same run. Before the rounds, one loop on each path
warms llama.cpp's prompt cache (not counted).

`--upstream capture` puts a loopback Chat Completions server in llama.cpp's place that answers every turn at
once with one real captured tool-call stream (tests/captures/chat/..., `bench_concurrency.CaptureUpstream`):
no model time, so the figures are what each transport and the bridge add per turn.

Run: python benchmarks/bench_websocket.py [--rounds 5] [--max-tokens 24] [--upstream llama|capture]   (loopback only)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import openai  # noqa: E402

from kit.servers import LocalServer  # noqa: E402
from kit.servers.bridge import BridgeServer  # noqa: E402

MODEL = "smollm2-135m-instruct"
TURNS = 5
CITIES = ["Paris", "Rome", "Oslo", "Lima", "Kyiv"]
TOOL = {"type": "function", "name": "get_weather", "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
TOOL_CAPTURE = ROOT / "tests" / "captures" / "chat" / "llama-stack__ollama-llama3-2-3b-instruct-fp16-tool-call-dc34532b.jsonl"
ENDS = ("response.completed", "response.incomplete", "response.failed", "error")


def turn_request(previous: Any, max_tokens: int) -> dict[str, Any]:
    """Turn 1's question, or the previous call's output continuing its response."""
    base = {"model": MODEL, "tools": [TOOL], "tool_choice": {"type": "function", "name": "get_weather"},
            "temperature": 0, "max_output_tokens": max_tokens, "store": True}
    if previous is None:
        return {**base, "input": "What is the weather in Paris?"}
    response_id, call_id, n = previous
    return {**base, "previous_response_id": response_id,
            "input": [{"type": "function_call_output", "call_id": call_id,
                       "output": f"sunny, 21 C. Now ask for {CITIES[n % len(CITIES)]}."}]}


def _next_turn(final: Any, n: int) -> tuple[str, str, int]:
    call = next(i for i in final.output if i.type == "function_call")
    return final.id, call.call_id, n


def _timed(events: Any, began: float) -> tuple[tuple[float, float], Any]:
    """(first event, total) of one turn's events, read to its end, and its last event."""
    first = None
    for event in events:
        first = first or time.perf_counter()
        if event.type in ENDS:
            break
    return (first - began, time.perf_counter() - began), event


def _loop(send: Any, path: str, max_tokens: int) -> list[tuple[float, float]]:
    """Five turns, each continuing the previous call; `send(request)` returns the turn's events."""
    timings, previous = [], None
    for n in range(TURNS):
        began = time.perf_counter()
        timing, last = _timed(send(turn_request(previous, max_tokens)), began)
        timings.append(timing)
        if last.type != "response.completed":
            raise RuntimeError(f"{path} turn {n + 1} ended {last.type}: {last}")
        previous = _next_turn(last.response, n + 1)
    return timings


def loop_ws(client: openai.OpenAI, max_tokens: int) -> list[tuple[float, float]]:
    """Five turns on one socket."""
    with client.responses.connect() as connection:
        def send(request: dict[str, Any]) -> Any:
            connection.response.create(**request)
            return connection
        return _loop(send, "WebSocket", max_tokens)


def loop_sse(client: openai.OpenAI, max_tokens: int) -> list[tuple[float, float]]:
    """Five POSTs, each streamed as SSE."""
    return _loop(lambda request: client.responses.create(stream=True, **request), "SSE", max_tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=24)
    parser.add_argument("--upstream", choices=("llama", "capture"), default="llama")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kit-bench-ws-"))
    if args.upstream == "capture":
        from bench_concurrency import CaptureUpstream

        upstream_server: Any = CaptureUpstream(models=(MODEL,), capture=TOOL_CAPTURE)
    else:
        upstream_server = LocalServer(log_path=folder / "llama.log")
    with upstream_server as upstream, \
            BridgeServer(upstream=upstream.base_url, log_path=folder / "bridge.log") as served:
        client = openai.OpenAI(base_url=served.base_url, api_key="no-key", max_retries=0, timeout=300)
        paths = {"WebSocket": loop_ws, "SSE": loop_sse}
        for loop in paths.values():  # warm-up: llama.cpp's prompt cache, the bridge's first connection
            loop(client, args.max_tokens)
        runs: dict[str, list[list[tuple[float, float]]]] = {name: [] for name in paths}
        for round_ in range(args.rounds):
            order = list(paths) if round_ % 2 == 0 else list(reversed(paths))
            for name in order:
                runs[name].append(paths[name](client, args.max_tokens))
    over = f"llama.cpp ({MODEL})" if args.upstream == "llama" else "a loopback upstream replaying a captured tool call"
    print(f"five-turn tool loop through the served bridge over {over}, {args.rounds} rounds, "
          f"medians in ms; WS/SSE = ratio of the medians")
    print(f"{'turn':>4} | {'WS first':>9} {'SSE first':>9} {'ratio':>6} | {'WS total':>9} {'SSE total':>9} {'ratio':>6}")
    sums = {name: [0.0, 0.0] for name in paths}
    for turn in range(TURNS):
        row = []
        for column in (0, 1):
            ws = statistics.median(r[turn][column] for r in runs["WebSocket"]) * 1000
            sse = statistics.median(r[turn][column] for r in runs["SSE"]) * 1000
            sums["WebSocket"][column] += ws
            sums["SSE"][column] += sse
            row.append(f"{ws:9.1f} {sse:9.1f} {ws / sse:5.2f}x")
        print(f"{turn + 1:>4} | {row[0]} | {row[1]}")
    ws_first, ws_total = sums["WebSocket"]
    sse_first, sse_total = sums["SSE"]
    print(f" all | {ws_first:9.1f} {sse_first:9.1f} {ws_first / sse_first:5.2f}x | "
          f"{ws_total:9.1f} {sse_total:9.1f} {ws_total / sse_total:5.2f}x")


if __name__ == "__main__":
    main()
