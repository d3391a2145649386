"""The reasoning server: SmolLM2 made to think by a llama.cpp grammar, its reasoning re-emitted in a server dialect.

SmolLM2-135M never reasons on its own. For a chat request that asks for
reasoning (`reasoning_effort`, OpenRouter's `reasoning`, Ollama's `think`,
vLLM's `chat_template_kwargs.enable_thinking`), this proxy in front of
llama-cpp-python's server adds a GBNF grammar (`GRAMMAR`, compiled by
llama.cpp's `LlamaGrammar` inside the server) that makes the model write
`<think>` a sentence or two `</think>` and then a one-sentence answer, from
real sampled tokens. The reasoning is shaped by the grammar: the kit tests the
wire, not the model's wisdom.

Like vLLM's reasoning parsers, the proxy then splits the `<think>` text out of
the content (`kit.bridge.markup.ThinkTagSplitter`) and streams it in the
dialect the server was started with (`DIALECTS`):

- `reasoning_content`: `delta.reasoning_content` (vLLM, DeepSeek, GPUStack, DeepInfra);
- `reasoning`: `delta.reasoning` with OpenRouter's `reasoning_details` beside it (Ollama, OpenRouter);
- `think_tags`: inline `<think>...</think>` in `delta.content`, as raw llama.cpp sends it (unchanged bytes);
- `mistral`: `delta.content` as a list of blocks, `{"type": "thinking", "thinking": [{"type": "text", ...}]}`
  before `{"type": "text", ...}` (Mistral's Magistral models).

Every other request (no reasoning asked, or tools / a response format, which
a grammar would fight) passes through byte for byte, so what the kit recorded
without reasoning stays valid; except one rewrite that makes llama-cpp-python
speak the standard: `response_format: json_schema` becomes its own
`{"type": "json_object", "schema": ...}` (`schema_format`), which it compiles to
a grammar (it refuses the standard type with a 500). `python -m kit.servers.reasoning --upstream URL
--dialect D --port N` runs it; `LocalServer(reasoning=D)` starts it in front
of its llama.cpp server.
"""

from __future__ import annotations

import argparse
import copy
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from kit.bridge.markup import THINK_CLOSE, THINK_OPEN, ThinkTagSplitter

Dialect = Literal["reasoning_content", "reasoning", "think_tags", "mistral"]
DIALECTS: tuple[str, ...] = ("reasoning_content", "reasoning", "think_tags", "mistral")

# One or two sentences of reasoning inside the tags, then a one-sentence answer; no '<' anywhere but the tags,
# so the model can only close the reasoning with `</think>`, and the grammar ends (EOS) after the answer.
GRAMMAR = r"""
root ::= "<think>\n" sentence (" " sentence)? "\n</think>\n\n" sentence
sentence ::= [A-Za-z0-9] [^<\n.!?]{0,160} [.!?]
"""

ASKING_FIELDS = ("reasoning_effort", "reasoning", "think", "chat_template_kwargs", "tools", "response_format")


class UnknownDialect(ValueError):
    def __init__(self, dialect: str) -> None:
        super().__init__(f"unknown reasoning dialect {dialect!r}: choose one of {', '.join(DIALECTS)}")


def check_dialect(dialect: str) -> Dialect:
    if dialect not in DIALECTS:
        raise UnknownDialect(dialect)
    return dialect  # type: ignore[return-value]


def asks_for_reasoning(body: Mapping[str, Any]) -> bool:
    """Whether a chat request asks for reasoning, in any of the ways clients and peers say it."""
    effort = body.get("reasoning_effort")
    if isinstance(effort, str) and effort not in ("", "none"):
        return True
    reasoning = body.get("reasoning")  # OpenRouter: {"effort": ...} / {"enabled": true} / {"max_tokens": n}
    if isinstance(reasoning, Mapping) and reasoning.get("enabled", True) and (
            reasoning.get("effort") not in (None, "none") or reasoning.get("enabled") or reasoning.get("max_tokens")):
        return True
    if body.get("think") is True:  # Ollama
        return True
    kwargs = body.get("chat_template_kwargs")  # vLLM
    return isinstance(kwargs, Mapping) and kwargs.get("enable_thinking") is True


def shapes(body: Mapping[str, Any]) -> bool:
    """Whether the proxy shapes this request: it asks for reasoning, and nothing else constrains the output."""
    return asks_for_reasoning(body) and not body.get("tools") and not body.get("response_format") \
        and not body.get("grammar")


def schema_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request with a standard `response_format: json_schema` in llama-cpp-python's own form
    (`{"type": "json_object", "schema": ...}`, which it compiles to a grammar): llama-cpp-python 0.3.x refuses
    the standard type with a 500 ("Input should be 'text' or 'json_object'"). None: nothing to rewrite."""
    fmt = body.get("response_format")
    if not (isinstance(fmt, Mapping) and fmt.get("type") == "json_schema"):
        return None
    schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt.get("json_schema"), Mapping) else None
    return {**body, "response_format": {"type": "json_object", **({"schema": schema} if schema else {})}}


def shape_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """The request llama-cpp-python gets: the grammar added (its server compiles it with `LlamaGrammar`)."""
    return {**body, "grammar": GRAMMAR}


# -- the reasoning parser: raw llama.cpp chunks in, chunks in a dialect out (pure) --------------------------------


def _delta_for(dialect: Dialect, is_reasoning: bool, text: str) -> dict[str, Any]:
    if not is_reasoning:
        return {"content": [{"type": "text", "text": text}]} if dialect == "mistral" else {"content": text}
    if dialect == "reasoning_content":
        return {"content": None, "reasoning_content": text}
    if dialect == "reasoning":
        return {"content": None, "reasoning": text,
                "reasoning_details": [{"type": "reasoning.text", "text": text, "format": "unknown", "index": 0}]}
    if dialect == "mistral":
        return {"content": [{"type": "thinking", "thinking": [{"type": "text", "text": text}]}]}
    raise AssertionError(f"{dialect} reasoning stays inline")


class DialectWriter:
    """Re-emits one streamed completion in a dialect: `feed` each upstream chunk, get the chunks to send.

    A chunk whose content holds both reasoning and answer text (or a tag) becomes one chunk per piece; text that
    might still become a tag is held back until the next chunk (or the finish). `think_tags` changes nothing.
    """

    def __init__(self, dialect: str) -> None:
        self.dialect = check_dialect(dialect)
        self._splitter = ThinkTagSplitter()
        self.reasoning: list[str] = []  # what went out as reasoning, for callers that check it
        self.answer: list[str] = []

    def feed(self, chunk: Any) -> list[Any]:
        if self.dialect == "think_tags" or not isinstance(chunk, dict) or not isinstance(chunk.get("choices"), list) \
                or len(chunk["choices"]) != 1 or not isinstance(chunk["choices"][0], dict):
            return [chunk]
        choice = chunk["choices"][0]
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        content = delta.get("content")
        pieces = self._splitter.feed(content) if isinstance(content, str) and content else []
        if choice.get("finish_reason"):
            pieces += self._splitter.flush()
        out = []
        rest = {k: v for k, v in delta.items() if k != "content"}
        for number, (is_reasoning, text) in enumerate(pieces):
            (self.reasoning if is_reasoning else self.answer).append(text)
            piece_delta = {**(rest if number == 0 else {}), **_delta_for(self.dialect, is_reasoning, text)}
            out.append(self._with(chunk, piece_delta, finish=None))
        if choice.get("finish_reason") or (not pieces and not (isinstance(content, str) and content)):
            # the finish (usage, role-only and empty chunks too) goes out as it came, without the text it had
            out.append(self._with(chunk, rest if not pieces else {}, finish=choice.get("finish_reason")))
        return out

    @staticmethod
    def _with(chunk: dict[str, Any], delta: dict[str, Any], finish: Any) -> dict[str, Any]:
        copied = copy.deepcopy({k: v for k, v in chunk.items() if k != "choices"})
        choice = {k: v for k, v in chunk["choices"][0].items() if k not in ("delta", "finish_reason")}
        copied["choices"] = [{**choice, "delta": delta, "finish_reason": finish}]
        return copied


def split_message(content: str) -> tuple[str, str]:
    """(reasoning, answer) of a whole `<think>...</think>` answer (a request without `stream`)."""
    splitter = ThinkTagSplitter()
    pieces = splitter.feed(content) + splitter.flush()
    return ("".join(t for r, t in pieces if r), "".join(t for r, t in pieces if not r))


def rewrite_completion(body: dict[str, Any], dialect: str) -> dict[str, Any]:
    """A non-streamed completion in the dialect: the reasoning moved out of `message.content`."""
    dialect = check_dialect(dialect)
    if dialect == "think_tags":
        return body
    body = copy.deepcopy(body)
    for choice in body.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("content"), str) \
                or THINK_OPEN not in message["content"]:
            continue
        reasoning, answer = split_message(message["content"])
        if dialect == "reasoning_content":
            message.update(content=answer, reasoning_content=reasoning)
        elif dialect == "reasoning":
            message.update(content=answer, reasoning=reasoning, reasoning_details=[
                {"type": "reasoning.text", "text": reasoning, "format": "unknown", "index": 0}])
        else:
            message["content"] = [{"type": "thinking", "thinking": [{"type": "text", "text": reasoning}]},
                                  {"type": "text", "text": answer}]
    return body


def rewrite_sse_lines(lines: Iterator[str], dialect: str) -> Iterator[str]:
    """SSE `data:` lines of llama.cpp's stream in, SSE events in the dialect out (each ends in a blank line)."""
    writer = DialectWriter(dialect)
    for line in lines:
        yield from _rewrite_line(writer, line)


# -- the proxy (I/O) ---------------------------------------------------------------------------------------------


def create_app(upstream: str, dialect: str) -> Any:
    """The ASGI app: everything goes to `upstream` (…/v1); chat requests asking for reasoning are shaped."""
    from starlette.background import BackgroundTask
    from starlette.requests import Request
    from starlette.responses import Response, StreamingResponse

    from kit.servers.relay import passed_headers, proxy_app, relay_raw, send_on, upstream_client

    dialect = check_dialect(dialect)
    root = upstream.rstrip("/").removesuffix("/v1")
    client = upstream_client()

    async def forward(request: Request) -> Response:
        body = await request.body()
        shaped = False
        if request.method == "POST" and request.url.path.endswith("/chat/completions") and body:
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict) and shapes(parsed):
                body = json.dumps(shape_request(parsed)).encode()
                shaped = True
            elif isinstance(parsed, dict) and (standard := schema_format(parsed)) is not None:
                body = json.dumps(standard).encode()
            if isinstance(parsed, dict):  # the log says what each peer asked (the README's evidence)
                asked = {k: parsed[k] for k in ASKING_FIELDS if k in parsed}
                print(f"chat request: stream={parsed.get('stream')} {json.dumps(asked)} shaped={shaped}", flush=True)
        answer = await send_on(client, request, root, body)
        passed = passed_headers(answer)
        streamed = "text/event-stream" in answer.headers.get("content-type", "")
        if shaped and answer.status_code == 200 and dialect != "think_tags" and not streamed:
            data = await answer.aread()
            await answer.aclose()
            try:
                data = json.dumps(rewrite_completion(json.loads(data), dialect)).encode()
            except ValueError:
                pass
            return Response(data, status_code=200, headers={k: v for k, v in passed.items()
                                                            if k.lower() != "content-length"})
        if shaped and answer.status_code == 200 and dialect != "think_tags":
            async def rewritten() -> AsyncIterator[bytes]:
                writer = DialectWriter(dialect)
                async for line in answer.aiter_lines():
                    for event in _rewrite_line(writer, line):
                        yield event.encode()

            return StreamingResponse(rewritten(), status_code=200, headers=passed,
                                     background=BackgroundTask(answer.aclose))

        return relay_raw(answer, passed)

    return proxy_app(client, forward)


def _rewrite_line(writer: DialectWriter, line: str) -> list[str]:
    if not line.startswith("data:"):
        return []
    payload = line[5:].strip()
    if payload == "[DONE]":
        return ["data: [DONE]\n\n"]
    try:
        chunk = json.loads(payload)
    except ValueError:
        return [f"data: {payload}\n\n"]
    return [f"data: {json.dumps(out, ensure_ascii=False)}\n\n" for out in writer.feed(chunk)]


def proxy_command(upstream: str, dialect: str, host: str, port: int) -> list[str]:
    import sys

    return [sys.executable, "-m", "kit.servers.reasoning", "--upstream", upstream, "--dialect", dialect,
            "--host", host, "--port", str(port)]


class ReasoningFront:
    """The reasoning proxy as a child process in front of a running llama.cpp server (LocalServer starts it)."""

    def __init__(self, dialect: str, *, host: str, log_path: Path) -> None:
        self.dialect = check_dialect(dialect)
        self.host = host
        self.log_path = log_path
        self.port: int | None = None
        self._child: Any = None

    def start(self, upstream: str, *, port: int | None = None, timeout: float = 30.0) -> int:
        """Start it over `upstream` (…/v1) on `port` (None: a free one); returns the port once it answers."""
        from kit.servers.process import ChildProcess, answers, free_port, log_tail

        self.port = port if port is not None else free_port(self.host)
        base = f"http://{self.host}:{self.port}/v1"
        child = ChildProcess(proxy_command(upstream, self.dialect, self.host, self.port), self.log_path,
                             stop_timeout=5.0)
        self._child = child.start()

        def exited(code: int) -> Any:
            raise RuntimeError(f"the reasoning proxy (kit.servers.reasoning) exited with code {code} while "
                               f"starting:\n{log_tail(child.log_text())}")

        def timed_out() -> Any:
            raise RuntimeError(f"the reasoning proxy did not answer at {base} in {timeout:.0f} s; log {self.log_path}")

        child.wait_until(lambda http: answers(http, base + "/models"), timeout=timeout, interval=0.1,
                         exited=exited, timed_out=timed_out)
        return self.port

    def stop(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.stop()


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="llama-cpp-python's base URL (…/v1)")
    parser.add_argument("--dialect", required=True, choices=DIALECTS)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(args.upstream, args.dialect), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
