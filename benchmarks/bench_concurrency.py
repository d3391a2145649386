"""`bench_bridges.py --concurrency N`: the served bridge beside LiteLLM's proxy under N concurrent streams.

Both serve `/v1/responses` over the same upstream: a loopback Chat
Completions server that answers every request at once with one real
captured chat stream (tests/captures/chat/..., the bytes a real server
sent), so what is measured is what each bridge adds, not a model's queue
(the kit's llama.cpp server runs one request at a time; 50 in a row would
measure only its queue). Each path gets the same requests, N at a time, in
waves whose order alternates; the figures are the time to the first event
(p50, p99) and the completed streams per second over the whole run, with
the direct upstream as baseline, measured in the same run.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

CAPTURE = Path(__file__).resolve().parents[1] / "tests" / "captures" / "chat" / \
    "llama-stack__ollama-llama3-2-3b-instruct-fp16-text-ae230a60.jsonl"


class CaptureUpstream:
    """A loopback Chat Completions server replaying one real captured stream for every request."""

    def __init__(self, models: tuple[str, ...] = ("m",), capture: Path = CAPTURE) -> None:
        lines = [line for line in capture.read_text(encoding="utf-8").splitlines() if line.strip()]
        body = b"".join(f"data: {line}\n\n".encode() for line in lines) + b"data: [DONE]\n\n"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                payload = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in models]}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> CaptureUpstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def one_stream(http: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[float, int]:
    """(seconds to the first SSE data line, data lines) of one streamed request."""
    began = time.perf_counter()
    first, events = None, 0
    with http.stream("POST", url, json=body, headers=headers) as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {answer.status_code}: {answer.read()[:300]!r}")
        for line in answer.iter_lines():
            if line.startswith("data:"):
                events += 1
                if first is None:
                    first = time.perf_counter() - began
    if first is None:
        raise RuntimeError(f"{url}: no event")
    return first, events


class Target:
    def __init__(self, name: str, url: str, body: dict[str, Any], key: str | None) -> None:
        self.name, self.url, self.body = name, url, body
        self.headers = {"authorization": f"Bearer {key}"} if key else {}
        self.first: list[float] = []
        self.events: list[int] = []
        self.busy = 0.0  # seconds of wall time spent in its waves
        self.done = 0
        self.errors: list[str] = []

    def wave(self, pool: ThreadPoolExecutor, http: httpx.Client, n: int) -> None:
        began = time.perf_counter()
        futures = [pool.submit(one_stream, http, self.url, self.body, self.headers) for _ in range(n)]
        for future in futures:
            try:
                first, events = future.result()
                self.first.append(first)
                self.events.append(events)
                self.done += 1
            except Exception as exc:  # noqa: BLE001 - counted and shown
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        self.busy += time.perf_counter() - began


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def run(concurrency: int, waves: int, start_peer: Callable[..., Any]) -> int:
    from kit.servers.bridge import BridgeServer
    from kit.setups import get_setup

    chat = {"model": "m", "messages": [{"role": "user", "content": "Say hi."}], "stream": True}
    with ExitStack() as stack:
        upstream = stack.enter_context(CaptureUpstream(("m", get_setup("litellm").text_model)))
        served = stack.enter_context(BridgeServer(upstream=upstream.base_url))
        targets = [Target("direct", upstream.base_url + "/chat/completions", chat, None),
                   Target("served", served.base_url + "/responses",
                          {"model": "m", "input": "Say hi.", "stream": True}, None)]
        notes: dict[str, str] = {}
        started = start_peer("litellm", upstream.base_url, stack, notes)
        if isinstance(started, str):
            print(f"litellm: not available: {started}")
        else:
            client, model = started
            targets.append(Target("litellm", str(client.base_url).rstrip("/") + "/responses",
                                  {"model": model, "input": "Say hi.", "stream": True}, client.api_key))
        print(f"upstream {upstream.base_url} (one real captured chat stream); {concurrency} concurrent streams, "
              f"{waves} waves per path; paths: {', '.join(t.name for t in targets)}", flush=True)
        limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency * 2)
        with httpx.Client(timeout=120, limits=limits, trust_env=False) as http, \
                ThreadPoolExecutor(max_workers=concurrency) as pool:
            for target in targets:  # warm-up: connections, imports, caches; not counted
                target.wave(pool, http, concurrency)
                target.first.clear(), target.events.clear()
                target.busy, target.done = 0.0, 0
                if target.errors:
                    print(f"{target.name}: warm-up failed: {target.errors[0]}")
            for wave in range(waves):
                order = targets if wave % 2 == 0 else targets[::-1]
                for target in order:
                    target.wave(pool, http, concurrency)
                print(f"  wave {wave + 1}/{waves} done", flush=True)
        print(f"\n{'path':10}{'TTFE p50 ms':>14}{'TTFE p99 ms':>14}{'streams/s':>12}{'events':>8}{'errors':>8}")
        for t in targets:
            if not t.first:
                print(f"{t.name:10}{'-':>14}{'-':>14}{'-':>12}{'-':>8}{len(t.errors):>8}")
                continue
            print(f"{t.name:10}{percentile(t.first, 50) * 1e3:14.1f}{percentile(t.first, 99) * 1e3:14.1f}"
                  f"{t.done / t.busy:12.1f}{statistics.median(t.events):8.0f}{len(t.errors):>8}")
        for t in targets:
            for error in t.errors[:3]:
                print(f"  {t.name} error: {error}")
        by_name = {t.name: t for t in targets if t.first}
        if "served" in by_name and "litellm" in by_name:
            s, l = by_name["served"], by_name["litellm"]
            ahead = (percentile(s.first, 50) < percentile(l.first, 50), percentile(s.first, 99) < percentile(l.first, 99),
                     s.done / s.busy > l.done / l.busy)
            print(f"goal: the served bridge ahead of LiteLLM on TTFE p50 / p99 / throughput: "
                  f"{' / '.join('yes' if a else 'NO' for a in ahead)}")
    return 0
