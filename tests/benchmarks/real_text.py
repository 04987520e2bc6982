"""Real text for the storage benchmarks, and its MiniLM vectors cached between runs.

- Needles: the turns of a LoCoMo-format file ("Speaker: text"), with their dialogue ids, so
  the file's questions (text that is not in the index) have their evidence turns as labels.
- Distractors: paragraphs of the documentation strings of the Python standard library and of
  the installed packages, read with ``ast`` (real English prose that every machine with this
  project's environment has offline), in a fixed order: standard library first, then the
  packages by name. A run of N passages takes the first ones it needs.
- Vectors: the packaged all-MiniLM-L6-v2, in shards of 4,096 texts named by a hash of their
  texts, under ``~/.cache/langgraph-memgpt/benchmarks/vectors`` (``MEMGPT_BENCH_CACHE``), so
  only the first run at a size pays for the embedding (about 100 texts a second on 2 cores).
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langgraph_memgpt.embeddings import EmbeddingModel, load_embedding_model

SHARD = 4096
CACHE = Path(
    os.environ.get("MEMGPT_BENCH_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "langgraph-memgpt"
    / "benchmarks"
)


@dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]  # keys of the needles that answer it
    category: int


def locomo_needles(path: Path) -> tuple[dict[str, str], list[Question]]:
    """Every turn of the file keyed ``sample_id/dia_id``, and the questions with evidence."""
    needles: dict[str, str] = {}
    questions = []
    for sample in json.loads(path.read_text()):
        conversation = sample["conversation"]
        number = 1
        while f"session_{number}" in conversation:
            for turn in conversation[f"session_{number}"]:
                needles[f"{sample['sample_id']}/{turn['dia_id']}"] = (
                    f"{turn['speaker']}: {turn['text']}"
                )
            number += 1
        for qa in sample["qa"]:
            keys = frozenset(f"{sample['sample_id']}/{e}" for e in qa.get("evidence", []))
            if keys and keys <= needles.keys():
                questions.append(Question(qa["question"], keys, int(qa["category"])))
    return needles, questions


def _python_files() -> Iterator[Path]:
    paths = sysconfig.get_paths()
    yield from sorted(Path(paths["stdlib"]).rglob("*.py"))
    for root in dict.fromkeys((paths["purelib"], paths["platlib"])):
        yield from sorted(Path(root).rglob("*.py"))


def _paragraphs(source: bytes) -> Iterator[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            for paragraph in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                text = " ".join(paragraph.split())
                # Prose, not code or tables: 6-80 words, mostly letters.
                if 6 <= len(text.split()) <= 80 and sum(c.isalpha() for c in text) > 0.6 * len(
                    text
                ):
                    yield text


def docstring_paragraphs(count: int) -> list[str]:
    """The first ``count`` distinct documentation paragraphs (fewer if the machine has fewer)."""
    cached = CACHE / "docstrings.json"
    if cached.exists():
        texts = json.loads(cached.read_text())
        if len(texts) >= count or texts[-1] == "":  # "" marks a complete read
            return [t for t in texts if t][:count]
    seen: dict[str, None] = {}
    for file in _python_files():
        for text in _paragraphs(file.read_bytes()):
            seen.setdefault(text)
        if len(seen) >= count:
            break
    texts = list(seen)[: max(count, 0)] if len(seen) >= count else [*seen, ""]
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(texts))
    return [t for t in texts if t][:count]


def embed_cached(texts: list[str], *, progress: bool = True) -> np.ndarray:
    """MiniLM vectors of ``texts`` (float32, normalized), computed once per shard of texts."""
    folder = CACHE / "vectors"
    folder.mkdir(parents=True, exist_ok=True)
    encoder = None
    shards = []
    started = time.perf_counter()
    for start in range(0, len(texts), SHARD):
        chunk = texts[start : start + SHARD]
        digest = hashlib.sha1("\0".join(chunk).encode()).hexdigest()[:20]
        file = folder / f"minilm-{digest}.npy"
        if not file.exists():
            if encoder is None:
                encoder = _embedding_model()
            vectors = np.asarray(encoder.embed_documents(chunk), dtype=np.float32)
            np.save(file.with_suffix(".tmp.npy"), vectors)
            file.with_suffix(".tmp.npy").rename(file)
            if progress:
                rate = (start + len(chunk)) / (time.perf_counter() - started)
                print(f"  embedded {start + len(chunk):,}/{len(texts):,} ({rate:.0f}/s)",
                      file=sys.stderr, flush=True)  # fmt: skip
        shards.append(np.load(file))
    return np.concatenate(shards) if shards else np.zeros((0, 384), np.float32)


def _embedding_model() -> EmbeddingModel:
    # Bulk embedding: every core (the package's default is one thread, for serving queries).
    os.environ.setdefault("MEMGPT_TORCH_THREADS", str(os.cpu_count() or 1))
    return load_embedding_model()
