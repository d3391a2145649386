"""Option resolution shared by `kit run` and pytest: flags > environment > setup defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.setups.modes import InferenceMode
from kit.setups.options import (
    NOTEBOOK_PARAMETERS, OptionError, RunOptions, StackConfig, parse_env, parse_mode, parse_stack_config,
    resolve_recording_dir, resolve_run, split_names,
)
from kit.setups.registry import BUILTIN_SETUPS

KNOWN = BUILTIN_SETUPS
CWD = Path("/project")


def resolve(environ: dict[str, str] | None = None, recorded: tuple[str, ...] = (), **options: object):
    return resolve_run(RunOptions(**options), known=KNOWN, recorded=recorded, environ=environ or {}, cwd=CWD)


def test_setup_defaults_fill_what_the_user_did_not_give() -> None:
    run = resolve(setup=("gpt",))
    params = run.parameters(run.setups[0])["run"]
    # The issue: gpt is OpenAI with gpt-4o; embeddings default from the registry.
    assert params["text_model"] == "gpt-4o"
    assert params["embedding_model"] == "text-embedding-3-small"
    assert params["embedding_dimension"] == 1536
    assert params["setup"] == "gpt"
    assert params["mode"] == "replay" and params["replay_style"] == "fast"
    assert params["base_url"] is None and params["judge_model"] is None and run.env == {}


def test_kit_settings_given_with_env_go_into_the_context_not_the_kernels_environment() -> None:
    run = resolve(setup=("gpt",), env=("KIT_REPLAY_STYLE=realtime", "KIT_COMPARE_SETUPS=local,gpt", "LOG=1",
                                       "KIT_FINDINGS_DIR=baselines"), environ={"KIT_REPLAY_STYLE": "split"})
    context = run.context(run.setups[0])
    assert context.replay_style.value == "realtime"  # --env wins over the environment
    assert context.setups == ("local", "gpt") and context.findings_dir == str(CWD / "baselines")
    assert run.env == {"LOG": "1"}
    with pytest.raises(OptionError, match="--env KIT_LOCAL_URL=...: not a run setting"):
        resolve(setup=("gpt",), env=("KIT_LOCAL_URL=http://x",))


def test_explicit_flags_always_win_over_setup_defaults() -> None:
    run = resolve(setup=("gpt",), text_model="gpt-4.1-mini", vision_model="v", embedding_model="e",
                  embedding_dimension=64, judge_model="judge")
    params = run.parameters(run.setups[0])["run"]
    assert (params["text_model"], params["vision_model"], params["embedding_model"]) == ("gpt-4.1-mini", "v", "e")
    assert params["embedding_dimension"] == 64
    assert params["judge_model"] == "judge"


def test_parameters_are_exactly_the_notebook_contract() -> None:
    run = resolve(setup=("ollama",))
    assert tuple(run.parameters(run.setups[0])) == NOTEBOOK_PARAMETERS


def test_mode_is_flag_then_environment_then_replay() -> None:
    env = {"KIT_INFERENCE_MODE": "live"}
    assert parse_mode(None, {}) is InferenceMode.REPLAY
    assert parse_mode(None, env) is InferenceMode.LIVE
    assert parse_mode("record-if-missing", env) is InferenceMode.RECORD_IF_MISSING


def test_a_bad_mode_names_where_it_came_from() -> None:
    with pytest.raises(OptionError, match="KIT_INFERENCE_MODE 'fast'.*replay"):
        parse_mode(None, {"KIT_INFERENCE_MODE": "fast"})
    with pytest.raises(OptionError, match="--inference-mode 'x'"):
        parse_mode("x", {})


def test_default_setups_are_the_known_ones_with_recordings() -> None:
    run = resolve(recorded=("vllm", "gpt", "someone-elses"))
    assert [s.name for s in run.setups] == ["gpt", "vllm"]
    assert resolve().setups == ()


def test_unknown_setup_lists_the_known_ones() -> None:
    with pytest.raises(OptionError, match=r"unknown setup\(s\) nope; known setups: bridge, claude, gpt, litellm, local, ogx, ollama, vllm"):
        resolve(setup=("gpt,nope",))


def test_repeated_and_comma_separated_names_are_the_same() -> None:
    assert split_names(["base,responses", "vision", "base"]) == ("base", "responses", "vision")
    assert [s.name for s in resolve(setup=("gpt, claude",)).setups] == ["gpt", "claude"]


def test_env_pairs_parse_and_keep_equals_in_values() -> None:
    assert parse_env(["LOG_LEVEL=debug", "QUERY=a=b", "EMPTY="]) == {"LOG_LEVEL": "debug", "QUERY": "a=b", "EMPTY": ""}


@pytest.mark.parametrize("item", ["NOEQUALS", "=value", "1BAD=x", "has space=x"])
def test_malformed_env_pairs_are_refused(item: str) -> None:
    with pytest.raises(OptionError, match="expected KEY=VALUE"):
        parse_env([item])


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "MY_TOKEN", "db_password", "VLLM_API_KEY"])
def test_secrets_are_never_notebook_parameters(name: str) -> None:
    with pytest.raises(OptionError, match=f"export {name} in the environment"):
        resolve(setup=("gpt",), env=(f"{name}=sk-123",))


def test_a_setups_key_variable_is_refused_even_without_a_secret_looking_name() -> None:
    with pytest.raises(OptionError, match="secrets are never passed"):
        parse_env(["ANTHROPIC_AUTH=abc"], secret_names={"ANTHROPIC_AUTH"})


def test_stack_config_is_a_url_or_a_managed_setup() -> None:
    assert parse_stack_config("http://127.0.0.1:8080/v1/", KNOWN) == StackConfig(base_url="http://127.0.0.1:8080/v1")
    assert parse_stack_config("server:local", KNOWN) == StackConfig(server_setup="local")
    assert parse_stack_config(None, KNOWN) is None


@pytest.mark.parametrize(("value", "message"), [
    ("server:gpt", "does not manage a server for setup 'gpt'; managed setups: bridge, litellm, local, ogx"),
    ("server:nope", "unknown setup 'nope'"),
    ("ftp://host", "expected a base URL"),
    ("localhost:8080", "expected a base URL"),
])
def test_bad_stack_configs_say_what_is_accepted(value: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_stack_config(value, KNOWN)


def test_a_managed_server_implies_its_setup_and_is_passed_as_a_url() -> None:
    run = resolve(stack_config="server:local")
    assert [s.name for s in run.setups] == ["local"]
    assert run.parameters(run.setups[0], stack_url="http://127.0.0.1:41234/v1")["run"]["base_url"] == "http://127.0.0.1:41234/v1"


def test_a_managed_server_serves_only_its_setup() -> None:
    with pytest.raises(OptionError, match="serves setup 'local' only"):
        resolve(stack_config="server:local", setup=("gpt",))


def test_a_url_stack_is_one_server_for_one_setup() -> None:
    run = resolve(stack_config="http://host:1/v1", setup=("vllm",))
    assert run.parameters(run.setups[0])["run"]["base_url"] == "http://host:1/v1"
    with pytest.raises(OptionError, match="choose exactly one --setup"):
        resolve(stack_config="http://host:1/v1", setup=("vllm", "ollama"))


def test_talking_to_servers_needs_their_keys_from_the_environment() -> None:
    with pytest.raises(OptionError, match="set ANTHROPIC_API_KEY, OPENAI_API_KEY"):
        resolve(setup=("gpt", "claude", "ollama"), inference_mode="record")
    run = resolve({"OPENAI_API_KEY": "sk-x"}, setup=("gpt",), inference_mode="record")
    assert run.mode is InferenceMode.RECORD
    assert resolve(setup=("ollama",), inference_mode="live").mode is InferenceMode.LIVE  # no key needed


def test_replay_needs_no_key() -> None:
    assert resolve(setup=("gpt", "claude")).mode is InferenceMode.REPLAY


def test_recording_dir_is_flag_then_environment_relative_to_cwd() -> None:
    assert resolve_recording_dir(RunOptions(recording_dir=Path("rec")), {"KIT_RECORDING_DIR": "/x"}, CWD) == CWD / "rec"
    assert resolve_recording_dir(RunOptions(), {"KIT_RECORDING_DIR": "/x"}, CWD) == Path("/x")
    assert resolve(setup=("gpt",), recording_dir=Path("/abs/rec")).parameters(KNOWN["gpt"])["run"]["recording_dir"] == "/abs/rec"


def test_embedding_dimension_must_be_positive() -> None:
    with pytest.raises(OptionError, match="--embedding-dimension 0"):
        resolve(setup=("gpt",), embedding_dimension=0)
