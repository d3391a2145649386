"""A bridged scenario makes its temporary vector-store folder only for a request that searches, and removes it."""

from __future__ import annotations

import gc
import tempfile
from pathlib import Path

import pytest

from kit.notebook.scenario import start


def test_a_request_without_file_search_makes_no_store_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    scenario = start("local")
    assert scenario._search_stores({"input": "hi"}) == {}
    assert list(tmp_path.glob("kit-stores-*")) == []
    options = scenario._search_stores({"input": "hi", "tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]})
    assert set(options) == {"stores"}
    assert len(list(tmp_path.glob("kit-stores-*"))) == 1


def test_the_store_folder_goes_with_its_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    scenario = start("local")
    scenario.vector_store("notes", {"a.txt": "The ferry is called Pelican."})
    assert len(list(tmp_path.glob("kit-stores-*"))) == 1
    del scenario
    gc.collect()
    assert list(tmp_path.glob("kit-stores-*")) == []
