"""The kit as a new user gets it: a built wheel, installed (not editable) into a fresh venv in an empty folder.

There, with nothing of the kit's source beside it: `kit init`, the kit's served bridge (`kit serve bridge`,
which starts the kit's llama.cpp server) added as "my-server" with `kit setup add`, packaged notebooks
recorded against it, the server stopped, the same notebooks replayed (`kit run`) and run by pytest
(`pytest --setup my-server`). The notebooks are a selection (`SELECTION`: the base suite and the responses
notebooks named b* and f*: plain streaming, tools, background mode, files): recording the whole matrix live
took a minute of the test suite's 15 (issue 20) and showed nothing more about a user's project; every
packaged notebook is recorded on the served bridge in the kit's own recordings (setup `bridge`). Everything passes or is reported unsupported (the capabilities the probe did
not find), except the one new finding the chat rules make of the Mistral dialect's content blocks, which the
user then writes into findings/my-server.toml (a known finding from then on); and nothing is written outside
the folder: HOME, the XDG folders and TMPDIR point into it, the kit's source tree is left as it was, and the
folder holds only what the steps are expected to write.

For speed the venv sees the already installed dependencies (--system-site-packages); the kit itself is the
wheel's, installed into the venv, and the test checks `import kit` resolves there.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAME = "my-server"

pytestmark = pytest.mark.live


def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file under the folders: (size, mtime) by path; what other tests write there meanwhile left out
    (pytest runs test files side by side): the recordings index, a cache every replay updates, and the
    kit's own test outputs, reports/pytest (the notebook items) and reports/browser (screenshots)."""
    seen: dict[str, tuple[int, int]] = {}
    for folder in folders:
        for path in folder.rglob("*") if folder.is_dir() else ([folder] if folder.is_file() else []):
            if path.is_file() and not _written_by_other_tests(path):
                stat = path.stat()
                seen[str(path)] = (stat.st_size, stat.st_mtime_ns)
    return seen


def _written_by_other_tests(path: Path) -> bool:
    relative = path.relative_to(ROOT).parts
    return (relative[0] == "recordings" and (relative[-1].startswith((".index.sqlite", ".tmp-")) or relative[-1] == ".lock")) \
        or relative[:2] in (("reports", "pytest"), ("reports", "browser"))


def _build_wheel(tmp: Path) -> Path:
    """A wheel built from a copy of the sources (setuptools writes build/ and egg-info beside what it builds)."""
    src = tmp / "src"
    shutil.copytree(ROOT / "kit", src / "kit", ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                          capture_output=True, text=True, timeout=600)  # build-system.requires from the index
    assert done.returncode == 0, done.stdout + done.stderr
    wheels = list(dist.glob("responses_kit-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


class Folder:
    """The user's folder: a venv in it, HOME/XDG/TMPDIR in it, every command run from it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.venv = root / ".venv"
        home = root / ".home"
        self.env = {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"), "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"), "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_RUNTIME_DIR": str(home / "run"), "TMPDIR": str(root / ".tmp"), "LANG": "C.UTF-8",
            "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "CI": os.environ.get("CI", ""),
        }
        for key in ("HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
                    "XDG_RUNTIME_DIR", "TMPDIR"):
            Path(self.env[key]).mkdir(parents=True, exist_ok=True)

    def run(self, *argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def kit(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.venv / "bin" / "kit"), *args, timeout=timeout)


def _start_bridge(folder: Folder) -> tuple[subprocess.Popen[str], str]:
    """`kit serve bridge` on any free port; its URL from what it prints."""
    server = subprocess.Popen([str(folder.venv / "bin" / "kit"), "serve", "bridge", "--port", "0"], cwd=folder.root,
                              env=folder.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              stdin=subprocess.DEVNULL, start_new_session=True)
    assert server.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stdout], [], [], 1.0)
        if not ready:
            if server.poll() is not None:
                break
            continue
        line = server.stdout.readline()
        if not line and server.poll() is not None:
            break
        seen.append(line)
        match = re.search(r"serving \S+ at (http://127\.0\.0\.1:\d+/v1)", line)
        if match:
            return server, match.group(1)
    _stop(server)
    raise AssertionError("kit serve bridge did not start:\n" + "".join(seen))


def _stop(server: subprocess.Popen[str]) -> str:
    """Ctrl-C's orderly stop (SIGTERM: kit serve stops both servers); what it printed after."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
    return server.stdout.read() if server.stdout else ""


MISTRAL_FINDING = '''[peer]
name = "kit serve bridge"
version = "the kit's wheel"
how = "kit serve bridge over the reasoning server (mistral dialect)"

[[finding]]
notebook = "base/chat_streaming"
rule = "chat.schema"
event = "the reasoning chat stream: delta.content is a list of content blocks"
reason = "Mistral's content blocks, the dialect of the reasoning server behind the served bridge"
upstream = ""
'''


SELECTION = ("--suite", "base,responses", "--pattern", "[bf]*")


def _counts(output: str) -> dict[str, int]:
    """`kit run`'s last line: "5 passed, 0 failed, 0 not recorded, 5 unsupported"."""
    line = [ln for ln in output.splitlines() if re.match(r"^\d+ passed, ", ln)][-1]
    return {name: int(n) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?:,|$)", line)}


def test_a_new_user_installs_the_wheel_adds_their_server_records_and_replays(tmp_path_factory: pytest.TempPathFactory
                                                                              ) -> None:
    wheel = _build_wheel(tmp_path_factory.mktemp("wheel"))
    folder = Folder(tmp_path_factory.mktemp("own"))
    source_before = _snapshot(ROOT / "recordings", ROOT / "findings", ROOT / "reports", ROOT / "kit-setups.toml")

    made = folder.run(sys.executable, "-m", "venv", "--system-site-packages", str(folder.venv))
    assert made.returncode == 0, made.stderr
    installed = folder.run(str(folder.venv / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index",
                           "--force-reinstall", str(wheel))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = folder.run(str(folder.venv / "bin" / "python"), "-c",
                       "import kit, kit.suites, pathlib; print(pathlib.Path(kit.__file__).resolve()); "
                       "print(len(list(pathlib.Path(kit.suites.__file__).parent.glob('*/*.ipynb'))))")
    assert where.returncode == 0, where.stderr
    kit_file, packaged = where.stdout.split()
    assert Path(kit_file).is_relative_to(folder.venv.resolve()), f"import kit resolved to {kit_file}, not the venv"
    assert int(packaged) >= 10  # the suites ship in the wheel

    init = folder.kit("init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert {p.name for p in folder.root.iterdir()} >= {"kit-setups.toml", "recordings", "findings"}

    server, url = _start_bridge(folder)
    try:
        added = folder.kit("setup", "add", NAME, "--url", url)
        assert added.returncode == 0, added.stdout + added.stderr
        setups = (folder.root / "kit-setups.toml").read_text()
        # `kit serve bridge` runs over the kit's reasoning server (the bridge setup's dialect, Mistral's content
        # blocks): the probe finds reasoning and tools, each with its evidence. A server that lacks a capability
        # is "unsupported", not a failure: tests/live/test_check_url_live.py (llama.cpp without reasoning).
        written = tomllib.loads(setups)["setups"][NAME]
        assert set(written["capabilities"]) == {"reasoning", "tools"}, setups
        assert written["evidence"]["tools"].startswith("probe function_tool: ") and "function_call get_weather" in setups
        assert written["evidence"]["reasoning"].startswith("probe reasoning: "), setups

        recorded = folder.kit("run", "--setup", NAME, *SELECTION, "--inference-mode", "record", "--workers", "2")
    finally:
        stopped = _stop(server)
    assert "stopped." in stopped, stopped
    counts = _counts(recorded.stdout)
    # The served bridge runs over the reasoning server in the Mistral dialect: the reasoning chat stream of
    # base/chat_streaming carries Mistral's content blocks, which the chat rules judge (chat.schema; see
    # docs/conformance-rules.md). For a new user that is one new finding, named with what to do about it.
    assert recorded.returncode != 0 and counts["failed"] == 1, recorded.stdout + recorded.stderr
    assert f"new finding: error rule chat.schema in base/chat_streaming on {NAME}" in recorded.stdout, recorded.stdout
    assert counts["not recorded"] == 0 and counts["passed"] >= 5, recorded.stdout
    assert list((folder.root / "recordings" / NAME).rglob("*.json")), "nothing recorded into the project"
    # ... which they write down as a known finding of their server, as the message says
    (folder.root / "findings" / f"{NAME}.toml").write_text(MISTRAL_FINDING, encoding="utf-8")

    replayed = folder.kit("run", *SELECTION)  # no server, no setup named: the project's setups with recordings
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert _counts(replayed.stdout) == {**counts, "failed": 0, "known findings": 1}, replayed.stdout
    assert (folder.root / "reports" / "index.html").is_file()

    # pytest in the project: the plugin collects the packaged suites there and replays them. One suite is
    # enough to show it (`kit run` above replayed the selection); its items pass where kit run passed or knew the
    # findings, and skip where it said unsupported.
    tested = folder.run(str(folder.venv / "bin" / "python"), "-m", "pytest", "--setup", NAME, "--suite", "base",
                        "-q", "-rs")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rows = re.findall(rf"^\s*base/\S+\s+{NAME}\s+(passed|known findings|unsupported)\b", replayed.stdout, re.M)
    assert rows, replayed.stdout
    summary = tested.stdout.strip().splitlines()[-1]
    passing = sum(status != "unsupported" for status in rows)
    assert f"{passing} passed" in summary and "failed" not in summary, tested.stdout  # known findings pass
    assert (f"{len(rows) - passing} skipped" in summary) == (len(rows) > passing), tested.stdout

    # Nothing outside the folder: the kit's source tree is as it was; the folder holds what the steps write.
    assert _snapshot(ROOT / "recordings", ROOT / "findings", ROOT / "reports", ROOT / "kit-setups.toml") == source_before
    expected = {".venv", ".home", ".tmp", "kit-setups.toml", "recordings", "findings", "reports", ".pytest_cache",
                ".benchmarks"}  # .benchmarks: pytest-benchmark's, where that plugin is installed
    assert {p.name for p in folder.root.iterdir()} <= expected, sorted(p.name for p in folder.root.iterdir())
    assert not list((folder.root / "recordings").glob("*/")) or {p.name for p in (folder.root / "recordings").iterdir()
                                                                  if p.is_dir()} == {NAME}
