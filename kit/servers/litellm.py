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
clients through the setup's `key_env` in this process's environment while the
server runs (notebook kernels inherit it; it is never a papermill parameter,
which would be written into executed notebooks). Recordings drop the
Authorization header; log tails in error messages have the key blanked out.
LiteLLM's weak-key override is never set (it is removed from the proxy's
environment if the user's shell has it).
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from kit.servers.local import (
    DEFAULT_ALIAS,
    DEFAULT_HOST,
    LocalServer,
    LocalServerError,
    PortBusy,
    ServerCrashed,
    ServerNotInstalled,
    ServerStartTimeout,
    _die_with_parent,
    free_port,
    log_tail,
    port_is_free,
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
            "litellm_params": {"model": f"{PROVIDER}/{settings.model_alias}", "api_base": settings.upstream_url},
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


_running: weakref.WeakSet[LiteLLMServer] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


class LiteLLMServer:
    """LiteLLM's proxy on a loopback port over the kit's llama.cpp server, for as long as the `with` block.

    `upstream=None` starts the kit's own llama.cpp server (`LocalServer`) and
    stops it with the proxy; a URL puts the proxy in front of a server that
    is already running (it must serve `model_alias`). While running, the
    master key is in `os.environ[key_env]` for the kit's clients; `stop()`
    puts back what was there.
    """

    def __init__(self, *, model_alias: str = DEFAULT_ALIAS, host: str = DEFAULT_HOST, port: int | None = None,
                 upstream: str | None = None, log_path: str | Path | None = None, start_timeout: float = 300.0,
                 stop_timeout: float = 10.0, version: str = LITELLM_VERSION, key_env: str = DEFAULT_KEY_ENV,
                 model: str | Path | None = None, n_threads: int | None = None, uv: str | None = None) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(f"LiteLLM's proxy is served on loopback only (127.0.0.1), not {host!r}")
        self.model_alias = model_alias
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.upstream = upstream.rstrip("/") if upstream else None
        self.log_path = Path(log_path) if log_path is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.version = version
        self.key_env = key_env
        self.model = model
        self.n_threads = n_threads
        self.uv = uv
        self.command: list[str] = []
        self.start_seconds: float | None = None  # upstream + proxy, until both answer
        self.proxy_start_seconds: float | None = None
        self.upstream_server: LocalServer | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._key: str | None = None
        self._config_dir: Path | None = None
        self._saved_key: str | None = None
        self._key_set = False

    # -- what callers use -------------------------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise LiteLLMError("LiteLLM's proxy is not started: use `with LiteLLMServer() as server:` or .start()")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (ends in /v1): LITELLM_URL for the kit."""
        return self.root_url + "/v1"

    @property
    def upstream_url(self) -> str | None:
        return self.upstream_server.base_url if self.upstream_server is not None else self.upstream

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def client_environment(self) -> dict[str, str]:
        """The key variable a client in another shell sets to use this proxy (`kit serve` prints it; never on disk)."""
        if self._key is None:
            raise LiteLLMError("LiteLLM's proxy is not started")
        return {self.key_env: self._key}

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return redact(self.log_path.read_text(encoding="utf-8", errors="replace"), self._key)

    def __enter__(self) -> LiteLLMServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        return f"<LiteLLMServer litellm=={self.version} {PROVIDER}/{self.model_alias} {state}, log {self.log_path}>"

    # -- start and stop ---------------------------------------------------------------------------------------

    def start(self) -> LiteLLMServer:
        """Start the upstream (unless given) and the proxy, and wait until the proxy serves the model."""
        if self.running:
            return self
        uv = self.uv or find_uv()
        if self.requested_port is not None and not port_is_free(self.host, self.requested_port):
            raise ProxyPortBusy(self._busy_message(self.requested_port))
        began = time.monotonic()
        try:
            upstream_url = self._start_upstream()
            self._key = new_master_key()
            port = self.requested_port if self.requested_port is not None else free_port(self.host)
            settings = ProxySettings(upstream_url=upstream_url, model_alias=self.model_alias, host=self.host,
                                     port=port, version=self.version, uv=uv)
            self._spawn(settings)
            self._wait_until_ready()
        except BaseException:  # Ctrl-C while waiting, too: `with` never reaches __exit__ then
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        self._saved_key, self._key_set = os.environ.get(self.key_env), True
        os.environ[self.key_env] = self._key
        return self

    def stop(self) -> None:
        """Stop the proxy (its whole process group: uv and LiteLLM), then the upstream the kit started; safe twice."""
        if self._key_set:
            if self._saved_key is None:
                os.environ.pop(self.key_env, None)
            else:
                os.environ[self.key_env] = self._saved_key
            self._key_set = False
        process, self._process = self._process, None
        if process is not None:
            _stop_group(process, self.stop_timeout)
            _running.discard(self)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._config_dir is not None:
            shutil.rmtree(self._config_dir, ignore_errors=True)
            self._config_dir = None
        upstream, self.upstream_server = self.upstream_server, None
        if upstream is not None:
            upstream.stop()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the proxy or the upstream the kit started exits by itself (`kit serve` runs this); its code."""
        if self._process is None:
            raise LiteLLMError("LiteLLM's proxy is not started")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                return code
            upstream = self.upstream_server
            if upstream is not None and not upstream.running:
                return upstream._process.returncode if upstream._process else 1
            if deadline is not None and time.monotonic() > deadline:
                return None
            time.sleep(0.5)

    # -- internals --------------------------------------------------------------------------------------------

    def _start_upstream(self) -> str:
        """The upstream's base URL: the kit's llama.cpp server, started now, or the given one, checked."""
        if self.upstream is not None:
            self._check_upstream(self.upstream)
            return self.upstream
        upstream_log = self.log_path.with_name(self.log_path.name + ".upstream.log") if self.log_path else None
        server = LocalServer(model_alias=self.model_alias, model=self.model, n_threads=self.n_threads,
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
            handle, name = tempfile.mkstemp(prefix=f"kit-litellm-{settings.port}-", suffix=".log")
            os.close(handle)
            self.log_path = Path(name)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log.write(f"# kit: {' '.join(self.command)}\n# kit: upstream {settings.upstream_url}\n".encode())
        self._log.flush()
        self._started_at = time.monotonic()
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                env=proxy_environment(os.environ, self._key),
                start_new_session=True,  # its own process group: stop() ends uv and LiteLLM together
                preexec_fn=_die_with_parent(),  # uv gets SIGTERM if the kit dies, and passes it on to LiteLLM
            )
        except OSError as exc:
            raise UvMissing(f"cannot run {self.command[0]}: {exc} ({UV_HINT})") from exc
        _running.add(self)

    def _wait_until_ready(self) -> None:
        deadline = self._started_at + self.start_timeout
        headers = {"Authorization": f"Bearer {self._key}"}
        with httpx.Client(trust_env=False, timeout=5.0) as http:  # no proxy between us and loopback
            while True:
                assert self._process is not None
                code = self._process.poll()
                if code is not None:
                    self._raise_crash(code)
                try:
                    answer = http.get(self.root_url + "/v1/models", headers=headers)
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code == 200:
                    try:
                        served = [str(m.get("id")) for m in answer.json().get("data", [])]
                    except (ValueError, AttributeError):
                        served = []
                    if self.model_alias in served:
                        self.proxy_start_seconds = time.monotonic() - self._started_at
                        return
                    raise ProxyCrashed(f"the server at {self.root_url} serves {served}, not {self.model_alias!r}: "
                                       f"another server answers on that port? Log {self.log_path}, last lines:\n"
                                       f"{log_tail(self.log_text())}")
                if time.monotonic() > deadline:
                    raise ProxyStartTimeout(
                        f"LiteLLM's proxy did not answer at {self.root_url} within {self.start_timeout:.0f} s (the "
                        f"first run also installs litellm[proxy]=={self.version} from PyPI; a busy machine? "
                        f"raise start_timeout / --start-timeout). Log {self.log_path}, last lines:\n"
                        f"{log_tail(self.log_text())}")
                time.sleep(0.25)

    def _raise_crash(self, code: int) -> None:
        text = self.log_text()
        tail = log_tail(text)
        lowered = text.lower()
        if "address already in use" in lowered or "error while attempting to bind" in lowered:
            raise ProxyPortBusy(self._busy_message(self.port) + f"\nLog {self.log_path}, last lines:\n{tail}")
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

    def _busy_message(self, port: int | None) -> str:
        return (f"port {port} on {self.host} is already in use: stop what listens there "
                f"(`ss -ltnp 'sport = :{port}'` shows it) or let the kit pick a free port (no --port)")


def _stop_group(process: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process group (uv and the LiteLLM it runs), then SIGKILL it after `timeout`."""
    if process.poll() is not None:
        _kill_group(process.pid, signal.SIGKILL)  # uv gone: leave nothing of its group behind
        return
    _kill_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid, signal.SIGKILL)
        process.wait()
    _kill_group(process.pid, signal.SIGKILL)  # a child that outlived uv


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def litellm_server_for(setup: Any, *, host: str = DEFAULT_HOST, port: int | None = None, upstream: str | None = None,
                       log_path: str | Path | None = None, start_timeout: float = 300.0,
                       model: str | Path | None = None, n_threads: int | None = None) -> LiteLLMServer:
    """The `litellm` setup's managed server (the factory `Setup.server` names): its model alias and key variable.

    Options it does not take (`local`'s engine, embeddings) are dropped by `server_for_setup`.
    """
    return LiteLLMServer(model_alias=setup.text_model, key_env=setup.key_env or DEFAULT_KEY_ENV, host=host, port=port,
                         upstream=upstream, log_path=log_path, start_timeout=start_timeout, model=model,
                         n_threads=n_threads)
