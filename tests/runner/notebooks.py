"""Small real notebooks for the runner's tests, written the way the suites' notebooks are."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CONTRACT_PARAMETERS = '''setup = "local"
inference_mode = "replay"
text_model = None
vision_model = None
embedding_model = None
embedding_dimension = None
judge_model = None
stack_config = None
recording_dir = None
env = {}
'''

PASSING = ['import json, os, sys\nfrom kit.runner import report_summary',
           'report_summary({"violations": {"errors": 0, "warnings": 2, "rules": ["seq.contiguous"]}})\n'
           'report_summary({"violations": {"errors": 0, "warnings": 1, "rules": ["event.logprobs"]}})',
           'print(json.dumps({"executable": sys.executable, "cwd": os.getcwd(), "setup": setup, "text_model": text_model,\n'
           '                  "mode_env": os.environ.get("KIT_INFERENCE_MODE"), "env_param": env,\n'
           '                  "kernel_env": os.environ.get("KIT_TEST_FLAG"), "report": os.environ.get("KIT_NOTEBOOK_REPORT")}))']

REPLAY_MISS = ['import kit',
               'client = kit.client(setup, inference_mode, recording_dir=recording_dir)\n'
               'client.chat.completions.create(model=text_model, messages=[{"role": "user", "content": "hi"}])']

FAILING = ['streamed = ["response.created", "response.completed"]',
           'assert streamed[-1] == "response.failed", "expected the stream to end with response.failed"']

UNSUPPORTED = ['class CapabilityMissing(Exception):\n    pass',
               'raise CapabilityMissing(f"setup {setup!r} lacks vision")']


def write_notebook(path: Path, cells: list[str], *, parameters: str = CONTRACT_PARAMETERS) -> Path:
    """A notebook with a `parameters` cell and the given code cells, saved without outputs."""
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"),
                             new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                             *(new_code_cell(source) for source in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
