"""The papermill matrix runner: notebooks × setups -> outcomes -> HTML report.

Only `report_summary` is imported here: notebooks call it inside the kernel,
so importing `kit.runner` must stay cheap. The runner itself lives in
`kit.runner.matrix` (plan, run), `kit.runner.execute` (one execution),
`kit.runner.outcome` (statuses) and `kit.runner.report` (HTML).
"""

from kit.summary import REPORT_ENV, report_summary

__all__ = ["REPORT_ENV", "report_summary"]
