"""One child process of a managed server: spawned with its own log, in its own session, stopped with its group.

Every server the kit starts (llama.cpp, LiteLLM's proxy, ogx and its request
normaliser, the served bridge) is a `ChildProcess`: its output goes to a log
file that outlives it (errors quote its tail), it runs in a session of its own
(Ctrl-C reaches the kit, which stops it in order), it gets SIGTERM when the kit
dies even by SIGKILL (Linux), and it is stopped at interpreter exit if nobody
stopped it. `stop()` ends what it left behind in its process group too.
The small helpers beside it (free ports, busy-port messages, waiting for an
HTTP answer, the model ids /v1/models lists) are the ones every server needs.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, NoReturn, Self

import httpx

DEFAULT_HOST = "127.0.0.1"
LOG_TAIL_LINES = 25


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(deque(text.splitlines(), maxlen=lines))


def read_log(path: Path | None) -> str:
    """A log file's text ("" before it exists): undecodable bytes replaced, never an error."""
    if path is None or not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def temp_log_path(prefix: str) -> Path:
    """A new empty log file in the temp folder (kept after the server stops, so its tail can be read)."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(handle)
    return Path(name)


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on host:port now (a socket in TIME_WAIT does not count as busy)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = DEFAULT_HOST) -> int:
    """A port nobody listens on at this moment (the OS picks it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def busy_message(host: str, port: int | None) -> str:
    """What a PortBusy says: which port, how to see who holds it, and the way out."""
    return (f"port {port} on {host} is already in use: stop what listens there "
            f"(`ss -ltnp 'sport = :{port}'` shows it) or let the kit pick a free port (no --port)")


def served_models(http: httpx.Client, url: str, headers: Mapping[str, str] | None = None) -> list[str] | None:
    """The model ids `url` (a /models endpoint) lists, or None while nothing answers there with a model list."""
    try:
        answer = http.get(url, headers=headers)
    except httpx.TransportError:
        return None
    if answer.status_code != 200:
        return None
    try:
        return [str(entry.get("id")) for entry in answer.json().get("data", [])]
    except (ValueError, AttributeError):
        return None


def answers(http: httpx.Client, url: str) -> bool:
    """Whether `url` answers HTTP 200 now (nothing listening yet is a no)."""
    try:
        return http.get(url).status_code == 200
    except httpx.TransportError:
        return False


def die_with_parent() -> Callable[[], None] | None:
    """Linux: a hook that makes the server get SIGTERM when the kit dies, even by SIGKILL, so no orphan keeps a port.

    The kernel ties this to the starting *thread*, so it is only armed from
    the main thread (a server started from a worker thread would otherwise
    stop when that thread ends). libc is loaded here, not in the child.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def arm() -> None:  # pragma: no cover - runs in the child between fork and exec
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return arm


def stop_process_group(process: subprocess.Popen[bytes], timeout: float, *, term_group: bool = False) -> None:
    """SIGTERM, SIGKILL after `timeout`; then SIGKILL to what is left of its process group.

    `term_group=False` sends SIGTERM to the child only: ogx restarts worker
    processes that die while it shuts down (seen: a SIGTERM to the whole group
    made it restart them and hang until SIGKILL), and stops its own workers in
    order. `term_group=True` sends it to the group: uv does not pass it on to
    the LiteLLM it runs. The child leads its group (`start_new_session`).
    """
    group = process.pid  # its group's id, also once it has exited and been reaped: its workers may live on
    if process.poll() is None:
        if term_group:
            _kill_group(group, signal.SIGTERM)
        else:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(group, signal.SIGKILL)
            process.kill()
    process.wait()
    _kill_group(group, signal.SIGKILL)  # workers a child left behind


def _kill_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


_running: set[ChildProcess] = set()


@atexit.register
def _stop_all() -> None:
    for child in list(_running):
        child.stop()


class ChildProcess:
    """A server process the kit started: its command, its log file, its process group; stopped at exit at the latest.

    The log is opened for appending, headed by `# kit: <command>` (and a line
    per `notes` entry), and holds the child's stdout and stderr.
    """

    def __init__(self, command: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None, notes: Sequence[str] = (), stop_timeout: float = 10.0,
                 term_group: bool = False) -> None:
        self.command = list(command)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.notes = list(notes)
        self.stop_timeout = stop_timeout
        self.term_group = term_group
        self.started_at = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._stopped = False

    def start(self) -> ChildProcess:
        """Spawn it; an OSError (no such program) propagates, with the log closed, for the caller to explain."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self._log.write("".join(f"# kit: {line}\n" for line in [" ".join(self.command), *self.notes]).encode())
        self._log.flush()
        self.started_at = time.monotonic()
        try:
            self._process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # Ctrl-C reaches the kit, which stops the server in order
                preexec_fn=die_with_parent(),
            )
        except OSError:
            self._close_log()
            raise
        _running.add(self)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def poll(self) -> int | None:
        """Its exit code once it has exited, else None (also before start)."""
        return self._process.poll() if self._process is not None else None

    def wait(self, timeout: float | None = None) -> int:
        """Block until it exits (subprocess.TimeoutExpired after `timeout`); its exit code."""
        if self._process is None:
            raise RuntimeError("the child process is not started")
        return self._process.wait(timeout)

    def log_text(self) -> str:
        return read_log(self.log_path)

    def stop(self) -> None:
        """Stop it and what it left in its process group (see stop_process_group); safe to call twice."""
        if self._process is not None and not self._stopped:
            self._stopped = True
            stop_process_group(self._process, self.stop_timeout, term_group=self.term_group)
        _running.discard(self)
        self._close_log()

    def wait_until(self, answers: Callable[[httpx.Client], bool], *, timeout: float, interval: float,
                   exited: Callable[[int], NoReturn], timed_out: Callable[[], NoReturn],
                   http_timeout: float = 2.0) -> None:
        """Poll `answers` (with a loopback client, no proxy) until it is true; `exited(code)` or `timed_out()` raise.

        The timeout counts from the spawn.
        """
        deadline = self.started_at + timeout
        with httpx.Client(trust_env=False, timeout=http_timeout) as http:  # no proxy between us and loopback
            while True:
                code = self.poll()
                if code is not None:
                    exited(code)
                if answers(http):
                    return
                if time.monotonic() > deadline:
                    timed_out()
                time.sleep(interval)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def first_exit(children: Sequence[ChildProcess | None], timeout: float | None, interval: float) -> int | None:
    """Block until one of the children exits by itself; its exit code (None after `timeout` seconds)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for child in children:
            code = child.poll() if child is not None else None
            if code is not None:
                return code
        if deadline is not None and time.monotonic() > deadline:
            return None
        time.sleep(interval)


class ProcessServer:
    """What every managed server does the same around its main ChildProcess: `with`, `running`, `pid`, its log,
    and everything `kit serve` reads (`kit.servers.managed.ManagedServer`), with defaults.

    `start()` is one template the servers fill in: `_prepare()` (checks and
    set-up that start nothing: an install, a model file), then `_launch(began)`
    (start the processes, wait until served); whatever `_launch` raises, Ctrl-C
    too, stops what was started (`with` never reaches `__exit__` when start
    raises). Subclasses set `log_path` and `_child`, and define `_launch` and
    `stop()` (safe to call twice).
    """

    port_busy: type[Exception] = RuntimeError  # the error a busy requested port raises (each server's own)

    model_alias: str | None = None  # the model name it serves (None: the setup's own)
    engine: str | None = None  # which program serves (`local`: llama-cpp-python or llama-server)
    start_seconds: float | None = None

    def __init__(self, *, host: str, port: int | None, log_path: str | Path | None, start_timeout: float,
                 stop_timeout: float) -> None:
        self.host = host
        self.requested_port = port  # None: a free port, picked at start
        self.port: int | None = None
        self.log_path = Path(log_path) if log_path is not None else None
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._child: ChildProcess | None = None

    def start(self) -> Self:
        """Start and wait until it serves; nothing when running. `start_seconds`: the launch, unless it said."""
        if self.running:
            return self
        if self.requested_port is not None and not port_is_free(self.host, self.requested_port):
            raise self.port_busy(busy_message(self.host, self.requested_port))
        self._prepare()
        self.start_seconds = None
        began = time.monotonic()
        try:
            self._launch(began)
        except BaseException:
            self.stop()
            raise
        if self.start_seconds is None:
            self.start_seconds = time.monotonic() - began
        return self

    def _prepare(self) -> None:
        """What start checks or sets up before any process starts (nothing by default)."""

    def _launch(self, began: float) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def _not_started(self) -> Exception:
        """The error `root_url` raises before start (each server says how to start it)."""
        raise NotImplementedError

    @property
    def root_url(self) -> str:
        if self.port is None:
            raise self._not_started()
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (ends in /v1): give it to `openai.OpenAI(base_url=...)` or the setup's URL variable."""
        return self.root_url + "/v1"

    @property
    def pid(self) -> int | None:
        """The main process's id while started."""
        return self._child.pid if self._child else None

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    def log_text(self) -> str:
        return read_log(self.log_path)

    @property
    def describe(self) -> list[str]:
        """What `kit serve` prints about it besides its URL (none by default)."""
        return []

    @property
    def native_responses(self) -> bool:
        """It serves its own /v1/responses (llama.cpp's llama-server does)."""
        return self.engine == "llama-server"

    def client_environment(self) -> dict[str, str]:
        """The variables a client sets to use it, besides its URL: a key it made for this run (none by default)."""
        return {}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
