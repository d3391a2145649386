"""Shared helpers for the renderer tests: real fixture streams, raw JSON lines, and an HTML reader."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import kit.events

FIXTURES = Path(__file__).resolve().parents[1] / "captures"
RESPONSE_FILES = sorted(path.name for path in (FIXTURES / "responses").glob("*.jsonl"))
if not RESPONSE_FILES:  # part of the repository: missing captures fail collection
    raise FileNotFoundError(f"real captured streams not found at {FIXTURES}: the clone is incomplete")


@pytest.fixture(scope="session")
def responses_dir(fixtures_dir: Path) -> Path:
    return fixtures_dir / "responses"


def raw_lines(responses_dir: Path, name: str) -> list[dict[str, Any]]:
    """The fixture's events as plain JSON, read without the kit (the independent side of each check)."""
    return [json.loads(line) for line in (responses_dir / name).read_text("utf-8").splitlines() if line.strip()]


def load(responses_dir: Path, name: str) -> kit.events.Stream:
    return kit.load(responses_dir / name)


def concatenated_events(responses_dir: Path, count: int) -> list[dict[str, Any]]:
    """`count` real events: every fixture's events in turn (cycled), sequence numbers renumbered."""
    files = sorted(responses_dir.glob("*.jsonl"))
    events: list[dict[str, Any]] = []
    while len(events) < count:
        for path in files:
            for line in path.read_text("utf-8").splitlines():
                if line.strip() and len(events) < count:
                    event = json.loads(line)
                    event["sequence_number"] = len(events)
                    events.append(event)
    return events


class Block:
    def __init__(self, role: str) -> None:
        self.role = role
        self.text = ""  # visible text without footnote markers
        self.markers: list[tuple[int, int]] = []  # (position in text, footnote number)
        self.cited: list[str] = []  # texts of cited spans


class Section:
    def __init__(self, attrs: dict[str, str]) -> None:
        self.kind = attrs.get("data-kind", "")
        self.item_type = attrs.get("data-item-type", "")
        self.title = ""
        self.blocks: list[Block] = []
        self.footnotes: dict[int, str] = {}  # number -> visible text
        self.footnote_links: dict[int, list[str]] = {}
        self.classes = attrs.get("class", "")
        self.flags: list[str] = []
        self.text = ""


class KitHTML(HTMLParser):
    """Reads a kit HTML view back into sections, blocks, markers, footnotes and violation rows."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[Section] = []
        self.violations: list[tuple[str, str]] = []  # (rule, severity)
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.tags: set[str] = set()
        self._stack: list[tuple[str, dict[str, str]]] = []
        self._marker: int | None = None
        self._cited_depth: int | None = None
        self._cited_text = ""
        self._footnote: int | None = None
        self.feed(html)
        self.close()

    @property
    def section(self) -> Section | None:
        return self.sections[-1] if self.sections else None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {key: value or "" for key, value in attrs_list}
        self.tags.add(tag)
        classes = attrs.get("class", "").split()
        self._stack.append((tag, attrs))
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
            if self._footnote is not None and self.section is not None:
                self.section.footnote_links.setdefault(self._footnote, []).append(attrs["href"])
        if tag == "section" and "kit-item" in classes:
            self.sections.append(Section(attrs))
        elif "kit-block" in classes and self.section is not None:
            self.section.blocks.append(Block(attrs.get("data-role", "")))
        elif "kit-marker" in classes:
            self._marker = int(attrs["data-footnote"])
            block = self.section.blocks[-1]
            block.markers.append((len(block.text), self._marker))
        elif "kit-cited" in classes:
            self._cited_depth = len(self._stack)
            self._cited_text = ""
        elif "kit-footnote" in classes and self.section is not None:
            self._footnote = int(attrs["data-footnote"])
            self.section.footnotes[self._footnote] = ""
        elif "kit-flag" in classes and self.section is not None:
            self.section.flags.append(attrs["class"])
        elif tag == "tr" and "kit-violation" in classes:
            self.violations.append((attrs["data-rule"], attrs["data-severity"]))

    def handle_endtag(self, tag: str) -> None:
        depth = len(self._stack)
        if self._cited_depth == depth:
            self.section.blocks[-1].cited.append(self._cited_text)
            self._cited_depth = None
        opened = self._stack.pop() if self._stack else ("", {})
        classes = opened[1].get("class", "").split()
        if "kit-marker" in classes:
            self._marker = None
        if "kit-footnote" in classes:
            self._footnote = None

    def handle_data(self, data: str) -> None:
        section = self.section
        if section is None:
            return
        section.text += data
        if self._marker is not None:
            return
        if self._footnote is not None:
            section.footnotes[self._footnote] += data
            return
        classes = [attrs.get("class", "") for _, attrs in self._stack]
        if any("kit-title" in c for c in classes):
            section.title += data
        elif any(c.split()[:1] == ["kit-text"] for c in classes) and section.blocks:
            section.blocks[-1].text += data
            if self._cited_depth is not None:
                self._cited_text += data
