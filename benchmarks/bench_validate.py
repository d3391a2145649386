"""Validate + accumulate a 10,000-event stream made of real fixture events; compare with json.loads.

    python benchmarks/bench_validate.py [--events 10000] [--repeat 5]

The stream is coherent: one response.created/in_progress, then the output items
of real OpenAI streams one after another (output indices, item ids and sequence
numbers renumbered), the last message cut to hit the event count exactly, and
one response.completed whose output is the done items. It must validate with
no error under the openai profile (checked before timing).

Printed: events/second of validate+accumulate, and its time as a multiple of
json.loads of the same lines measured in the same run (target <= 3x); also the
whole pipeline (parse jsonl + validate + accumulate) and a linearity check (the
per-event cost at 4x the size).
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

from kit.events import accumulate, parse_jsonl, validate_stream

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "captures" / "responses"
SOURCES = [  # clean real OpenAI streams with varied item types
    "openai-dotnet__gpt4o-mini-web-search",
    "fantasy__azure-gpt5-mini-reasoning-summary-function-call",
    "pydantic-ai__gpt4o-file-search",
    "openai-dotnet__gpt4o-mini-code-interpreter-files",
    "pydantic-ai__o3-mini-reasoning-summary",
    "vercel-ai__openai-apply-patch-tool",
    "chatlas__gpt41-web-search",
]
FILLER = "openai-dotnet__gpt41-mini-background"  # its long message gets cut to fill the exact count

Raw = dict[str, Any]


def _load(name: str) -> list[Raw]:
    return [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def _item_groups(events: list[Raw]) -> list[list[Raw]]:
    """The events of each output item, in stream order (lifecycle events left out)."""
    groups: dict[int, list[Raw]] = {}
    for event in events:
        if "output_index" in event:
            groups.setdefault(event["output_index"], []).append(event)
    return [groups[index] for index in sorted(groups)]


def _relabel(group: list[Raw], output_index: int, suffix: str) -> list[Raw]:
    group = copy.deepcopy(group)
    for event in group:
        event["output_index"] = output_index
        if "item_id" in event:
            event["item_id"] += suffix
        if "item" in event:
            event["item"]["id"] += suffix
    return group


def _cut_message(group: list[Raw], keep_deltas: int) -> list[Raw]:
    """The message with only its first `keep_deltas` deltas; every copy of the text agrees."""
    deltas = [e for e in group if e["type"] == "response.output_text.delta"][:keep_deltas]
    text = "".join(e["delta"] for e in deltas)
    out: list[Raw] = []
    for event in group:
        if event["type"] == "response.output_text.delta":
            continue
        if event["type"] == "response.output_text.done":
            out.extend(deltas)
            event["text"] = text
        elif event["type"] == "response.content_part.done":
            event["part"]["text"] = text
        elif event["type"] == "response.output_item.done":
            event["item"]["content"][0]["text"] = text
        out.append(event)
    return out


def build_stream(total: int) -> list[Raw]:
    """A coherent stream of exactly `total` events from real ones."""
    base = _load(SOURCES[0])
    head = copy.deepcopy(base[:2])  # response.created, response.in_progress
    completed = copy.deepcopy(base[-1])
    filler = _item_groups(_load(FILLER))[0]
    filler_overhead = len(filler) - sum(e["type"] == "response.output_text.delta" for e in filler)
    groups = [group for name in SOURCES for group in _item_groups(_load(name))]
    body: list[Raw] = []
    items: list[Raw] = []
    round_number = 0
    added = True
    while added:  # whole real items, round after round, while they fit
        added = False
        for group in groups:
            room = total - len(head) - 1 - len(body)
            if len(group) <= room - filler_overhead - 1:  # leave room for the filler with at least one delta
                body += _relabel(group, len(items), f"_{round_number}")
                items.append(body[-1]["item"])
                added = True
        round_number += 1
    room = total - len(head) - 1 - len(body)
    assert room - filler_overhead <= len(filler) - filler_overhead, "the filler message is too short"
    last = _relabel(_cut_message(copy.deepcopy(filler), room - filler_overhead), len(items), "_last")
    body += last
    items.append(last[-1]["item"])
    completed["response"]["output"] = items
    events = head + body + [completed]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    assert len(events) == total, len(events)
    return events


def best_of(repeat: int, run: Callable[[], Any]) -> float:
    """Best wall time of `repeat` runs, with the garbage collector off while timing (as timeit does)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return min(times)


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--events", type=int, default=10_000)
    options.add_argument("--repeat", type=int, default=5)
    args = options.parse_args()
    if not FIXTURES.is_dir():
        print(f"real fixtures not found at {FIXTURES}", file=sys.stderr)
        return 2
    events = build_stream(args.events)
    lines = [json.dumps(event, ensure_ascii=False) for event in events]
    text = "\n".join(lines)
    stream = parse_jsonl(text, source_name="bench")
    violations = validate_stream(stream)
    errors = [v for v in violations if v.severity == "error"]
    if errors:
        print("the benchmark stream is not coherent:", *errors[:5], sep="\n  ", file=sys.stderr)
        return 1
    result = accumulate(stream)
    assert len(result.output) == len(events[-1]["response"]["output"])

    loads = json.loads
    t_json = best_of(args.repeat, lambda: [loads(line) for line in lines])
    t_validate = best_of(args.repeat, lambda: validate_stream(stream))
    t_accumulate = best_of(args.repeat, lambda: accumulate(stream))
    t_both = best_of(args.repeat, lambda: (validate_stream(stream), accumulate(stream)))
    t_pipeline = best_of(args.repeat, lambda: (lambda s: (validate_stream(s), accumulate(s)))(parse_jsonl(text)))

    big = parse_jsonl("\n".join(json.dumps(e, ensure_ascii=False) for e in build_stream(4 * args.events)))
    t_big = best_of(max(1, args.repeat // 2), lambda: (validate_stream(big), accumulate(big)))

    n = len(events)
    print(f"stream: {n} events from {len(SOURCES) + 1} real streams, {len(result.output)} items, "
          f"{len(text) / 1e6:.1f} MB; {len(violations)} warnings, 0 errors")
    print(f"json.loads of the lines      {t_json * 1e3:8.1f} ms  {n / t_json:>10,.0f} events/s  (baseline)")
    print(f"validate_stream              {t_validate * 1e3:8.1f} ms  {n / t_validate:>10,.0f} events/s  {t_validate / t_json:5.2f}x")
    print(f"accumulate                   {t_accumulate * 1e3:8.1f} ms  {n / t_accumulate:>10,.0f} events/s  {t_accumulate / t_json:5.2f}x")
    print(f"validate + accumulate        {t_both * 1e3:8.1f} ms  {n / t_both:>10,.0f} events/s  {t_both / t_json:5.2f}x  (target <= 3x)")
    print(f"parse + validate + accumulate{t_pipeline * 1e3:8.1f} ms  {n / t_pipeline:>10,.0f} events/s  {t_pipeline / t_json:5.2f}x")
    print(f"linearity: per-event cost at {4 * n} events / at {n} events = {(t_big / (4 * n)) / (t_both / n):.2f} (1.0 = linear)")
    return 0 if t_both / t_json <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
