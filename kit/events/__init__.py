"""Responses stream events: parse them, rebuild the response, judge the stream.

Pure functions over iterables (no files, sockets or clocks) except `parse`,
which also accepts paths and kit recordings.
"""

from __future__ import annotations

from kit.events.accumulate import Accumulator, accumulate
from kit.events.accumulate_views import AccumulatedResponse, ItemView, PartView, SummaryView
from kit.events.model import (
    EVENT_CLASSES,
    KNOWN_EVENT_TYPES,
    TERMINAL_TYPES,
    Event,
    NotJSONEvent,
    Stream,
    UnknownEvent,
    WireFacts,
    make_event,
)
from kit.events.parse import SSEParser, parse, parse_events, parse_jsonl, parse_sse, parse_text
from kit.events.rules import PROFILES, RULES, Rule, enabled_rules
from kit.events.validate import Violation, ViolationGroup, group_violations, plural, profile_for, summarize, validate_stream
from kit.events.validate_chat import is_chat_stream
from kit.events.socket import SocketResponse, SocketSession, split_socket, validate_socket

__all__ = [
    "EVENT_CLASSES",
    "KNOWN_EVENT_TYPES",
    "PROFILES",
    "RULES",
    "TERMINAL_TYPES",
    "AccumulatedResponse",
    "Accumulator",
    "Event",
    "ItemView",
    "NotJSONEvent",
    "PartView",
    "Rule",
    "SSEParser",
    "Stream",
    "SummaryView",
    "UnknownEvent",
    "Violation",
    "ViolationGroup",
    "WireFacts",
    "accumulate",
    "enabled_rules",
    "group_violations",
    "is_chat_stream",
    "SocketResponse",
    "SocketSession",
    "split_socket",
    "validate_socket",
    "make_event",
    "parse",
    "parse_events",
    "parse_jsonl",
    "parse_sse",
    "parse_text",
    "plural",
    "profile_for",
    "summarize",
    "validate_stream",
]
