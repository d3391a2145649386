"""The `litellm` setup's managed proxy: its config, command line and environment, its errors, its start and stop.

The real proxy runs in tests/live/test_litellm_live.py. Here, failures are
provoked for real without LiteLLM or the network: a PATH with no uv, a port
held by a listening socket, an upstream that is not there or serves another
model, and stand-in `uv` scripts in tmp_path that behave like a proxy that
crashes, finds its port taken, or starts (serving /v1/models to the master
key it was given, as LiteLLM does). No mocks.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from kit.recording.scrub import has_credential
from kit.servers import LocalServerError, PortBusy, ServerCrashed, ServerNotInstalled, free_port, server_for_setup
from kit.servers.litellm import (
    DEFAULT_KEY_ENV,
    LITELLM_VERSION,
    MASTER_KEY_ENV,
    UV_ENV,
    WEAK_KEY_OVERRIDE,
    LiteLLMServer,
    ProxyCrashed,
    ProxyPortBusy,
    ProxySettings,
    UpstreamDown,
    UvMissing,
    config_text,
    find_uv,
    new_master_key,
    proxy_command,
    proxy_config,
    proxy_environment,
)
from kit.setups import get_setup

ALIAS = "smollm2-135m-instruct"


# -- stand-ins -----------------------------------------------------------------------------------------------------

MODELS_SERVER = (
    "import json, os, sys, http.server\n"
    "def serve(port, served, key=None):\n"
    "    class Models(http.server.BaseHTTPRequestHandler):\n"
    "        def do_GET(self):\n"
    "            if key is not None and self.headers.get('Authorization') != 'Bearer ' + key:\n"
    "                self.send_response(401); self.send_header('Content-Length', '0'); self.end_headers(); return\n"
    "            body = json.dumps({'object': 'list', 'data': [{'id': m} for m in served]}).encode()\n"
    "            self.send_response(200); self.send_header('Content-Type', 'application/json')\n"
    "            self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)\n"
    "        def log_message(self, *a): pass\n"
    "    http.server.HTTPServer(('127.0.0.1', port), Models).serve_forever()\n"
)


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[str]:
    """A stand-in upstream (a real HTTP server in its own process) that lists the model alias."""
    yield from _models_process(tmp_path, [ALIAS])


def _models_process(tmp_path: Path, served: list[str]) -> Iterator[str]:
    port = free_port()
    script = tmp_path / f"upstream_{port}.py"
    script.write_text(MODELS_SERVER + f"serve({port}, {served!r})\n")
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


def stand_in_uv(tmp_path: Path, body: str) -> str:
    """An executable taking the proxy's command line (`tool run ... litellm --config C --host H --port N`); runs `body`.

    It writes its argv and whether it was given the master key (never the key) to argv.json, for the tests to read.
    """
    script = tmp_path / "stand_in_uv.py"
    script.write_text(
        MODELS_SERVER
        + "argv = sys.argv[1:]\n"
        + "port = int(argv[argv.index('--port') + 1])\n"
        + "key = os.environ.get('LITELLM_MASTER_KEY')\n"
        + f"json.dump({{'argv': argv, 'has_key': bool(key), 'pgid': os.getpgid(0), 'pid': os.getpid(),"
        + f" 'weak': '{WEAK_KEY_OVERRIDE}' in os.environ, 'config': open(argv[argv.index('--config') + 1]).read()}},"
        + f" open({str(tmp_path / 'argv.json')!r}, 'w'))\n"
        + body
    )
    launcher = tmp_path / "uv"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    return str(launcher)


def alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock
    sock.close()


@pytest.fixture
def key_env_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV, raising=False)


# -- the setup -------------------------------------------------------------------------------------------------------

def test_the_setup_is_litellms_native_responses_over_the_local_model() -> None:
    setup = get_setup("litellm")
    assert setup.responses == "native"
    assert setup.text_model == get_setup("local").text_model
    assert (setup.url_env, setup.key_env) == ("LITELLM_URL", DEFAULT_KEY_ENV)
    assert setup.base_url.startswith("http://127.0.0.1:")
    from kit.servers.litellm import litellm_server_for
    from kit.servers.managed import load_factory

    assert setup.managed and load_factory(setup.server or "") is litellm_server_for


def test_server_for_setup_gives_the_proxy_with_the_setups_alias_and_key_variable() -> None:
    # kit serve passes local's options too (engine, embeddings): they are dropped, not an error
    server = server_for_setup("litellm", port=None, host="127.0.0.1", engine="llama-cpp-python", embeddings=False,
                              n_threads=1, start_timeout=50.0)
    assert isinstance(server, LiteLLMServer)
    assert (server.model_alias, server.key_env, server.n_threads, server.start_timeout) == (ALIAS, DEFAULT_KEY_ENV, 1, 50.0)


# -- pure parts --------------------------------------------------------------------------------------------------------

def test_config_routes_the_alias_through_the_llamafile_provider_to_the_upstream() -> None:
    settings = ProxySettings(upstream_url="http://127.0.0.1:9/v1")
    config = yaml.safe_load(config_text(settings))  # what LiteLLM's YAML loader reads
    assert config == proxy_config(settings)
    [model] = config["model_list"]
    assert model["model_name"] == ALIAS
    assert model["litellm_params"] == {"model": f"llamafile/{ALIAS}", "api_base": "http://127.0.0.1:9/v1",
                                       # the reasoning server's trigger (the provider refuses it otherwise)
                                       "allowed_openai_params": ["reasoning_effort"]}
    # the key stays in the environment: the file only names the variable
    assert config["general_settings"]["master_key"] == f"os.environ/{MASTER_KEY_ENV}"


def test_command_pins_the_version_binds_loopback_and_carries_no_key(tmp_path: Path) -> None:
    settings = ProxySettings(upstream_url="http://127.0.0.1:9/v1", port=4321, uv="/opt/uv", python="/py/bin/python")
    command = proxy_command(settings, tmp_path / "config.yaml")
    assert command[:3] == ["/opt/uv", "tool", "run"]
    assert command[command.index("--from") + 1] == f"litellm[proxy]=={LITELLM_VERSION}"
    assert command[command.index("--python") + 1] == "/py/bin/python"
    assert command[command.index("--host") + 1] == "127.0.0.1"  # LiteLLM's own default is 0.0.0.0
    assert command[command.index("--port") + 1] == "4321"
    assert not any("sk-" in part for part in command)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5"])
def test_the_proxy_is_never_bound_beyond_loopback(host: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback only"):
        LiteLLMServer(host=host)
    with pytest.raises(ValueError, match="loopback only"):
        proxy_command(ProxySettings(upstream_url="http://x/v1", host=host), tmp_path / "c.yaml")


def test_environment_has_the_key_and_none_of_litellms_own_settings() -> None:
    parent = {"PATH": "/bin", "HOME": "/root", WEAK_KEY_OVERRIDE: "true", "LITELLM_MASTER_KEY": "sk-users-own",
              "DATABASE_URL": "postgres://x", "PORT": "1", "HOST": "0.0.0.0", "litellm_log": "DEBUG",
              "LLAMAFILE_API_BASE": "http://elsewhere", "DEBUG": "1"}
    env = proxy_environment(parent, "sk-" + "a" * 64)
    assert WEAK_KEY_OVERRIDE not in env  # never, even if the user's shell has it
    assert env[MASTER_KEY_ENV] == "sk-" + "a" * 64
    assert not {"DATABASE_URL", "PORT", "HOST", "litellm_log", "LLAMAFILE_API_BASE", "DEBUG"} & set(env)
    assert (env["PATH"], env["HOME"]) == ("/bin", "/root")
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True" and env["UV_PYTHON_DOWNLOADS"] == "never"


def test_each_key_is_new_strong_and_looks_like_a_credential_to_the_recorder() -> None:
    keys = {new_master_key() for _ in range(20)}
    assert len(keys) == 20
    for key in keys:
        assert key.startswith("sk-") and len(key) == 67 and int(key[3:], 16) >= 0
        assert has_credential(key)  # so a recording that held it would be refused on load


def test_no_uv_anywhere_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)  # the `uv` package not importable
    with pytest.raises(UvMissing) as info:
        find_uv({"PATH": ""})
    assert isinstance(info.value, ServerNotInstalled) and isinstance(info.value, LocalServerError)
    assert 'pip install -e ".[local]"' in str(info.value) and UV_ENV in str(info.value)


def test_a_uv_from_the_environment_wins_and_must_be_executable(tmp_path: Path) -> None:
    uv = tmp_path / "uv"
    uv.write_text("#!/bin/sh\n")
    with pytest.raises(UvMissing, match="not an executable"):
        find_uv({UV_ENV: str(uv)})
    uv.chmod(0o755)
    assert find_uv({UV_ENV: str(uv)}) == str(uv)


# -- errors at start ---------------------------------------------------------------------------------------------------

def test_start_without_uv_fails_before_starting_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uv", None)
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv(UV_ENV, raising=False)
    server = LiteLLMServer()
    with pytest.raises(UvMissing):
        server.start()
    assert server.upstream_server is None and not server.running


def test_busy_port_names_it(listening_socket: socket.socket, upstream: str, tmp_path: Path) -> None:
    port = listening_socket.getsockname()[1]
    with pytest.raises(ProxyPortBusy) as info:
        LiteLLMServer(port=port, upstream=upstream, uv=stand_in_uv(tmp_path, "")).start()
    assert isinstance(info.value, PortBusy)
    assert f"port {port}" in str(info.value) and "free port" in str(info.value)
    assert not (tmp_path / "argv.json").exists()  # found before the proxy was started


def test_upstream_down_is_found_before_the_proxy_starts(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(UpstreamDown) as info:
        LiteLLMServer(upstream=nobody, uv=stand_in_uv(tmp_path, "")).start()
    assert nobody in str(info.value) and "kit serve local" in str(info.value)
    assert not (tmp_path / "argv.json").exists()


def test_upstream_serving_another_model_is_named(tmp_path: Path) -> None:
    for other in _models_process(tmp_path, ["someone-elses-model"]):
        with pytest.raises(UpstreamDown) as info:
            LiteLLMServer(upstream=other, uv=stand_in_uv(tmp_path, "")).start()
        assert "someone-elses-model" in str(info.value) and ALIAS in str(info.value)


def test_proxy_that_exits_while_starting_shows_its_log_without_the_key(upstream: str, tmp_path: Path) -> None:
    uv = stand_in_uv(tmp_path, "print('booting; key is', key, flush=True)\nprint('ImportError: boom', flush=True)\nsys.exit(3)\n")
    server = LiteLLMServer(upstream=upstream, uv=uv, log_path=tmp_path / "proxy.log")
    with pytest.raises(ProxyCrashed) as info:
        server.start()
    message = str(info.value)
    assert isinstance(info.value, ServerCrashed)
    assert "code 3" in message and "ImportError: boom" in message and str(tmp_path / "proxy.log") in message
    assert "key is <master key>" in message and not has_credential(message)


def test_proxy_whose_port_is_taken_while_starting_says_so(upstream: str, tmp_path: Path) -> None:
    uv = stand_in_uv(tmp_path, "print('ERROR:    [Errno 98] error while attempting to bind on address: "
                               "address already in use', flush=True)\nsys.exit(1)\n")
    with pytest.raises(ProxyPortBusy, match="already in use"):
        LiteLLMServer(upstream=upstream, uv=uv).start()


def test_uv_that_cannot_install_litellm_says_so(upstream: str, tmp_path: Path) -> None:
    uv = stand_in_uv(tmp_path, "print('  x No solution found when resolving tool dependencies:', flush=True)\nsys.exit(1)\n")
    with pytest.raises(ProxyCrashed, match="could not install litellm"):
        LiteLLMServer(upstream=upstream, uv=uv).start()


# -- a start and a stop -------------------------------------------------------------------------------------------------

def test_start_hands_the_key_to_the_caller_and_writes_no_variable_of_ours(upstream: str, tmp_path: Path,
                                                                           key_env_clean: None) -> None:
    # The stand-in answers /v1/models only with the master key it was given, as LiteLLM does.
    uv = stand_in_uv(tmp_path, "serve(port, ['" + ALIAS + "'], key=key)\n")
    server = LiteLLMServer(upstream=upstream, uv=uv, log_path=tmp_path / "proxy.log", start_timeout=60)
    with server:
        key = server.client_environment()[DEFAULT_KEY_ENV]
        assert has_credential(key)
        assert DEFAULT_KEY_ENV not in os.environ  # the caller hands it on (kit run: to the kernels)
        models = httpx.get(server.base_url + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        assert models.status_code == 200 and models.json()["data"][0]["id"] == ALIAS
        assert httpx.get(server.base_url + "/models", timeout=5).status_code == 401
        seen = json.loads((tmp_path / "argv.json").read_text())
        assert seen["has_key"] and not seen["weak"]
        assert seen["argv"][seen["argv"].index("--host") + 1] == "127.0.0.1"
        assert key not in " ".join(seen["argv"]) and key not in seen["config"]
        assert server.start_seconds is not None and server.wait(timeout=0.1) is None  # still running
    assert DEFAULT_KEY_ENV not in os.environ
    assert not alive(seen["pid"])
    assert key not in (tmp_path / "proxy.log").read_text()


def test_a_key_variable_the_user_had_is_left_alone(upstream: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_KEY_ENV, "users-own-value")
    uv = stand_in_uv(tmp_path, "serve(port, ['" + ALIAS + "'], key=key)\n")
    with LiteLLMServer(upstream=upstream, uv=uv, start_timeout=60) as server:
        assert os.environ[DEFAULT_KEY_ENV] == "users-own-value"
        assert server.client_environment()[DEFAULT_KEY_ENV] != "users-own-value"
    assert os.environ[DEFAULT_KEY_ENV] == "users-own-value"


def test_stop_ends_the_whole_process_group_even_a_child_that_ignores_sigterm(upstream: str, tmp_path: Path) -> None:
    # uv runs LiteLLM as its child: a child left behind would keep the port.
    child = ("import signal, subprocess, time\n"
             "kid = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
             "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
             f"open({str(tmp_path / 'child.pid')!r}, 'w').write(str(kid.pid))\n"
             "serve(port, ['" + ALIAS + "'], key=key)\n")
    server = LiteLLMServer(upstream=upstream, uv=stand_in_uv(tmp_path, child), start_timeout=60, stop_timeout=2)
    server.start()
    kid = int((tmp_path / "child.pid").read_text())
    assert alive(kid)
    server.stop()
    deadline = time.monotonic() + 10
    while alive(kid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(kid)
    server.stop()  # twice is fine


def test_kit_serve_tells_the_url_and_the_key_variable(upstream: str, tmp_path: Path, key_env_clean: None) -> None:
    from kit.cli.serve import _client_exports

    uv = stand_in_uv(tmp_path, "serve(port, ['" + ALIAS + "'], key=key)\n")
    with LiteLLMServer(upstream=upstream, uv=uv, start_timeout=60) as server:
        exports = _client_exports(server, get_setup("litellm"))
        assert exports == {"LITELLM_URL": server.base_url, **server.client_environment()}
    # the local setup on its default URL needs nothing set
    from kit.servers import LocalServer

    local = LocalServer(port=int(get_setup("local").base_url.rsplit(":", 1)[1].split("/")[0]))
    local.port = local.requested_port  # as if started there
    assert _client_exports(local, get_setup("local")) == {}


def test_record_with_the_managed_proxy_needs_no_key_from_the_user(tmp_path: Path) -> None:
    from kit.setups import BUILTIN_SETUPS
    from kit.setups.options import OptionError, RunOptions, resolve_run

    def resolve(**options: object) -> object:
        return resolve_run(RunOptions(setup=("litellm",), inference_mode="record", **options), known=BUILTIN_SETUPS,
                           recorded=[], environ={}, cwd=tmp_path)

    assert resolve(stack_config="server:litellm").stack.server_setup == "litellm"  # the kit makes the key
    with pytest.raises(OptionError, match=DEFAULT_KEY_ENV):  # a proxy the user runs: the user gives its key
        resolve(stack_config="http://127.0.0.1:4000/v1")


def test_the_committed_baseline_is_for_the_pinned_version_and_parses() -> None:
    from kit.findings import load_baseline

    baseline = load_baseline("litellm", Path(__file__).resolve().parents[2] / "findings")
    assert baseline.peer.get("version") == LITELLM_VERSION, (
        f"{baseline.file_hint} holds for LiteLLM {baseline.peer.get('version')}, the kit pins {LITELLM_VERSION}: "
        "re-record (README: What the kit finds in LiteLLM) and update it")
    assert baseline.findings and all(f.event and f.reason for f in baseline.findings)
