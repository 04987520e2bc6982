"""Archival store speed and recall: SqliteVecStore against LangGraph's SqliteStore, same vectors.

Real text by default (``real_text.py``): each size N is one user's archive of N passages, the
2,760 turns of the LoCoMo dev file (the needles) among documentation paragraphs of the
installed Python packages (the distractors), embedded with the packaged all-MiniLM-L6-v2
(cached between runs). A second user gets the same passages under other keys. Two sets of 200
queries, neither in the index: LoCoMo questions, whose evidence turns are the labels, and
documentation paragraphs held out of the index, whose neighbours sit where the corpus is
densest. Both stores get the same precomputed vectors (the embedding is not timed) and are
measured on insert throughput, search p50/p95, recall@10 against an exact brute-force search
of the user's vectors (the worse of the two query sets is the headline) and evidence
recall@10 of the LoCoMo questions.

    python tests/benchmarks/archival_search.py 10000 100000 [--figures FILE]
    python tests/benchmarks/archival_search.py 100000 --synthetic   # SYNTHETIC clusters

A size beyond the offline corpus is not run; the benchmark says how many passages it has.
Ends with: ``archival search p50 at N: X ms (SqliteStore Y ms), recall@10 vs exact R, real text``.

``--synthetic`` is the earlier generator, kept as a labelled option: clustered random vectors
(about 40 per topic), each query an indexed vector plus noise (cosine ``--query-cos`` to it).
There every exact top-10 lies in the query's own cluster, so a first pass cannot miss: its
recall says nothing about real text.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from figures import add_figures_argument, record
from langchain_core.embeddings import Embeddings
from langgraph.store.base import PutOp
from langgraph_memgpt.archival import SqliteVecStore
from langgraph_memgpt.storage import connect
from real_text import Question, docstring_paragraphs, embed_cached, locomo_needles

DIMS = 384
USERS = (("archival", "ada"), ("archival", "bob"))
QUERIES = 200


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


def measure(
    store, size: int, data: dict, query_sets: dict[str, list[str]], exact: dict, evidence: dict
) -> dict[str, float]:
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
    first_query = next(iter(query_sets.values()))[0]
    begun = time.perf_counter()
    store.search(USERS[0], query=first_query, limit=10)
    first = (time.perf_counter() - begun) * 1000
    times: list[float] = []
    result: dict[str, float] = {"insert": insert_rate, "first": first}
    for name, queries in query_sets.items():
        recalls, found_evidence = [], []
        for query in queries:
            begun = time.perf_counter()
            found = store.search(USERS[0], query=query, limit=10)
            times.append(time.perf_counter() - begun)
            keys = {i.key for i in found}
            recalls.append(len(keys & exact[query]) / 10)
            if query in evidence:
                found_evidence.append(len(keys & evidence[query]) / len(evidence[query]))
        result[f"recall {name}"] = statistics.mean(recalls)
        if found_evidence:
            result["evidence"] = statistics.mean(found_evidence)
    times.sort()
    result["p50"] = statistics.median(times) * 1000
    result["p95"] = times[int(0.95 * (len(times) - 1))] * 1000
    result["recall"] = min(v for k, v in result.items() if k.startswith("recall "))
    return result


def compare(
    size: int,
    workdir: Path,
    vectors: dict[str, np.ndarray],
    own: np.ndarray,
    texts: list[str],
    query_sets: dict[str, list[str]],
    evidence: dict[str, set[str]],
) -> tuple[dict, dict, dict]:
    """Both stores on one user's ``texts`` (and the same again for a second user)."""
    exact: dict[str, set[str]] = {}
    exact_evidence = []
    for queries in query_sets.values():
        for query in queries:
            best = np.argsort(-(own @ vectors[query]))[:10]
            exact[query] = {f"k{i}" for i in best}
            if query in evidence:
                exact_evidence.append(len(exact[query] & evidence[query]) / len(evidence[query]))
    data = {USERS[0]: texts, USERS[1]: texts}
    index = {"dims": DIMS, "embed": Precomputed(vectors), "fields": ["content"]}

    ours = SqliteVecStore(workdir / f"ours-{size}.sqlite", index=index)
    mine = measure(ours, size, data, query_sets, exact, evidence)
    ours.close()

    from langgraph.store.sqlite import SqliteStore

    conn = connect(str(workdir / f"langgraph-{size}.sqlite"))
    conn.isolation_level = None  # SqliteStore manages its own transactions
    theirs_store = SqliteStore(conn, index=index)
    theirs_store.setup()
    theirs = measure(theirs_store, size, data, query_sets, exact, evidence)
    conn.close()
    reference = {"evidence": statistics.mean(exact_evidence)} if exact_evidence else {}
    return mine, theirs, reference


class RealText:
    """The needles, distractors and queries of the real-text mode, embedded once."""

    def __init__(self, locomo: Path, largest: int) -> None:
        self.needles, questions = locomo_needles(locomo)
        # The held-out paragraphs come after every distractor any size takes, so a run's
        # passages are a prefix of a larger run's (their cached vectors are shared).
        paragraphs = docstring_paragraphs(largest + QUERIES)
        self.distractors = paragraphs[:-QUERIES]
        self.held_out = paragraphs[-QUERIES:]
        self.questions = questions
        self.available = len(self.needles) + len(self.distractors)

    def passages(self, size: int) -> tuple[list[str], dict[str, str]]:
        """``size`` texts (needles first) and the key each needle gets."""
        needles = list(self.needles.items())[: min(len(self.needles), max(1, size // 2))]
        texts = [text for _, text in needles] + self.distractors[: size - len(needles)]
        return texts, {name: f"k{i}" for i, (name, _) in enumerate(needles)}

    def queries(self, keys: dict[str, str]) -> tuple[dict[str, list[str]], dict[str, set[str]]]:
        answerable: list[Question] = [q for q in self.questions if q.evidence <= keys.keys()]
        picked = random.Random(7).sample(answerable, min(QUERIES, len(answerable)))
        evidence = {q.text: {keys[e] for e in q.evidence} for q in picked}
        return {"LoCoMo questions": list(evidence), "held-out paragraphs": self.held_out}, evidence


def run_real(size: int, workdir: Path, corpus: RealText) -> tuple[dict, dict, dict]:
    texts, keys = corpus.passages(size)
    query_sets, evidence = corpus.queries(keys)
    queries = [q for qs in query_sets.values() for q in qs]
    matrix = embed_cached(texts)
    query_matrix = embed_cached(queries)
    vectors = dict(zip(texts, matrix, strict=True)) | dict(zip(queries, query_matrix, strict=True))
    return compare(size, workdir, vectors, matrix, texts, query_sets, evidence)


def run_synthetic(size: int, workdir: Path, query_cos: float) -> tuple[dict, dict, dict]:
    """SYNTHETIC: clustered random vectors, each query a passage plus noise."""
    rng = np.random.default_rng(size)
    matrix = clustered_vectors(size, rng)
    texts = [f"passage {i}" for i in range(size)]
    vectors = dict(zip(texts, matrix, strict=True))
    # Noise of this size leaves a unit vector at cosine ``query_cos`` from where it started.
    noise = np.sqrt((1 / query_cos**2 - 1) / DIMS)
    queries = []
    for number in range(QUERIES // 2):
        query_vector = matrix[rng.integers(0, size)] + noise * rng.standard_normal(DIMS)
        vectors[f"query {number}"] = (query_vector / np.linalg.norm(query_vector)).astype(
            np.float32
        )
        queries.append(f"query {number}")
    return compare(size, workdir, vectors, matrix, texts, {"synthetic": queries}, {})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(__file__).resolve().parents[3] / "shared" / "data" / "locomo-dev.json",
        help="LoCoMo-format file: its turns are the needles, its questions the queries",
    )
    parser.add_argument(
        "--synthetic", action="store_true", help="SYNTHETIC clustered vectors instead of text"
    )
    parser.add_argument("--query-cos", type=float, default=0.58, help="synthetic mode only")
    add_figures_argument(parser)
    args = parser.parse_args(argv)
    label = "SYNTHETIC clusters" if args.synthetic else "real text"
    corpus = None if args.synthetic else RealText(args.data, max(args.sizes))
    print(
        f"{label}: "
        + (
            f"{len(corpus.needles):,} LoCoMo turns among documentation paragraphs, all-MiniLM-L6-v2"
            if corpus
            else f"clustered random vectors, queries at cosine {args.query_cos}"
        )
    )
    header = (
        f"{'passages/user':>14} {'store':<14} {'insert/s':>10} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'recall@10':>10} {'evidence':>9} {'1st search ms':>14}"
    )
    rows, last = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            if corpus and size > corpus.available:
                gigabytes = size * (DIMS * 4 * 3 + 600) / 1e9
                print(
                    f"{size:,} passages: not run: the offline corpus has {corpus.available:,} "
                    f"(it would take about {gigabytes:.1f} GB on disk for the two stores, "
                    f"{size * 436 / 1e6:,.0f} MB of memory for the first pass, and "
                    f"{size / 40 / 3600:.1f} h to embed at 40 texts/s on 2 cores)"
                )
                continue
            if last is None:
                print(header)
            if corpus:
                mine, theirs, reference = run_real(size, Path(tmp), corpus)
            else:
                mine, theirs, reference = run_synthetic(size, Path(tmp), args.query_cos)
            for name, r in (("SqliteVecStore", mine), ("SqliteStore", theirs)):
                evidence = f"{r['evidence']:.3f}" if "evidence" in r else "-"
                print(
                    f"{size:>14,} {name:<14} {r['insert']:>10,.0f} {r['p50']:>8.2f} "
                    f"{r['p95']:>8.2f} {r['recall']:>10.3f} {evidence:>9} {r['first']:>14.1f}",
                    flush=True,
                )
                rows.append(
                    [size, name, round(r["insert"]), r["p50"], r["p95"], f"{r['recall']:.3f}",
                     evidence, f"{r['first']:.0f}"]
                )  # fmt: skip
            by_set = ", ".join(
                f"{k.removeprefix('recall ')} {v:.3f}" for k, v in mine.items()
                if k.startswith("recall ")
            )  # fmt: skip
            exact = (
                f"; exact search's evidence recall {reference['evidence']:.3f}" if reference else ""
            )
            speed_up = theirs["p50"] / mine["p50"], mine["insert"] / theirs["insert"]
            print(
                f"{'':>14} recall@10 vs exact by query set: {by_set}{exact}; speed-up: "
                f"search {speed_up[0]:.1f}x, insert {speed_up[1]:.1f}x",
                flush=True,
            )
            last = (size, mine, theirs)
    if last is None:
        print("no size was run")
        return 1
    size, mine, theirs = last
    line = (
        f"archival search p50 at {size}: {mine['p50']:.1f} ms "
        f"(SqliteStore {theirs['p50']:.1f} ms), recall@10 vs exact {mine['recall']:.3f}, {label}"
    )
    print(line)
    record(
        args.figures,
        "archival_search",
        summary=[line],
        columns=["passages/user", "store", "insert/s", "p50 ms", "p95 ms",
                 "recall@10 vs exact", "evidence recall@10", "first search ms"],
        rows=rows,
        notes=[
            f"Data: {label}"
            + (
                f"; {len(corpus.needles):,} LoCoMo dev turns among Python documentation "
                "paragraphs; queries: 200 LoCoMo questions and 200 held-out paragraphs "
                "(recall vs exact is the worse of the two)."
                if corpus
                else "."
            )
        ],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
