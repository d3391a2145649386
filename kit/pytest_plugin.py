"""pytest plugin of the kit (entry point `kit`): options, fixtures and notebook items.

- Options: the same as `kit run` (--suite, --setup, --inference-mode, the
  model flags, --env, --stack-config, --pattern, --recording-dir), resolved by
  `kit.setups.options`, so both read setups and defaults the same way. Each
  is also --kit-NAME, and a host project's own --setup (or any of them) wins:
  the plugin never breaks the pytest of the project it is installed in.
- Collection only where asked: `pytest --setup NAME` with no paths adds the
  packaged suites and the project's own to what pytest collects.
- Items: every `<root>/<suite>/<name>.ipynb` pytest collects, with `<root>`
  the packaged suites (`kit/suites`) or a folder of the project's own suites
  (`kit.setups.project`; no other notebook is touched), becomes one
  item per setup (`...ipynb::<setup>`) that runs the notebook with papermill.
  Not recorded and unsupported combinations skip with the reason (and the
  command that records them); failures report in a few lines.
- Parallel without xdist: when a notebook item starts, the next few notebook
  items start too, on `--kit-workers` threads (each in its own kernel), and
  each item reports its own outcome in order. Under xdist every worker runs
  its items one at a time (xdist does the spreading). Jobs are planned and run
  by the runner's own planner and pool (`kit.runner.matrix`), so an item's
  outcome is the one `kit run` gives (known findings included).
- Fixtures: `kit_client` (a record/replay `openai.OpenAI` for the setup),
  parametrized over the resolved setups through `kit_setup`; `kit_run`.

Kit modules are imported inside the hooks: loading the plugin costs nothing
to test runs that never touch a notebook.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kit.runner.execute import Job
    from kit.runner.matrix import JobPool
    from kit.runner.outcome import Outcome
    from kit.setups.options import ResolvedRun
    from kit.setups.registry import Setup
    from kit.suites import NotebookRef

_STATE = pytest.StashKey["_KitState"]()


# The options `kit run` shares, as (plain flag, dest, addoption keywords). Each is registered as --kit-<name>
# always, and under its plain name only when no other plugin or conftest owns that name (see below).
_SHARED_OPTIONS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("--suite", "kit_suite", dict(action="append", default=[], metavar="SUITE",
                                  help="suite(s) to run: base, responses, vision, compare or a project's own "
                                       "(repeat or comma-separate); default all")),
    ("--setup", "kit_setup", dict(action="append", default=[], metavar="SETUP",
                                  help="setup(s) to run on: local, bridge, litellm, ogx, ollama, vllm, gpt, claude "
                                       "or one of kit-setups.toml (repeat or comma-separate); default every setup "
                                       "with recordings")),
    ("--inference-mode", "kit_inference_mode", dict(metavar="MODE", help="replay (default, else $KIT_INFERENCE_MODE), "
                                                                         "record, record-if-missing or live")),
    ("--text-model", "kit_text_model", dict(metavar="MODEL", help="overrides the setup's text model")),
    ("--vision-model", "kit_vision_model", dict(metavar="MODEL", help="overrides the setup's vision model")),
    ("--embedding-model", "kit_embedding_model", dict(metavar="MODEL", help="overrides the setup's embedding model")),
    ("--embedding-dimension", "kit_embedding_dimension", dict(type=int, metavar="N",
                                                              help="overrides the setup's embedding dimension")),
    ("--judge-model", "kit_judge_model", dict(metavar="MODEL", help="model that judges answers")),
    ("--env", "kit_env", dict(action="append", default=[], metavar="KEY=VALUE",
                              help="environment for the notebooks (repeatable; never secrets)")),
    ("--stack-config", "kit_stack_config", dict(metavar="URL|server:SETUP",
                                                help="the server: a base URL, or server:<setup> to have the kit "
                                                     "start it (local, bridge, litellm, ogx)")),
    ("--pattern", "kit_pattern", dict(metavar="GLOB", help="only notebooks whose suite/name matches")),
    ("--recording-dir", "kit_recording_dir", dict(metavar="DIR", help="recordings (default: $KIT_RECORDING_DIR, "
                                                                      "else the project's recordings/)")),
)
_GROUP = "kit"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(_GROUP, "responses-kit notebooks (same options as `kit run`; each also as --kit-NAME)")
    for flag, dest, attrs in _SHARED_OPTIONS:
        group.addoption("--kit-" + flag[2:], dest=dest, **attrs)
    group.addoption("--kit-out", dest="kit_out", metavar="DIR",
                    help="where executed notebooks are written (default: the project's reports/pytest)")
    group.addoption("--kit-workers", dest="kit_workers", type=int, default=None, metavar="N",
                    help="notebooks executed at once (default: CPU count, at most 4; 1 under xdist)")
    group.addoption("--kit-cell-timeout", dest="kit_cell_timeout", type=float, default=600.0, metavar="SECONDS",
                    help="seconds a notebook cell may run (default 600)")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> Any:
    """The plain names (--setup, --suite, ...), once the host's plugins and initial conftests have added theirs.

    Entry-point plugins register their options before any conftest, and argparse refuses an option string
    twice: registering --setup in `pytest_addoption` would crash a host project whose conftest defines it
    (ogx's integration tests define --setup and --stack-config). So the plain names come last, only where free,
    and the host's own options win; the kit's stay available as --kit-NAME.
    """
    result = yield
    group = parser.getgroup(_GROUP)
    for flag, dest, attrs in _SHARED_OPTIONS:
        if flag not in _taken_option_names(parser):
            try:
                group.addoption(flag, dest=dest, **attrs)
            except (ValueError, argparse.ArgumentError):  # taken after all (a registry we could not see)
                pass
    return result


def _taken_option_names(parser: pytest.Parser) -> set[str]:
    """Every option string registered so far, in any group (pytest keeps them per group, and in argparse)."""
    names = {name for group in getattr(parser, "_groups", ()) for option in group.options for name in option.names()}
    optparser = getattr(parser, "optparser", None)  # pytest >= 9 builds its argparse parser as options come
    names.update(getattr(optparser, "_option_string_actions", {}))
    return names


class _KitState:
    """The run options resolved once per process, and the managed server when one is asked for."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._run: ResolvedRun | None = None
        self._stack: Any = None
        self._stack_url: str | None = None
        self._stack_error: str | None = None
        self._pool: JobPool | None = None
        self._queue: list[NotebookItem] | None = None
        self._selected: set[NotebookRef] | None = None
        self._roots: tuple[Path, ...] | None = None
        self.added_roots: list[Path] = []  # suites added to what pytest collects (`pytest --setup NAME`)

    @property
    def run(self) -> ResolvedRun:
        if self._run is None:
            from kit.runner.matrix import resolve
            from kit.setups.options import OptionError, RunOptions

            get = self.config.getoption
            options = RunOptions(
                suite=tuple(get("kit_suite") or ()), setup=tuple(get("kit_setup") or ()),
                inference_mode=get("kit_inference_mode"), text_model=get("kit_text_model"),
                vision_model=get("kit_vision_model"), embedding_model=get("kit_embedding_model"),
                embedding_dimension=get("kit_embedding_dimension"), judge_model=get("kit_judge_model"),
                env=tuple(get("kit_env") or ()), stack_config=get("kit_stack_config"), pattern=get("kit_pattern"),
                recording_dir=Path(get("kit_recording_dir")) if get("kit_recording_dir") else None,
            )
            cwd = self.config.invocation_params.dir
            try:
                self._run = resolve(options, environ=os.environ, cwd=cwd)
            except (OptionError, ValueError) as exc:
                raise pytest.UsageError(f"kit: {exc}") from None
        return self._run

    @property
    def project(self) -> Any:
        """The project pytest runs in (`kit.setups.project`): its recordings, findings, reports and suites."""
        from kit.setups.project import find_project

        return find_project(self.config.invocation_params.dir, os.environ)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The folders of suites the kit collects from: the packaged suites and the project's own."""
        if self._roots is None:
            from kit.setups.project import ProjectError, notebook_roots

            try:
                self._roots = notebook_roots(self.project)
            except ProjectError as exc:
                raise pytest.UsageError(f"kit: {exc}") from None
        return self._roots

    def selected(self) -> set[NotebookRef]:
        """The notebooks that --suite and --pattern select among all the roots (the same rules as `kit run`)."""
        if self._selected is None:
            from kit.suites import SuiteError, discover, select

            try:
                self._selected = set(select(discover([r for r in self.roots if r.is_dir()]), self.run.suites,
                                            self.run.pattern))
            except SuiteError as exc:
                raise pytest.UsageError(f"kit: {exc}") from None
        return self._selected

    @property
    def out_dir(self) -> Path:
        given = self.config.getoption("kit_out")
        return Path(given).resolve() if given else self.project.reports / "pytest"

    def stack_url(self) -> str | None:
        """The --stack-config URL, or the managed server's (started on first use, stopped at exit)."""
        stack = self.run.stack
        if stack is None or not stack.managed:
            return stack.base_url if stack else None
        if self._stack is None:
            from kit.runner.matrix import StackError, managed_stack

            if self._stack_error:
                raise pytest.UsageError(self._stack_error)
            stack_cm = managed_stack(stack)
            try:
                self._stack_url = stack_cm.__enter__()
            except StackError as exc:
                self._stack_error = f"kit: {exc}"  # said once per item, not retried for each
                raise pytest.UsageError(self._stack_error) from None
            self._stack = stack_cm
        return self._stack_url

    @property
    def workers(self) -> int:
        given = self.config.getoption("kit_workers")
        if given is not None:
            if given < 1:
                raise pytest.UsageError(f"kit: --kit-workers {given}: must be at least 1")
            return int(given)
        if hasattr(self.config, "workerinput"):  # an xdist worker: xdist already runs items side by side
            return 1
        return max(1, min(4, os.cpu_count() or 1))

    def outcome(self, item: NotebookItem) -> Outcome:
        """The item's outcome; starts it, and the next notebook items up to the worker count, in the background."""
        from kit.runner.matrix import JobPool

        job = item.job()  # starts the managed server, if any, whose key the kernels get
        if self._pool is None:
            from kit.setups.options import stack_environment

            self._pool = JobPool(self.workers, name="kit-notebook",
                                 base_env={**os.environ, **stack_environment(self._stack_url)})
        if self._queue is None:
            self._queue = [i for i in item.session.items if isinstance(i, NotebookItem)]
        start = next((n for n, queued in enumerate(self._queue) if queued is item), None)
        upcoming = [item] if start is None else self._queue[start:start + self.workers]
        for queued in upcoming[1:]:
            self._pool.submit(queued.job())
        return self._pool.outcome(job)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close(cancel=True)
            self._pool = None
        if self._stack is not None:
            self._stack.__exit__(None, None, None)
            self._stack = None


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_STATE] = _KitState(config)
    config.pluginmanager.register(KnownFindingsSummary(), "kit-known-findings")
    config.addinivalue_line("markers", "kit_notebook: a notebook × setup item collected by the kit plugin")
    _add_suites_to_collect(config)


def _add_suites_to_collect(config: pytest.Config) -> None:
    """`pytest --setup NAME` (or --suite/--pattern) with no paths given: collect the suites too.

    The packaged suites live in the installed package, outside the host project, so pytest would never walk
    into them; they are added to what pytest collects only when a kit selection was asked for and the command
    line named no paths (a `testpaths` that already holds them is left as it is).
    """
    asked = config.getoption("kit_setup") or config.getoption("kit_suite") or config.getoption("kit_pattern")
    if not asked or config.args_source is pytest.Config.ArgsSource.ARGS:
        return
    given = [(config.invocation_params.dir / a.split("::")[0]).resolve() for a in config.args]
    within = config.args_source is pytest.Config.ArgsSource.TESTPATHS  # a testpath holding them collects them
    state = _state(config)
    for root in state.roots:
        if root.is_dir() and not any(root == g or within and root.is_relative_to(g) for g in given):
            config.args.append(str(root))
            state.added_roots.append(root)


@pytest.hookimpl(tryfirst=True)
def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Walk down to the suites the kit added even through a folder pytest ignores (`.venv/lib/.../kit/suites`:
    a virtualenv, or a `norecursedirs` match), and nowhere else inside that folder."""
    state = config.stash.get(_STATE, None)
    if state is None or not state.added_roots:
        return None
    path = collection_path.resolve()
    for root in state.added_roots:
        gate = _ignored_ancestor(root, config)
        if gate is not None and path.is_relative_to(gate):
            return not (root.is_relative_to(path) or path.is_relative_to(root))
    return None


def _ignored_ancestor(root: Path, config: pytest.Config) -> Path | None:
    """The outermost folder above `root` that pytest would not walk into (a venv, a `norecursedirs` name)."""
    from fnmatch import fnmatch

    patterns = config.getini("norecursedirs")
    for folder in reversed(root.parents):  # outermost first
        if folder == folder.parent:
            continue
        if (folder / "pyvenv.cfg").is_file() or any(fnmatch(folder.name, p) for p in patterns):
            return folder
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def _state(config: pytest.Config) -> _KitState:
    return config.stash[_STATE]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix != ".ipynb":
        return None
    from kit.suites import is_matrix_notebook

    if is_matrix_notebook(file_path, _state(parent.config).roots):  # only the kit's and the project's suites
        return NotebookFile.from_parent(parent, path=file_path)
    return None


class NotebookFile(pytest.File):
    """A matrix notebook: one item per setup of the run."""

    def collect(self) -> Iterator[pytest.Item]:
        from kit.suites import NotebookRef, setups_for

        state = _state(self.config)
        ref = NotebookRef(suite=self.path.parent.name, name=self.path.stem, path=self.path)
        if ref not in state.selected():
            return
        setups = {s.name: s for s in state.run.setups}
        for name in setups_for(ref, list(setups)):  # the same entries as `kit run`'s matrix
            yield NotebookItem.from_parent(self, name=name, notebook=ref, setup=setups[name])


class NotebookFailed(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class NotebookItem(pytest.Item):
    """One notebook × setup, executed with papermill in its own kernel."""

    def __init__(self, *, notebook: Any, setup: Setup, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.notebook = notebook
        self.setup_spec = setup
        self.add_marker(pytest.mark.kit_notebook)

    def job(self) -> Job:
        from kit.runner.matrix import job_for
        from kit.suites import MatrixEntry

        state = _state(self.config)
        return job_for(state.run, MatrixEntry(self.notebook, self.setup_spec.name), state.out_dir,
                       stack_url=state.stack_url(), cell_timeout=self.config.getoption("kit_cell_timeout"),
                       render_html=False)

    def runtest(self) -> None:
        from kit.runner.outcome import Status

        state = _state(self.config)
        outcome = state.outcome(self)
        self.user_properties.append(("kit_outcome", outcome.to_json()))  # the terminal summary reads it back
        if outcome.status is Status.NOT_RECORDED:
            _skip_here(f"not recorded for setup {self.setup_spec.name}; record with: {outcome.record_command}")
        if outcome.status is Status.UNSUPPORTED:
            _skip_here(f"unsupported on setup {self.setup_spec.name}: {' '.join(outcome.message.split())}")
        if outcome.status is Status.FAILED:
            raise NotebookFailed(outcome)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, NotebookFailed):
            outcome = excinfo.value.outcome
            lines = [f"notebook {self.notebook.id} failed on setup {self.setup_spec.name}", outcome.message]
            if outcome.executed:
                lines.append(f"executed notebook: {outcome.executed}")
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"{self.notebook.id}[{self.setup_spec.name}]"


def _skip_here(reason: str) -> None:
    """Skip, reported at the notebook (not at this file), as pytest does for skip marks."""
    raise pytest.skip.Exception(reason, _use_item_location=True)


# -- fixtures -------------------------------------------------------------------

def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use `kit_setup` (or `kit_client`) run once per setup of the run."""
    if "kit_setup" not in metafunc.fixturenames:
        return
    setups = _state(metafunc.config).run.setups
    if setups:
        metafunc.parametrize("kit_setup", list(setups), ids=[s.name for s in setups], indirect=True)
    else:
        reason = "no setup to run on: pass --setup, or record some (no setup has recordings)"
        metafunc.parametrize("kit_setup", [pytest.param(None, marks=pytest.mark.skip(reason=reason))],
                             ids=["no-setup"], indirect=True)


@pytest.fixture(scope="session")
def kit_run(pytestconfig: pytest.Config) -> ResolvedRun:
    """The resolved run options (setups, mode, recording dir, env, stack)."""
    return _state(pytestconfig).run


@pytest.fixture
def kit_setup(request: pytest.FixtureRequest) -> Setup:
    """The setup this test runs on (parametrized over the run's setups)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def kit_parameters(kit_setup: Setup, pytestconfig: pytest.Config) -> dict[str, Any]:
    """The parameters a notebook would get for this setup (models, mode, recording dir, stack)."""
    state = _state(pytestconfig)
    return state.run.parameters(kit_setup, state.stack_url())


@pytest.fixture
def kit_client(kit_setup: Setup, pytestconfig: pytest.Config) -> Any:
    """A record/replay `openai.OpenAI` for this setup, in the run's mode, against the run's stack."""
    import kit

    from kit.setups.options import stack_environment

    state = _state(pytestconfig)
    url = state.stack_url()
    key = stack_environment(url).get(kit_setup.key_env or "")  # a managed server's own key, else the setup's
    return kit.client(kit_setup.name, state.run.mode, base_url=url, recording_dir=state.run.recording_dir,
                      api_key=key, replay_style=state.run.replay_style)


class KnownFindingsSummary:
    """The known findings the passing notebook items carried, listed after the run: facts about peers, from
    findings/<setup>.toml. Read from the reports, not the items: under pytest-xdist an item runs in a worker
    and only its report (with the item's `kit_outcome` property) reaches the process that prints."""

    def __init__(self) -> None:
        self.known: list[dict[str, Any]] = []  # Outcome.to_json() of each item that passed with known findings

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call" or not report.passed:
            return
        for name, value in report.user_properties:
            if name == "kit_outcome" and isinstance(value, dict) and value.get("status") == "known findings":
                self.known.append(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from kit.runner.report import finding_line

        if not self.known:
            return
        terminalreporter.section("kit: known findings (passed; findings/<setup>.toml)")
        for outcome in self.known:
            for f in outcome.get("findings") or ():
                terminalreporter.line(f"{outcome['suite']}/{outcome['name']}[{outcome['setup']}]: {finding_line(f)}")


@pytest.hookimpl(trylast=True)
def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("kit_setup") or config.getoption("kit_inference_mode") or config.getoption("kit_stack_config"):
        run = _state(config).run
        return f"kit: mode={run.mode.value} setups={','.join(s.name for s in run.setups) or 'none'} recordings={run.recording_dir}"
    return None
