"""Incremental scanners for markup that models write inside streamed text.

Two kinds matter to the bridge: inline `<think>...</think>` reasoning (models
whose server does not separate reasoning) and file citation markers
`<|file-...|>` (the bridge asks the model to cite search results with them).
Both can be split across chunks at any character, so each scanner holds back
the shortest tail that could still become markup, and nothing else: text
that cannot be markup goes out as soon as it arrives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

# One optional space before a marker goes with it: models write "Paris <|file-1|>."
# and the cleaned text should read "Paris." (what OpenAI's own file search returns).
CITATION_MARKER = re.compile(r" ?<\|(file-[A-Za-z0-9_-]{1,64})\|>")
# The longest tail that is a proper prefix of a marker (anchored at the end).
_PARTIAL_MARKER = re.compile(r" ?(?:<(?:\|(?:f(?:i(?:l(?:e(?:-[A-Za-z0-9_-]{0,64}\|?)?)?)?)?)?)?)?\Z")
_MARKER_LOOKBACK = 80  # longer than any partial marker


def citation_marker(file_id: str) -> str:
    """The marker the bridge asks the model to write after text taken from `file_id`."""
    return f"<|{file_id}|>"


def strip_citation_markers(text: str) -> tuple[str, list[tuple[int, str]]]:
    """Whole-text version of `CitationStripper`: the cleaned text and (index, file_id) per marker."""
    out: list[str] = []
    cites: list[tuple[int, str]] = []
    length = pos = 0
    for match in CITATION_MARKER.finditer(text):
        out.append(text[pos:match.start()])
        length += match.start() - pos
        cites.append((length, match.group(1)))
        pos = match.end()
    out.append(text[pos:])
    return "".join(out), cites


@dataclass(frozen=True, slots=True)
class Citation:
    """A marker found in the text: the cleaned text before it ends here."""

    file_id: str


class CitationStripper:
    """Removes citation markers from streamed text, reporting where each one was.

    `feed` returns text pieces and `Citation`s in stream order; the caller
    counts characters of the pieces to know each citation's index.
    `to_clean_index` maps an offset in the raw upstream text to the cleaned
    text (for url citations an upstream sends against its own text).
    """

    __slots__ = ("held", "raw_length", "_removals")

    def __init__(self) -> None:
        self.held = ""
        self.raw_length = 0  # raw characters released so far (held ones excluded)
        self._removals: list[tuple[int, int]] = []  # (raw index where a marker began, characters removed)

    def feed(self, text: str) -> list[str | Citation]:
        scan = self.held + text
        self.held = ""
        out: list[str | Citation] = []
        pos = 0
        if "<|" in scan:
            for match in CITATION_MARKER.finditer(scan):
                if match.start() > pos:
                    out.append(scan[pos:match.start()])
                self._removals.append((self.raw_length + match.start(), match.end() - match.start()))
                out.append(Citation(match.group(1)))
                pos = match.end()
        start = max(pos, len(scan) - _MARKER_LOOKBACK)
        partial = _PARTIAL_MARKER.search(scan, start)
        cut = partial.start() if partial else len(scan)
        if cut > pos:
            out.append(scan[pos:cut])
        self.held = scan[cut:]
        self.raw_length += cut
        return out

    def flush(self) -> str:
        """Text held back at the end of the stream: it never became a marker."""
        held, self.held = self.held, ""
        self.raw_length += len(held)
        return held

    def to_clean_index(self, raw_index: int) -> int:
        removed = 0
        for start, length in self._removals:
            if start >= raw_index:
                break
            removed += min(length, raw_index - start)
        return raw_index - removed


class ThinkTagSplitter:
    """Splits streamed text into reasoning (inside `<think>` tags) and answer text.

    `feed` returns `(is_reasoning, text)` pieces. Whitespace right after
    `</think>` is dropped: templates put a blank line there, and keeping it
    would make the answer start with it (or make a blank message before a
    tool call).
    """

    __slots__ = ("inside", "held", "_skip_space")

    def __init__(self) -> None:
        self.inside = False
        self.held = ""
        self._skip_space = False

    def feed(self, text: str) -> list[tuple[bool, str]]:
        scan = self.held + text
        self.held = ""
        out: list[tuple[bool, str]] = []
        while scan:
            tag = THINK_CLOSE if self.inside else THINK_OPEN
            found = scan.find(tag)
            if found >= 0:
                self._emit(out, scan[:found])
                self.inside = not self.inside
                self._skip_space = not self.inside
                scan = scan[found + len(tag):]
                continue
            lt = scan.rfind("<", max(0, len(scan) - len(tag) + 1))
            if lt >= 0 and tag.startswith(scan[lt:]):
                self.held = scan[lt:]
                scan = scan[:lt]
            self._emit(out, scan)
            break
        return out

    def flush(self) -> list[tuple[bool, str]]:
        out: list[tuple[bool, str]] = []
        held, self.held = self.held, ""
        self._emit(out, held)
        return out

    def _emit(self, out: list[tuple[bool, str]], piece: str) -> None:
        if piece and self._skip_space and not self.inside:
            piece = piece.lstrip()
            if piece:
                self._skip_space = False
        if piece:
            out.append((self.inside, piece))
