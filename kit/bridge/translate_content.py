"""The translator's content steps: reasoning items (with their summary) and message items (text,
refusals, citations). Mixed into `ChatToResponses`."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

from kit.bridge.markup import Citation, CitationStripper, ThinkTagSplitter
from kit.bridge.translate_items import (
    Event,
    TranslatorState,
    _error_fields,
    _int,
    _Message,
    _Reasoning,
    BadChunk,
    delta_logprobs,
)


class ContentSteps(TranslatorState):
    # ------------------------------------------------------------- reasoning

    def _reasoning_text(self, text: str) -> Iterator[Event]:
        item = self._open
        if not isinstance(item, _Reasoning):
            yield from self._close_open()
            if self.finished:
                return
            item = _Reasoning(self._item_id("rs"), len(self._output))
            self._open = item
            yield self._event("response.output_item.added", output_index=item.output_index,
                              item={"id": item.id, "type": "reasoning", "summary": [], "content": [],
                                    "status": "in_progress"})
            yield self._event("response.content_part.added", item_id=item.id, output_index=item.output_index,
                              content_index=0, part={"type": "reasoning_text", "text": ""})
        item.texts.append(text)
        self._seq += 1
        yield {"type": "response.reasoning_text.delta", "sequence_number": self._seq - 1, "item_id": item.id,
               "output_index": item.output_index, "content_index": 0, "delta": text}

    def _close_reasoning(self, item: _Reasoning) -> Iterator[Event]:
        text = "".join(item.texts)
        yield self._event("response.reasoning_text.done", item_id=item.id, output_index=item.output_index,
                          content_index=0, text=text)
        yield self._event("response.content_part.done", item_id=item.id, output_index=item.output_index,
                          content_index=0, part={"type": "reasoning_text", "text": text})
        summary: list[dict[str, str]] = []
        failure: tuple[str, str | None] | None = None
        if self.summarize is not None:
            failure = yield from self._summary(item, text, summary)
        done = {"id": item.id, "type": "reasoning", "summary": summary,
                "content": [{"type": "reasoning_text", "text": text}], "status": item.status}
        yield from self._item_done(item, done)
        if failure is not None:
            yield from self.fail(*failure)

    def _summary(self, item: _Reasoning, reasoning: str,
                 summary: list[dict[str, str]]) -> Generator[Event, None, tuple[str, str | None] | None]:
        """Stream the summary part; returns (message, code) if the summary call failed."""
        assert self.summarize is not None
        yield self._event("response.reasoning_summary_part.added", item_id=item.id,
                          output_index=item.output_index, summary_index=0,
                          part={"type": "summary_text", "text": ""})
        texts: list[str] = []
        think = ThinkTagSplitter() if self.think_tags else None
        failure: tuple[str, str | None] | None = None
        for chunk in self.summarize(reasoning):
            if not isinstance(chunk, dict):
                failure = (f"summary call: a chunk is a {type(chunk).__name__}, not a JSON object", "bridge_bad_chunk")
                break
            if chunk.get("error") is not None:
                message, code = _error_fields(chunk["error"])
                failure = (f"summary call: {message}", code)
                break
            if isinstance(chunk.get("usage"), dict):
                self._add_usage(chunk["usage"])
            choices = chunk.get("choices")
            for choice in choices if isinstance(choices, list) else ():
                content = (choice.get("delta") or {}).get("content") if isinstance(choice, dict) else None
                if not content or not isinstance(content, str):
                    continue
                pieces = [p for r, p in think.feed(content) if not r] if think else [content]
                for piece in pieces:
                    texts.append(piece)
                    yield self._event("response.reasoning_summary_text.delta", item_id=item.id,
                                      output_index=item.output_index, summary_index=0, delta=piece)
        if think is not None and failure is None:
            for is_reasoning, piece in think.flush():
                if not is_reasoning:
                    texts.append(piece)
                    yield self._event("response.reasoning_summary_text.delta", item_id=item.id,
                                      output_index=item.output_index, summary_index=0, delta=piece)
        text = "".join(texts)
        yield self._event("response.reasoning_summary_text.done", item_id=item.id,
                          output_index=item.output_index, summary_index=0, text=text)
        yield self._event("response.reasoning_summary_part.done", item_id=item.id,
                          output_index=item.output_index, summary_index=0,
                          part={"type": "summary_text", "text": text})
        summary.append({"type": "summary_text", "text": text})
        return failure

    # --------------------------------------------------------------- message

    def _message(self, kind: str) -> Iterator[Event]:
        """Make the open item a message whose open part is of `kind`; yields what that takes."""
        item = self._open
        if not isinstance(item, _Message):
            yield from self._close_open()
            if self.finished:
                return
            item = _Message(self._item_id("msg"), len(self._output))
            self._open = item
            yield self._event("response.output_item.added", output_index=item.output_index,
                              item={"id": item.id, "type": "message", "status": "in_progress", "content": [],
                                    "role": "assistant"})
        if item.part_kind != kind:
            if item.part_kind is not None:
                yield from self._close_part(item)
            item.part_kind = kind
            part: dict[str, Any] = ({"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
                                    if kind == "output_text" else {"type": "refusal", "refusal": ""})
            yield self._event("response.content_part.added", item_id=item.id, output_index=item.output_index,
                              content_index=len(item.parts), part=part)

    def _answer_text(self, text: str) -> Iterator[Event]:
        if not text:
            return
        item = self._open
        if not (isinstance(item, _Message) and item.part_kind == "output_text"):
            yield from self._message("output_text")
            if self.finished:
                return
            item = self._open
            assert isinstance(item, _Message)
        if not self.strip_citations:
            yield self._text_delta(item, text)
            return
        stripper = item.citations
        if not stripper.held and "<" not in text and text[-1] != " ":
            stripper.raw_length += len(text)
            yield self._text_delta(item, text)
            return
        for piece in stripper.feed(text):
            if isinstance(piece, Citation):
                yield self._annotation(item, {"type": "file_citation", "file_id": piece.file_id,
                                              "filename": self.citation_files.get(piece.file_id, ""),
                                              "index": item.length})
            else:
                yield self._text_delta(item, piece)

    def _text_delta(self, item: _Message, text: str) -> Event:
        item.texts.append(text)
        item.length += len(text)
        logprobs, self._pending_logprobs = self._pending_logprobs, []  # the tokens of the text sent so far
        item.logprobs.extend(logprobs)
        self._seq += 1
        return {"type": "response.output_text.delta", "sequence_number": self._seq - 1, "item_id": item.id,
                "output_index": item.output_index, "content_index": len(item.parts), "delta": text,
                "logprobs": delta_logprobs(logprobs)}

    def _annotation(self, item: _Message, annotation: dict[str, Any]) -> Event:
        item.annotations.append(annotation)
        return self._event("response.output_text.annotation.added", item_id=item.id,
                           output_index=item.output_index, content_index=len(item.parts),
                           annotation_index=len(item.annotations) - 1, annotation=annotation)

    def _refusal_text(self, text: str) -> Iterator[Event]:
        yield from self._message("refusal")
        if self.finished:
            return
        item = self._open
        assert isinstance(item, _Message)
        item.texts.append(text)
        yield self._event("response.refusal.delta", item_id=item.id, output_index=item.output_index,
                          content_index=len(item.parts), delta=text)

    def _url_citations(self, annotations: Any) -> Iterator[Event]:
        if not isinstance(annotations, list):
            raise BadChunk(f"chunk {self._chunks}: annotations is not a list")
        for raw in annotations:
            citation = raw.get("url_citation", raw) if isinstance(raw, dict) else None
            if not isinstance(citation, dict) or not isinstance(citation.get("url"), str):
                raise BadChunk(f"chunk {self._chunks}: an annotation is not a url_citation with a url")
            item = self._open
            if not (isinstance(item, _Message) and item.part_kind == "output_text"):
                yield from self._message("output_text")
                if self.finished:
                    return
                item = self._open
                assert isinstance(item, _Message)
            to_clean = item.citations.to_clean_index
            yield self._annotation(item, {"type": "url_citation",
                                          "start_index": to_clean(_int(citation.get("start_index"))),
                                          "end_index": to_clean(_int(citation.get("end_index"))),
                                          "title": str(citation.get("title") or ""), "url": citation["url"]})

    def _flush_held_text(self) -> Iterator[Event]:
        """Text held back because it might have become markup: at the end it is plain text."""
        if self._think is not None:
            for is_reasoning, piece in self._think.flush():
                yield from (self._reasoning_text(piece) if is_reasoning else self._answer_text(piece))

    def _close_part(self, item: _Message) -> Iterator[Event]:
        if item.citations.held:
            yield self._text_delta(item, item.citations.flush())
        text = "".join(item.texts)
        index = len(item.parts)
        if item.part_kind == "output_text":
            yield self._event("response.output_text.done", item_id=item.id, output_index=item.output_index,
                              content_index=index, text=text, logprobs=delta_logprobs(item.logprobs))
            part: dict[str, Any] = {"type": "output_text", "annotations": item.annotations,
                                    "logprobs": item.logprobs, "text": text}
        else:
            yield self._event("response.refusal.done", item_id=item.id, output_index=item.output_index,
                              content_index=index, refusal=text)
            part = {"type": "refusal", "refusal": text}
        yield self._event("response.content_part.done", item_id=item.id, output_index=item.output_index,
                          content_index=index, part=part)
        item.parts.append(part)
        item.part_kind = None
        item.texts = []
        item.annotations = []
        item.length = 0
        item.logprobs = []
        item.citations = CitationStripper()
