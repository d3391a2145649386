"""Test helpers: the real captured chat streams, what they say, and an independent structure check.

The structure check is written from bridge-mapping.md and conformance-rules.md
without looking at the translator's internals; the acceptance test
(test_acceptance.py) uses the kit's own validator on top of it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "captures"
CHAT = FIXTURES / "chat"
MARKER = re.compile(r" ?<\|(file-[A-Za-z0-9_-]+)\|>")
TERMINALS = ("response.completed", "response.incomplete", "response.failed")


def chat_files() -> list[Path]:
    """The chat captures; they are part of the repository, so none found fails collection."""
    files = sorted(CHAT.glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"real captured chat streams not found at {CHAT}: the clone is incomplete")
    return files


def load_chunks(name: str | Path) -> list[Any]:
    path = name if isinstance(name, Path) else CHAT / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def uses_think_tags(path: Path) -> bool:
    """The manifest marks the captures whose model writes <think> inline."""
    return "think-tag" in path.name


def deltas(chunks: list[Any]) -> list[dict[str, Any]]:
    """The delta of choice 0 of every chunk that has one, in order."""
    return [c["choices"][0].get("delta") or {} for c in chunks if isinstance(c, dict) and c.get("choices")]


def upstream_reasoning(chunks: list[Any]) -> str:
    return "".join(d.get("reasoning_content") or d.get("reasoning") or "" for d in deltas(chunks))


def upstream_content(chunks: list[Any]) -> str:
    return "".join(d.get("content") or "" for d in deltas(chunks))


def upstream_tool_calls(chunks: list[Any]) -> list[tuple[str, str]]:
    """(name, arguments) per tool call: a new call starts at a new index or a new id."""
    calls: list[list[Any]] = []
    key: tuple[Any, Any] | None = None
    for delta in deltas(chunks):
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            if key is None or call.get("index") != key[0] or (call.get("id") and call.get("id") != key[1]):
                key = (call.get("index"), call.get("id"))
                calls.append([function.get("name") or "", ""])
            calls[-1][1] += function.get("arguments") or ""
    return [(n, a) for n, a in calls]


def split_think(content: str) -> tuple[str, str]:
    """(reasoning, answer) of content with inline <think> tags; whitespace after </think> is not answer."""
    reasoning = "".join(re.findall(r"<think>(.*?)</think>", content, flags=re.S))
    answer = re.sub(r"<think>.*?</think>\s*", "", content, flags=re.S)
    return reasoning, answer


def clean_and_citations(text: str) -> tuple[str, list[tuple[int, str]]]:
    """Text minus markers (and the space before one), and (index in that text, file id) per marker."""
    out, cites, pos = "", [], 0
    for match in MARKER.finditer(text):
        out += text[pos:match.start()]
        cites.append((len(out), match.group(1)))
        pos = match.end()
    return out + text[pos:], cites


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def joined(events: list[dict[str, Any]], kind: str) -> str:
    return "".join(e["delta"] for e in of_type(events, kind))


def structure_problems(events: list[dict[str, Any]]) -> list[str]:
    """Breaches of the order and consistency rules the bridge must keep (empty list: none)."""
    problems: list[str] = []

    def bad(n: int, what: str) -> None:
        problems.append(f"event {n} ({events[n]['type'] if n < len(events) else '-'}): {what}")

    if [e.get("sequence_number") for e in events] != list(range(len(events))):
        problems.append("sequence numbers are not 0,1,2,...")
    if not events or events[0]["type"] != "response.created":
        problems.append("first event is not response.created")
        return problems
    terminals = [n for n, e in enumerate(events) if e["type"] in TERMINALS]
    if terminals != [len(events) - 1]:
        problems.append(f"terminal events at {terminals}, expected exactly one, last")
    identity = {(e["response"]["id"], e["response"]["created_at"], e["response"]["model"])
                for e in events if "response" in e}
    if len(identity) != 1:
        problems.append(f"response identity changes: {identity}")
    items: list[dict[str, Any]] = []  # per output_index: {"added": item, "done": bool, "parts": [...]}
    done_items: list[dict[str, Any]] = []
    for n, e in enumerate(events):
        t = e["type"]
        if t == "error":
            if n + 1 >= len(events) or events[n + 1]["type"] != "response.failed":
                bad(n, "error not followed by response.failed")
            continue
        if t == "response.output_item.added":
            if e["output_index"] != len(items):
                bad(n, f"output_index {e['output_index']}, expected {len(items)}")
            if items and not items[-1]["done"]:
                bad(n, "item added before the previous one is done")
            items.append({"item": e["item"], "done": False, "parts": [], "args": "", "summary": []})
            continue
        if "output_index" not in e:
            continue
        o = e["output_index"]
        if o >= len(items) or items[o]["done"]:
            bad(n, f"refers to output_index {o}, which is not open")
            continue
        state = items[o]
        item = state["item"]
        if e.get("item_id", item["id"]) != item["id"]:
            bad(n, f"item_id {e.get('item_id')} is not {item['id']}")
        if t == "response.output_item.done":
            if e["item"]["id"] != item["id"] or e["item"]["type"] != item["type"]:
                bad(n, "done item differs in id or type from the added one")
            if any(not p["done"] for p in state["parts"]):
                bad(n, "item done while a part is open")
            if e["item"].get("status") == "in_progress":
                bad(n, "item done with status in_progress")
            if item["type"] in ("message", "reasoning"):
                want = [p["final"] for p in state["parts"]]
                if e["item"]["content"] != want:
                    bad(n, f"item content {e['item']['content']!r} != parts {want!r}")
            if item["type"] == "function_call" and e["item"]["arguments"] != state["args"]:
                bad(n, "function_call arguments differ from the deltas")
            if item["type"] == "reasoning" and e["item"]["summary"] != state["summary"]:
                bad(n, "reasoning summary differs from the summary parts")
            state["done"] = True
            done_items.append(e["item"])
            continue
        if t == "response.content_part.added":
            if e["content_index"] != len(state["parts"]) or any(not p["done"] for p in state["parts"]):
                bad(n, "part added out of order or while another is open")
            kind = e["part"]["type"]
            allowed = {"message": ("output_text", "refusal"), "reasoning": ("reasoning_text",)}.get(item["type"], ())
            if kind not in allowed:
                bad(n, f"{kind} part on a {item['type']} item")
            state["parts"].append({"kind": kind, "text": "", "kind_done": None, "done": False, "annotations": []})
            continue
        if "content_index" in e:
            c = e["content_index"]
            if c >= len(state["parts"]) or state["parts"][c]["done"]:
                bad(n, f"refers to content_index {c}, which is not open")
                continue
            part = state["parts"][c]
            kind = t.split(".")[1] if t.count(".") >= 2 else ""
            if t == "response.content_part.done":
                if part["kind_done"] is None:
                    bad(n, "part done before its text done")
                final = dict(e["part"])
                expect = part["kind_done"]
                text_key = "refusal" if part["kind"] == "refusal" else "text"
                if final.get(text_key) != expect:
                    bad(n, "content_part.done text differs from the done event")
                if part["kind"] == "output_text" and final.get("annotations") != part["annotations"]:
                    bad(n, "content_part.done annotations differ from annotation.added events")
                part["done"] = True
                part["final"] = final
                continue
            if kind != part["kind"]:
                bad(n, f"{t} on a {part['kind']} part")
                continue
            if part["kind_done"] is not None:
                bad(n, f"{t} after the part's text was done")
            if t.endswith(".delta"):
                part["text"] += e["delta"]
            elif t == "response.output_text.annotation.added":
                if e["annotation_index"] != len(part["annotations"]):
                    bad(n, "annotation_index out of order")
                part["annotations"].append(e["annotation"])
            elif t.endswith(".done"):
                value = e.get("refusal") if part["kind"] == "refusal" else e.get("text")
                if value != part["text"]:
                    bad(n, f"done text {value!r} != concatenated deltas {part['text']!r}")
                part["kind_done"] = value
            continue
        if t == "response.function_call_arguments.delta":
            state["args"] += e["delta"]
        elif t == "response.function_call_arguments.done":
            if e["arguments"] != state["args"]:
                bad(n, "arguments.done differs from the deltas")
        elif t.startswith("response.reasoning_summary"):
            if item["type"] != "reasoning":
                bad(n, "summary event on a non-reasoning item")
            if t.endswith("part.added"):
                if e["summary_index"] != len(state["summary"]):
                    bad(n, "summary_index out of order")
                state["summary"].append({"type": "summary_text", "text": ""})
            elif t.endswith("text.delta"):
                state["summary"][e["summary_index"]]["text"] += e["delta"]
            elif t.endswith("text.done") and e["text"] != state["summary"][e["summary_index"]]["text"]:
                bad(n, "summary text done differs from its deltas")
    if any(not s["done"] for s in items):
        problems.append("an item was never done")
    final = events[-1].get("response", {}).get("output")
    if final is not None and final != done_items:
        problems.append("terminal output differs from the done items")
    return problems


def validator_findings(events: list[dict[str, Any]], profile: str = "openai") -> list[tuple[str, str, str]]:
    """(rule, severity, message) of every violation the kit's validator finds."""
    from kit.events import parse_events, validate_stream

    return [(v.rule, v.severity, v.message) for v in validate_stream(parse_events(events), profile=profile)]


def validator_errors(events: list[dict[str, Any]], profile: str = "openai") -> list[tuple[str, str]]:
    return [(rule, message) for rule, severity, message in validator_findings(events, profile) if severity == "error"]


def renumbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events with sequence numbers made contiguous again (after a test removed some)."""
    return [{**e, "sequence_number": n} for n, e in enumerate(events)]


def assert_valid(events: list[dict[str, Any]]) -> None:
    """No breach under the independent structure check nor errors under the kit's validator."""
    assert structure_problems(events) == []
    assert validator_errors(events) == []
