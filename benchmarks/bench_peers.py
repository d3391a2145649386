"""What each Responses bridge adds over llama.cpp: time to the first text event, and cost per text event.

One run, one llama.cpp server (SmolLM2-135M-Instruct, the chat server the
`ogx` setup starts), one request at temperature 0, rounds interleaved so
that the machine's load falls on every route alike:
- llama.cpp: its own Chat Completions stream, the baseline;
- kit bridge: the kit's translation of that stream into Responses events
  (in this process, through the openai SDK, as `kit` runs it);
- ogx: ogx 1.5.0's own /v1/responses over the same server (via the kit's
  request normaliser, as the `ogx` setup runs it);
- litellm: LiteLLM's proxy /v1/responses in front of the same server, when
  this kit has the managed `litellm` setup (kit.servers.litellm).

Per route, the median over rounds of: first text (request sent -> first
text delta arrived) and what it adds to the baseline's; per event (time
between the first and the last text delta / their number - 1), which the
model's generation rate dominates; and CPU per event: the CPU time the
bridge itself spent on the request (ogx's and LiteLLM's process groups, read
from /proc; for the kit's in-process bridge, this process's CPU beyond the
baseline's), divided by the Responses events it streamed. The text must be
the same on every route (same model, prompt and budget); a route whose text
differs is flagged.

Run: python benchmarks/bench_peers.py [--rounds 5]  (starts ogx: about 30 s; needs Python 3.12, see README)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPT = "Write two short sentences about the sea."
BUDGET = 48


@dataclass
class Timing:
    first_text: float
    per_event: float
    deltas: int
    text: str
    events: int = 0
    cpu: float = 0.0  # seconds of the bridge's CPU for this request


@dataclass
class Route:
    name: str
    run: Callable[[], Timing]
    cpu: Callable[[], float] | None = None  # the bridge's CPU seconds so far (a process group's), if out of process
    timings: list[Timing] = field(default_factory=list)

    def measure(self) -> Timing:
        before_self, before = time.process_time(), self.cpu() if self.cpu else 0.0
        timing = self.run()
        timing.cpu = (self.cpu() - before) if self.cpu else (time.process_time() - before_self)
        self.timings.append(timing)
        return timing


def group_cpu(pgid: int) -> Callable[[], float]:
    """CPU seconds (user + system) of every live process in a process group (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        total = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid:  # fields after the name: state ppid pgrp ... utime(11) stime(12)
                total += int(fields[11]) + int(fields[12])
        return total / tick
    return read


def sse_payloads(response: httpx.Response) -> Iterator[dict]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                yield json.loads(data)


def timed(texts: Iterator[str], started: float) -> Timing:
    """Arrival times of the non-empty text pieces of a stream, measured as they come ("" = an event without text)."""
    arrivals: list[float] = []
    pieces: list[str] = []
    events = 0
    for piece in texts:
        events += 1
        if piece:
            arrivals.append(time.perf_counter())
            pieces.append(piece)
    if not arrivals:
        raise RuntimeError("the stream carried no text")
    spread = (arrivals[-1] - arrivals[0]) / (len(arrivals) - 1) if len(arrivals) > 1 else 0.0
    return Timing(arrivals[0] - started, spread, len(arrivals), "".join(pieces), events)


def chat_route(http: httpx.Client, base_url: str, model: str) -> Callable[[], Timing]:
    def run() -> Timing:
        body = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": BUDGET,
                "temperature": 0, "stream": True}
        started = time.perf_counter()
        with http.stream("POST", base_url + "/chat/completions", json=body) as answer:
            answer.raise_for_status()
            return timed(((c.get("choices") or [{}])[0].get("delta", {}).get("content") or ""
                          for c in sse_payloads(answer)), started)
    return run


def responses_route(http: httpx.Client, base_url: str, model: str, key: str = "none") -> Callable[[], Timing]:
    def run() -> Timing:
        body = {"model": model, "input": PROMPT, "max_output_tokens": BUDGET, "temperature": 0, "stream": True}
        started = time.perf_counter()
        with http.stream("POST", base_url + "/responses", json=body,
                         headers={"Authorization": f"Bearer {key}"}) as answer:
            answer.raise_for_status()
            return timed(((e.get("delta") or "") if e.get("type") == "response.output_text.delta" else ""
                          for e in sse_payloads(answer)), started)
    return run


def bridge_route(base_url: str, model: str) -> Callable[[], Timing]:
    import openai

    from kit.bridge import stream_response

    client = openai.OpenAI(base_url=base_url, api_key="none", max_retries=0,
                           http_client=httpx.Client(trust_env=False, timeout=300))

    def run() -> Timing:
        request = {"model": model, "input": PROMPT, "max_output_tokens": BUDGET, "temperature": 0}
        started = time.perf_counter()
        return timed(((e.get("delta") or "") if e.get("type") == "response.output_text.delta" else ""
                      for e in stream_response(client, request)), started)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from kit.servers import server_for_setup
    from kit.setups import get_setup

    ogx = server_for_setup("ogx")
    litellm = None
    with ogx, httpx.Client(trust_env=False, timeout=300) as http:
        assert ogx.chat is not None
        print(f"ogx {ogx.base_url} (started in {ogx.start_seconds:.1f} s) over llama.cpp {ogx.chat.base_url}")
        routes = [
            Route("llama.cpp chat (baseline)", chat_route(http, ogx.chat.base_url, ogx.llama_alias)),
            Route("kit bridge", bridge_route(ogx.chat.base_url, ogx.llama_alias)),
            Route("ogx 1.5.0", responses_route(http, ogx.base_url, ogx.text_model), group_cpu(os.getpgid(ogx.pid))),
        ]
        try:
            setup = get_setup("litellm")
            litellm = server_for_setup("litellm", upstream=ogx.chat.base_url)
            litellm.start()
            key = litellm.client_environment()[setup.key_env] if setup.key_env else "none"
            routes.append(Route(f"LiteLLM {getattr(litellm, 'version', '')}".strip(),
                                responses_route(http, litellm.base_url, setup.text_model, key),
                                group_cpu(os.getpgid(litellm._process.pid))))
        except Exception as exc:  # noqa: BLE001 - the benchmark says which route it could not run, and goes on
            print(f"LiteLLM not measured: {type(exc).__name__}: {exc}".splitlines()[0])
            litellm = None
        try:
            for route in routes:  # warm-up: the first request of each route loads caches
                route.run()
            for _ in range(args.rounds):
                for route in routes:
                    route.measure()
        finally:
            if litellm is not None:
                litellm.stop()

    base = routes[0]
    base_first = statistics.median(t.first_text for t in base.timings)
    base_event = statistics.median(t.per_event for t in base.timings)
    print(f"\n{args.rounds} interleaved rounds, '{PROMPT}', {BUDGET} tokens, temperature 0, medians:")
    base_cpu = statistics.median(t.cpu for t in base.timings)
    print(f"{'route':26} {'first text':>10} {'adds':>9} {'per text':>9} {'adds':>8} {'events':>6} "
          f"{'CPU/event':>9}  text")
    for route in routes:
        first = statistics.median(t.first_text for t in route.timings)
        event = statistics.median(t.per_event for t in route.timings)
        events = statistics.median(t.events for t in route.timings)
        cpu = statistics.median(t.cpu for t in route.timings)
        own = cpu - base_cpu if route.cpu is None else cpu  # in process: beyond consuming the chat stream
        per_event = "-" if route is base else f"{own / events * 1000:7.2f}ms"
        same = "same" if all(t.text.strip() == base.timings[0].text.strip() for t in route.timings) else "DIFFERS"
        print(f"{route.name:26} {first * 1000:8.1f}ms {(first - base_first) * 1000:+7.1f}ms "
              f"{event * 1000:7.2f}ms {(event - base_event) * 1000:+6.2f}ms {events:6.0f} {per_event:>9}  {same}")


if __name__ == "__main__":
    main()
