"""Archival store speed: SqliteVecStore against LangGraph's SqliteStore on the same data.

For each size N, one user's archive gets N passages of 384-dimension vectors (and a second
user as many), then both stores are measured on: insert throughput (embedding excluded: the
vectors are precomputed), search p50/p95 (query embedding excluded) and recall@10 against an
exact brute-force search of that user's vectors. The vectors are clustered like real sentence
embeddings (a few thousand topics plus noise), not uniform noise, and each query is a passage
plus noise, as similar to it as a real question is to its best passage: all-MiniLM-L6-v2 gives a
median cosine of 0.58 between LoCoMo questions and the nearest turn of their conversation
(``--query-cos``; 0.17 makes queries nearly random, a harder case than real use).

    python tests/benchmarks/archival_search.py 10000 100000 [--query-cos 0.58]

Ends with: ``archival search p50 at N: X ms (SqliteStore Y ms), recall@10 vs exact R``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp
from langgraph_memgpt.archival import SqliteVecStore
from langgraph_memgpt.storage import connect

DIMS = 384
USERS = (("archival", "ada"), ("archival", "bob"))


class Precomputed(Embeddings):
    """Embeddings looked up by text: the benchmark measures the store, not the model."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._lookup(t).tolist() for t in texts]

    def _lookup(self, text: str) -> np.ndarray:
        if text not in self.vectors and text.startswith("{"):
            text = json.loads(text)["content"]  # SqliteStore embeds the field as JSON text
        return self.vectors[text]

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text].tolist()


def clustered_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    topics = rng.standard_normal((max(50, count // 40), DIMS)).astype(np.float32)
    picks = rng.integers(0, len(topics), count)
    vectors = topics[picks] + 0.6 * rng.standard_normal((count, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure(store, size: int, data: dict, queries: list[str], exact: dict) -> dict[str, float]:
    started = time.perf_counter()
    for namespace in USERS:
        texts = data[namespace]
        for start in range(0, size, 1000):
            store.batch(
                [
                    PutOp(namespace, f"k{i}", {"content": texts[i]})
                    for i in range(start, min(size, start + 1000))
                ]
            )
    insert_rate = 2 * size / (time.perf_counter() - started)
    # The first search of a namespace loads its in-memory first-pass index: reported apart.
    begun = time.perf_counter()
    store.search(USERS[0], query=queries[0], limit=10)
    first = (time.perf_counter() - begun) * 1000
    times, recalls = [], []
    for query in queries:
        begun = time.perf_counter()
        found = store.search(USERS[0], query=query, limit=10)
        times.append(time.perf_counter() - begun)
        recalls.append(len({i.key for i in found} & exact[query]) / 10)
    times.sort()
    return {
        "insert": insert_rate,
        "first": first,
        "p50": statistics.median(times) * 1000,
        "p95": times[int(0.95 * (len(times) - 1))] * 1000,
        "recall": statistics.mean(recalls),
    }


def run(size: int, workdir: Path, query_cos: float, queries_count: int = 100) -> tuple[dict, dict]:
    rng = np.random.default_rng(size)
    vectors: dict[str, np.ndarray] = {}
    data = {}
    for namespace in USERS:
        matrix = clustered_vectors(size, rng)
        texts = [f"{namespace[1]} passage {i}" for i in range(size)]
        vectors.update(zip(texts, matrix, strict=True))
        data[namespace] = texts
    own = np.stack([vectors[t] for t in data[USERS[0]]])
    queries = []
    exact = {}
    # Noise of this size leaves a unit vector at cosine ``query_cos`` from where it started.
    noise = np.sqrt((1 / query_cos**2 - 1) / DIMS)
    for number in range(queries_count):
        query_vector = own[rng.integers(0, size)] + noise * rng.standard_normal(DIMS)
        query_vector = (query_vector / np.linalg.norm(query_vector)).astype(np.float32)
        text = f"query {number}"
        vectors[text] = query_vector
        queries.append(text)
        exact[text] = {f"k{i}" for i in np.argsort(-(own @ query_vector))[:10]}
    index = {"dims": DIMS, "embed": Precomputed(vectors), "fields": ["content"]}

    ours = SqliteVecStore(workdir / f"ours-{size}.sqlite", index=index)
    mine = measure(ours, size, data, queries, exact)
    ours.close()

    from langgraph.store.sqlite import SqliteStore

    conn = connect(str(workdir / f"langgraph-{size}.sqlite"))
    conn.isolation_level = None  # SqliteStore manages its own transactions
    theirs_store = SqliteStore(conn, index=index)
    theirs_store.setup()
    theirs = measure(theirs_store, size, data, queries, exact)
    conn.close()
    return mine, theirs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--query-cos", type=float, default=0.58)
    args = parser.parse_args(argv)
    print(
        f"{'passages/user':>14} {'store':<14} {'insert/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'recall@10':>10} {'1st search ms':>14}"
    )
    last = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            mine, theirs = run(size, Path(tmp), args.query_cos)
            for name, r in (("SqliteVecStore", mine), ("SqliteStore", theirs)):
                print(
                    f"{size:>14,} {name:<14} {r['insert']:>10,.0f} {r['p50']:>8.2f} "
                    f"{r['p95']:>8.2f} {r['recall']:>10.3f} {r['first']:>14.1f}",
                    flush=True,
                )
            print(
                f"{'':>14} speed-up: search {theirs['p50'] / mine['p50']:.1f}x, insert "
                f"{mine['insert'] / theirs['insert']:.1f}x",
                flush=True,
            )
            last = (size, mine, theirs)
    size, mine, theirs = last
    print(
        f"archival search p50 at {size}: {mine['p50']:.1f} ms "
        f"(SqliteStore {theirs['p50']:.1f} ms), recall@10 vs exact {mine['recall']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
