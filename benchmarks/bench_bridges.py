"""What each Responses bridge adds over calling llama.cpp's /v1/chat/completions directly.

One run, one llama.cpp server (the kit's own, SmolLM2-135M-Instruct), the
same prompts at temperature 0, and these paths to the same answers:

- direct: llama.cpp's `/v1/chat/completions`, streamed (the baseline);
- in-process: the kit's bridge in this process (`kit.bridge.stream_response`);
- served: the kit's bridge served over HTTP (`kit.servers.bridge`, a uvicorn subprocess);
- litellm: LiteLLM's proxy `/v1/responses` (setup `litellm`), when the kit can start it;
- ogx: ogx's `/v1/responses` (setup `ogx`), when the kit can start it.

Peers are started through `kit.servers.server_for_setup(name, upstream=...)`
over the same llama.cpp server (one whose factory takes no `upstream=` runs
over its own, same model and settings, and the report says so); a path that cannot start prints
"not available: <reason>" and the others still run. Every HTTP path is read
by the same openai client as raw SSE lines, so no path pays for SDK parsing
the others skip. Rounds are interleaved (the order rotates each round) and
medians are reported, with each path's ratio against direct measured in the
same run. Each measured request follows the same request with a 16-token
budget on the same path (not counted), so every measured request finds its
prompt in llama.cpp's cache: prompt evaluation (token by token on the kit's
deterministic server, most of a second) would otherwise bury what the paths
add under its noise. The figures:

- first event: from sending the request to the first streamed event;
- first text: to the first text delta (a chat `delta.content`, a Responses
  `response.output_text.delta`), which the bridges cannot send before llama.cpp does;
- per delta: the time between text deltas, (last - first) / (deltas - 1): what
  each streamed token costs on that path;
- total: to the end of the stream.

Goal (issue 9): the served kit bridge adds less than LiteLLM's proxy to the first event.

Run: python benchmarks/bench_bridges.py [--rounds 5] [--max-tokens 32]   (loopback only)
     python benchmarks/bench_bridges.py --concurrency 50   (N concurrent streams: benchmarks/bench_concurrency.py)
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai  # noqa: E402

from kit.bridge import stream_response  # noqa: E402
from kit.events.parse import sse_payloads  # noqa: E402

PROMPTS = ("Write one short sentence about the sea.", "Name three colors of the rainbow.")
PEERS = ("litellm", "ogx")
MAX_ROUNDS = 50
PRIME_TOKENS = 16  # the least max_output_tokens OpenAI (and ogx) accept


@dataclass
class Timing:
    first_event: float
    first_text: float | None
    last_text: float | None
    total: float
    events: int
    deltas: int

    @property
    def per_delta(self) -> float | None:
        if self.first_text is None or self.last_text is None or self.deltas < 2:
            return None
        return (self.last_text - self.first_text) / (self.deltas - 1)


@dataclass
class Path_:
    name: str
    run: Callable[[str, int], Timing]
    timings: list[Timing] = field(default_factory=list)


def timed(payloads: Callable[[], Iterator[dict[str, Any]]], is_text: Callable[[dict[str, Any]], bool]) -> Timing:
    """Timing of one stream; `payloads` makes the request lazily, so sending it is inside the clock."""
    start = time.perf_counter()
    first_event = first_text = last_text = None
    events = deltas = 0
    for payload in payloads():
        now = time.perf_counter() - start
        events += 1
        if first_event is None:
            first_event = now
        if is_text(payload):
            deltas += 1
            first_text = now if first_text is None else first_text
            last_text = now
    total = time.perf_counter() - start
    if first_event is None:
        raise RuntimeError("the stream had no events")
    return Timing(first_event, first_text, last_text, total, events, deltas)


def chat_text(payload: dict[str, Any]) -> bool:
    choices = payload.get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def responses_text(payload: dict[str, Any]) -> bool:
    return payload.get("type") == "response.output_text.delta"


def chat_request(model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0,
            "max_tokens": max_tokens}


def responses_request(model: str, prompt: str, max_tokens: int) -> dict[str, Any]:
    return {"model": model, "input": prompt, "temperature": 0, "max_output_tokens": max_tokens}


def sdk(base_url: str, key: str = "none") -> openai.OpenAI:
    host = urlsplit(base_url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"bench_bridges talks to loopback servers only, not {base_url}")
    return openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=300)


def direct_path(client: openai.OpenAI, model: str) -> Callable[[str, int], Timing]:
    def run(prompt: str, max_tokens: int) -> Timing:
        def payloads() -> Iterator[dict[str, Any]]:
            with client.chat.completions.with_streaming_response.create(
                    **chat_request(model, prompt, max_tokens), stream=True) as answer:
                yield from sse_payloads(answer.iter_lines())
        return timed(payloads, chat_text)
    return run


def in_process_path(client: openai.OpenAI, model: str) -> Callable[[str, int], Timing]:
    def run(prompt: str, max_tokens: int) -> Timing:
        return timed(lambda: stream_response(client, responses_request(model, prompt, max_tokens)), responses_text)
    return run


def responses_path(client: openai.OpenAI, model: str) -> Callable[[str, int], Timing]:
    def run(prompt: str, max_tokens: int) -> Timing:
        def payloads() -> Iterator[dict[str, Any]]:
            with client.responses.with_streaming_response.create(
                    **responses_request(model, prompt, max_tokens), stream=True) as answer:
                yield from sse_payloads(answer.iter_lines())
        return timed(payloads, responses_text)
    return run


def start_peer(name: str, upstream: str, stack: ExitStack, notes: dict[str, str]) -> tuple[openai.OpenAI, str] | str:
    """(client, model) of a peer started over `upstream`, or why it is not available.

    A peer whose factory takes no `upstream=` runs over its own llama.cpp
    server (same model, same settings); `notes` says so next to its figures.
    """
    from kit.servers import LocalServerError, server_for_setup
    from kit.setups import UnknownSetup, get_setup

    try:
        setup = get_setup(name)
    except UnknownSetup:
        return f"no setup {name!r} in this kit"
    if not setup.server:
        return f"the kit does not manage setup {name!r}"
    module_name, _, function = setup.server.partition(":")
    try:
        import importlib

        factory = getattr(importlib.import_module(module_name), function)
    except (ImportError, AttributeError) as exc:
        return f"its server {setup.server} cannot be loaded: {exc}"
    over_ours = "upstream" in inspect.signature(factory).parameters
    if not over_ours:
        notes[name] = (f"over its own llama.cpp server (same model and settings): {setup.server} takes no "
                       "upstream=, so it cannot share ours")
    try:
        server = server_for_setup(name, upstream=upstream) if over_ours else server_for_setup(name)
        print(f"starting {name} over {upstream if over_ours else 'its own llama.cpp server'} ...", flush=True)
        stack.enter_context(server)
    except (LocalServerError, ValueError, OSError, TypeError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
    key = next(iter((getattr(server, "client_environment", lambda: {})() or {}).values()), None)
    return sdk(server.base_url, key or setup.api_key() or "none"), setup.text_model


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def report(paths: list[Path_], unavailable: dict[str, str], notes: dict[str, str]) -> None:
    base = paths[0]
    rows = [("first event", lambda t: t.first_event), ("first text", lambda t: t.first_text),
            ("per delta", lambda t: t.per_delta), ("total", lambda t: t.total)]
    baseline = {label: median([get(t) for t in base.timings]) for label, get in rows}
    print(f"\nmedians over {len(base.timings)} requests per path (ms; ratio against direct in this run)")
    header = f"{'path':12}" + "".join(f"{label:>22}" for label, _ in rows) + f"{'events':>8}{'deltas':>8}"
    print(header)
    print("-" * len(header))
    for path in paths:
        cells = []
        for label, get in rows:
            value, ref = median([get(t) for t in path.timings]), baseline[label]
            cells.append(f"{'-':>22}" if value is None else
                         f"{value * 1e3:11.1f} ({value / ref:5.2f}x)  " if ref else f"{value * 1e3:11.1f}          ")
        events = statistics.median(t.events for t in path.timings)
        deltas = statistics.median(t.deltas for t in path.timings)
        print(f"{path.name:12}" + "".join(cells) + f"{events:8.0f}{deltas:8.0f}")
    for name, reason in unavailable.items():
        print(f"{name:12}not available: {reason}")
    for name, note in notes.items():
        print(f"note: {name}: {note}")
    for label, get in rows[:2]:
        print(f"\nadded to the {label} (median - direct's median):")
        for path in paths[1:]:
            value = median([get(t) for t in path.timings])
            print(f"  {path.name:12}" + ("-" if value is None or baseline[label] is None else
                                         f"{(value - baseline[label]) * 1e3:+8.1f} ms"))
    added = {p.name: median([t.first_event for t in p.timings]) - baseline["first event"]  # type: ignore[operator]
             for p in paths[1:]}
    if "served" in added and "litellm" in added:
        met = added["served"] < added["litellm"]
        print(f"goal: the served kit bridge adds less than LiteLLM's proxy to the first event: "
              f"{'met' if met else 'NOT met'} ({added['served'] * 1e3:+.1f} ms vs {added['litellm'] * 1e3:+.1f} ms)")
    else:
        print("goal (served bridge adds less than LiteLLM to the first event): not measured, LiteLLM not available")
    print("(a server that sends response.created before it calls llama.cpp, as ogx does, has an early first event: "
          "its first text says what it adds)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help=f"interleaved rounds (1..{MAX_ROUNDS})")
    parser.add_argument("--max-tokens", type=int, default=32, help="output budget of every request (1..256)")
    parser.add_argument("--skip", action="append", default=[], choices=PEERS, help="leave a peer out")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="instead: N concurrent streams, served bridge vs LiteLLM (benchmarks/bench_concurrency.py)")
    parser.add_argument("--waves", type=int, default=4, help="with --concurrency: waves of N streams per path")
    args = parser.parse_args(argv)
    if args.concurrency is not None:
        if not 1 <= args.concurrency <= 500 or not 1 <= args.waves <= 50:
            parser.error("--concurrency must be 1..500 and --waves 1..50")
        from bench_concurrency import run as run_concurrency  # noqa: PLC0415 - its own mode, its own module

        return run_concurrency(args.concurrency, args.waves, start_peer)
    if not 1 <= args.rounds <= MAX_ROUNDS or not 1 <= args.max_tokens <= 256:
        parser.error(f"--rounds must be 1..{MAX_ROUNDS} and --max-tokens 1..256")

    from kit.servers import LocalServer, LocalServerError
    from kit.servers.bridge import BridgeServer

    with ExitStack() as stack:
        try:
            local = stack.enter_context(LocalServer())
        except LocalServerError as exc:
            print(f"the llama.cpp server cannot start: {exc}", file=sys.stderr)
            return 2
        model = local.model_alias
        upstream = sdk(local.base_url)
        paths = [Path_("direct", direct_path(upstream, model)), Path_("in-process", in_process_path(upstream, model))]
        unavailable: dict[str, str] = {}
        notes: dict[str, str] = {}
        try:
            served = stack.enter_context(BridgeServer(upstream=local.base_url))
            paths.append(Path_("served", responses_path(sdk(served.base_url), model)))
        except LocalServerError as exc:
            unavailable["served"] = str(exc).splitlines()[0]
        for name in PEERS:
            if name in args.skip:
                unavailable[name] = "left out (--skip)"
                continue
            started = start_peer(name, local.base_url, stack, notes)
            if isinstance(started, str):
                unavailable[name] = started
            else:
                paths.append(Path_(name, responses_path(*started)))
        print(f"llama.cpp at {local.base_url} ({model}); paths: {', '.join(p.name for p in paths)}; "
              f"{args.rounds} rounds x {len(PROMPTS)} prompts, max {args.max_tokens} tokens, temperature 0")
        for path in paths:  # warm-up: connections, imports; not counted
            path.run(PROMPTS[0], args.max_tokens)
        for round_number in range(args.rounds):
            order = paths[round_number % len(paths):] + paths[:round_number % len(paths)]
            for prompt in PROMPTS:
                for path in order:
                    path.run(prompt, PRIME_TOKENS)  # not counted: puts this prompt in the cache of this path's llama.cpp
                    path.timings.append(path.run(prompt, args.max_tokens))
            print(f"  round {round_number + 1}/{args.rounds} done", flush=True)
        report(paths, unavailable, notes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
