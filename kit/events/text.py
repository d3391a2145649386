"""Counts in verdicts, read as English: "1 event", "2 events"."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`count` and `noun`, the noun with an "s" unless the count is 1."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
