"""How much the bridge's stream translation adds per chunk, against merely JSON-parsing the chunks.

Two real workloads: the largest captured chat stream in tests/captures/chat,
and a 10,000-chunk stream made of real chunks (that capture's reasoning
chunks, then its answer chunks, each repeated in order, then its own finish
and usage chunks). The baseline is measured in the same run: `json.loads`
of every chunk's line. Target: parsing + translating takes <= 2x the time
of parsing alone.

Run: python benchmarks/bench_bridge.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.bridge import translate_chat_stream  # noqa: E402

CHAT = Path(__file__).resolve().parents[1] / "tests" / "captures" / "chat"
REPEATS = 7
TARGET_RATIO = 2.0


def best_of(work: Callable[[], object], repeats: int = REPEATS) -> float:
    """The fastest of `repeats` runs (the least disturbed by the rest of the machine)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def ten_thousand_from(lines: list[str]) -> list[str]:
    chunks = [json.loads(line) for line in lines]

    def has(chunk: dict, field: str) -> bool:
        return bool(chunk.get("choices")) and bool(chunk["choices"][0]["delta"].get(field))

    reasoning = [line for line, c in zip(lines, chunks) if has(c, "reasoning") or has(c, "reasoning_content")]
    answer = [line for line, c in zip(lines, chunks) if has(c, "content")]
    tail = [line for line, c in zip(lines, chunks) if not c.get("choices") or c["choices"][0].get("finish_reason")]
    body = 10_000 - 1 - len(tail)
    half = body // 2
    return ([lines[0]] + [reasoning[n % len(reasoning)] for n in range(half)]
            + [answer[n % len(answer)] for n in range(body - half)] + tail)


def measure(name: str, lines: list[str]) -> float:
    chunks = [json.loads(line) for line in lines]
    events = sum(1 for _ in translate_chat_stream(chunks))
    parse = best_of(lambda: [json.loads(line) for line in lines])
    translate = best_of(lambda: sum(1 for _ in translate_chat_stream(chunks)))
    n = len(lines)
    ratio = (parse + translate) / parse
    print(f"{name}")
    print(f"  chunks: {n}   events out: {events}   bytes in: {sum(len(x) for x in lines)}")
    print(f"  json.loads only:     {parse * 1e3:8.2f} ms  {n / parse:12,.0f} chunks/s  {parse / n * 1e6:6.2f} us/chunk")
    print(f"  translation only:    {translate * 1e3:8.2f} ms  {n / translate:12,.0f} chunks/s  "
          f"{translate / n * 1e6:6.2f} us/chunk added")
    print(f"  parse + translate:   {(parse + translate) * 1e3:8.2f} ms  {n / (parse + translate):12,.0f} chunks/s")
    print(f"  translation alone / parsing: {translate / parse:.2f}x")
    print(f"  (parse + translate) / parse: {ratio:.2f}x  (target <= {TARGET_RATIO:.0f}x: "
          f"{'met' if ratio <= TARGET_RATIO else 'NOT met'})")
    return ratio


def main() -> int:
    if not CHAT.is_dir():
        print(f"real captured streams not found at {CHAT}", file=sys.stderr)
        return 2
    largest = max(CHAT.glob("*.jsonl"), key=lambda p: p.stat().st_size)
    lines = [line for line in largest.read_text(encoding="utf-8").splitlines() if line.strip()]
    ratios = [measure(f"largest real chat stream: {largest.name}", lines),
              measure("10,000 real chunks (reasoning then answer, repeated)", ten_thousand_from(lines))]
    return 0 if max(ratios) <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
