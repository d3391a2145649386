"""The setups the kit knows: where a server is, how to reach it, what it can do.

One place defines them; the client, the CLI, the runner and the pytest plugin
all read it. Users add or override setups in a TOML file (see `load_setups`).
Setup values are defaults only: explicit arguments and flags always win.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from kit.setups.names import check_setup_name

# "citations": the model copies the citation markers of search results into its answer (a 135M model
# mangles them: seen with SmolLM2, which wrote `<|file-704c...>` for `<|file-704c...|>`).
Capability = Literal["reasoning", "refusal", "vision", "tools", "file_search", "citations", "embeddings"]
ResponsesMode = Literal["native", "bridge"]
CAPABILITIES: tuple[str, ...] = Capability.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Setup:
    name: str
    description: str
    base_url: str
    url_env: str | None
    key_env: str | None
    text_model: str
    vision_model: str | None = None
    embedding_model: str | None = None
    embedding_dimension: int | None = None
    responses: ResponsesMode = "bridge"
    capabilities: frozenset[str] = field(default_factory=frozenset)
    server: str | None = None  # the server the kit starts itself: a name in kit.servers.managed, or "module:function"
    think_tags: bool = False  # the model writes its reasoning inline in <think> tags
    reasoning: str | None = None  # the managed server's reasoning dialect (kit.servers.reasoning.DIALECTS)

    def resolved_base_url(self, env: dict[str, str] | None = None) -> str:
        env = os.environ if env is None else env
        if self.url_env and env.get(self.url_env):
            url = env[self.url_env].rstrip("/")
            return url if url.endswith("/v1") else url + "/v1"
        return self.base_url

    def api_key(self, env: dict[str, str] | None = None) -> str | None:
        env = os.environ if env is None else env
        return env.get(self.key_env) if self.key_env else None

    @property
    def managed(self) -> bool:
        """The kit starts this setup's server itself (`--stack-config server:<name>`, `kit serve <name>`)."""
        return self.server is not None

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


BUILTIN_SETUPS: dict[str, Setup] = {
    s.name: s
    for s in (
        Setup(
            name="ollama",
            description="Ollama's OpenAI-compatible endpoint",
            base_url="http://localhost:11434/v1",
            url_env="OLLAMA_URL",
            key_env=None,
            text_model="llama3.2:3b-instruct-fp16",
            vision_model="llama3.2-vision:11b",
            embedding_model="all-minilm:l6-v2",
            embedding_dimension=384,
            responses="bridge",
            capabilities=frozenset({"tools", "vision", "embeddings", "file_search"}),
        ),
        Setup(
            name="vllm",
            description="a vLLM server",
            base_url="http://localhost:8000/v1",
            url_env="VLLM_URL",
            key_env="VLLM_API_KEY",
            text_model="Qwen/Qwen3-0.6B",
            responses="native",
            capabilities=frozenset({"reasoning", "tools", "file_search"}),
        ),
        Setup(
            name="gpt",
            description="OpenAI",
            base_url="https://api.openai.com/v1",
            url_env="OPENAI_BASE_URL",
            key_env="OPENAI_API_KEY",
            text_model="gpt-4o",
            vision_model="gpt-4o",
            embedding_model="text-embedding-3-small",
            embedding_dimension=1536,
            responses="native",
            capabilities=frozenset({"refusal", "vision", "tools", "file_search", "citations", "embeddings"}),
        ),
        Setup(
            name="claude",
            description="Anthropic's OpenAI-compatible endpoint",
            base_url="https://api.anthropic.com/v1",
            url_env="ANTHROPIC_BASE_URL",
            key_env="ANTHROPIC_API_KEY",
            text_model="claude-sonnet-4-5",
            vision_model="claude-sonnet-4-5",
            responses="bridge",
            capabilities=frozenset({"refusal", "vision", "tools", "file_search", "citations"}),
        ),
        Setup(
            name="local",
            description="the kit's own llama.cpp server on SmolLM2-135M-Instruct (no key, no network)",
            base_url="http://127.0.0.1:8080/v1",
            url_env="KIT_LOCAL_URL",
            key_env=None,
            text_model="smollm2-135m-instruct",
            responses="bridge",
            capabilities=frozenset({"reasoning", "tools", "file_search"}),
            server="local",
            reasoning="think_tags",  # raw llama.cpp: the reasoning inline, split by the bridge
            think_tags=True,
        ),
        Setup(
            name="bridge",
            description="the kit's bridge served over HTTP (kit serve bridge) over the kit's own llama.cpp server",
            base_url="http://127.0.0.1:8090/v1",
            url_env="KIT_BRIDGE_URL",
            key_env=None,
            text_model="smollm2-135m-instruct",
            responses="native",  # the client talks to the served /v1/responses
            capabilities=frozenset({"reasoning", "tools", "file_search"}),  # local's model: the same capabilities
            server="bridge",
            reasoning="mistral",  # content blocks, read by the served bridge
        ),
        Setup(
            name="litellm",
            description="LiteLLM's proxy (litellm[proxy]==1.108.7, provider llamafile/) over the kit's llama.cpp "
                        "server on SmolLM2-135M-Instruct: a Responses server someone else wrote, judged",
            base_url="http://127.0.0.1:4000/v1",  # LiteLLM's own default port, on loopback
            url_env="LITELLM_URL",
            key_env="LITELLM_API_KEY",  # set by the kit to the proxy's per-run master key while it runs
            text_model="smollm2-135m-instruct",
            responses="native",  # LiteLLM's own /v1/responses (its translation over Chat Completions)
            capabilities=frozenset({"reasoning", "tools"}),
            server="litellm",
            reasoning="reasoning_content",  # vLLM's and DeepSeek's field
        ),
        # ogx 1.5.0 (formerly llama-stack) over the same llama.cpp server and model. Capabilities measured against
        # it (tests/live/test_ogx_live.py): a forced named tool makes a function call (auto/required do not: the
        # model never calls on its own and llama-cpp-python ignores `required`); file_search with
        # tool_choice {"type": "file_search"} searches a faiss vector store and answers; /v1/embeddings gives
        # mean-pooled 576-d vectors that rank the embeddings notebook's similar pair above the unrelated one
        # (cosine 0.96 vs 0.76).
        Setup(
            name="ogx",
            description="ogx 1.5.0 (formerly llama-stack) over the kit's llama.cpp server on SmolLM2-135M-Instruct",
            base_url="http://127.0.0.1:8321/v1",
            url_env="OGX_URL",
            key_env=None,
            text_model="llamacpp/smollm2-135m-instruct",
            embedding_model="llamacpp-embed/smollm2-embed",
            embedding_dimension=576,
            responses="native",
            capabilities=frozenset({"reasoning", "tools", "file_search", "embeddings"}),
            server="ogx",
            reasoning="reasoning",  # Ollama's, OpenRouter's and newer vLLM's field
        ),
    )
}


class UnknownSetup(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; say it plainly
        return str(self.args[0])


def load_setups(config: Path | None = None) -> dict[str, Setup]:
    """Built-in setups, overridden or extended by a TOML file.

    The file is `$KIT_SETUPS_FILE`, else the project's `kit-setups.toml`
    (`kit.setups.project`), when present. Each `[setups.NAME]` table gives
    Setup fields; a NAME that is built in only replaces the fields it names.
    An `evidence` table (what `kit setup add` saw for each capability) is kept
    in the file for people and takes no part here.
    """
    from kit.setups.project import setups_file

    setups = dict(BUILTIN_SETUPS)
    path = config or setups_file(os.environ)
    if not path.is_file():
        return setups
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read setups file: {exc}") from exc
    for name, fields in data.get("setups", {}).items():
        check_setup_name(name, f"{path}: [setups.{name}]")
        fields = dict(fields)
        fields.pop("evidence", None)
        unknown = sorted(set(fields.get("capabilities", ())) - set(CAPABILITIES))
        if unknown:
            raise ValueError(f"{path}: [setups.{name}]: unknown capabilities {', '.join(map(str, unknown))}; "
                             f"the capabilities are {', '.join(CAPABILITIES)}")
        if fields.get("responses", "native") not in ("native", "bridge"):
            raise ValueError(f"{path}: [setups.{name}]: responses = {fields['responses']!r}; choose \"native\" (the "
                             f"server's own /v1/responses) or \"bridge\" (the kit's bridge over its Chat Completions)")
        if "capabilities" in fields:
            fields["capabilities"] = frozenset(fields["capabilities"])
        if name not in setups:
            missing = [f for f in ("base_url", "text_model") if not fields.get(f)]
            if missing:
                raise ValueError(f"{path}: [setups.{name}] needs {' and '.join(missing)} (the server's base URL, "
                                 f"e.g. http://127.0.0.1:8000/v1, and its model); `kit setup add {name} --url URL` "
                                 f"probes a server and writes the table")
            fields = {"description": name, "url_env": None, "key_env": None, **fields}  # optional in the file
        try:
            setups[name] = replace(setups[name], **fields) if name in setups else Setup(name=name, **fields)
        except TypeError as exc:
            raise ValueError(f"{path}: [setups.{name}]: {exc}") from exc
    return setups


def get_setup(name: str, config: Path | None = None) -> Setup:
    check_setup_name(name, "setup", error=UnknownSetup)
    setups = load_setups(config)
    if name not in setups:
        raise UnknownSetup(f"unknown setup {name!r}; known setups: {', '.join(sorted(setups))} "
                           f"(add your own in kit-setups.toml)")
    return setups[name]
