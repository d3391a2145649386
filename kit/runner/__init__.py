"""The papermill matrix runner: notebooks × setups -> outcomes -> HTML report.

`kit.runner.matrix` (plan, run), `kit.runner.execute` (one execution: the run
context in, the typed result out), `kit.runner.outcome` (statuses, the one
judgement of known findings) and `kit.runner.report` (HTML). Notebooks import
none of it: they hand their result back through `kit.notebook`.
"""
