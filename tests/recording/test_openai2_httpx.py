"""openai 2.x (legacy httpx) records and replays too: run in a venv that has openai<3 instead of 3.x."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "responses-kit" / "venv-openai2"

SCRIPT = r"""
import asyncio, json, sys, tempfile
import httpx, openai
import kit
from tests.loopback import LoopbackServer

FIXTURE = "responses/openai-dotnet__gpt4o-mini-function-call.jsonl"
req = dict(model="gpt-4o-mini", input="hi", stream=True, metadata={"fixture": FIXTURE})
folder = tempfile.mkdtemp()
with LoopbackServer() as server:
    rec = kit.client("gpt", "record", base_url=server.base_url, api_key="k", recording_dir=folder)
    live = [e.to_dict() for e in rec.responses.create(**req)]
    arec = kit.async_client("gpt", "record", base_url=server.base_url, api_key="k", recording_dir=folder)
    async def consume(client):
        return [e.to_dict() async for e in await client.responses.create(**{**req, "input": "async"})]
    alive = asyncio.run(consume(arec))
replay = kit.client("gpt", "replay", recording_dir=folder)
areplay = kit.async_client("gpt", "replay", recording_dir=folder)
print(json.dumps({
    "openai": openai.__version__,
    "http": type(replay._client).__module__.split(".")[0],
    "sync_same": [e.to_dict() for e in replay.responses.create(**req)] == live,
    "async_same": asyncio.run(consume(areplay)) == alive,
    "events": len(live),
}))
"""


def _venv_python() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(VENV)], check=True)
    probe = subprocess.run([str(python), "-c", "import openai; print(openai.__version__)"], capture_output=True, text=True)
    if not probe.stdout.startswith("2."):
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "openai>=2,<3"], capture_output=True, text=True)
        assert result.returncode == 0, f"could not install openai 2.x into {VENV}: {result.stderr[-2000:]}"
    return python


def test_openai_2x_with_legacy_httpx_records_and_replays(fixtures_dir):
    python = _venv_python()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([str(python), "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["openai"].startswith("2.") and facts["http"] == "httpx"
    assert facts["sync_same"] and facts["async_same"] and facts["events"] > 5
