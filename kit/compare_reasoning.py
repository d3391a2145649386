"""The dialect × peer matrix: which Responses servers turn which upstream reasoning dialect into reasoning items.

Each cell is one Responses request asking for reasoning, sent to a setup
(the kit's bridge in-process, the served bridge, LiteLLM, ogx) whose llama.cpp
server was started behind the reasoning server (`kit.servers.reasoning`) in one
dialect. Every dialect has its own question, so the four recordings of a setup
never share a key and replay side by side with the setup's own. The cell says
whether a `reasoning` item came out, how much reasoning text it carried, and
where the reasoning went otherwise (left inline in the answer, dropped, or the
response failed), with the stream's error rules.

`record_matrix` starts each setup once per dialect and records with the kit's
record mode (`python -m kit.compare_reasoning --setup litellm`); the comparison
notebook (`notebooks/compare/bridges.ipynb`) replays it with `matrix`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

DIALECTS: tuple[str, ...] = ("reasoning_content", "reasoning", "think_tags", "mistral")
PEERS: tuple[str, ...] = ("local", "bridge", "litellm", "ogx")

# One question per dialect: the recordings' keys differ, so all of a setup's cells replay from one folder.
QUESTIONS: dict[str, str] = {
    "reasoning_content": "Is 91 a prime number?",
    "reasoning": "Which is heavier, a kilogram of iron or a kilogram of feathers?",
    "think_tags": "If today is Monday, what day is it in three days?",
    "mistral": "How many legs do two cats have?",
}


def matrix_request(dialect: str) -> dict[str, Any]:
    return {"input": QUESTIONS[dialect], "reasoning": {"effort": "low"}, "temperature": 0}


@dataclass
class Cell:
    """What one setup made of one upstream dialect."""

    setup: str
    dialect: str
    status: str  # "reasoning item", "no reasoning item", "failed", "not recorded", "error"
    reasoning_chars: int = 0
    note: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.status == "reasoning item":
            text = f"yes ({self.reasoning_chars} chars{', ' + self.note if self.note else ''})"
        else:
            text = f"no: {self.note}" if self.note else self.status
        return text + (f" [{', '.join(self.errors)}]" if self.errors else "")


def classify(setup: str, dialect: str, stream: Any, violations: Sequence[Any]) -> Cell:
    """A matrix cell from a stream (pure)."""
    from kit.events import accumulate

    result = accumulate(stream)
    errors = sorted({v.rule for v in violations if v.severity == "error"})
    items = [item.get("type") for item in result.output]
    if result.status == "failed":
        failure = next((e.raw.get("message") for e in stream.events if e.type == "error"), None) or \
            str((result.error or {}).get("message") if hasattr(result, "error") else "")
        return Cell(setup, dialect, "failed", note=f"response failed: {str(failure)[:120]}", errors=errors)
    if "reasoning" in items and result.reasoning_text:
        return Cell(setup, dialect, "reasoning item", len(result.reasoning_text), errors=errors)
    if "reasoning" in items and result.summary_text:  # the raw reasoning streamed as if it were a summary
        return Cell(setup, dialect, "reasoning item", len(result.summary_text), note="as summary text", errors=errors)
    if "<think>" in result.text or "</think>" in result.text:
        note = "the <think> tags are left in the answer"
    elif "reasoning" in items:
        note = "a reasoning item with no text"
    elif not result.text.strip():
        note = "the reasoning and the answer are dropped (an empty message)"
    else:
        note = "the reasoning is dropped"
    return Cell(setup, dialect, "no reasoning item", note=note, errors=errors)


@dataclass
class Matrix:
    cells: list[Cell]
    misses: list[Exception] = field(default_factory=list, repr=False)

    def table(self) -> Any:
        """Dialects (rows) × setups (columns): did a reasoning item come out, and what else."""
        import pandas as pd

        setups = list(dict.fromkeys(c.setup for c in self.cells))
        rows = {d: {c.setup: c.label for c in self.cells if c.dialect == d} for d in DIALECTS}
        return pd.DataFrame.from_dict(rows, orient="index")[setups]

    def recorded(self) -> list[Cell]:
        return [c for c in self.cells if c.status not in ("not recorded",)]


def matrix(setups: Sequence[str] = PEERS, *, run: Any = None, inference_mode: str | None = None,
           recording_dir: str | None = None, base_urls: dict[str, str] | None = None,
           dialects: Sequence[str] = DIALECTS) -> Matrix:
    """Send each dialect's request to each setup (replay by default) and classify what came back. `run` is the
    comparison notebook's run context: its mode, recordings and setups file apply to every setup."""
    import kit.notebook as nb
    from kit.recording import ReplayMiss
    from kit.setups.context import RunContext

    base = RunContext.from_parameters(run) if run is not None else RunContext()
    cells: list[Cell] = []
    misses: list[Exception] = []
    for name in setups:
        context = RunContext(setup=name, mode=inference_mode or base.mode,
                             recording_dir=recording_dir or str(base.recordings()), replay_style=base.replay_style,
                             base_url=(base_urls or {}).get(name), setups_file=base.setups_file)
        scenario = nb.start(context)
        for dialect in dialects:
            try:
                stream = scenario.responses_stream(matrix_request(dialect), title=f"{name} · {dialect}", show=False)
            except ReplayMiss as exc:
                misses.append(exc)
                cells.append(Cell(name, dialect, "not recorded", note=str(exc).splitlines()[0][:160]))
                continue
            except Exception as exc:  # a server's HTTP error is a fact of the matrix
                cells.append(Cell(name, dialect, "error", note=f"{type(exc).__name__}: {exc}"[:200]))
                continue
            cells.append(classify(name, dialect, stream, scenario.observation(stream).violations or ()))
    return Matrix(cells, misses)


def record_matrix(setups: Sequence[str] = PEERS, dialects: Sequence[str] = DIALECTS, *,
                  recording_dir: str | None = None, mode: str = "record-if-missing") -> Matrix:
    """Start each setup once per dialect (the kit's managed servers) and record its cell."""
    from kit.servers import server_for_setup

    cells: list[Cell] = []
    for name in setups:
        for dialect in dialects:
            with server_for_setup(name, reasoning=dialect) as server:
                cells += matrix([name], inference_mode=mode, recording_dir=recording_dir,
                                base_urls={name: server.base_url}, dialects=[dialect]).cells
    return Matrix(cells)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Record the dialect × peer reasoning matrix (starts each setup "
                                                 "once per dialect).")
    parser.add_argument("--setup", action="append", choices=PEERS, help="a setup (repeat); default: all four")
    parser.add_argument("--dialect", action="append", choices=DIALECTS, help="a dialect (repeat); default: all")
    parser.add_argument("--mode", default="record-if-missing", choices=("record", "record-if-missing", "live"))
    args = parser.parse_args(argv)
    result = record_matrix(args.setup or PEERS, args.dialect or DIALECTS, mode=args.mode)
    for cell in result.cells:
        print(f"{cell.setup:8} {cell.dialect:18} {cell.label}")


if __name__ == "__main__":
    main()


__all__ = ["DIALECTS", "PEERS", "QUESTIONS", "Cell", "Matrix", "classify", "matrix", "matrix_request", "record_matrix"]
