"""Local vector stores: create, add files, search (FTS5 and embeddings), persisted on disk."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import pytest

from kit.bridge import VectorStoreError, VectorStores, chunk_text

DOCS = {
    "eu-campaign.txt": "European advertising campaign results for Q1 2023: strong growth in EU markets, "
                       "led by Germany and France.",
    "us-promotions.txt": "US promotional campaigns in Q1 2023 produced a 15% revenue increase in the region.",
    "apac-sales.txt": "Asia Pacific sales figures for Q3 2023: a record-breaking quarter in Asia.",
}


def hashed_bag_of_words(texts: list[str]) -> list[list[float]]:
    """A real (if simple) embedding: word counts hashed into 64 dimensions."""
    vectors = []
    for text in texts:
        vector = [0.0] * 64
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        vectors.append(vector)
    return vectors


def filled(root: Path, **options: object) -> tuple[VectorStores, str]:
    stores = VectorStores(root, **options)  # type: ignore[arg-type]
    store = stores.create("docs", embeddings="embed" in options)
    for name, text in DOCS.items():
        stores.add_file(store["id"], text=text, filename=name)
    return stores, store["id"]


def test_full_text_search_ranks_the_file_that_matches(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path)
    results = stores.search(store_id, "Which campaign raised US revenue?")
    assert results[0]["filename"] == "us-promotions.txt"
    assert results[0]["text"] == DOCS["us-promotions.txt"]
    assert all(0 < r["score"] < 1 for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    assert set(results[0]) == {"file_id", "filename", "score", "text", "attributes"}


def test_queries_with_fts_syntax_characters_do_not_break_the_search(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path)
    assert stores.search(store_id, 'what\'s "Asia" (Q3) -sales* AND OR NOT:')[0]["filename"] == "apac-sales.txt"
    assert stores.search(store_id, "?!") == []
    assert stores.search(store_id, "zeppelin") == []


def test_stores_persist_on_disk(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path)
    again = VectorStores(tmp_path)
    assert [s["id"] for s in again.list()] == [store_id]
    assert again.retrieve(store_id)["file_counts"]["completed"] == 3
    assert sorted(f["filename"] for f in again.list_files(store_id)) == sorted(DOCS)
    assert again.search(store_id, "Asia record quarter")[0]["filename"] == "apac-sales.txt"


def test_files_from_paths_and_explicit_ids(tmp_path: Path) -> None:
    stores = VectorStores(tmp_path / "db")
    store = stores.create("s", store_id="vs_test")
    path = tmp_path / "notes.txt"
    path.write_text("The kit bridges chat completions to responses.", encoding="utf-8")
    added = stores.add_file("vs_test", path, file_id="file-1", attributes={"team": "kit"})
    assert (added["id"], added["filename"], store["id"]) == ("file-1", "notes.txt", "vs_test")
    result = stores.search("vs_test", "bridges")[0]
    assert (result["file_id"], result["attributes"]) == ("file-1", {"team": "kit"})
    with pytest.raises(VectorStoreError, match="already has"):
        stores.add_file("vs_test", text="x", filename="x.txt", file_id="file-1")


def test_unknown_store_and_bad_input_say_what_is_wrong(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path)
    with pytest.raises(VectorStoreError, match=f"no vector store 'vs_nope'.*known: {store_id}"):
        stores.search("vs_nope", "x")
    with pytest.raises(VectorStoreError, match="path or text"):
        stores.add_file(store_id)
    with pytest.raises(VectorStoreError, match="embed="):
        stores.create("e", embeddings=True)


def test_delete_removes_the_store_and_its_chunks(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path)
    other = stores.create("other")["id"]
    stores.add_file(other, text="Asia again", filename="a.txt")
    stores.delete(store_id)
    assert [s["id"] for s in stores.list()] == [other]
    assert [r["filename"] for r in stores.search(other, "Asia")] == ["a.txt"]


def test_chunks_overlap_and_are_cut_from_the_text() -> None:
    text = " ".join(f"w{n}" for n in range(500))
    chunks = chunk_text(text, words=200, overlap=40)
    assert [len(c.split()) for c in chunks] == [200, 200, 180]
    assert all(c in text for c in chunks)
    assert chunks[0].split()[-40:] == chunks[1].split()[:40]
    assert chunk_text("  ") == []


def test_embedding_search_ranks_by_cosine_similarity(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path, embed=hashed_bag_of_words, embedding_model="hashed-bow")
    assert stores.retrieve(store_id)["embedding_model"] == "hashed-bow"
    query = "record quarter in Asia"
    results = stores.search(store_id, query)
    q = hashed_bag_of_words([query])[0]

    def cosine(text: str) -> float:
        v = hashed_bag_of_words([text])[0]
        return sum(a * b for a, b in zip(q, v)) / (math.hypot(*q) * math.hypot(*v))

    expected = sorted(DOCS, key=lambda name: -cosine(DOCS[name]))
    assert [r["filename"] for r in results] == expected
    assert results[0]["score"] == pytest.approx(cosine(DOCS[expected[0]]), abs=1e-5)
    # Without the embedding function the same store is still searchable by full text.
    assert VectorStores(tmp_path).search(store_id, "Asia")[0]["filename"] == "apac-sales.txt"


def test_embedding_dimensions_must_match(tmp_path: Path) -> None:
    stores, store_id = filled(tmp_path, embed=hashed_bag_of_words, embedding_model="hashed-bow")
    other = VectorStores(tmp_path, embed=lambda texts: [[1.0, 0.0] for _ in texts], embedding_model="hashed-bow")
    with pytest.raises(VectorStoreError, match="dimensions"):
        other.search(store_id, "Asia")
