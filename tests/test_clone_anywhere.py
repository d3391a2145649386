"""A clone from anywhere passes its tests: the project carries its captures and names nothing outside itself.

The copy test runs the suite's collection, and the capture-heavy test files,
from a copy of the repository in a temporary folder with nothing beside it,
so a test that quietly reached for a sibling folder would fail or skip there.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "tests" / "captures"
PRODUCT = ("kit", "tests", "benchmarks", "docs", "README.md", "pyproject.toml", "environment.yml", ".ci")


def _tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=False)
    if out.returncode != 0:  # an exported tree with no .git: every file under the product folders
        return [p.relative_to(ROOT) for top in PRODUCT for p in (ROOT / top).rglob("*") if p.is_file()] + [
            Path(top) for top in PRODUCT if (ROOT / top).is_file()]
    return [Path(name) for name in out.stdout.decode().split("\0") if name and (ROOT / name).is_file()]


def test_the_manifest_names_every_capture_with_its_source_and_license() -> None:
    with (CAPTURES / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    listed = {row["file"] for row in rows}
    on_disk = {p.relative_to(CAPTURES).as_posix() for p in [*CAPTURES.glob("*/*.jsonl"), *CAPTURES.glob("errors/*.json")]}
    assert listed == on_disk
    assert len(on_disk) == 117  # 113 streams, 4 error bodies
    for row in rows:
        assert row["license"] in {"MIT", "Apache-2.0"}, row["file"]
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]), row["file"]
        assert row["source_repo"].count("/") == 1 and row["source_path"], row["file"]


def test_nothing_in_the_product_refers_to_a_folder_beside_the_clone() -> None:
    sibling = "shared"  # the workplace folder beside the clone that the product must never name
    pattern = re.compile(rf"\.\./{sibling}|{sibling}/(fixtures|reference)")
    offenders = []
    for rel in _tracked_files():
        if rel.parts[0] not in PRODUCT and rel.as_posix() not in PRODUCT or rel.parts[:2] == ("tests", "captures"):
            continue
        if rel == Path(__file__).relative_to(ROOT):
            continue
        try:
            text = (ROOT / rel).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        offenders += [f"{rel}:{n}" for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def _copy_alone(tmp_path: Path) -> Path:
    """The tracked tree, copied into a folder that has nothing beside it."""
    lonely = tmp_path / "alone" / "p"
    for rel in _tracked_files():
        target = lonely / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    assert sorted(os.listdir(lonely.parent)) == ["p"]
    return lonely


def _pytest(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "KIT_"))}
    env["PYTHONPATH"] = str(cwd)  # the copy's kit and tests, not this checkout's
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_copy_with_nothing_beside_it_collects_everything_and_skips_nothing_for_missing_data(tmp_path: Path) -> None:
    lonely = _copy_alone(tmp_path)
    serial = ["-n", "0"] if _has_xdist() else []  # one process: its collection count is printed as one line
    here = _pytest(ROOT, *serial, "--collect-only", "-q", "tests")
    there = _pytest(lonely, *serial, "--collect-only", "-q", "tests")
    assert there.returncode == 0, there.stdout[-3000:] + there.stderr[-3000:]
    count = re.compile(r"^(\d+) tests? collected", re.M)
    assert count.search(there.stdout) and count.search(here.stdout), there.stdout[-500:]
    assert count.search(there.stdout).group(1) == count.search(here.stdout).group(1)

    data_heavy = ["tests/events/test_validate_real.py", "tests/bridge/test_acceptance.py",
                  "tests/render/test_render_fixtures.py", "tests/events/test_rule_breaches.py"]
    run = _pytest(lonely, *serial, "-q", "-rs", "-x", *data_heavy)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert not [line for line in skipped if re.search(r"not found|missing|captur|fixture", line, re.I)], skipped
    assert re.search(r"\d+ passed", run.stdout)


def _has_xdist() -> bool:
    try:
        import xdist  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("doc", ["conformance-rules.md", "bridge-mapping.md"])
def test_the_project_keeps_its_own_reference_docs(doc: str) -> None:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    assert len(text.splitlines()) > 20
