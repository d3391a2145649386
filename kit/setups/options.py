"""Run options shared by `kit run` and the pytest plugin, and how they resolve.

Order of precedence, for every value: explicit flag > environment (where the
kit defines a variable) > setup default > None. A flag that was not given is
None and takes no part, so an environment variable is never shadowed by a
flag's default. The caller passes the environment, the known setups and the
setups that have recordings; the only disk access is finding the project's
`recordings/` when no recording directory was given.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.setups.context import RUN_PARAMETER, RunContext
from kit.setups.modes import DIR_ENV, MODE_ENV, STYLE_ENV, InferenceMode, ReplayStyle, resolve_mode, resolve_style
from kit.setups.modes import resolve_recording_dir as resolve_modes_recording_dir
from kit.setups.registry import Setup

SERVER_PREFIX = "server:"
SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
FINDINGS_ENV = "KIT_FINDINGS_DIR"  # the folder of the known findings' baselines (default: the project's findings/)
COMPARE_ENV = "KIT_COMPARE_SETUPS"  # comma-separated setups the comparison notebook compares

# The names every matrix notebook's `parameters` cell defines (the notebook contract): one, the run context.
NOTEBOOK_PARAMETERS = (RUN_PARAMETER,)
# The documented kit variables a run resolves into its context (`--env NAME=...` or the environment).
RUN_SETTINGS = (MODE_ENV, DIR_ENV, STYLE_ENV, FINDINGS_ENV, COMPARE_ENV)


class OptionError(ValueError):
    """A run option is wrong; the message says which and what to do."""


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for; None or empty means "not given"."""

    suite: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    inference_mode: str | None = None
    text_model: str | None = None
    vision_model: str | None = None
    embedding_model: str | None = None
    embedding_dimension: int | None = None
    judge_model: str | None = None
    env: tuple[str, ...] = ()  # KEY=VALUE
    stack_config: str | None = None  # a base URL, or server:<setup>
    pattern: str | None = None
    recording_dir: Path | None = None


@dataclass(frozen=True)
class StackConfig:
    """Where the inference server is: a URL the user gave, or a managed setup the kit starts."""

    base_url: str | None = None
    server_setup: str | None = None

    @property
    def managed(self) -> bool:
        return self.server_setup is not None


class StackURL(str):
    """The base URL of the run's server, with what its clients need besides (a managed server's per-run key).

    A `str`, so it goes wherever a URL does; `environment` is for the faces to
    hand to the processes that talk to the server (the notebook kernels), never
    to a notebook parameter.
    """

    environment: dict[str, str]

    def __new__(cls, url: str, environment: Mapping[str, str] | None = None) -> StackURL:
        made = super().__new__(cls, url)
        made.environment = dict(environment or {})
        return made


def stack_environment(url: str | None) -> dict[str, str]:
    """The variables a run's server wants its clients to have (none for a URL the user gave)."""
    return dict(url.environment) if isinstance(url, StackURL) else {}


@dataclass(frozen=True)
class ResolvedRun:
    """Options after defaults: what the runner and the plugin execute."""

    setups: tuple[Setup, ...]
    mode: InferenceMode
    recording_dir: Path
    env: Mapping[str, str]  # the user's --env other than kit settings: the kernels' process environment
    stack: StackConfig | None
    suites: tuple[str, ...]
    pattern: str | None
    options: RunOptions = field(default_factory=RunOptions)
    replay_style: ReplayStyle = ReplayStyle.FAST
    findings_dir: Path | None = None  # None: the project's findings/, found from the notebooks' folder
    compare_setups: tuple[str, ...] = ()
    setups_file: Path | None = None  # the kit-setups.toml the known setups were read from

    def context(self, setup: Setup, stack_url: str | None = None) -> RunContext:
        """The run context of one setup: flags win, the setup's defaults fill the rest.

        `stack_url` is the base URL of a server the kit started (`server:<setup>`);
        otherwise a URL given as --stack-config is passed as it is.
        """
        o = self.options
        stack = stack_url or (self.stack.base_url if self.stack else None)
        models = setup_models(setup, text_model=o.text_model, vision_model=o.vision_model,
                              embedding_model=o.embedding_model, embedding_dimension=o.embedding_dimension)
        return RunContext(setup=setup.name, mode=self.mode, recording_dir=str(self.recording_dir), **models,
                          judge_model=o.judge_model, base_url=stack, replay_style=self.replay_style,
                          findings_dir=str(self.findings_dir) if self.findings_dir else None,
                          setups=self.compare_setups, setups_file=str(self.setups_file) if self.setups_file else None)

    def parameters(self, setup: Setup, stack_url: str | None = None) -> dict[str, Any]:
        """The notebook parameters for one setup: its run context, as the one parameter `run`."""
        return self.context(setup, stack_url).to_parameters()


def setup_models(setup: Setup, *, text_model: str | None = None, vision_model: str | None = None,
                 embedding_model: str | None = None, embedding_dimension: int | None = None) -> dict[str, Any]:
    """The models a run uses: what was given wins, the setup's defaults fill the rest.

    One rule for `kit run`, pytest and `kit.notebook.start`: a model name that is
    None or "" was not given; a dimension was given unless it is None.
    """
    return {
        "text_model": text_model or setup.text_model,
        "vision_model": vision_model or setup.vision_model,
        "embedding_model": embedding_model or setup.embedding_model,
        "embedding_dimension": embedding_dimension if embedding_dimension is not None else setup.embedding_dimension,
    }


def split_names(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """Repeated and comma-separated flags alike: ("a,b", "c") -> ("a", "b", "c"), order kept, no duplicates."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return tuple(names)


def parse_env(assignments: Iterable[str], secret_names: Collection[str] = ()) -> dict[str, str]:
    """KEY=VALUE pairs (the kit's run settings and the kernels' environment); refuses secrets.

    The values are shown in the run's report and context: keys must come from
    the environment of `kit run` instead.
    """
    env: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not ENV_NAME.match(name):
            raise OptionError(f"--env {item!r}: expected KEY=VALUE with KEY a variable name, e.g. --env LOG_LEVEL=debug")
        if name in secret_names or SECRET_NAME.search(name):
            raise OptionError(
                f"--env {name}=...: secrets are never passed as notebook parameters (they would be saved in the "
                f"executed notebook); export {name} in the environment of the command instead"
            )
        env[name] = value
    return env


def parse_stack_config(value: str | None, setups: Mapping[str, Setup]) -> StackConfig | None:
    """`--stack-config`: an http(s) base URL, or `server:<setup>` for a setup whose server the kit manages."""
    if not value:
        return None
    value = value.strip()
    if value.startswith(SERVER_PREFIX):
        name = value[len(SERVER_PREFIX):].strip()
        managed = sorted(n for n, s in setups.items() if s.managed)
        if name not in setups:
            raise OptionError(f"--stack-config {value}: unknown setup {name!r}; managed setups: {', '.join(managed) or 'none'}")
        if not setups[name].managed:
            raise OptionError(f"--stack-config {value}: the kit does not manage a server for setup {name!r}; "
                              f"managed setups: {', '.join(managed) or 'none'} (or give the server's base URL)")
        return StackConfig(server_setup=name)
    if re.match(r"^https?://[^/\s]+", value):
        return StackConfig(base_url=value.rstrip("/"))
    raise OptionError(f"--stack-config {value!r}: expected a base URL (http://host:port/v1) or server:<setup>")


def parse_mode(flag: str | None, environ: Mapping[str, str]) -> InferenceMode:
    """`kit.setups.modes.resolve_mode` (the one resolution), its error as an option error."""
    try:
        return resolve_mode(flag=flag, environ=environ)
    except ValueError as exc:
        raise OptionError(str(exc)) from None


def select_setups(requested: tuple[str, ...], stack: StackConfig | None, known: Mapping[str, Setup],
                  recorded: Collection[str]) -> tuple[Setup, ...]:
    """The setups to run: the ones named, else the managed server's, else every setup that has recordings."""
    names = requested or ((stack.server_setup,) if stack and stack.server_setup else ())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise OptionError(f"unknown setup(s) {', '.join(unknown)}; known setups: {', '.join(sorted(known))} "
                          f"(add your own in kit-setups.toml)")
    if not names:
        names = tuple(n for n in sorted(recorded) if n in known)
    return tuple(known[n] for n in names)


def resolve_recording_dir(options: RunOptions, environ: Mapping[str, str], cwd: Path) -> Path:
    """`kit.setups.modes.resolve_recording_dir` (the one resolution) for a run's options, relative to `cwd`."""
    return resolve_modes_recording_dir(flag=options.recording_dir, environ=environ, cwd=cwd)


def resolve_run(options: RunOptions, *, known: Mapping[str, Setup], recorded: Collection[str],
                environ: Mapping[str, str], cwd: Path, setups_file: Path | None = None) -> ResolvedRun:
    """Apply defaults and check the options hang together; raises OptionError."""
    stack = parse_stack_config(options.stack_config, known)
    setups = select_setups(split_names(options.setup), stack, known, recorded)
    secret_names = {s.key_env for s in known.values() if s.key_env}
    env, settings = split_settings(parse_env(options.env, secret_names), environ)
    mode = parse_mode(options.inference_mode, settings)
    if options.embedding_dimension is not None and options.embedding_dimension <= 0:
        raise OptionError(f"--embedding-dimension {options.embedding_dimension}: must be a positive integer")
    if stack is not None and stack.base_url and len(setups) > 1:
        raise OptionError(f"--stack-config {stack.base_url} is one server: choose exactly one --setup "
                          f"(got {', '.join(s.name for s in setups)})")
    if stack is not None and stack.server_setup and any(s.name != stack.server_setup for s in setups):
        raise OptionError(f"--stack-config server:{stack.server_setup} serves setup {stack.server_setup!r} only; "
                          f"drop --setup or choose --setup {stack.server_setup}")
    if mode.needs_server:
        # A managed server started for this run makes its own key (litellm's per-run master key) and sets it.
        started_here = stack.server_setup if stack is not None else None
        missing = sorted({s.key_env for s in setups
                          if s.key_env and not environ.get(s.key_env) and s.name != started_here})
        if missing:
            raise OptionError(f"--inference-mode {mode.value} talks to the servers and needs their keys: "
                              f"set {', '.join(missing)} in the environment (keys are never flags or parameters)")
    try:
        style = resolve_style(environ=settings)
    except ValueError as exc:
        raise OptionError(str(exc)) from None
    findings = settings.get(FINDINGS_ENV)
    from kit.setups.project import find_project

    return ResolvedRun(
        setups=setups, mode=mode, recording_dir=resolve_recording_dir(options, settings, cwd), env=env, stack=stack,
        suites=split_names(options.suite), pattern=options.pattern or None, options=options, replay_style=style,
        findings_dir=(cwd / findings).resolve() if findings else find_project(cwd, settings).findings,
        compare_setups=split_names(settings.get(COMPARE_ENV) or None),
        setups_file=setups_file if setups_file is not None and setups_file.is_file() else None,
    )


def split_settings(env: Mapping[str, str], environ: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(the kernels' environment, the kit settings): `--env` KIT_* run settings go into the context, never
    into a kernel's environment, and win over the same variable in the environment."""
    unknown = sorted(name for name in env if name.startswith("KIT_") and name not in RUN_SETTINGS)
    if unknown:
        raise OptionError(f"--env {unknown[0]}=...: not a run setting; the kit's run settings are "
                          f"{', '.join(RUN_SETTINGS)} (others are read by the kit's own commands from their environment)")
    settings = {**{k: v for k, v in environ.items() if k in RUN_SETTINGS}, **{k: v for k, v in env.items() if k in RUN_SETTINGS}}
    return {k: v for k, v in env.items() if k not in RUN_SETTINGS}, settings

