"""A real report to look at: `kit run --setup local` in replay, plus capture pages whose streams have reasoning and citations,
and a page with known findings (LiteLLM's function_tools, replayed from its committed recordings).

The local model cannot reason or cite, so two real captures from
tests/captures (a reasoning summary beside an answer; a file citation) are run
through `kit/suites/inspect_capture.ipynb` with papermill and rendered by the
report's own page writer, next to the matrix pages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CAPTURES = PROJECT / "tests" / "captures"
REASONING_CAPTURE = CAPTURES / "responses" / "vercel-ai__github-copilot-id-rotation.jsonl"
CITATION_CAPTURE = CAPTURES / "responses" / "pydantic-ai__gpt4o-file-search.jsonl"


@dataclass(frozen=True)
class Report:
    root: Path
    index: Path
    results: dict
    reasoning_page: Path
    citation_page: Path
    findings_page: Path

    def pages(self) -> list[Path]:
        """Every HTML file of the report folder, the index first, then the known-findings page."""
        return [self.index, *sorted(p for p in self.root.rglob("*.html") if p != self.index), self.findings_page]

    def page_of(self, suite: str, name: str, setup: str = "local") -> Path:
        return self.root / setup / suite / f"{name}.html"


def project_env() -> dict[str, str]:
    """This checkout's kit first on the path (a worktree may not be the installed copy)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT), env.get("PYTHONPATH", "")) if p)
    env.pop("KIT_RECORDING_DIR", None)
    return env


def _kit_run(*args: str) -> None:
    argv = [sys.executable, "-m", "kit", "run", "--inference-mode", "replay", *args]
    done = subprocess.run(argv, cwd=PROJECT, env=project_env(), capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def build_report(out: Path) -> Report:
    _kit_run("--setup", "local", "--out", str(out), "--workers", "2")
    findings = out.parent / "findings-report"  # a run of its own: the main report's results stay local's
    _kit_run("--setup", "litellm", "--pattern", "responses/function_tools", "--out", str(findings), "--workers", "1")
    pages = out / "captures" / "inspect"
    reasoning = inspect_capture_page(REASONING_CAPTURE, pages, out / "index.html")
    citation = inspect_capture_page(CITATION_CAPTURE, pages, out / "index.html")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return Report(root=out, index=out / "index.html", results=results, reasoning_page=reasoning, citation_page=citation,
                  findings_page=findings / "litellm" / "responses" / "function_tools.html")


def inspect_capture_page(capture: Path, folder: Path, index: Path) -> Path:
    """Execute inspect_capture.ipynb on `capture` in a kernel of its own and render it as a report page."""
    code = (
        "import sys, papermill\n"
        "from pathlib import Path\n"
        "from kit.runner.report import write_notebook_page\n"
        "src, capture, executed, page, index = map(Path, sys.argv[1:])\n"
        "papermill.execute_notebook(str(src), str(executed), parameters={'path': str(capture)}, kernel_name='python3',\n"
        "                           cwd=str(src.parent), progress_bar=False, log_output=False)\n"
        "write_notebook_page(executed, page, title=f'inspect_capture: {capture.name}', index=index)\n"
    )
    folder.mkdir(parents=True, exist_ok=True)
    executed, page = folder / f"{capture.stem}.ipynb", folder / f"{capture.stem}.html"
    argv = [sys.executable, "-c", code, str(PROJECT / "kit" / "suites" / "inspect_capture.ipynb"), str(capture),
            str(executed), str(page), str(index)]
    done = subprocess.run(argv, cwd=PROJECT, env=project_env(), capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise AssertionError(f"inspect_capture.ipynb on {capture.name} failed:\n{done.stderr[-3000:]}")
    return page


def capture_events(capture: Path) -> list[dict]:
    return [json.loads(line) for line in capture.read_text(encoding="utf-8").splitlines() if line.strip()]


def recorded_chat_answer(prompt: str, *, setup: str = "local") -> tuple[str, int]:
    """The answer text of the recorded chat stream for `prompt`, and how many chunks carried content, read
    straight from the recording file (not through the kit)."""
    for path in sorted((PROJECT / "recordings" / setup / "chat-completions").glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        messages = record["request"]["body"].get("messages", [])
        if len(messages) == 1 and messages[0].get("content") == prompt and not record["request"]["body"].get("tools"):
            pieces = [event["data"]["choices"][0]["delta"].get("content")
                      for event in record["response"]["sse"]["events"]
                      if isinstance(event.get("data"), dict) and event["data"].get("choices")]
            pieces = [piece for piece in pieces if piece]
            return "".join(pieces), len(pieces)
    raise LookupError(f"no recording in recordings/{setup} answers {prompt!r}")
