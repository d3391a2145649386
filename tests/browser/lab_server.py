"""`kit lab` as the browser tests use it: no browser, a token, a free loopback port, and a clean shutdown.

The server runs on a copy of the notebooks (JupyterLab autosaves: running cells
in the project's own notebooks would write outputs into committed files), with
its settings, workspaces and runtime files in a temporary folder, replaying the
project's recordings. The copy sits in a project folder of its own
(pyproject.toml, recordings/ linked to the project's), which is how a notebook
in JupyterLab finds its recordings: its run context's defaults, no variable.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.processes import alive, descendants

PROJECT = Path(__file__).resolve().parents[2]


class LabStartError(RuntimeError):
    """`kit lab` did not answer; the message carries the tail of its log."""


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LabServer:
    """Start with `start()`, stop with `stop()` (which reports any process it had to kill)."""

    def __init__(self, workdir: Path, *, start_timeout: float = 120.0) -> None:
        self.workdir = workdir
        self.notebooks = workdir / "notebooks"
        self.token = secrets.token_hex(16)
        self.port = free_loopback_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "lab.log"
        self.start_timeout = start_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.seen_children: set[int] = set()

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}?token={self.token}"

    def start(self) -> "LabServer":
        shutil.copytree(PROJECT / "kit" / "suites", self.notebooks,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*.py", "__pycache__"))
        (self.workdir / "pyproject.toml").write_text('[project]\nname = "lab-copy"\nversion = "0"\n')
        (self.workdir / "recordings").symlink_to(PROJECT / "recordings", target_is_directory=True)  # a project
        state = self.workdir / "jupyter"
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(state / "config"), "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            "JUPYTER_DATA_DIR": str(state / "data"), "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH", "")) if p),
        })
        (state / "config").mkdir(parents=True)
        # no news feed and no update check: the only network here is loopback
        (state / "config" / "jupyter_lab_config.json").write_text(json.dumps(
            {"LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                        "extension_manager": "readonly"}}))
        # no "get notified about Jupyter news?" toast over the notebook in screenshots
        notification = state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
        notification.parent.mkdir(parents=True)
        notification.write_text(json.dumps({"fetchNews": "false"}))
        argv = [sys.executable, "-m", "kit", "lab", "--notebooks", str(self.notebooks), "--no-browser",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            argv.append("--allow-root")  # CI containers run as root; Jupyter refuses without it
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(argv, cwd=self.workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabStartError(f"kit lab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(self.url("api/status"), timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise LabStartError(f"kit lab did not answer on {self.base_url} within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 30.0) -> list[str]:
        """Shut down through the REST API (kernels first, then the server); returns what was left and killed."""
        process = self.process
        if process is None:
            return []
        self.seen_children |= descendants(process.pid)
        left: list[str] = []
        if process.poll() is None:
            try:
                httpx.post(self.url("api/shutdown"), timeout=10)
            except httpx.HTTPError:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                left.append(f"server pid {process.pid} still running {timeout:.0f} s after /api/shutdown")
                process.kill()
                process.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(alive(pid) for pid in self.seen_children):
            time.sleep(0.1)
        for pid in sorted(pid for pid in self.seen_children if alive(pid)):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            left.append(f"pid {pid} still running after shutdown: {cmdline.strip()}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process = None
        return left
