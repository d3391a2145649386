"""The translator's tool-call steps: function calls streamed as items, and the bridge's own hosted
search call held back to become a file_search_call. Mixed into `ChatToResponses`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kit.bridge.translate_items import BadChunk, Event, HostedCall, TranslatorState, _FunctionCall, _Item


class ToolSteps(TranslatorState):
    # ------------------------------------------------------------ tool calls

    def _tool_call(self, call: Any) -> Iterator[Event]:
        if not isinstance(call, dict):
            raise BadChunk(f"chunk {self._chunks}: a tool call is not an object")
        function = call.get("function") or {}
        if not isinstance(function, dict):
            raise BadChunk(f"chunk {self._chunks}: tool call function is not an object")
        index = call.get("index", 0)
        if isinstance(index, bool) or not isinstance(index, (int, str, type(None))):
            raise BadChunk(f"chunk {self._chunks}: tool call index is a {type(index).__name__}, not an integer")
        call_id = call.get("id")
        if call_id is not None and not isinstance(call_id, str):
            raise BadChunk(f"chunk {self._chunks}: tool call id is a {type(call_id).__name__}, not a string")
        if function.get("name") is not None and not isinstance(function.get("name"), str):
            raise BadChunk(f"chunk {self._chunks}: tool call function.name is a "
                           f"{type(function.get('name')).__name__}, not a string")
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):  # a few servers send the arguments as an object
            arguments = json.dumps(arguments, ensure_ascii=False)
        current: _FunctionCall | HostedCall | None = self._hosted_open
        if current is None and isinstance(self._open, _FunctionCall):
            current = self._open
        continues = current is not None and current.index == index and (not call_id or call_id == current.call_id)
        if not continues:
            if not call_id and index in self._closed_calls:
                yield from self.fail(f"chunk {self._chunks}: arguments for tool call index {index!r} arrived "
                                     "after another tool call began; the bridge streams tool calls one after "
                                     "another and cannot reopen a closed one", code="bridge_interleaved_tool_calls")
                return
            yield from self._close_open()
            if self.finished:
                return
            if self._hosted_open is not None:
                self._closed_calls.add(self._hosted_open.index)
                self._hosted_open = None
            name = function.get("name") or ""
            output_index = len(self._output)
            call_id = call_id or f"call_{self._base}_{output_index}_{len(self.hosted_calls)}"
            if (self.hosted_search_tool is not None and name == self.hosted_search_tool) \
                    or name in self.hosted_tool_names:
                current = HostedCall(index, call_id, name)
                self.hosted_calls.append(current)
                self._hosted_open = current
            else:
                current = _FunctionCall(self._item_id("fc"), output_index, index, call_id, name)
                self._open = current
                yield self._event("response.output_item.added", output_index=output_index,
                                  item={"id": current.id, "type": "function_call", "status": "in_progress",
                                        "arguments": "", "call_id": call_id, "name": name})
        elif function.get("name") and not current.name:
            current.name = function["name"]
        if arguments:
            current.args.append(arguments)
            if isinstance(current, _FunctionCall):
                yield self._event("response.function_call_arguments.delta", item_id=current.id,
                                  output_index=current.output_index, delta=arguments)

    def _close_function_call(self, item: _FunctionCall) -> Iterator[Event]:
        arguments = "".join(item.args)
        self._closed_calls.add(item.index)
        yield self._event("response.function_call_arguments.done", item_id=item.id,
                          output_index=item.output_index, arguments=arguments, name=item.name)
        yield from self._item_done(item, {"id": item.id, "type": "function_call", "status": item.status,
                                          "arguments": arguments, "call_id": item.call_id, "name": item.name})

    # ------------------------------------------------------- hosted search

    def begin_file_search(self, call: HostedCall, queries: list[str]) -> Iterator[Event]:
        """A search the model asked for starts: its item is added, in_progress, searching."""
        yield from self._close_open()
        item = _Item("file_search_call", self._item_id("fs"), len(self._output))
        self._open = item
        self._search_queries = queries
        yield self._event("response.output_item.added", output_index=item.output_index,
                          item={"id": item.id, "type": "file_search_call", "status": "in_progress",
                                "queries": queries, "results": None})
        yield self._event("response.file_search_call.in_progress", output_index=item.output_index, item_id=item.id)
        yield self._event("response.file_search_call.searching", output_index=item.output_index, item_id=item.id)

    def complete_file_search(self, results: list[dict[str, Any]] | None) -> Iterator[Event]:
        """The search ran: `results` go in the done item when the request's include asks for them."""
        item = self._open
        assert item is not None and item.kind == "file_search_call", "begin_file_search first"
        for result in results or ():
            if result.get("file_id") and result.get("filename"):
                self.citation_files[result["file_id"]] = result["filename"]
        shown = results if "file_search_call.results" in (self.request.get("include") or ()) else None
        yield self._event("response.file_search_call.completed", output_index=item.output_index, item_id=item.id)
        yield from self._item_done(item, {"id": item.id, "type": "file_search_call", "status": "completed",
                                          "queries": self._search_queries, "results": shown})
