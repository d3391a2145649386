"""ogx 1.5.0 for real: the kit starts it over its llama.cpp server, judges its streams, and stops it.

The error rules its streams break must be exactly the committed baseline
(findings/ogx.toml): a rule that appears is a regression of ogx (or of the
kit's judging), a rule that disappears means ogx fixed it and the baseline
must say so. They need a Python 3.12 (`KIT_OGX_PYTHON`, or one uv, PATH or
pyenv finds) and PyPI the first time (the environment is cached: about 16 s
with an empty uv cache). Without a Python 3.12 they skip saying how to run
them; the committed recordings keep the replay path covered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from kit.battery import run_battery
from kit.events import parse, validate_stream
from kit.findings import FAILED, Judgement, judge, load_baseline
from kit.servers import ServerStartTimeout, free_port
from kit.servers.ogx import OgxServer, ogx_server_for
from kit.servers.ogx_env import PYTHON_HINT, OgxPythonMissing, find_python
from kit.setups import get_setup
from tests.processes import alive, descendants

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
LIGHTHOUSE = "The Old Harbor lighthouse was built in 1871. Its lamp is visible for 18 nautical miles."
FERRY = "The island ferry leaves the Old Harbor every two hours between 7am and 7pm."


def judged(violations, notebook: str) -> Judgement:
    """This stream's error rules against findings/ogx.toml, by the one rule kit.findings applies everywhere."""
    baseline = load_baseline("ogx", ROOT / "findings")
    assert baseline.findings, "findings/ogx.toml is missing or empty"
    return judge({v.rule for v in violations if v.severity == "error"}, baseline, notebook)


@pytest.fixture(scope="module")
def python312() -> str:
    try:
        return find_python()
    except OgxPythonMissing:
        pytest.skip(f"ogx needs Python 3.12, none found here: {PYTHON_HINT}; then run "
                    "`python -m pytest tests/live/test_ogx_live.py`")


@pytest.fixture(scope="module")
def ogx(python312: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OgxServer]:
    with ogx_server_for(get_setup("ogx"), run_dir=tmp_path_factory.mktemp("ogx-run")) as server:
        yield server


@pytest.fixture(scope="module")
def sdk(ogx: OgxServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=ogx.base_url, api_key="no-key", max_retries=0, timeout=600)


def test_ogx_serves_the_setups_model_and_the_embedding_model(sdk: openai.OpenAI) -> None:
    served = {m.id for m in sdk.models.list()}
    assert {"llamacpp/smollm2-135m-instruct", "llamacpp-embed/smollm2-embed"} <= served


def test_the_battery_breaks_exactly_the_baselined_rules(ogx: OgxServer) -> None:
    import kit

    client = kit.client("ogx", "live", base_url=ogx.base_url)
    results = list(run_battery(client, get_setup("ogx")))
    ran = [r for r in results if not r.skipped]
    assert {r.probe for r in ran} == {"text", "reasoning", "function_tool", "incomplete"}
    for result in ran:
        assert result.error is None, result.error
        verdict = judged(result.violations, f"battery/{result.probe}")
        assert verdict.status != FAILED, verdict.message
    function_call = next(r for r in ran if r.probe == "function_tool")
    assert function_call.problem is None  # a forced named tool makes a call with JSON arguments


def test_file_search_over_uploaded_files_breaks_exactly_the_baselined_rules(sdk: openai.OpenAI) -> None:
    store = sdk.vector_stores.create(name="kit_live")
    for name, text in (("lighthouse.txt", LIGHTHOUSE), ("ferry.txt", FERRY)):
        attached = sdk.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=(name, text.encode()))
        assert attached.status == "completed"
    events = [e.to_dict() for e in sdk.responses.create(
        model=get_setup("ogx").text_model, input="When was the Old Harbor lighthouse built?", stream=True,
        tools=[{"type": "file_search", "vector_store_ids": [store.id]}], tool_choice={"type": "file_search"},
        include=["file_search_call.results"], temperature=0, max_output_tokens=96)]
    stream = parse(events, source_name="ogx file_search")
    done = [e.raw["item"] for e in stream.events if e.type == "response.output_item.done"]
    searches = [item for item in done if item.get("type") == "file_search_call"]
    assert searches and searches[0].get("results"), f"no file_search_call with results in {[i.get('type') for i in done]}"
    assert any(item.get("type") == "message" for item in done)
    # seen once in three runs: the answer ran into its 96-token budget and the response ended incomplete;
    # a failure would end response.failed
    assert stream.events[-1].type in ("response.completed", "response.incomplete")
    verdict = judged(validate_stream(stream, "openai"), "responses/file_search")
    assert not verdict.new, verdict.message
    # the recorded answer ran into its budget and ogx said 'length' (lifecycle.terminal-status); a live answer
    # that completes cannot show that one, and only that one may then be missing
    may_be_gone = {"lifecycle.terminal-status"} if stream.events[-1].type == "response.completed" else set()
    assert {f.rule for f in verdict.gone} <= may_be_gone, verdict.message
    assert verdict.known, verdict.message


def test_a_start_that_times_out_stops_everything_and_shows_ogxs_log(python312: str, tmp_path: Path) -> None:
    server = OgxServer(llama_alias="smollm2-135m-instruct", run_dir=tmp_path, start_timeout=1.0)
    with pytest.raises(ServerStartTimeout) as caught:
        server.start()
    message = str(caught.value)
    assert "did not serve llamacpp/smollm2-135m-instruct" in message and str(tmp_path / "ogx.log") in message
    assert "# kit: " in message and " run " in message  # the tail of ogx's log starts with its command line
    assert server.pids() == [] and not server.running


def test_kit_serve_ogx_starts_a_working_server_and_ctrl_c_leaves_no_process(python312: str) -> None:
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "kit", "serve", "ogx", "--port", str(port)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))})
    lines: list[str] = []
    try:
        assert serve.stdout is not None
        started = time.monotonic()
        for line in serve.stdout:
            lines.append(line)
            if line.startswith("serving "):
                break
            assert time.monotonic() - started < 600, "".join(lines)
        assert any(line.startswith(f"serving llamacpp/smollm2-135m-instruct at http://127.0.0.1:{port}/v1") for line in lines), "".join(lines)
        models = httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).json()
        assert "llamacpp/smollm2-135m-instruct" in {m["id"] for m in models["data"]}
        family = descendants(serve.pid)
        assert len(family) >= 4, f"expected ogx, the proxy and two llama.cpp servers under kit serve, got {family}"
        stop = time.monotonic()
        serve.send_signal(signal.SIGINT)
        rest, _ = serve.communicate(timeout=120)
        lines.append(rest)
        assert serve.returncode == 0, "".join(lines)
        assert "stopped." in rest
        print(f"kit serve ogx stopped in {time.monotonic() - stop:.1f} s")
        assert [pid for pid in family if alive(pid)] == []
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
