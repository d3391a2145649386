"""The kit's pytest plugin installed in somebody else's project: it never breaks that project's own pytest.

ogx's integration tests define --setup and --stack-config in their conftest (the kit copies ogx's flags on
purpose): argparse refuses an option string twice, so a plugin that registered them first would crash the
host's pytest at start. The host's options win; the kit's stay available as --kit-NAME.
"""

from __future__ import annotations

import pytest

from tests.runner.notebooks import FAILING, write_notebook

pytest_plugins = ["pytester"]

HOST_CONFTEST = '''
def pytest_addoption(parser):
    group = parser.getgroup("host", "the host project's own options")
    group.addoption("--setup", dest="host_setup", default="host-default", help="the host's setup")
    group.addoption("--suite", dest="host_suite", default=None, help="the host's suite")
    group.addoption("--stack-config", dest="host_stack_config", default=None, help="the host's stack")
    parser.addoption("--inference-mode", dest="host_inference_mode", default=None, help="the host's mode")
'''

HOST_TEST = '''
def test_the_host_options_are_the_hosts(pytestconfig):
    assert pytestconfig.getoption("host_setup") == "ogx-like"
    assert pytestconfig.getoption("host_suite") == "responses"
    assert pytestconfig.getoption("host_stack_config") == "http://127.0.0.1:9/v1"
    assert pytestconfig.getoption("host_inference_mode") == "record"


def test_the_kits_options_stay_available_under_kit_names(kit_run):
    assert [s.name for s in kit_run.setups] == ["gpt"]
    assert kit_run.mode.value == "replay"
'''


@pytest.fixture
def host(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("KIT_INFERENCE_MODE", "KIT_RECORDING_DIR", "KIT_SETUPS_FILE", "KIT_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(HOST_CONFTEST)
    pytester.makepyfile(test_host=HOST_TEST)
    # a notebook of the host's, shaped like a suite's: not the kit's to collect (this folder is no kit project)
    write_notebook(pytester.path / "notebooks" / "responses" / "theirs.ipynb", FAILING)
    return pytester


def test_a_host_conftest_owning_the_kits_flags_runs_its_own_pytest(host: pytest.Pytester) -> None:
    host_flags = ("--setup", "ogx-like", "--suite", "responses", "--stack-config", "http://127.0.0.1:9/v1",
                  "--inference-mode", "record")
    result = host.runpytest_subprocess("-p", "no:cacheprovider", *host_flags, "--kit-setup", "gpt", "test_host.py")
    out = result.stdout.str() + result.stderr.str()
    assert "conflicting option string" not in out, out
    assert result.ret == 0, out
    result.assert_outcomes(passed=2)
    # no path and no kit option: the host's own collection, untouched (its notebook is not the kit's to run)
    collected = host.runpytest_subprocess("-p", "no:cacheprovider", *host_flags, "--collect-only", "-q")
    out = collected.stdout.str() + collected.stderr.str()
    assert collected.ret == 0, out
    assert "2 tests collected" in out and ".ipynb" not in out, out


def test_the_help_shows_the_hosts_flags_and_the_kits_under_their_kit_names(host: pytest.Pytester) -> None:
    result = host.runpytest_subprocess("--help")
    out = result.stdout.str()
    assert result.ret == 0, out + result.stderr.str()
    assert "the host's setup" in out and "--kit-setup=SETUP" in out and "--kit-stack-config" in out
    assert "--setup=SETUP" not in out  # the kit did not register its own --setup beside the host's


def test_without_a_host_option_the_plain_names_are_the_kits(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_INFERENCE_MODE", raising=False)
    pytester.makepyfile(test_kit='''
def test_plain_names(kit_run):
    assert [s.name for s in kit_run.setups] == ["claude"] and kit_run.mode.value == "replay"
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--setup", "claude", "--inference-mode", "replay",
                                           "test_kit.py")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
