"""Live: the kit starts the real LiteLLM proxy (the pinned litellm[proxy], via uv) over its llama.cpp server.

The `kit check` battery runs against it for real, and each probe's error
rules must equal the baseline in findings/litellm.toml: a new rule is a
regression, a baselined rule that no longer occurs means the peer changed
(update the baseline). This is what shows that the committed findings hold
for the pinned version. The first run installs LiteLLM with uv from PyPI
(about 30 s); later runs use uv's cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from kit.battery import run_battery
from kit.findings import FAILED, load_baseline, judge
from kit.recording import client as kit_client
from kit.servers.litellm import LiteLLMServer
from kit.setups import get_setup

pytestmark = pytest.mark.live

SETUP = get_setup("litellm")
BASELINE = load_baseline("litellm", Path(__file__).resolve().parents[2] / "findings")


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiteLLMServer]:
    log = Path(tmp_path_factory.mktemp("litellm")) / "proxy.log"
    with LiteLLMServer(model_alias=SETUP.text_model, key_env=SETUP.key_env or "", log_path=log,
                       reasoning=SETUP.reasoning,  # the setup's reasoning server, so the battery's reasoning probe runs
                       start_timeout=600) as server:
        yield server


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (from /proc/net/tcp and tcp6)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(address)
    return found


def test_the_proxy_listens_on_loopback_only_and_wants_its_key(proxy: LiteLLMServer) -> None:
    assert listening_addresses(proxy.port or 0) == {"0100007F"}  # 127.0.0.1, nothing else
    key = proxy.client_environment()[SETUP.key_env or ""]
    assert httpx.get(proxy.base_url + "/models", timeout=10).status_code >= 400
    answer = httpx.get(proxy.base_url + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert answer.status_code == 200 and SETUP.text_model in [m["id"] for m in answer.json()["data"]]


def test_battery_breaks_exactly_the_baselined_rules(proxy: LiteLLMServer) -> None:
    client = kit_client("litellm", "live", base_url=proxy.base_url,
                        api_key=proxy.client_environment()[SETUP.key_env or ""])  # the proxy hands its key over
    problems = []
    ran = 0
    for result in run_battery(client, SETUP):
        if result.skipped:
            continue
        ran += 1
        assert result.error is None, f"probe {result.probe}: {result.error}\nproxy log: {proxy.log_path}"
        errors = {v.rule for v in result.violations if v.severity == "error"}
        judgement = judge(errors, BASELINE, f"battery/{result.probe}")
        if judgement.status == FAILED:
            problems.append(judgement.message + "\n" + "\n".join(str(v) for v in result.violations
                                                                 if v.rule in judgement.new))
    assert ran == 4  # text, reasoning (over the reasoning server), function_tool, incomplete
    assert not problems, "\n".join(problems)


def test_the_key_reaches_no_recording_and_no_log(proxy: LiteLLMServer, tmp_path: Path) -> None:
    key = proxy.client_environment()[SETUP.key_env or ""]
    client = kit_client("litellm", "record", base_url=proxy.base_url, recording_dir=tmp_path, api_key=key)
    stream = client.responses.create(model=SETUP.text_model, input="Say hi.", max_output_tokens=8, temperature=0,
                                     stream=True)
    assert [event.type for event in stream][-1] in {"response.completed", "response.incomplete"}
    files = list(tmp_path.rglob("*.json"))
    assert files, "record mode wrote nothing"
    for path in files:
        assert key not in path.read_text(encoding="utf-8"), f"{path} holds the master key"
    assert proxy.log_path is not None and key not in proxy.log_path.read_text(encoding="utf-8", errors="replace")
