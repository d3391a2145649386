"""The `litellm` setup's server: LiteLLM's proxy in front of the kit's own llama.cpp server, started and stopped by the kit.

LiteLLM is a peer the kit judges, not a part of it: its `/v1/responses` is
this setup's native Responses route, over the same SmolLM2 model as `local`.
It pins its own dependencies (its own openai, httpx, pydantic, fastapi ...),
so it never shares the kit's environment: `uv tool run --from
'litellm[proxy]==VERSION' litellm ...` runs it in an isolated environment that
uv builds once and caches (`uv` comes from PyPI with the `local` extra). uv
over a venv of our own: it is the ecosystem's tool for exactly this, it
caches across runs and clones, and a pinned requirement resolves to the same
environment every time. Measured here (2 shared cores, loaded): the first run
(resolve, download and install 116 packages) 30 s to `litellm --version`;
cached, 19-20 s to `--version` (so the install adds about 10 s, once) and
22-45 s until the proxy answers (importing LiteLLM dominates).

The provider is `llamafile/<alias>`: it speaks Chat Completions to the
upstream, so LiteLLM's own Responses-over-Chat-Completions translation is
what the kit judges. (`openai/` and `hosted_vllm/` forward to the upstream's
own /v1/responses, which llama-cpp-python does not have: 404.)

Safety: the proxy binds 127.0.0.1 only (LiteLLM's default is 0.0.0.0); each
start gets a fresh random master key, handed to LiteLLM through its
environment (never on a command line or in the config file) and to the kit's
clients by the caller, from `client_environment()`: `kit run` puts it in the
kernels' environment under the setup's `key_env` (never a papermill parameter,
which would be written into executed notebooks); this module writes no
variable of its own process. Recordings drop the
Authorization header; log tails in error messages have the key blanked out.
LiteLLM's weak-key override is never set (it is removed from the proxy's
environment if the user's shell has it).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx

from kit.servers.errors import LocalServerError, PortBusy, ServerCrashed, ServerNotInstalled, ServerStartTimeout
from kit.servers.local import DEFAULT_ALIAS, LocalServer
from kit.servers.process import (
    DEFAULT_HOST,
    ChildProcess,
    ProcessServer,
    busy_message,
    first_exit,
    free_port,
    log_tail,
    read_log,
    served_models,
    temp_log_path,
)

LITELLM_VERSION = "1.108.7"
PROVIDER = "llamafile"
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"  # what the proxy reads its master key from
DEFAULT_KEY_ENV = "LITELLM_API_KEY"  # what the kit's clients read it from (the setup's key_env)
UV_ENV = "KIT_UV"  # a uv binary to use instead of the `uv` package's / the one on PATH
UV_HINT = 'pip install -e ".[local]" (brings uv from PyPI), or set KIT_UV to a uv binary'
WEAK_KEY_OVERRIDE = "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_REDACTED = "<master key>"

# LiteLLM reads these from the environment (its CLI's envvars, its settings, its
# database and cache wiring): a stray one in the user's shell would move the
# proxy, attach it to a database, or weaken its key check. The child gets none.
_LITELLM_SETTINGS = frozenset({
    "HOST", "PORT", "NUM_WORKERS", "DEBUG", "DETAILED_DEBUG", "DATABASE_URL", "DIRECT_URL", "STORE_MODEL_IN_DB",
    "REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_URL", "SSL_KEYFILE_PATH", "SSL_CERTFILE_PATH",
    "KEEPALIVE_TIMEOUT", "LIMIT_CONCURRENCY", "MAX_REQUESTS_BEFORE_RESTART", "MAX_REQUESTS_BEFORE_RESTART_JITTER",
    "CONFIG_FILE_PATH", "WORKER_CONFIG", "UI_USERNAME", "UI_PASSWORD", "PROMETHEUS_METRICS_PORT",
})
_LITELLM_PREFIXES = ("LITELLM_", "LLAMAFILE_")


class LiteLLMError(LocalServerError):
    """LiteLLM's proxy (or its upstream) could not be started; the message says what to do."""


class UvMissing(LiteLLMError, ServerNotInstalled):
    pass


class ProxyPortBusy(LiteLLMError, PortBusy):
    pass


class ProxyCrashed(LiteLLMError, ServerCrashed):
    pass


class ProxyStartTimeout(LiteLLMError, ServerStartTimeout):
    pass


class UpstreamDown(LiteLLMError):
    """The Chat Completions server LiteLLM forwards to is not there (or does not serve the model)."""


@dataclass(frozen=True)
class ProxySettings:
    """How to run the proxy: everything on its command line and in its config file (no secret in either)."""

    upstream_url: str  # the upstream's OpenAI base URL (ends in /v1)
    model_alias: str = DEFAULT_ALIAS
    host: str = DEFAULT_HOST
    port: int = 0
    version: str = LITELLM_VERSION
    uv: str = "uv"
    python: str = sys.executable  # the interpreter uv builds LiteLLM's environment on (never downloads one)


def proxy_config(settings: ProxySettings) -> dict[str, Any]:
    """LiteLLM's config: one model, served under the setup's alias, through the `llamafile/` provider."""
    return {
        "model_list": [{
            "model_name": settings.model_alias,
            "litellm_params": {"model": f"{PROVIDER}/{settings.model_alias}", "api_base": settings.upstream_url,
                               # LiteLLM's llamafile provider refuses `reasoning_effort` (HTTP 400, UnsupportedParams)
                               # unless allowed: let it reach the reasoning server (kit.servers.reasoning)
                               "allowed_openai_params": ["reasoning_effort"]},
        }],
        # The key itself stays in the environment: the config file only names the variable.
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }


def config_text(settings: ProxySettings) -> str:
    """The config as LiteLLM reads it (YAML; JSON is a subset, and needs no YAML writer here)."""
    return json.dumps(proxy_config(settings), indent=2) + "\n"


def proxy_command(settings: ProxySettings, config_path: Path) -> list[str]:
    """`uv tool run` with the pinned LiteLLM, on loopback, with the config file."""
    if settings.host not in LOOPBACK_HOSTS:
        raise ValueError(f"LiteLLM's proxy is served on loopback only (127.0.0.1), not {settings.host!r}")
    return [
        settings.uv, "tool", "run", "--python", settings.python, "--from", f"litellm[proxy]=={settings.version}",
        "litellm", "--config", str(config_path), "--host", settings.host, "--port", str(settings.port),
    ]


def proxy_environment(environ: Mapping[str, str], master_key: str) -> dict[str, str]:
    """The parent's environment without LiteLLM's settings, plus the master key and offline-friendly switches."""
    env = {name: value for name, value in environ.items()
           if name.upper() not in _LITELLM_SETTINGS and not name.upper().startswith(_LITELLM_PREFIXES)}
    env[MASTER_KEY_ENV] = master_key
    # LiteLLM fetches its model cost map from GitHub at start, three tries then its packaged copy: use the copy.
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["UV_PYTHON_DOWNLOADS"] = "never"  # use the interpreter we name; no toolchain downloads
    env["NO_COLOR"] = "1"
    return env


def new_master_key() -> str:
    """A fresh key per start: `sk-` and 64 hex digits, the shape LiteLLM's own docs generate."""
    return "sk-" + secrets.token_hex(32)


def find_uv(environ: Mapping[str, str] | None = None) -> str:
    """The uv binary: $KIT_UV, else the `uv` package's (the `local` extra), else uv on PATH; raises UvMissing."""
    environ = os.environ if environ is None else environ
    if environ.get(UV_ENV):
        path = environ[UV_ENV]
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise UvMissing(f"{UV_ENV}={path} is not an executable file: point it at a uv binary, or unset it ({UV_HINT})")
        return path
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    found = shutil.which("uv", path=environ.get("PATH", ""))
    if found:
        return found
    raise UvMissing(f"LiteLLM runs in its own environment made by uv, and uv is not installed: {UV_HINT}")


def redact(text: str, key: str | None) -> str:
    return text.replace(key, _REDACTED) if key else text


class LiteLLMServer(ProcessServer):
    """LiteLLM's proxy on a loopback port over the kit's llama.cpp server, for as long as the `with` block.

    `upstream=None` starts the kit's own llama.cpp server (`LocalServer`) and
    stops it with the proxy; a URL puts the proxy in front of a server that
    is already running (it must serve `model_alias`). While running, its
    per-run master key is `client_environment()`: the caller hands it to its
    clients (`kit run` to the kernels' environment, `kit serve` to the terminal).
    """

    def __init__(self, *, model_alias: str = DEFAULT_ALIAS, host: str = DEFAULT_HOST, port: int | None = None,
                 upstream: str | None = None, log_path: str | Path | None = None, start_timeout: float = 300.0,
                 stop_timeout: float = 10.0, version: str = LITELLM_VERSION, key_env: str = DEFAULT_KEY_ENV,
                 model: str | Path | None = None, n_threads: int | None = None, uv: str | None = None,
                 reasoning: str | None = None) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"LiteLLM's proxy is served on loopback only (127.0.0.1), not {host!r}")
        super().__init__(host=host, port=port, log_path=log_path, start_timeout=start_timeout,
                         stop_timeout=stop_timeout)
        self.model_alias = model_alias
        self.upstream = upstream.rstrip("/") if upstream else None
        self.version = version
        self.key_env = key_env
        self.model = model
        self.n_threads = n_threads
        self.uv = uv
        self.reasoning = reasoning  # the upstream's reasoning dialect (kit.servers.reasoning)
        self.command: list[str] = []
        self.start_seconds: float | None = None  # upstream + proxy, until both answer
        self.proxy_start_seconds: float | None = None
        self.upstream_server: LocalServer | None = None
        self._key: str | None = None
        self._config_dir: Path | None = None

    # -- what callers use -------------------------------------------------------------------------------------

    def _not_started(self) -> Exception:
        return LiteLLMError("LiteLLM's proxy is not started: use `with LiteLLMServer() as server:` or .start()")

    @property
    def upstream_url(self) -> str | None:
        return self.upstream_server.base_url if self.upstream_server is not None else self.upstream

    def client_environment(self) -> dict[str, str]:
        """The key variable a client in another shell sets to use this proxy (`kit serve` prints it; never on disk)."""
        if self._key is None:
            raise LiteLLMError("LiteLLM's proxy is not started")
        return {self.key_env: self._key}

    def log_text(self) -> str:
        return redact(read_log(self.log_path), self._key)

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"<LiteLLMServer litellm=={self.version} {PROVIDER}/{self.model_alias} {state}, log {self.log_path}>"

    # -- start and stop ---------------------------------------------------------------------------------------

    port_busy = ProxyPortBusy

    def _prepare(self) -> None:
        self._uv = self.uv or find_uv()

    def _launch(self, began: float) -> None:
        """The upstream (unless given), then the proxy, until it serves the model."""
        upstream_url = self._start_upstream()
        self._key = new_master_key()
        port = self.requested_port if self.requested_port is not None else free_port(self.host)
        self._spawn(ProxySettings(upstream_url=upstream_url, model_alias=self.model_alias, host=self.host, port=port,
                                  version=self.version, uv=self._uv))
        self._wait_until_ready()

    def stop(self) -> None:
        """Stop the proxy (its whole process group: uv and LiteLLM), then the upstream the kit started; safe twice."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
        upstream, self.upstream_server = self.upstream_server, None
        if upstream is not None:
            upstream.stop()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the proxy or the upstream the kit started exits by itself (`kit serve` runs this); its code."""
        if self._child is None:
            raise LiteLLMError("LiteLLM's proxy is not started")
        upstream = self.upstream_server.child if self.upstream_server is not None else None
        return first_exit([self._child, upstream], timeout, interval=0.5)

    # -- internals --------------------------------------------------------------------------------------------

    def _start_upstream(self) -> str:
        """The upstream's base URL: the kit's llama.cpp server, started now, or the given one, checked."""
        if self.upstream is not None:
            self._check_upstream(self.upstream)
            return self.upstream
        upstream_log = self.log_path.with_name(self.log_path.name + ".upstream.log") if self.log_path else None
        server = LocalServer(model_alias=self.model_alias, model=self.model, n_threads=self.n_threads,
                             reasoning=self.reasoning,
                             log_path=upstream_log)
        self.upstream_server = server
        try:
            server.start()
        except LocalServerError as exc:
            raise UpstreamDown(f"LiteLLM's upstream, the kit's llama.cpp server, did not start: {exc}") from exc
        return server.base_url

    def _check_upstream(self, url: str) -> None:
        try:
            with httpx.Client(trust_env=False, timeout=5.0) as http:
                answer = http.get(url + "/models")
        except httpx.TransportError as exc:
            raise UpstreamDown(f"LiteLLM's upstream {url} does not answer ({type(exc).__name__}: {exc}): start it "
                               f"(`kit serve local`) or let the kit start it (no upstream)") from exc
        try:
            served = [str(m.get("id")) for m in answer.json().get("data", [])] if answer.status_code == 200 else None
        except (ValueError, AttributeError):
            served = None
        if served is None:
            raise UpstreamDown(f"LiteLLM's upstream {url}/models answered HTTP {answer.status_code}, not a model "
                               f"list: is it an OpenAI-compatible server?")
        if self.model_alias not in served:
            raise UpstreamDown(f"LiteLLM's upstream {url} serves {served}, not {self.model_alias!r}: "
                               "point it at the kit's llama.cpp server or pass its model alias")

    def _spawn(self, settings: ProxySettings) -> None:
        assert self._key is not None
        self.port = settings.port
        self._config_dir = Path(tempfile.mkdtemp(prefix="kit-litellm-"))
        config_path = self._config_dir / "config.yaml"
        config_path.write_text(config_text(settings), encoding="utf-8")
        self.command = proxy_command(settings, config_path)
        if self.log_path is None:
            self.log_path = temp_log_path(f"kit-litellm-{settings.port}-")
        # its own process group: stop() ends uv and LiteLLM together (uv gets SIGTERM if the kit dies, and
        # passes it on to LiteLLM)
        self._child = ChildProcess(self.command, self.log_path, env=proxy_environment(os.environ, self._key),
                                   notes=[f"upstream {settings.upstream_url}"], stop_timeout=self.stop_timeout,
                                   term_group=True)
        try:
            self._child.start()
        except OSError as exc:
            raise UvMissing(f"cannot run {self.command[0]}: {exc} ({UV_HINT})") from exc

    def _wait_until_ready(self) -> None:
        assert self._child is not None
        self._child.wait_until(self._serves_the_model, timeout=self.start_timeout, interval=0.25,
                               exited=self._raise_crash, timed_out=self._raise_timeout, http_timeout=5.0)
        self.proxy_start_seconds = time.monotonic() - self._child.started_at

    def _serves_the_model(self, http: httpx.Client) -> bool:
        """Whether the proxy's /v1/models lists the alias yet; another model list raises."""
        served = served_models(http, self.root_url + "/v1/models", {"Authorization": f"Bearer {self._key}"})
        if served is None or self.model_alias in served:
            return served is not None
        raise ProxyCrashed(f"the server at {self.root_url} serves {served}, not {self.model_alias!r}: "
                           f"another server answers on that port? Log {self.log_path}, last lines:\n"
                           f"{log_tail(self.log_text())}")

    def _raise_timeout(self) -> NoReturn:
        raise ProxyStartTimeout(
            f"LiteLLM's proxy did not answer at {self.root_url} within {self.start_timeout:.0f} s (the "
            f"first run also installs litellm[proxy]=={self.version} from PyPI; a busy machine? "
            f"raise start_timeout / --start-timeout). Log {self.log_path}, last lines:\n"
            f"{log_tail(self.log_text())}")

    def _raise_crash(self, code: int) -> NoReturn:
        text = self.log_text()
        tail = log_tail(text)
        lowered = text.lower()
        if "address already in use" in lowered or "error while attempting to bind" in lowered:
            raise ProxyPortBusy(busy_message(self.host, self.port) + f"\nLog {self.log_path}, last lines:\n{tail}")
        if any(sign in lowered for sign in ("no solution found", "failed to fetch", "failed to download",
                                            "not found in the package registry", "not found in the cache")):
            hint = (f"uv could not install litellm[proxy]=={self.version}: the first run needs PyPI (later runs use "
                    "uv's cache); is the version right?")
        elif "master key" in lowered or "master_key" in lowered:
            hint = "LiteLLM refused its master key"
        else:
            hint = "the log says why"
        raise ProxyCrashed(f"LiteLLM's proxy exited with code {code} while starting ({hint}). "
                           f"Command: {' '.join(self.command)}\nLog {self.log_path}, last lines:\n{tail}")


def litellm_server_for(setup: Any, *, host: str = DEFAULT_HOST, port: int | None = None, upstream: str | None = None,
                       log_path: str | Path | None = None, start_timeout: float = 300.0,
                       model: str | Path | None = None, n_threads: int | None = None,
                       reasoning: str | None = None) -> LiteLLMServer:
    """The `litellm` setup's managed server (the factory `Setup.server` names): its model alias and key variable.

    Options it does not take (`local`'s engine, embeddings) are dropped by `server_for_setup`.
    """
    return LiteLLMServer(model_alias=setup.text_model, key_env=setup.key_env or DEFAULT_KEY_ENV, host=host, port=port,
                         upstream=upstream, log_path=log_path, start_timeout=start_timeout, model=model,
                         n_threads=n_threads, reasoning=reasoning or getattr(setup, "reasoning", None))
