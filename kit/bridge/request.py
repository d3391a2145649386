"""Responses request in, Chat Completions request out (pure).

Everything with a Chat Completions equivalent is translated; everything
without one raises `UnsupportedParameter` naming the parameter and why, so a
request never silently means less than it says. Parameters the bridge itself
implements (`reasoning.summary`, `include: file_search_call.results`, the
`file_search` tool) are accepted and handled by the bridge; `metadata` is
echoed in the response and also sent upstream (Chat Completions has it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kit.bridge.file_input import FileInputError, file_text

SEARCH_TOOL_NAME = "file_search"
SEARCH_TOOL_DESCRIPTION = (
    "Search the user's files for passages relevant to a query. Each result starts with a citation marker "
    "such as <|file-abc123|>; when your answer uses a result, write its marker right after the sentence "
    "that uses it."
)


class UnsupportedParameter(ValueError):
    """A Responses request parameter that Chat Completions cannot express, or a value OpenAI would refuse.

    `code` is the OpenAI error code a server answers it with (`unsupported_parameter`, or for a bad value
    the code OpenAI's API gives, e.g. `decimal_above_max_value`, `invalid_function_parameters`).
    """

    def __init__(self, param: str, reason: str, code: str = "unsupported_parameter") -> None:
        super().__init__(f"{param}: {reason}")
        self.param = param
        self.reason = reason
        self.code = code

    def error_object(self) -> dict[str, Any]:
        """OpenAI's error envelope for this refusal (what a server answers with HTTP 400)."""
        return {"error": {"message": str(self), "type": "invalid_request_error", "param": self.param,
                          "code": self.code}}


# Parameters the bridge reads itself and never sends upstream.
_BRIDGE_ONLY = {"stream", "stream_options", "include", "metadata"}
_PASSED_THROUGH = {"model", "temperature", "top_p", "parallel_tool_calls", "user", "service_tier",
                   "safety_identifier", "prompt_cache_key", "prompt_cache_retention"}
_NO_EQUIVALENT = {
    "previous_response_id": "the bridge keeps no responses; send the whole conversation as `input`",
    "conversation": "the bridge keeps no conversations; send the whole conversation as `input`",
    "background": "Chat Completions has no background mode",
    "prompt": "prompt templates live on OpenAI's servers; Chat Completions cannot use them",
    "max_tool_calls": "Chat Completions has no limit on tool calls",
    "context_management": "Chat Completions has no context management",
}
LOGPROBS_INCLUDE = "message.output_text.logprobs"
_INCLUDES = {"file_search_call.results", LOGPROBS_INCLUDE}
# OpenAI's ranges for the numbers a request may carry (its API reference; a value outside is a 400 there)
_RANGES = {"temperature": (0, 2), "top_p": (0, 1), "top_logprobs": (0, 20)}
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FUNCTION_TOOL_FIELDS = {"type", "name", "description", "parameters", "strict"}


def to_chat_request(
    request: Mapping[str, Any],
    *,
    search_tool: bool = True,
    max_tokens_field: str = "max_tokens",
) -> dict[str, Any]:
    """The Chat Completions request (without `stream`) for a Responses request.

    A `file_search` tool becomes the bridge's own search function
    (`SEARCH_TOOL_NAME`) unless `search_tool` is False (the last round of
    the search loop, which must answer). `max_tokens_field` names the
    upstream's output limit (`max_tokens` is the one every server knows;
    OpenAI's reasoning models want `max_completion_tokens`).
    """
    if not isinstance(request, Mapping):
        raise UnsupportedParameter("request", f"expected a JSON object, got {type(request).__name__}")
    if not request.get("model"):
        raise UnsupportedParameter("model", "required: name the model the upstream should run")
    chat: dict[str, Any] = {}
    for key, value in request.items():
        if key in _RANGES:
            _check_range(key, value)
        if value is None or key in _BRIDGE_ONLY or key in ("input", "instructions", "tools", "tool_choice",
                                                          "reasoning", "text", "max_output_tokens",
                                                          "top_logprobs"):
            continue
        if key in _PASSED_THROUGH:
            chat[key] = value
        elif key in _NO_EQUIVALENT:
            raise UnsupportedParameter(key, _NO_EQUIVALENT[key])
        elif key == "store":
            if value:
                raise UnsupportedParameter("store", "the bridge keeps no responses; pass store=false or leave it out")
        elif key == "truncation":
            if value != "disabled":
                raise UnsupportedParameter("truncation", "Chat Completions never truncates the input; "
                                           "use 'disabled' or leave it out")
        else:
            raise UnsupportedParameter(key, "unknown to the bridge; it has no Chat Completions equivalent it knows of")
    for item in request.get("include") or ():
        if item not in _INCLUDES:
            raise UnsupportedParameter(f"include[{item!r}]", "the bridge only implements "
                                       + ", ".join(sorted(_INCLUDES)))
    if LOGPROBS_INCLUDE in (request.get("include") or ()):
        # llama-cpp-python returns no logprobs at all without top_logprobs (it reads `top_logprobs if logprobs`)
        chat["logprobs"] = True
        chat["top_logprobs"] = request.get("top_logprobs") or 0
    if request.get("metadata") is not None:
        chat["metadata"] = dict(request["metadata"])
    if request.get("max_output_tokens") is not None:
        chat[max_tokens_field] = request["max_output_tokens"]
    messages: list[dict[str, Any]] = []
    if request.get("instructions"):
        messages.append({"role": "system", "content": request["instructions"]})
    messages.extend(input_to_messages(request.get("input")))
    chat["messages"] = messages
    tools = _tools(request.get("tools") or [], search_tool=search_tool)
    if tools:
        chat["tools"] = tools
    if request.get("tool_choice") is not None and (tools or request["tool_choice"] == "none"):
        chat["tool_choice"] = _tool_choice(request["tool_choice"], search_tool=search_tool)
    elif not tools:
        chat.pop("parallel_tool_calls", None)  # servers reject it without tools
    chat.update(_reasoning(request.get("reasoning")))
    chat.update(_text(request.get("text")))
    return chat


def search_tools(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The request's hosted file_search tools (vector_store_ids, max_num_results)."""
    return [t for t in request.get("tools") or () if isinstance(t, Mapping) and t.get("type") == "file_search"]


def input_to_messages(input_: Any) -> list[dict[str, Any]]:
    """Chat messages for a Responses `input` (a string, or a list of items)."""
    if input_ is None:
        return []
    if isinstance(input_, str):
        return [{"role": "user", "content": input_}]
    if not isinstance(input_, list):
        raise UnsupportedParameter("input", f"expected a string or a list of items, got {type(input_).__name__}")
    messages: list[dict[str, Any]] = []
    for n, item in enumerate(input_):
        where = f"input[{n}]"
        if not isinstance(item, Mapping):
            raise UnsupportedParameter(where, "each input item must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            _assistant_with_tool_calls(messages)["tool_calls"].append(
                {"id": item["call_id"], "type": "function",
                 "function": {"name": item["name"], "arguments": item.get("arguments") or ""}})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item["call_id"],
                             "content": _tool_output(item.get("output"), where)})
        elif kind == "file_search_call":
            call_id = str(item.get("id") or f"fs_{n}")
            query = " ".join(item.get("queries") or [])
            _assistant_with_tool_calls(messages)["tool_calls"].append(
                {"id": call_id, "type": "function",
                 "function": {"name": SEARCH_TOOL_NAME, "arguments": json.dumps({"query": query})}})
            messages.append({"role": "tool", "tool_call_id": call_id,
                             "content": search_results_text(item.get("results") or [])})
        elif kind == "mcp_call":  # an MCP call the bridge (or another server) ran: the model sees call and result
            call_id = str(item.get("id") or f"mcp_{n}")
            _assistant_with_tool_calls(messages)["tool_calls"].append(
                {"id": call_id, "type": "function",
                 "function": {"name": item.get("name") or "", "arguments": item.get("arguments") or "{}"}})
            messages.append({"role": "tool", "tool_call_id": call_id, "content": mcp_output_text(item)})
        elif kind in ("mcp_list_tools", "mcp_approval_request", "mcp_approval_response"):
            # the tools are offered again from a fresh listing; an approval is acted on by the bridge's MCP
            # client (kit.bridge.mcp.approved_calls), whose mcp_call the model then sees
            continue
        elif kind == "reasoning":
            # Chat Completions has no input slot for reasoning, and clients send reasoning items back on
            # every turn: the upstream model re-derives it. Not an error, by design (see the module doc).
            continue
        else:
            raise UnsupportedParameter(f"{where}.type", f"{kind!r} items have no Chat Completions equivalent")
    return messages


def mcp_output_text(item: Mapping[str, Any]) -> str:
    """What the model reads for an MCP call: its output, or what went wrong."""
    if item.get("error"):
        error = item["error"]
        message = error.get("message") if isinstance(error, Mapping) else None
        return f"The tool call failed: {message or json.dumps(error, ensure_ascii=False)}"
    return str(item.get("output") or "")


def search_results_text(results: list[Mapping[str, Any]]) -> str:
    """What the model reads for a search: each result behind its citation marker."""
    if not results:
        return "No results."
    blocks = [f"<|{r.get('file_id')}|> (from {r.get('filename')}):\n{r.get('text') or ''}" for r in results]
    return ("Results follow. Cite a result by writing its marker, e.g. "
            f"<|{results[0].get('file_id')}|>, after the sentence that uses it.\n\n" + "\n\n".join(blocks))


def _message(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "system", "developer", "assistant"):
        raise UnsupportedParameter(f"{where}.role", f"{role!r} is not a message role")
    if role == "developer":
        role = "system"  # many chat servers' templates know only system
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise UnsupportedParameter(f"{where}.content", "expected a string or a list of content parts")
    if role == "assistant":
        texts: list[str] = []
        refusals: list[str] = []
        for k, part in enumerate(content):
            kind = part.get("type") if isinstance(part, Mapping) else None
            if kind in ("output_text", "input_text"):
                texts.append(part.get("text") or "")
            elif kind == "refusal":
                refusals.append(part.get("refusal") or "")
            else:
                raise UnsupportedParameter(f"{where}.content[{k}].type",
                                           f"{kind!r} parts cannot be sent as assistant messages")
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
        if refusals:
            message["refusal"] = "".join(refusals)
        return message
    parts = [_content_part(part, f"{where}.content[{k}]") for k, part in enumerate(content)]
    if _has_file(content) and all(p["type"] == "text" for p in parts):
        # a file read as text: one string, since llama.cpp answers list content with an empty stream
        return {"role": role, "content": "\n\n".join(p["text"] for p in parts)}
    if role == "system" or all(p["type"] == "text" for p in parts):
        # Text alone goes as a string, which every chat template takes: llama-cpp-python answers a streamed
        # list of text parts with HTTP 200 and an empty body (the served bridge's history does the same).
        return {"role": role, "content": "".join(p["text"] for p in parts if p["type"] == "text")}
    return {"role": role, "content": parts}


def _has_file(content: list[Any]) -> bool:
    return any(isinstance(part, Mapping) and part.get("type") == "input_file" for part in content)


def _content_part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, Mapping) else None
    if kind in ("input_text", "output_text", "text"):
        return {"type": "text", "text": part.get("text") or ""}
    if kind == "input_image":
        if not part.get("image_url"):
            raise UnsupportedParameter(f"{where}.file_id", "chat servers take images by URL or data URL only")
        image: dict[str, Any] = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":  # read by the bridge: chat servers such as llama.cpp take no files
        try:
            return {"type": "text", "text": file_text(part, where)}
        except FileInputError as exc:
            raise UnsupportedParameter(exc.param, exc.reason) from exc
    raise UnsupportedParameter(f"{where}.type", f"{kind!r} content parts have no Chat Completions equivalent")


def _assistant_with_tool_calls(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The assistant message that carries the next tool call (consecutive calls share one message)."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        return last
    if last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str):
        last["tool_calls"] = []
        return last
    # "" rather than None: some servers (llama-cpp-python) accept only string content
    message: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": []}
    messages.append(message)
    return message


def _tool_output(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = []
        for k, part in enumerate(output):
            if not (isinstance(part, Mapping) and part.get("type") in ("input_text", "output_text")):
                raise UnsupportedParameter(f"{where}.output[{k}]", "tool outputs can only be text in Chat Completions")
            texts.append(part.get("text") or "")
        return "".join(texts)
    raise UnsupportedParameter(f"{where}.output", "expected a string or a list of text parts")


def _tools(tools: list[Any], *, search_tool: bool) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    for n, tool in enumerate(tools):
        where = f"tools[{n}]"
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if kind == "function":
            extra = set(tool) - _FUNCTION_TOOL_FIELDS
            if extra:
                raise UnsupportedParameter(f"{where}.{sorted(extra)[0]}", "Chat Completions function tools do not have it")
            _check_function_tool(tool, where)
            function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None}
            names.add(tool["name"])
            out.append({"type": "function", "function": function})
        elif kind == "file_search":
            if not tool.get("vector_store_ids"):
                raise UnsupportedParameter(f"{where}.vector_store_ids", "name at least one local vector store")
            if tool.get("filters"):
                raise UnsupportedParameter(f"{where}.filters", "the bridge's local stores do not filter on attributes")
            if search_tool:
                out.append({"type": "function", "function": {
                    "name": SEARCH_TOOL_NAME, "description": SEARCH_TOOL_DESCRIPTION,
                    "parameters": {"type": "object", "properties": {"query": {
                        "type": "string", "description": "what to look for, in a few words"}},
                        "required": ["query"]}}})
        else:
            raise UnsupportedParameter(f"{where}.type", f"{kind!r} tools have no Chat Completions equivalent "
                                       "(the bridge implements function and file_search)")
    if SEARCH_TOOL_NAME in names and any(t.get("type") == "file_search" for t in tools):
        raise UnsupportedParameter("tools", f"a function named {SEARCH_TOOL_NAME!r} clashes with the bridge's "
                                   "file search; rename it")
    return out


def _check_range(key: str, value: Any) -> None:
    """A number outside OpenAI's range (or not a number) is refused as OpenAI refuses it, with its codes."""
    if value is None:
        return
    low, high = _RANGES[key]
    integer = key == "top_logprobs"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise UnsupportedParameter(key, f"expected {'an integer' if integer else 'a number'}, got "
                                   f"{type(value).__name__} {value!r}", code="invalid_type")
    if value > high:
        raise UnsupportedParameter(key, f"expected a value <= {high}, but got {value} instead",
                                   code="integer_above_max_value" if integer else "decimal_above_max_value")
    if value < low:
        raise UnsupportedParameter(key, f"expected a value >= {low}, but got {value} instead",
                                   code="integer_below_min_value" if integer else "decimal_below_min_value")


def _check_function_tool(tool: Mapping[str, Any], where: str) -> None:
    """A function tool OpenAI would refuse (a bad name, parameters that are no JSON Schema of an object)."""
    name = tool.get("name")
    if not isinstance(name, str) or not _FUNCTION_NAME.match(name):
        raise UnsupportedParameter(f"{where}.name", f"{name!r} is not a function name (letters, digits, _ and -, "
                                   "at most 64)", code="invalid_value")
    parameters = tool.get("parameters")
    if parameters is None:
        return
    if not isinstance(parameters, Mapping) or parameters.get("type") != "object":
        got = parameters.get("type") if isinstance(parameters, Mapping) else type(parameters).__name__
        raise UnsupportedParameter(f"{where}.parameters", f"Invalid schema for function {name!r}: schema must be "
                                   f"a JSON Schema of 'type: \"object\"', got 'type: {got!r}'",
                                   code="invalid_function_parameters")
    from jsonschema import SchemaError, validators

    try:
        validators.validator_for(parameters).check_schema(parameters)
    except SchemaError as exc:
        raise UnsupportedParameter(f"{where}.parameters", f"Invalid schema for function {name!r}: {exc.message}",
                                   code="invalid_function_parameters") from None


def _tool_choice(choice: Any, *, search_tool: bool) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    kind = choice.get("type") if isinstance(choice, Mapping) else None
    if kind == "function":
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind == "file_search":
        if not search_tool:
            return "none"
        return {"type": "function", "function": {"name": SEARCH_TOOL_NAME}}
    if kind == "allowed_tools":
        allowed = [{"type": "function", "function": {"name": SEARCH_TOOL_NAME if t.get("type") == "file_search"
                                                      else t["name"]}} for t in choice.get("tools") or ()]
        return {"type": "allowed_tools", "allowed_tools": {"mode": choice.get("mode", "auto"), "tools": allowed}}
    raise UnsupportedParameter("tool_choice", f"{choice!r} has no Chat Completions equivalent")


def _reasoning(reasoning: Any) -> dict[str, Any]:
    if not reasoning:
        return {}
    if not isinstance(reasoning, Mapping):
        raise UnsupportedParameter("reasoning", "expected an object with effort and/or summary")
    unknown = set(reasoning) - {"effort", "summary", "generate_summary"}
    if unknown:
        raise UnsupportedParameter(f"reasoning.{sorted(unknown)[0]}", "Chat Completions has no equivalent")
    # summary is the bridge's own job (a second call); only effort goes upstream
    return {"reasoning_effort": reasoning["effort"]} if reasoning.get("effort") else {}


def _text(text: Any) -> dict[str, Any]:
    if not text:
        return {}
    out: dict[str, Any] = {}
    fmt = text.get("format")
    if fmt:
        kind = fmt.get("type")
        if kind == "json_schema":
            schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
            out["response_format"] = {"type": "json_schema", "json_schema": schema}
        elif kind == "json_object":
            out["response_format"] = {"type": "json_object"}
        elif kind != "text":
            raise UnsupportedParameter("text.format.type", f"{kind!r} has no Chat Completions equivalent")
    if text.get("verbosity"):
        out["verbosity"] = text["verbosity"]
    unknown = set(text) - {"format", "verbosity"}
    if unknown:
        raise UnsupportedParameter(f"text.{sorted(unknown)[0]}", "Chat Completions has no equivalent")
    return out
