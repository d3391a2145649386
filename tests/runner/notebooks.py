"""Small real notebooks for the runner's tests, written the way the suites' notebooks are."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CONTRACT_PARAMETERS = 'run = {}\n'

# Two publications of the typed result merge: warnings add up, rules are united.
PASSING = ['import json, os, sys\nfrom kit.summary import RuleSeen, RunResult, StreamSeen, publish',
           'publish(RunResult(streams=(StreamSeen("a", 3, (RuleSeen("seq.contiguous", "warning", 2, "a, event 1: x"),)),),\n'
           '                  observed=True))\n'
           'publish(RunResult(streams=(StreamSeen("b", 3, (RuleSeen("event.logprobs", "warning", 1, "b, event 0: y"),)),),\n'
           '                  observed=True))',
           'print(json.dumps({"executable": sys.executable, "cwd": os.getcwd(), "run": run,\n'
           '                  "kit_vars": sorted(k for k in os.environ if k.startswith("KIT_") and k != "KIT_TEST_FLAG"),\n'
           '                  "kernel_env": os.environ.get("KIT_TEST_FLAG"), "user_env": os.environ.get("TEST_FLAG")}))']

REPLAY_MISS = ['import kit.notebook as nb',
               'scenario = nb.start(run)\n'
               'scenario.client.chat.completions.create(model=scenario.text_model, messages=[{"role": "user", "content": "hi"}])']

FAILING = ['streamed = ["response.created", "response.completed"]',
           'assert streamed[-1] == "response.failed", "expected the stream to end with response.failed"']

UNSUPPORTED = ['import kit.notebook as nb',
               'scenario = nb.start(run)\nscenario.require("reasoning")']

# A class of the notebook's own, named like the kit's: no typed entry, so a failure.
LOOKALIKE = ['class CapabilityMissing(Exception):\n    pass',
             'raise CapabilityMissing(f"setup {run[\'setup\']!r} lacks vision")']


def write_notebook(path: Path, cells: list[str], *, parameters: str = CONTRACT_PARAMETERS) -> Path:
    """A notebook with a `parameters` cell and the given code cells, saved without outputs."""
    nb = new_notebook(cells=[new_markdown_cell(f"# {path.stem}"),
                             new_code_cell(parameters, metadata={"tags": ["parameters"]}),
                             *(new_code_cell(source) for source in cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
