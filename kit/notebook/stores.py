"""Vector stores for a scenario's file search: local ones for bridged setups, the server's for native ones."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from kit.setups import Setup


class ScenarioStores:
    """Creates a scenario's vector stores; the requests (and so their recordings) are the same on every run."""

    def __init__(self, setup: Setup, client: Callable[[], Any]) -> None:
        self.setup = setup
        self._client = client
        self._local: Any = None

    @property
    def local(self) -> Any:
        """Local vector stores (`kit.bridge.VectorStores`) in a temporary folder of this run, made when first
        needed and removed with this object (or at the process's exit)."""
        if self._local is None:
            import shutil
            import tempfile
            import weakref

            from kit.bridge import VectorStores

            folder = tempfile.mkdtemp(prefix="kit-stores-")
            self._local = VectorStores(folder)
            weakref.finalize(self, shutil.rmtree, folder, True)
        return self._local

    def create(self, name: str, files: dict[str, str]) -> str:
        """A vector store holding `files` (filename -> text); returns its id.

        Bridged setups get a local store with ids derived from the content;
        native setups create the store on the server through the recorded client.
        """
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        if self.setup.responses == "bridge":
            store_id = f"vs_{name}_{digest}"
            if any(s["id"] == store_id for s in self.local.list()):
                return store_id  # a cell run again
            self.local.create(name, store_id=store_id)
            for filename, text in files.items():
                file_id = "file-" + hashlib.sha256(f"{filename}\0{text}".encode()).hexdigest()[:22]
                self.local.add_file(store_id, text=text, filename=filename, file_id=file_id)
            return store_id
        client = self._client()
        store = client.vector_stores.create(name=name)
        for filename, text in files.items():
            client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=(filename, text.encode("utf-8")))
        return store.id
