"""The served bridge as a managed server: `kit serve bridge`, `--stack-config server:bridge`.

`BridgeServer` runs the bridge's ASGI app (`kit.servers.bridge_app`) in a
uvicorn subprocess on a loopback port: over `--upstream URL`, or over the
kit's own llama.cpp server, which it starts first and stops last. The
upstream key is read from $KIT_BRIDGE_UPSTREAM_KEY only (never a flag);
without one, the client's own bearer token is passed on.
"""

from __future__ import annotations

import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any, NoReturn

import httpx

from kit.servers.bridge_app import (  # noqa: F401 - the app's names, importable from here as before the split
    UPSTREAM_KEY_ENV,
    BridgeConfig,
    create_app,
    http_status_of,
    main,
    v1_url,
)
from kit.servers.bridge_app.upstream import UpstreamTimeouts
from kit.servers.bridge_app.wire import API_KEY_ENV, shown_url
from kit.servers.local import (
    LocalServer,
    LocalServerError,
    PortBusy,
    ServerCrashed,
    ServerNotInstalled,
    ServerStartTimeout,
)
from kit.servers.process import (
    DEFAULT_HOST,
    ChildProcess,
    ProcessServer,
    answers,
    busy_message,
    first_exit,
    free_port,
    log_tail,
    read_log,
    temp_log_path,
)

SERVER_MODULES = ("starlette", "uvicorn", "python_multipart", "websockets")
INSTALL_HINT = 'pip install -e "."  (starlette, uvicorn, python-multipart and websockets are core dependencies)'


class UpstreamDown(LocalServerError):
    """The Chat Completions server the bridge would serve over does not answer."""


class BridgeServer(ProcessServer):
    """The served bridge on a loopback port, over `upstream` or over a LocalServer it starts first.

    Start failures raise LocalServerError subclasses naming what to do, with
    the tail of the log: the upstream not answering (UpstreamDown), a busy
    port (PortBusy), a crash while starting (ServerCrashed), no answer in time.
    """

    def __init__(self, *, upstream: str | None = None, local: LocalServer | None = None, host: str = DEFAULT_HOST,
                 port: int | None = None, log_path: str | Path | None = None, start_timeout: float = 60.0,
                 stop_timeout: float = 10.0, think_tags: bool = False, model_alias: str | None = None,
                 stores_dir: str | Path | None = None, api_key: str | None = None,
                 timeouts: UpstreamTimeouts | None = None) -> None:
        if (upstream is None) == (local is None):
            raise ValueError("give the bridge one upstream: a URL (upstream=) or a LocalServer to start (local=)")
        self.upstream_url = v1_url(upstream) if upstream else None
        self.local = local
        super().__init__(host=host, port=port, log_path=log_path, start_timeout=start_timeout,
                         stop_timeout=stop_timeout)
        self.think_tags = think_tags
        self.model_alias = model_alias or (local.model_alias if local else None)
        self.stores_dir = Path(stores_dir) if stores_dir else None
        self.api_key = api_key  # handed to the child in its environment, never on its command line
        self.timeouts = timeouts or UpstreamTimeouts()
        self.command: list[str] = []
        self.start_seconds: float | None = None

    @property
    def upstream(self) -> str:
        """The Chat Completions base URL the bridge serves over."""
        if self.upstream_url:
            return self.upstream_url
        assert self.local is not None
        return self.local.base_url

    def _not_started(self) -> Exception:
        return LocalServerError("the bridge is not started: use `with BridgeServer(...) as server:` or .start()")

    @property
    def describe(self) -> list[str]:
        """What `kit serve` prints about it."""
        return [f"Responses API: {self.base_url}/responses (the kit's bridge over {shown_url(self.upstream)})",
                f"upstream log: {self.local.log_path}" if self.local else f"upstream: {shown_url(self.upstream)}"]

    def __repr__(self) -> str:
        state = f"running at {self.base_url}" if self.running else "stopped"
        over = shown_url(self.upstream_url) if self.upstream_url else "a managed llama.cpp server"
        return f"<BridgeServer over {over} {state}, log {self.log_path}>"

    port_busy = PortBusy

    def _prepare(self) -> None:
        missing = [name for name in SERVER_MODULES if find_spec(name) is None]
        if missing:
            raise ServerNotInstalled(f"the served bridge needs {', '.join(missing)}: {INSTALL_HINT}")

    def _launch(self, began: float) -> None:
        """Start the upstream (when managed), check it answers, start the bridge and wait until it does."""
        if self.local is not None:
            self.local.start()
        self._check_upstream()
        tries = 1 if self.requested_port is not None else 3
        for attempt in range(1, tries + 1):
            try:
                self._spawn(self.requested_port if self.requested_port is not None else free_port(self.host))
                self._wait_until_ready()
                break
            except PortBusy:
                if attempt == tries:
                    raise
        self.start_seconds = time.monotonic() - began  # the upstream's start included

    def stop(self) -> None:
        """Stop the bridge (SIGTERM, then SIGKILL), then the upstream it started; safe to call twice."""
        child, self._child = self._child, None
        if child is not None:
            child.stop()
        if self.local is not None:
            self.local.stop()

    def wait(self, timeout: float | None = None) -> int | None:
        """Block until the bridge or its managed upstream exits by itself; returns the exit code (None: timeout)."""
        if self._child is None:
            raise LocalServerError("the bridge is not started")
        return first_exit([self._child, self.local.child if self.local is not None else None], timeout, interval=0.2)

    # -- internals --------------------------------------------------------------------------------------------

    def _check_upstream(self) -> None:
        try:  # anything that accepts the connection counts as up: its answers are the bridge's to judge
            with httpx.Client(timeout=5.0, trust_env=False) as http:
                http.get(self.upstream + "/models")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise UpstreamDown(f"the upstream Chat Completions server does not answer at {shown_url(self.upstream)} "
                               f"({type(exc).__name__}): start it, or pass the right --upstream URL") from exc
        except httpx.HTTPError:
            pass

    def _spawn(self, port: int) -> None:
        self.port = port
        self.command = [sys.executable, "-m", "kit.servers.bridge_app", "--upstream", self.upstream,
                        "--host", self.host, "--port", str(port),
                        "--connect-timeout", str(self.timeouts.connect),
                        "--first-byte-timeout", str(self.timeouts.first_byte),
                        "--idle-timeout", str(self.timeouts.idle)]
        if self.think_tags:
            self.command.append("--think-tags")
        if self.stores_dir:
            self.command += ["--stores", str(self.stores_dir)]
        if self.local is not None and self.model_alias:  # over the kit's llama.cpp, which serves any name as its one
            self.command += ["--model", self.model_alias]
        if self.log_path is None:
            self.log_path = temp_log_path(f"kit-bridge-{port}-")
        if self._child is not None:  # a try that lost its port to another process
            self._child.stop()
        env = {**os.environ, API_KEY_ENV: self.api_key} if self.api_key else None
        self._child = ChildProcess(self.command, self.log_path, env=env, stop_timeout=self.stop_timeout).start()

    def _wait_until_ready(self) -> None:
        assert self._child is not None
        self._child.wait_until(lambda http: answers(http, self.root_url + "/health"), timeout=self.start_timeout,
                               interval=0.05, exited=self._raise_crash, timed_out=self._raise_timeout)

    def _raise_crash(self, code: int) -> NoReturn:
        text = self.log_text()
        if self._child is not None:
            self._child.stop()
        if "address already in use" in text.lower():
            raise PortBusy(busy_message(self.host, self.port))
        raise ServerCrashed(f"the served bridge exited with code {code} while starting. Command: "
                            f"{' '.join(shown_url(part) for part in self.command)}\nLog {self.log_path}, last lines:\n{log_tail(text)}")

    def _raise_timeout(self) -> NoReturn:
        raise ServerStartTimeout(f"the served bridge did not answer at {self.root_url} within "
                                 f"{self.start_timeout:.0f} s. Log {self.log_path}, last lines:\n"
                                 f"{log_tail(self.log_text())}")


def bridge_server_for(setup: Any, *, upstream: str | None = None, host: str = DEFAULT_HOST, port: int | None = None,
                      log_path: str | Path | None = None, start_timeout: float = 120.0, model: str | Path | None = None,
                      n_threads: int | None = None, embeddings: bool = False, engine: str = "llama-cpp-python",
                      stores_dir: str | Path | None = None, reasoning: str | None = None) -> BridgeServer:
    """The `bridge` setup's managed server: over `upstream`, else over the kit's own llama.cpp server (started too)."""
    local = None
    if upstream is None:
        local = LocalServer(model=model, model_alias=setup.text_model, n_threads=n_threads, embeddings=embeddings,
                            engine=engine, start_timeout=start_timeout,  # type: ignore[arg-type]
                            reasoning=reasoning or getattr(setup, "reasoning", None))
    return BridgeServer(upstream=upstream, local=local, host=host, port=port, log_path=log_path,
                        start_timeout=start_timeout, model_alias=setup.text_model, stores_dir=stores_dir,
                        think_tags=setup.think_tags or (upstream is None and reasoning == "think_tags"))


if __name__ == "__main__":
    main()
