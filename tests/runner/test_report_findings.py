"""The report's known findings: per cell and in a section per setup, escaped, offline (no kernels)."""

from __future__ import annotations

import re
from pathlib import Path

from kit.runner.outcome import Outcome, Status
from kit.runner.report import render_index

FINDING = {"rule": "item.closed-once", "event": "output_item.added (function_call): no <done> follows",
           "seen": "peer · function tool, event 7: item 0 never got output_item.done",
           "reason": "never closes function_call items", "upstream": "https://github.com/example/peer/issues/1"}
NO_LINK = {"rule": "lifecycle.stable-response", "event": "response.completed: model changed",
           "seen": "", "reason": "prefixes the provider", "upstream": ""}


def _page(tmp_path: Path) -> str:
    return render_index([
        Outcome("responses", "function_tools", "peer", Status.KNOWN_FINDINGS, 1.0, findings=(FINDING,)),
        Outcome("responses", "basic_streaming", "peer", Status.KNOWN_FINDINGS, 1.0, findings=(NO_LINK,)),
        Outcome("responses", "basic_streaming", "local", Status.PASSED, 1.0),
    ], root=tmp_path)


def test_each_setup_gets_a_section_with_rule_event_reason_and_link(tmp_path: Path) -> None:
    page = _page(tmp_path)
    section = page.split('<section class="kit-findings">', 1)[1].split("</section>", 1)[0]
    assert '<h2 id="findings-peer">Known findings on peer</h2>' in section and "findings-local" not in section
    assert "responses/function_tools" in section and "item.closed-once" in section
    assert "no &lt;done&gt; follows" in section and "<done>" not in section  # escaped
    assert "seen: peer · function tool, event 7" in section
    assert '<a href="https://github.com/example/peer/issues/1">' in section
    assert "prefixes the provider" in section and "no upstream issue known" in section


def test_known_findings_count_apart_from_failures_and_use_no_external_assets(tmp_path: Path) -> None:
    page = _page(tmp_path)
    assert ">2 known findings<" in page and ">0 failed<" in page
    assert not re.search(r"<(script|link|img)\b", page)  # readable from file:// with no network

