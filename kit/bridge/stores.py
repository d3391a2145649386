"""Local vector stores for the bridge's hosted `file_search`, persisted in one SQLite file.

An OpenAI-like API (create a store, add files, search) over SQLite's
built-in FTS5 full-text search, so nothing needs a model. With an
`embed` function (e.g. `kit.bridge.service.embedder(client, model)` over a
setup's embeddings endpoint) a store created with `embeddings=True` also
keeps a vector per chunk and is searched by cosine similarity; its text
stays in FTS5 too, so it can still be searched without the model.

Vectors are float32 blobs scored with numpy: sqlite-vec would need
`sqlite3.Connection.enable_load_extension`, which the interpreters this kit
targets (pyenv/Debian builds) often lack, and a few thousand chunks do not
need an index.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

Embedder = Callable[[list[str]], list[list[float]]]

DEFAULT_DIR = Path("~/.cache/responses-kit/vector_stores")
DB_NAME = "stores.sqlite3"
CHUNK_WORDS = 200
CHUNK_OVERLAP = 40

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stores (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL, embedding_model TEXT
);
CREATE TABLE IF NOT EXISTS files (
    id TEXT NOT NULL, store_id TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
    filename TEXT NOT NULL, bytes INTEGER NOT NULL, created_at INTEGER NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (store_id, id)
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, store_id TEXT NOT NULL, file_id TEXT NOT NULL, seq INTEGER NOT NULL,
    text TEXT NOT NULL, vector BLOB
);
CREATE INDEX IF NOT EXISTS chunks_by_store ON chunks(store_id, file_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, tokenize='porter unicode61');
"""


class VectorStoreError(LookupError):
    """A store or file that does not exist, or a request the stores cannot serve."""


def chunk_text(text: str, *, words: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Overlapping windows of `words` words, cut from the text itself (spacing kept)."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if not spans:
        return []
    step = max(1, words - overlap)
    chunks = []
    for start in range(0, len(spans), step):
        window = spans[start:start + words]
        chunks.append(text[window[0][0]:window[-1][1]])
        if start + words >= len(spans):
            break
    return chunks


def fts_query(query: str) -> str | None:
    """An FTS5 query matching any word of a natural-language query (FTS5 syntax would choke on it)."""
    words = re.findall(r"\w+", query.lower())
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words)) or None


class VectorStores:
    """The stores kept under `root` (default `~/.cache/responses-kit/vector_stores`; the caller chooses another)."""

    def __init__(self, root: str | Path | None = None, *, embed: Embedder | None = None,
                 embedding_model: str | None = None) -> None:
        self.root = Path(root or DEFAULT_DIR).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / DB_NAME
        self.embed = embed
        self.embedding_model = embedding_model or (getattr(embed, "model", None) if embed else None)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path)) as db:
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                yield db

    # ----------------------------------------------------------- stores

    def create(self, name: str = "", *, embeddings: bool = False, store_id: str | None = None) -> dict[str, Any]:
        """A new empty store; `embeddings=True` needs the `embed` function this object was made with."""
        if embeddings and self.embed is None:
            raise VectorStoreError("embeddings=True needs VectorStores(embed=...): an embeddings endpoint")
        store_id = store_id or f"vs_{uuid.uuid4().hex}"
        model = (self.embedding_model or "custom") if embeddings else None
        with self._db() as db:
            db.execute("INSERT INTO stores VALUES (?, ?, ?, ?)", (store_id, name, int(time.time()), model))
        return self.retrieve(store_id)

    def retrieve(self, store_id: str) -> dict[str, Any]:
        with self._db() as db:
            row = db.execute("SELECT id, name, created_at, embedding_model FROM stores WHERE id = ?",
                             (store_id,)).fetchone()
            if row is None:
                raise VectorStoreError(f"no vector store {store_id!r} in {self.path}; known: "
                                       f"{', '.join(self._ids(db)) or 'none'}")
            count, size = db.execute("SELECT count(*), coalesce(sum(bytes), 0) FROM files WHERE store_id = ?",
                                     (store_id,)).fetchone()
        return {"id": row[0], "object": "vector_store", "name": row[1], "created_at": row[2],
                "status": "completed", "usage_bytes": size, "embedding_model": row[3],
                "file_counts": {"in_progress": 0, "completed": count, "failed": 0, "cancelled": 0, "total": count}}

    def list(self) -> list[dict[str, Any]]:
        with self._db() as db:
            ids = self._ids(db)
        return [self.retrieve(i) for i in ids]

    def delete(self, store_id: str) -> None:
        self.retrieve(store_id)
        with self._db() as db:
            ids = [r[0] for r in db.execute("SELECT id FROM chunks WHERE store_id = ?", (store_id,))]
            db.executemany("DELETE FROM chunks_fts WHERE rowid = ?", ((i,) for i in ids))
            db.execute("DELETE FROM chunks WHERE store_id = ?", (store_id,))
            db.execute("DELETE FROM stores WHERE id = ?", (store_id,))

    @staticmethod
    def _ids(db: sqlite3.Connection) -> list[str]:
        return [r[0] for r in db.execute("SELECT id FROM stores ORDER BY created_at, id")]

    # ------------------------------------------------------------ files

    def add_file(self, store_id: str, path: str | Path | None = None, *, text: str | None = None,
                 filename: str | None = None, file_id: str | None = None,
                 attributes: dict[str, Any] | None = None) -> dict[str, Any]:
        """Add a text file (a path, or `text` with a `filename`); returns the vector store file object."""
        store = self.retrieve(store_id)
        if (path is None) == (text is None):
            raise VectorStoreError("give either a path or text=")
        if path is not None:
            path = Path(path)
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise VectorStoreError(f"{path}: cannot read it as UTF-8 text: {exc}") from exc
            filename = filename or path.name
        assert text is not None
        if not filename:
            raise VectorStoreError("text= needs a filename=")
        file_id = file_id or f"file-{uuid.uuid4().hex[:24]}"
        chunks = chunk_text(text)
        vectors: list[bytes | None] = [None] * len(chunks)
        if store["embedding_model"]:
            vectors = [_to_blob(v) for v in self._embed_for(store, chunks)]
        with self._db() as db:
            if db.execute("SELECT 1 FROM files WHERE store_id = ? AND id = ?", (store_id, file_id)).fetchone():
                raise VectorStoreError(f"{store_id} already has a file {file_id!r}")
            db.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
                       (file_id, store_id, filename, len(text.encode("utf-8")), int(time.time()),
                        json.dumps(attributes or {})))
            for seq, (chunk, vector) in enumerate(zip(chunks, vectors)):
                rowid = db.execute("INSERT INTO chunks (store_id, file_id, seq, text, vector) VALUES (?, ?, ?, ?, ?)",
                                   (store_id, file_id, seq, chunk, vector)).lastrowid
                db.execute("INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)", (rowid, chunk))
        return {"id": file_id, "object": "vector_store.file", "vector_store_id": store_id, "filename": filename,
                "status": "completed", "usage_bytes": len(text.encode("utf-8")), "attributes": attributes or {},
                "chunks": len(chunks)}

    def list_files(self, store_id: str) -> list[dict[str, Any]]:
        self.retrieve(store_id)
        with self._db() as db:
            rows = db.execute("SELECT id, filename, bytes, attributes FROM files WHERE store_id = ? "
                              "ORDER BY created_at, id", (store_id,)).fetchall()
        return [{"id": r[0], "object": "vector_store.file", "vector_store_id": store_id, "filename": r[1],
                 "status": "completed", "usage_bytes": r[2], "attributes": json.loads(r[3])} for r in rows]

    # ----------------------------------------------------------- search

    def search(self, store_ids: str | Sequence[str], query: str, *, max_num_results: int = 10) -> list[dict[str, Any]]:
        """Ranked chunks: file_id, filename, score (0..1, higher is better), text, attributes.

        By embeddings when every store searched has them and this object can
        embed the query; by full-text search otherwise.
        """
        ids = [store_ids] if isinstance(store_ids, str) else list(store_ids)
        stores = [self.retrieve(i) for i in ids]
        if self.embed is not None and stores and all(s["embedding_model"] for s in stores):
            return self._search_vectors(stores, query, max_num_results)
        match = fts_query(query)
        if match is None or not ids:
            return []
        marks = ",".join("?" * len(ids))
        with self._db() as db:
            rows = db.execute(
                "SELECT c.file_id, f.filename, c.text, bm25(chunks_fts) AS rank, f.attributes "
                "FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
                "JOIN files f ON f.id = c.file_id AND f.store_id = c.store_id "
                f"WHERE chunks_fts MATCH ? AND c.store_id IN ({marks}) ORDER BY rank, c.id LIMIT ?",
                (match, *ids, max_num_results)).fetchall()
        return [_result(r[0], r[1], -r[3] / (1 - r[3]), r[2], r[4]) for r in rows]

    def _search_vectors(self, stores: list[dict[str, Any]], query: str, limit: int) -> list[dict[str, Any]]:
        import numpy as np

        query_vector = np.asarray(self._embed_for(stores[0], [query])[0], dtype=np.float32)
        ids = [s["id"] for s in stores]
        marks = ",".join("?" * len(ids))
        with self._db() as db:
            rows = db.execute(
                "SELECT c.file_id, f.filename, c.text, c.vector, f.attributes FROM chunks c "
                "JOIN files f ON f.id = c.file_id AND f.store_id = c.store_id "
                f"WHERE c.store_id IN ({marks}) AND c.vector IS NOT NULL ORDER BY c.id", ids).fetchall()
        if not rows:
            return []
        matrix = np.stack([np.frombuffer(r[3], dtype=np.float32) for r in rows])
        if matrix.shape[1] != query_vector.shape[0]:
            raise VectorStoreError(f"the query embedding has {query_vector.shape[0]} dimensions, the stored ones "
                                   f"{matrix.shape[1]}: was the store made with another embedding model?")
        norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(query_vector) or 1.0)
        scores = matrix @ query_vector / np.where(norms == 0, 1.0, norms)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [_result(rows[i][0], rows[i][1], float(scores[i]), rows[i][2], rows[i][4]) for i in order]

    def _embed_for(self, store: dict[str, Any], texts: list[str]) -> list[list[float]]:
        if self.embed is None:
            raise VectorStoreError(f"{store['id']} keeps embeddings: VectorStores needs embed= to add files to it")
        if self.embedding_model and store["embedding_model"] not in (self.embedding_model, "custom"):
            raise VectorStoreError(f"{store['id']} was embedded with {store['embedding_model']!r}, "
                                   f"this object embeds with {self.embedding_model!r}")
        vectors = self.embed(texts)
        if len(vectors) != len(texts):
            raise VectorStoreError(f"the embed function returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors


def _to_blob(vector: Sequence[float]) -> bytes:
    import numpy as np

    return np.asarray(vector, dtype=np.float32).tobytes()


def _result(file_id: str, filename: str, score: float, text: str, attributes: str) -> dict[str, Any]:
    return {"file_id": file_id, "filename": filename, "score": round(score, 6), "text": text,
            "attributes": json.loads(attributes)}
