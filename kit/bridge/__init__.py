"""The bridge: Responses API streams served over any Chat Completions server.

Pure core: `to_chat_request` (request translation) and
`translate_chat_stream` / `ChatToResponses` (chunks to events).
I/O edge: `stream_response`, `create_response`, `responses_stream`
(native or bridged per setup), and `VectorStores` for hosted file search.
"""

from __future__ import annotations

from kit.bridge.markup import CITATION_MARKER, Citation, CitationStripper, ThinkTagSplitter, citation_marker, strip_citation_markers
from kit.bridge.request import SEARCH_TOOL_NAME, UnsupportedParameter, input_to_messages, search_results_text, to_chat_request
from kit.bridge.service import chat_chunks, create_response, embedder, responses_stream, stream_response, summarizer
from kit.bridge.stores import VectorStoreError, VectorStores, chunk_text
from kit.bridge.translate import ChatToResponses, HostedCall, translate_chat_stream

__all__ = [
    "CITATION_MARKER", "SEARCH_TOOL_NAME", "ChatToResponses", "Citation", "CitationStripper", "HostedCall",
    "ThinkTagSplitter", "UnsupportedParameter", "VectorStoreError", "VectorStores", "chat_chunks", "chunk_text",
    "citation_marker", "create_response", "embedder", "input_to_messages", "responses_stream",
    "search_results_text", "stream_response", "strip_citation_markers", "summarizer", "to_chat_request",
    "translate_chat_stream",
]
