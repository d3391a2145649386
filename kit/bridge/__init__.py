"""The bridge: Responses API streams served over any Chat Completions server.

Pure core (no I/O, no openai SDK): `to_chat_request` (request translation),
`translate_chat_stream` / `ChatToResponses` (chunks to events), the markup
helpers, and `bridge_capture` (a parsed chat capture as a Responses stream).
I/O edge, loaded on first use so the core imports alone: `stream_response`,
`create_response`, `chat_chunks`, `summarizer`, `embedder` (kit.bridge.service,
openai SDK), and `VectorStores` for hosted file search (kit.bridge.stores,
SQLite).
"""

from __future__ import annotations

import importlib
from typing import Any

from kit.bridge.chunks import bridge_capture, bridge_chunks, is_chat_capture
from kit.bridge.markup import CITATION_MARKER, Citation, CitationStripper, ThinkTagSplitter, citation_marker, strip_citation_markers
from kit.bridge.request import SEARCH_TOOL_NAME, UnsupportedParameter, input_to_messages, search_results_text, to_chat_request
from kit.bridge.translate import ChatToResponses, HostedCall, translate_chat_stream

_EDGE = {
    "chat_chunks": "kit.bridge.service",
    "create_response": "kit.bridge.service",
    "embedder": "kit.bridge.service",
    "stream_response": "kit.bridge.service",
    "summarizer": "kit.bridge.service",
    "VectorStoreError": "kit.bridge.stores",
    "VectorStores": "kit.bridge.stores",
    "chunk_text": "kit.bridge.stores",
}


def __getattr__(name: str) -> Any:
    """The I/O edge's names load with their module on first use."""
    module = _EDGE.get(name)
    if module is None:
        raise AttributeError(f"module 'kit.bridge' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "CITATION_MARKER", "SEARCH_TOOL_NAME", "ChatToResponses", "Citation", "CitationStripper", "HostedCall",
    "ThinkTagSplitter", "UnsupportedParameter", "bridge_capture", "bridge_chunks", "citation_marker",
    "input_to_messages", "is_chat_capture", "search_results_text", "strip_citation_markers", "to_chat_request",
    "translate_chat_stream", *sorted(_EDGE),
]
