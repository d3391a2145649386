"""`kit show` on one huge delta: is the view linear in the delta's length? (issue 12, item 8)

    python benchmarks/bench_show.py [--sizes 3,10,20] [--repeat 3]

Input: a real capture (tests/captures/responses/otel-python-contrib__gpt4o-mini-text.jsonl)
whose first output_text delta is replaced by N MB of text. Measured in the same run, per
size: what `kit show FILE` does in-process (parse + validate + accumulate + capped
document + rich rendering to text), and as the baseline what `kit check FILE` does
(parse + validate). Printed: seconds, the ratio show/check (target: bounded, not growing
with N), and the per-MB cost of show (target: flat from the smallest size to the largest).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kit.cli.show import _capped  # noqa: E402
from kit.events import validate_stream  # noqa: E402
from kit.sources import load  # noqa: E402
from kit.render.live import document_of  # noqa: E402
from kit.render.terminal import TerminalView  # noqa: E402

CAPTURE = Path(__file__).resolve().parents[1] / "tests" / "captures" / "responses" / "otel-python-contrib__gpt4o-mini-text.jsonl"


def huge_file(folder: Path, megabytes: int) -> Path:
    events = [json.loads(line) for line in CAPTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    delta = next(e for e in events if e["type"] == "response.output_text.delta")
    delta["delta"] = "word " * (megabytes * 1_000_000 // 5)
    path = folder / f"huge-{megabytes}mb.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n", encoding="utf-8")
    return path


def show(path: Path) -> None:
    TerminalView(_capped(document_of(load(path), profile="openai"))).to_text(width=100)


def check(path: Path) -> None:
    validate_stream(load(path), "openai")


def best_of(repeat: int, action, path: Path) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action(path)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="3,10,20", help="delta sizes in MB, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    per_mb = []
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'MB':>4} {'show s':>8} {'check s':>8} {'show/check':>10} {'show s/MB':>10}")
        for size in sizes:
            path = huge_file(Path(folder), size)
            shown, checked = best_of(args.repeat, show, path), best_of(args.repeat, check, path)
            per_mb.append(shown / size)
            print(f"{size:>4} {shown:>8.3f} {checked:>8.3f} {shown / checked:>10.2f} {shown / size:>10.4f}")
    growth = per_mb[-1] / per_mb[0]
    print(f"per-MB cost of show, largest vs smallest size: {growth:.2f}x (linear: about 1x or less)")


if __name__ == "__main__":
    main()
