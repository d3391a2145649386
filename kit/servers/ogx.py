"""The `ogx` setup's server: ogx 1.5.0 (formerly llama-stack) over the kit's own llama.cpp server, offline.

ogx is the server whose Responses events this kit was made to judge. The kit
starts, all on 127.0.0.1:
- the kit's llama.cpp server on SmolLM2-135M-Instruct (`LocalServer`, fixed
  alias, so ogx names the model `llamacpp/<alias>`);
- a second llama.cpp server for embeddings (mean-pooled, 576 dimensions), which
  ogx's vector stores need (llama.cpp's per-token vectors otherwise);
- `kit.servers.ogx_proxy` in front of the chat server (list-of-parts content
  and `max_completion_tokens`, which llama-cpp-python rejects or ignores);
- ogx itself, from its cached Python 3.12 environment (`kit.servers.ogx_env`),
  with a run config generated into a run folder: Responses, Files, vector stores
  over `inline::faiss`, file_search, storage in SQLite files of the run folder.

`stop()` ends them all (ogx's worker processes with it: it runs in a process
group of its own), also when a start fails. Every start failure raises a
`LocalServerError` subclass that says what to do, with the tail of the log.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from kit.servers.errors import LocalServerError, PortBusy, ServerCrashed, ServerStartTimeout
from kit.servers.local import LocalServer, server_environment
from kit.servers.ogx_env import OGX_VERSION, OgxEnvironment, ensure_environment
from kit.servers.process import (
    DEFAULT_HOST,
    ChildProcess,
    ProcessServer,
    answers,
    busy_message,
    free_port,
    log_tail,
    served_models,
)
from kit.servers.process import stop_process_group as _stop_group  # noqa: F401 - the name tests/servers use

PROVIDER_ID = "llamacpp"  # ogx names a model `<provider_id>/<served id>`
EMBED_PROVIDER_ID = "llamacpp-embed"
EMBED_ALIAS = "smollm2-embed"
EMBED_DIMENSION = 576  # SmolLM2-135M's hidden size
DEFAULT_PORT = 8321
# ogx's own settings come from OGX_* / LLAMA_STACK_* variables; a stray one in the user's shell must not reconfigure it.
_OGX_ENV_PREFIXES = ("OGX_", "LLAMA_STACK_")


class OgxStartFailed(LocalServerError):
    """ogx or one of its helpers could not start; the message has the tail of the log."""


def run_config(*, chat_url: str, embed_url: str, state_dir: Path, host: str, port: int,
               max_tokens: int = 1024) -> dict[str, Any]:
    """ogx's run config (a v2 distribution config) for the kit's llama.cpp servers, file_search over faiss.

    `chat_url` is the proxy in front of llama.cpp (base URL ending in /v1);
    `embed_url` the embeddings server's. `max_tokens` caps an answer when a
    request sets no `max_output_tokens`. TLS is off (`insecure`): loopback only.
    """
    state = str(state_dir)
    return {
        "version": 2,
        "distro_name": "kit-ogx-llamacpp",
        "apis": ["files", "file_processors", "inference", "responses", "tool_runtime", "vector_io"],
        "providers": {
            "inference": [
                {"provider_id": PROVIDER_ID, "provider_type": "remote::vllm",
                 "config": {"base_url": chat_url, "max_tokens": max_tokens, "api_token": "fake"}},
                {"provider_id": EMBED_PROVIDER_ID, "provider_type": "remote::vllm",
                 "config": {"base_url": embed_url, "api_token": "fake"}},
            ],
            "vector_io": [{"provider_id": "faiss", "provider_type": "inline::faiss",
                           "config": {"persistence": {"namespace": "vector_io::faiss", "backend": "kv_default"}}}],
            "files": [{"provider_id": "builtin-files", "provider_type": "inline::localfs",
                       "config": {"storage_dir": f"{state}/files",
                                  "metadata_store": {"table_name": "files_metadata", "backend": "sql_default"}}}],
            "file_processors": [{"provider_id": "auto", "provider_type": "inline::auto"}],
            "responses": [{"provider_id": "builtin", "provider_type": "inline::builtin",
                           "config": {"persistence": {"responses": {"table_name": "responses",
                                                                    "backend": "sql_default"}}}}],
            "tool_runtime": [{"provider_id": "file-search", "provider_type": "inline::file-search"}],
        },
        "storage": {
            "backends": {
                "kv_default": {"type": "kv_sqlite", "db_path": f"{state}/kvstore.db"},
                "sql_default": {"type": "sql_sqlite", "db_path": f"{state}/sql_store.db"},
            },
            "stores": {
                "metadata": {"namespace": "registry", "backend": "kv_default"},
                "inference": {"table_name": "inference_store", "backend": "sql_default"},
                "conversations": {"table_name": "openai_conversations", "backend": "sql_default"},
                "prompts": {"table_name": "prompts", "backend": "sql_default"},
                "connectors": {"table_name": "connectors", "backend": "sql_default"},
            },
        },
        "registered_resources": {
            "models": [{"model_id": EMBED_ALIAS, "provider_id": EMBED_PROVIDER_ID, "provider_model_id": EMBED_ALIAS,
                        "model_type": "embedding", "metadata": {"embedding_dimension": EMBED_DIMENSION}}],
            "vector_stores": [],
        },
        "server": {"host": host, "port": port, "insecure": True},
        "vector_stores": {
            "default_provider_id": "faiss",
            "default_embedding_model": {"provider_id": EMBED_PROVIDER_ID, "model_id": EMBED_ALIAS,
                                        "embedding_dimensions": EMBED_DIMENSION},
        },
    }


def ogx_command(env: OgxEnvironment, config_path: Path, port: int) -> list[str]:
    return [str(env.ogx), "run", str(config_path), "--port", str(port), "--insecure"]


def ogx_environment(environ: Mapping[str, str], env: OgxEnvironment) -> dict[str, str]:
    """The child's environment: no stray OGX_*/LLAMA_STACK_* or llama.cpp settings, tiktoken from the cache folder."""
    child = {k: v for k, v in server_environment(environ).items() if not k.upper().startswith(_OGX_ENV_PREFIXES)}
    child.pop("VIRTUAL_ENV", None)
    child.pop("PYTHONPATH", None)  # the kit's path must not leak into a 3.12 interpreter
    child["TIKTOKEN_CACHE_DIR"] = str(env.tiktoken_cache)
    child["PATH"] = os.pathsep.join(filter(None, (str(env.venv / "bin"), environ.get("PATH"))))
    return child


def proxy_command(upstream: str, host: str, port: int) -> list[str]:
    return [sys.executable, "-m", "kit.servers.ogx_proxy", "--upstream", upstream, "--host", host, "--port", str(port)]


class OgxServer(ProcessServer):
    """ogx over the kit's llama.cpp servers, for as long as the `with` block (or until `stop()`).

    `port=None` picks a free loopback port. The run folder (`run_dir`, else a
    new temp folder) holds the generated config, ogx's state and every log;
    it is kept after stop. `log_path` is ogx's log. `upstream` (a base URL
    ending in /v1) puts ogx over a llama.cpp server that is already running
    and serves `llama_alias`, instead of starting one (benchmarks compare
    bridges over one server that way).
    """

    def __init__(self, *, llama_alias: str, host: str = DEFAULT_HOST, port: int | None = None,
                 log_path: str | Path | None = None, run_dir: str | Path | None = None, start_timeout: float = 180.0,
                 stop_timeout: float = 40.0, n_threads: int | None = None, model: str | Path | None = None,
                 home: str | Path | None = None, upstream: str | None = None, reasoning: str | None = None) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"ogx is served on 127.0.0.1 only (its config runs without TLS), not on {host!r}")
        self.llama_alias = llama_alias  # the model id llama.cpp serves
        self.reasoning = reasoning  # the chat server's reasoning dialect (kit.servers.reasoning)
        self.text_model = f"{PROVIDER_ID}/{llama_alias}"  # the id ogx gives it
        super().__init__(host="127.0.0.1", port=port, log_path=log_path, start_timeout=start_timeout,
                         stop_timeout=stop_timeout)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.n_threads = n_threads
        self.model = model
        self.home = Path(home) if home is not None else None
        self.upstream = upstream.rstrip("/") if upstream else None
        self.command: list[str] = []
        self.start_seconds: float | None = None  # from spawning the llama.cpp servers to ogx serving the model
        self.install_seconds: float = 0.0  # building ogx's environment (0 when cached)
        self.environment: OgxEnvironment | None = None
        self.chat: LocalServer | None = None
        self.embed: LocalServer | None = None
        self._proxy: ChildProcess | None = None

    # -- what callers use -------------------------------------------------------------------------------------

    def _not_started(self) -> Exception:
        return LocalServerError("ogx is not started: use `with OgxServer(...) as server:` or .start()")

    @property
    def chat_url(self) -> str:
        """The llama.cpp chat server ogx's requests go to (through the normaliser)."""
        if self.upstream is not None:
            return self.upstream
        if self.chat is None:
            raise LocalServerError("ogx is not started")
        return self.chat.base_url

    @property
    def model_alias(self) -> str:
        """The model id clients send (what `kit serve` prints)."""
        return self.text_model

    def pids(self) -> list[int]:
        """Every process this server started that is still running (ogx, proxy, llama.cpp servers)."""
        found = [p.pid for p in (self._child, self._proxy) if p is not None and p.running and p.pid]
        return found + [s.pid for s in (self.chat, self.embed) if s is not None and s.running and s.pid]

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"<OgxServer ogx {OGX_VERSION} on {self.text_model} {state}, run folder {self.run_dir}>"

    # -- start and stop ---------------------------------------------------------------------------------------

    port_busy = PortBusy

    def _prepare(self) -> None:
        """ogx's own environment (built the first time), and the run's folder and log."""
        self.environment, self.install_seconds = ensure_environment(
            self.home, progress=lambda line: print(f"kit: {line}", file=sys.stderr, flush=True))
        if self.run_dir is None:
            self.run_dir = Path(tempfile.mkdtemp(prefix="kit-ogx-"))
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.log_path is None:
            self.log_path = self.run_dir / "ogx.log"

    def _launch(self, began: float) -> None:
        self._start_helpers()
        self._start_ogx()
        self._wait_until_ready(began)
        self.start_seconds = time.monotonic() - began

    def stop(self) -> None:
        """ogx (SIGTERM, SIGKILL after `stop_timeout`), its leftover workers, the proxy and llama.cpp; safe twice.

        ogx takes about 20 s to stop: it waits that long for its file-processing worker pool.
        """
        for child in (self._child, self._proxy):
            if child is not None:
                child.stop()
        self._child = self._proxy = None
        for server in (self.embed, self.chat):
            if server is not None:
                server.stop()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until ogx exits by itself (`kit serve` runs this until Ctrl-C); its exit code."""
        if self._child is None:
            raise LocalServerError("ogx is not started")
        return self._child.wait(timeout)

    # -- internals --------------------------------------------------------------------------------------------

    def _start_helpers(self) -> None:
        assert self.run_dir is not None
        if self.upstream is None:
            self.chat = LocalServer(model=self.model, model_alias=self.llama_alias, n_threads=self.n_threads,
                                    log_path=self.run_dir / "llama-chat.log", reasoning=self.reasoning)
        self.embed = LocalServer(model=self.model, model_alias=EMBED_ALIAS, n_threads=1, embeddings=True,
                                 log_path=self.run_dir / "llama-embed.log")
        if self.chat is not None:
            self.chat.start()
        self.embed.start()
        port = free_port(self.host)
        self._proxy = proxy = ChildProcess(proxy_command(self.chat_url, self.host, port), self.run_dir / "proxy.log",
                                           stop_timeout=5.0).start()
        self.proxy_url = f"http://{self.host}:{port}/v1"

        def exited(code: int) -> NoReturn:
            raise OgxStartFailed(f"ogx's request normaliser (kit.servers.ogx_proxy) exited with code "
                                 f"{code} while starting:\n{log_tail(proxy.log_text())}")

        def timed_out() -> NoReturn:
            raise ServerStartTimeout(f"ogx's request normaliser did not answer at {self.proxy_url} in 30 s; "
                                     f"log {proxy.log_path}")

        proxy.wait_until(lambda http: answers(http, self.proxy_url + "/models"), timeout=30, interval=0.1,
                         exited=exited, timed_out=timed_out)

    def _start_ogx(self) -> None:
        assert self.run_dir is not None and self.environment is not None and self.embed is not None
        assert self.log_path is not None
        self.port = self.requested_port if self.requested_port is not None else free_port(self.host)
        config = run_config(chat_url=self.proxy_url, embed_url=self.embed.base_url, state_dir=self.run_dir / "state",
                            host=self.host, port=self.port)
        config_path = self.run_dir / "ogx-run.yaml"
        config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")  # JSON is YAML
        self.command = ogx_command(self.environment, config_path, self.port)
        # Only ogx itself gets SIGTERM on stop (see stop_process_group); its leftover workers get SIGKILL.
        self._child = ChildProcess(self.command, self.log_path, env=ogx_environment(os.environ, self.environment),
                                   cwd=self.run_dir, stop_timeout=self.stop_timeout).start()

    def _wait_until_ready(self, started: float) -> None:
        assert self._child is not None
        # the start timeout counts from the llama.cpp servers' spawn, before ogx's
        self._child.wait_until(
            lambda http: self.text_model in (served_models(http, self.base_url + "/models") or []),
            timeout=self.start_timeout - (self._child.started_at - started), interval=0.25,
            exited=self._raise_crash, timed_out=self._raise_timeout)

    def _raise_crash(self, code: int) -> NoReturn:
        text = self.log_text()
        if "address already in use" in text.lower():
            raise PortBusy(busy_message(self.host, self.port) + f"\nLog {self.log_path}, last lines:\n{log_tail(text)}")
        raise ServerCrashed(f"ogx exited with code {code} while starting (the log says why). Command: "
                            f"{' '.join(self.command)}\nLog {self.log_path}, last lines:\n{log_tail(text)}")

    def _raise_timeout(self) -> NoReturn:
        raise ServerStartTimeout(
            f"ogx did not serve {self.text_model} at {self.base_url} within {self.start_timeout:.0f} s "
            f"(a busy machine? raise --start-timeout). Log {self.log_path}, last lines:\n"
            f"{log_tail(self.log_text())}")


def ogx_server_for(setup: Any, *, upstream: str | None = None, **options: Any) -> OgxServer:
    """The `ogx` setup's managed server (the factory that `Setup.server` names), serving its text_model id.

    `upstream`: a running llama.cpp server (base URL) to put ogx over, instead of starting one.
    """
    alias = setup.text_model.partition("/")[2] or setup.text_model
    options.setdefault("llama_alias", alias)
    options.setdefault("reasoning", getattr(setup, "reasoning", None))
    options.pop("embeddings", None)  # `kit serve --embeddings` is local's: ogx always has its embeddings server
    options.pop("engine", None)
    return OgxServer(upstream=upstream, **options)
