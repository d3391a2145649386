"""Replay cost of the largest real stream: kit.client vs the floor vs vcrpy; record pass-through latency.

    python benchmarks/bench_replay.py

- floor: the same bytes, one chunk per event, from a bare in-memory httpx2
  transport into the openai SDK (what any replay must at least cost);
- kit: `kit.client(..., mode="replay")` reading the recording from disk;
- vcrpy: vcrpy replaying a cassette of the same interaction.
All three are timed in this run, on this machine; ratios are printed.
Record pass-through: time to the first SDK event in `record` mode vs `live`
mode against the same loopback server, whose first event is ready at once.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import kit  # noqa: E402
from tests.loopback import FIXTURES, LoopbackServer  # noqa: E402

FIXTURE = "responses/openai-dotnet__gpt4o-mini-logprobs.jsonl"  # the largest real stream (611 kB)
REQUEST = {"model": "gpt-4o-mini", "input": "hi", "stream": True, "metadata": {"fixture": FIXTURE}}
ROUNDS = 25


def sse_chunks() -> list[bytes]:
    lines = [l for l in (FIXTURES / FIXTURE).read_text(encoding="utf-8").splitlines() if l.strip()]
    return [f"event: {json.loads(l)['type']}\ndata: {l}\n\n".encode() for l in lines]


class MemoryTransport(httpx2.BaseTransport):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return httpx2.Response(200, headers={"content-type": "text/event-stream"},
                               stream=httpx2.ByteStream(b"") if not self.chunks else _Iter(self.chunks), request=request)


class _Iter(httpx2.SyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self):
        yield from self.chunks


def consume(client: openai.OpenAI) -> int:
    return sum(1 for _ in client.responses.create(**REQUEST))


def interleaved(*fns, rounds: int = ROUNDS) -> list[float]:
    """Median time of each function, timed in turn round after round so machine drift hits all alike."""
    import gc

    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            gc.collect()
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def main() -> None:
    chunks = sse_chunks()
    floor_client = openai.OpenAI(api_key="x", base_url="http://memory/v1",
                                 http_client=httpx2.Client(transport=MemoryTransport(chunks)))
    n_events = consume(floor_client)
    work = Path(tempfile.mkdtemp())
    with LoopbackServer() as server:
        recorder = kit.client("bench", "record", base_url=server.base_url, api_key="k", recording_dir=work / "kit")
        assert consume(recorder) == n_events
        vcr_cassette = work / "vcr.yaml"
        import vcr

        with vcr.use_cassette(str(vcr_cassette), record_mode="once"):
            vcr_client = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0)
            assert consume(vcr_client) == n_events

        paced = {**REQUEST, "metadata": {"fixture": "responses/otel-python-contrib__gpt4o-mini-text.jsonl",
                                          "fault": "slow:0.02"}}
        consume_paced = lambda c: sum(1 for _ in c.responses.create(**paced))  # noqa: E731
        consume_paced(kit.client("bench", "record", base_url=server.base_url, api_key="k", recording_dir=work / "paced"))

        ttfe = {"live": [], "record": []}
        for i in range(40):
            for mode in ("live", "record"):
                client = kit.client("bench", mode, base_url=server.base_url, api_key="k", recording_dir=work / f"ttfe{i}")
                start = time.perf_counter()
                stream = client.responses.create(**{**REQUEST, "metadata": {"fixture": "responses/otel-python-contrib__gpt4o-mini-text.jsonl"}})
                next(iter(stream))
                ttfe[mode].append(time.perf_counter() - start)
                list(stream)

    assert consume(kit.client("bench", "replay", recording_dir=work / "kit")) == n_events

    def kit_replay() -> None:  # a new client each round: the recording is read from disk every time, like vcrpy's
        consume(kit.client("bench", "replay", recording_dir=work / "kit"))

    def vcr_replay() -> None:
        with vcr.use_cassette(str(vcr_cassette), record_mode="none"):
            consume(openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0))

    floor, kit_time, vcr_time = interleaved(lambda: consume(floor_client), kit_replay, vcr_replay)
    added_ms = (statistics.median(ttfe["record"]) - statistics.median(ttfe["live"])) * 1000
    print(f"stream: {FIXTURE} ({n_events} events, {sum(map(len, chunks)) / 1e3:.0f} kB)")
    print(f"floor (in-memory transport -> SDK): {floor * 1000:8.1f} ms")
    print(f"kit.client replay:                  {kit_time * 1000:8.1f} ms  = {kit_time / floor:.2f}x floor (target <= 1.3x)")
    print(f"vcrpy replay:                       {vcr_time * 1000:8.1f} ms  = {vcr_time / floor:.2f}x floor; "
          f"kit is {vcr_time / kit_time:.2f}x faster than vcrpy")
    from kit.recording import load_recording

    [paced_file] = (work / "paced").rglob("*.json")
    recorded_span = load_recording(paced_file).response_chunks()[-1][0]
    for speed in (1.0, 2.0, 4.0):
        client = kit.client("bench", "replay", recording_dir=work / "paced", replay_style="realtime", speed=speed)
        start = time.perf_counter()
        consume_paced(client)
        took = time.perf_counter() - start
        print(f"realtime replay at speed {speed:g}: {took * 1000:6.1f} ms for a recorded span of "
              f"{recorded_span * 1000:.1f} ms -> {took * speed / recorded_span:.2f}x the expected pacing")
    print(f"time to first event, live {statistics.median(ttfe['live']) * 1000:.2f} ms, record "
          f"{statistics.median(ttfe['record']) * 1000:.2f} ms: record pass-through adds {added_ms:+.2f} ms (target <= 1 ms)")


if __name__ == "__main__":
    main()
